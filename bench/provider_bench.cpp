// Provider path throughput: frames/s through the external-provider embedder
// against a local server (the OpenAI API shape) that adds 50 ms to every
// request, batched and concurrent (the default) against one request per frame
// (the original's behaviour) in the same run. Prints both and the ratio.
//   mvx-provider-bench [frames=4000] [latency_ms=50]
#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/providers/providers.hpp"
#include "tests/common/fake_http_server.hpp"

namespace json = boost::json;
using namespace mvx;

int main(int argc, char** argv) {
    const std::size_t frames = argc > 1 ? std::stoul(argv[1]) : 4000;
    const int latency = argc > 2 ? std::stoi(argv[2]) : 50;
    const std::size_t dim = 1024;
    test::fake_http_server server([&](const test::fake_request& r, std::size_t) {
        json::object o = json::parse(r.body).as_object();
        json::array data;
        std::size_t i = 0;
        for (const auto& t : o.at("input").as_array()) {
            json::object item;
            item["index"] = i++;
            item["embedding"] = json::value_from(test::fake_vector(std::string(t.as_string()), dim));
            data.push_back(std::move(item));
        }
        json::object out;
        out["data"] = std::move(data);
        auto res = test::reply(200, json::serialize(out));
        res.delay = std::chrono::milliseconds(latency);
        return res;
    });
    std::vector<std::string> texts;
    for (std::size_t i = 0; i < frames; ++i)
        texts.push_back("Function parse_config_" + std::to_string(i) + "\nfile=src/config.rs lines 10-42\n" +
                        std::string(400, 'x'));

    auto run = [&](std::size_t batch, std::size_t concurrency, std::size_t n) {
        providers::provider_config c;
        c.provider = "openai";
        c.model = "text-embedding-3-large";
        c.api_key = "sk-bench";
        c.base_url = server.base_url() + "/v1";
        c.batch_size = batch;
        c.concurrency = concurrency;
        providers::provider_embedder e(c);
        std::vector<float> out;
        auto t0 = std::chrono::steady_clock::now();
        e.embed(std::span<const std::string>(texts.data(), n), out);
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (out.size() != n * dim) std::abort();
        return std::make_pair(double(n) / s, e.counters().requests);
    };
    const std::size_t per_frame_n = std::min<std::size_t>(frames, 100);
    auto [single, single_req] = run(1, 1, per_frame_n);
    auto [batched, batched_req] = run(0, 4, frames);
    std::printf("provider path, %d ms added per request, %zu-dim vectors (OpenAI shape on loopback)\n", latency, dim);
    std::printf("  one request per frame (original): %8.1f frames/s  (%zu frames, %zu requests)\n", single, per_frame_n,
                single_req);
    std::printf("  batched 256 x 4 in flight:         %8.1f frames/s  (%zu frames, %zu requests)\n", batched, frames,
                batched_req);
    std::printf("  ratio: %.0fx (goal >= 50x)\n", batched / single);
    return 0;
}
