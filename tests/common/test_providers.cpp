// External embedding providers against local Beast servers playing each API
// shape: requests checked field by field, deterministic vectors in the capsule
// in frame order, and the faults (429 + Retry-After, 5xx, stalls, malformed
// JSON, short vector lists, 401) ending as specified.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdlib>
#include <tuple>

#include "common/core/error.hpp"
#include "common/http/client.hpp"
#include "common/mv2/reader.hpp"
#include "common/pack/pack.hpp"
#include "common/providers/catalog.hpp"
#include "common/providers/providers.hpp"
#include "tests/common/fake_http_server.hpp"
#include "tests/common/test_helpers.hpp"

using namespace mvx;
namespace json = boost::json;
using providers::provider_config;
using providers::provider_embedder;

namespace {

constexpr std::size_t k_dim = 12;
const std::string k_key = "sk-test-SECRET-0123456789";

// Answers like the real API shape: OpenAI/NVIDIA/Voyage {data:[{embedding,index}]}
// (given in reverse order, so that `index` matters), Ollama {embeddings:[...]} or
// legacy {embedding:[...]}.
test::fake_response answer(const std::string& shape, const test::fake_request& r) {
    json::value body = json::parse(r.body);
    const auto& o = body.as_object();
    json::object out;
    if (shape == "ollama-legacy") {
        auto v = test::fake_vector(std::string(o.at("prompt").as_string()), k_dim);
        out["embedding"] = json::value_from(v);
    } else if (shape == "ollama") {
        json::array rows;
        for (const auto& t : o.at("input").as_array())
            rows.push_back(json::value_from(test::fake_vector(std::string(t.as_string()), k_dim)));
        out["embeddings"] = std::move(rows);
    } else {
        const auto& in = o.at("input").as_array();
        json::array data;
        for (std::size_t i = in.size(); i-- > 0;) {
            json::object item;
            item["object"] = "embedding";
            item["index"] = i;
            item["embedding"] = json::value_from(test::fake_vector(std::string(in[i].as_string()), k_dim));
            data.push_back(std::move(item));
        }
        out["data"] = std::move(data);
        out["model"] = o.at("model");
    }
    return test::reply(200, json::serialize(out));
}

provider_config config_for(const std::string& provider, const std::string& base) {
    provider_config c;
    c.provider = provider;
    c.mode = provider == "ollama" ? "runpod_gpu" : "external_api";
    c.model = providers::default_model(provider);
    c.api_key = provider == "ollama" ? "" : k_key;
    c.base_url = base;
    c.batch_size = 4;
    c.concurrency = 3;
    c.backoff_base = std::chrono::milliseconds(20);
    c.timeout = std::chrono::milliseconds(3000);
    return c;
}

struct packed {
    pack::pack_result result;
    std::vector<std::vector<float>> vectors;
    std::vector<std::string> texts;
};

packed pack_with(embedding::embedder& e, const test::temp_dir& dir) {
    auto v = test::sample_payload();
    v.at("options").as_object()["semanticEnabled"] = true;
    const auto payload = dir.write("p.json", test::to_text(v));
    pack::pack_options o;
    o.payload_ref = payload.string();
    o.output_prefix = (dir.path / "out").string();
    o.created_at = 1'767'225'600;
    o.embedder = &e;
    packed p;
    p.result = pack::run(o);
    mv2::capsule_reader cap(p.result.artifact_path);
    for (std::size_t i = 0; i < cap.info().frames.size(); ++i) {
        auto vec = cap.vector(i);
        p.vectors.emplace_back(vec.begin(), vec.end());
        p.texts.push_back(cap.text(i));
    }
    return p;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const error& e) {
        return e.what();
    }
    return "<no error>";
}

}  // namespace

TEST_CASE("providers: each API shape gets the right requests; capsules hold its vectors in frame order", "[providers]") {
    for (std::string shape : {"openai", "nvidia", "voyage", "ollama", "ollama-legacy"}) {
        DYNAMIC_SECTION(shape) {
            const std::string provider = shape.rfind("ollama", 0) == 0 ? "ollama" : shape;
            test::fake_http_server server([&](const test::fake_request& r, std::size_t) {
                if (shape == "ollama-legacy" && r.target == "/api/embed") return test::reply(404, "404 page not found");
                return answer(shape, r);
            });
            auto cfg = config_for(provider, server.base_url() + (provider == "ollama" ? "" : "/v1"));
            if (provider == "voyage") cfg.voyage_output_dimension = 1024;
            provider_embedder emb(cfg);
            test::temp_dir dir;
            auto p = pack_with(emb, dir);
            REQUIRE(p.result.vectors == p.result.frames);
            for (std::size_t i = 0; i < p.texts.size(); ++i) CHECK(p.vectors[i] == test::fake_vector(p.texts[i], k_dim));
            CHECK(emb.id().provider == provider);
            CHECK(emb.id().dimension == k_dim);
            CHECK(p.result.embedding_identity_provider == provider);

            auto reqs = server.requests();
            REQUIRE(!reqs.empty());
            std::size_t inputs = 0;
            for (const auto& r : reqs) {
                if (shape == "ollama-legacy" && r.target == "/api/embed") continue;
                CHECK(r.method == "POST");
                CHECK(r.header("Content-Type") == "application/json");
                json::object b = json::parse(r.body).as_object();
                CHECK(b.at("model").as_string() == cfg.model);
                if (provider == "ollama") {
                    CHECK(r.header("Authorization").empty());
                    if (shape == "ollama") {
                        CHECK(r.target == "/api/embed");
                        inputs += b.at("input").as_array().size();
                    } else {
                        CHECK(r.target == "/api/embeddings");
                        CHECK(b.at("prompt").is_string());
                        ++inputs;
                    }
                } else {
                    CHECK(r.target == "/v1/embeddings");
                    CHECK(r.header("Authorization") == "Bearer " + k_key);
                    const auto& in = b.at("input").as_array();
                    CHECK(in.size() <= 4);
                    inputs += in.size();
                    if (provider == "voyage") {
                        CHECK(b.at("input_type").as_string() == "document");
                        CHECK(b.at("output_dtype").as_string() == "float");
                        CHECK(b.at("truncation").as_bool());
                        CHECK(b.at("output_dimension").as_int64() == 1024);
                    } else {
                        CHECK(b.at("encoding_format").as_string() == "float");
                    }
                }
            }
            CHECK(inputs == p.texts.size());
            if (shape != "ollama-legacy") CHECK(server.connections() <= 3);  // keep-alive: one connection per thread
        }
    }
}

TEST_CASE("providers: transient faults are retried and every vector lands in place", "[providers]") {
    std::vector<std::string> texts;
    for (int i = 0; i < 10; ++i) texts.push_back("text number " + std::to_string(i));
    auto want = [&] {
        std::vector<float> w;
        for (const auto& t : texts) {
            auto v = test::fake_vector(t, k_dim);
            w.insert(w.end(), v.begin(), v.end());
        }
        return w;
    }();

    SECTION("429 with Retry-After, then success") {
        test::fake_http_server server([&](const test::fake_request& r, std::size_t n) {
            if (n == 0) return test::reply(429, R"({"error":{"message":"Rate limit reached"}})", {{"Retry-After", "1"}});
            return answer("openai", r);
        });
        auto cfg = config_for("openai", server.base_url());
        cfg.batch_size = 100;
        provider_embedder emb(cfg);
        std::vector<float> out;
        auto t0 = std::chrono::steady_clock::now();
        emb.embed(texts, out);
        CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(950));  // waited as told
        CHECK(out == want);
        CHECK(emb.counters().retries == 1);
    }
    SECTION("500 twice, then success") {
        test::fake_http_server server([&](const test::fake_request& r, std::size_t n) {
            if (n < 2) return test::reply(500, "internal error");
            return answer("voyage", r);
        });
        auto cfg = config_for("voyage", server.base_url());
        cfg.batch_size = 100;
        provider_embedder emb(cfg);
        std::vector<float> out;
        emb.embed(texts, out);
        CHECK(out == want);
        CHECK(server.count() == 3);
    }
    SECTION("a response stalled past the timeout is retried") {
        test::fake_http_server server([&](const test::fake_request& r, std::size_t n) {
            auto a = answer("nvidia", r);
            if (n == 0) a.delay = std::chrono::milliseconds(1500);
            return a;
        });
        auto cfg = config_for("nvidia", server.base_url());
        cfg.batch_size = 100;
        cfg.timeout = std::chrono::milliseconds(500);
        provider_embedder emb(cfg);
        std::vector<float> out;
        emb.embed(texts, out);
        CHECK(out == want);
        CHECK(emb.counters().retries == 1);
    }
    SECTION("a server that keeps failing ends with its last error, not a hang") {
        test::fake_http_server server(
            [&](const test::fake_request&, std::size_t) { return test::reply(503, R"({"error":"overloaded"})"); });
        auto cfg = config_for("openai", server.base_url());
        cfg.max_attempts = 3;
        std::vector<float> out;
        provider_embedder emb(cfg);
        CHECK_THAT(error_of([&] { emb.embed(texts, out); }),
                   Catch::Contains("after 3 attempts") && Catch::Contains("overloaded"));
    }
}

TEST_CASE("providers: permanent faults fail fast with the provider's words and no capsule", "[providers]") {
    auto run = [](test::fake_http_server::handler h, const std::string& provider = "openai") {
        test::fake_http_server server(std::move(h));
        auto cfg = config_for(provider, server.base_url());
        provider_embedder emb(cfg);
        test::temp_dir dir;
        auto t0 = std::chrono::steady_clock::now();
        std::string msg = error_of([&] { pack_with(emb, dir); });
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        CHECK(ms < 2000);
        CHECK((!std::filesystem::exists(dir.path / "out") || std::filesystem::is_empty(dir.path / "out")));
        return std::make_pair(msg, server.count());
    };
    SECTION("401: the provider's error text, one request, the key never shown") {
        auto [msg, n] = run([](const test::fake_request& r, std::size_t) {
            // A provider that echoes the key it got must not get it into our error.
            return test::reply(401,
                               R"({"error":{"message":"Incorrect API key provided: )" + r.header("Authorization") + R"("}})");
        });
        CHECK_THAT(msg, Catch::Contains("HTTP 401") && Catch::Contains("Incorrect API key provided"));
        CHECK(msg.find(k_key) == std::string::npos);
        CHECK(n == 1);
    }
    SECTION("malformed JSON") {
        auto [msg, n] = run([](const test::fake_request&, std::size_t) { return test::reply(200, "{\"data\": [ {\"emb"); });
        CHECK_THAT(msg, Catch::Contains("malformed JSON"));
    }
    SECTION("a short vector list") {
        auto [msg, n] = run([](const test::fake_request& r, std::size_t) {
            auto a = answer("openai", r);
            json::object o = json::parse(a.body).as_object();
            o["data"].as_array().pop_back();
            a.body = json::serialize(o);
            return a;
        });
        CHECK_THAT(msg, Catch::Contains("returned 3 vectors for 4 inputs"));
    }
    SECTION("a vector of the wrong dimension") {
        auto [msg, n] = run([](const test::fake_request& r, std::size_t i) {
            auto a = answer("openai", r);
            if (i == 1) {
                json::object o = json::parse(a.body).as_object();
                o["data"].as_array()[0].as_object()["embedding"].as_array().pop_back();
                a.body = json::serialize(o);
            }
            return a;
        });
        CHECK_THAT(msg, Catch::Contains("dimension 11") && Catch::Contains("expected 12"));
    }
}

TEST_CASE("providers: configuration rules and messages of the original", "[providers]") {
    provider_config c;
    c.provider = "nvidia";
    c.model = "nvidia/nv-embed-v1";
    c.base_url = "https://integrate.api.nvidia.com/v1";
    CHECK_THAT(error_of([&] { c.validate(); }), Catch::Contains("provider=nvidia requires NVIDIA_API_KEY"));
    c.provider = "voyage";
    c.api_key = "k";
    c.model = "voyage-code-3";
    c.voyage_output_dimension = 300;
    CHECK_THAT(error_of([&] { c.validate(); }), Catch::Contains("256,512,1024,2048"));
    c.voyage_output_dimension.reset();
    c.voyage_input_type = "passage";
    CHECK_THAT(error_of([&] { c.validate(); }), Catch::Contains("VOYAGE_INPUT_TYPE must be `document` or `query`"));
    c.provider = "ollama";
    CHECK_THAT(error_of([&] { c.validate(); }), Catch::Contains("provider=ollama/local is not valid with mode=external_api"));
    c.mode = "runpod_gpu";
    c.base_url = "";
    CHECK_THAT(error_of([&] { c.validate(); }), Catch::Contains("requires OLLAMA_HOST"));
    CHECK(providers::canonical_provider("VoyageAI") == "voyage");
    CHECK(providers::canonical_provider("local") == "ollama");
    CHECK(providers::canonical_provider("cohere").empty());
    CHECK(providers::default_model("openai") == "text-embedding-3-large");
}

TEST_CASE("providers over HTTPS: the peer is verified against the CA store and the host name", "[providers]") {
    test::temp_dir dir;
    auto make_cert = [&](const std::string& name, const std::string& san) {
        const auto cert = (dir.path / (name + ".pem")).string(), key = (dir.path / (name + ".key")).string();
        const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " + cert +
            " -days 1 -subj /CN=" + name + " -addext subjectAltName=" + san + " >/dev/null 2>&1";
        REQUIRE(std::system(cmd.c_str()) == 0);
        return std::make_pair(cert, key);
    };
    const auto [good_cert, good_key] = make_cert("localhost", "DNS:localhost,IP:127.0.0.1");
    const auto [other_cert, other_key] = make_cert("other.example", "DNS:other.example");
    std::vector<std::string> texts = {"alpha", "beta", "gamma"};
    auto embed_via = [&](const std::string& cert, const std::string& key, const char* ca_file) {
        test::fake_http_server server([](const test::fake_request& r, std::size_t) { return answer("openai", r); }, cert, key);
        if (ca_file)
            ::setenv("SSL_CERT_FILE", ca_file, 1);
        else
            ::unsetenv("SSL_CERT_FILE");
        auto cfg = config_for("openai", "https://localhost:" + std::to_string(server.port()) + "/v1");
        provider_embedder emb(cfg);
        std::vector<float> out;
        std::string msg = error_of([&] { emb.embed(texts, out); });
        ::unsetenv("SSL_CERT_FILE");
        return std::make_tuple(msg, out, server.count());
    };
    {  // trusted (the CA file stands in for the system store), name matches
        auto [msg, out, n] = embed_via(good_cert, good_key, good_cert.c_str());
        CHECK(msg == "<no error>");
        CHECK(out.size() == texts.size() * k_dim);
        CHECK(n == 1);
    }
    {  // the default store does not know the self-signed certificate
        auto [msg, out, n] = embed_via(good_cert, good_key, nullptr);
        CHECK_THAT(msg, Catch::Contains("TLS handshake") && Catch::Contains("certificate verify failed"));
        CHECK(n == 0);
    }
    {  // trusted certificate, wrong host name
        auto [msg, out, n] = embed_via(other_cert, other_key, other_cert.c_str());
        CHECK_THAT(msg, Catch::Contains("TLS handshake"));
        CHECK(n == 0);
    }
}

TEST_CASE("http client: a body streamed to a sink in bounded pieces, and the size limit", "[http]") {
    const std::string big(5u << 20, 'x');
    test::fake_http_server server([&](const test::fake_request&, std::size_t) { return test::reply(200, big); });
    http::client c;
    http::request req;
    req.method = "GET";
    req.target = http::parse_url(server.base_url() + "/big", "test");
    std::size_t got = 0, largest = 0;
    req.body_sink = [&](const char*, std::size_t n) {
        got += n;
        largest = std::max(largest, n);
        return true;
    };
    http::response res;
    http::transport_error err;
    REQUIRE(c.send(req, res, err));
    CHECK(res.status == 200);
    CHECK(res.body.empty());  // nothing kept in memory
    CHECK(got == big.size());
    CHECK(largest <= 64u * 1024);
    req.max_body_bytes = 1u << 20;
    CHECK_FALSE(c.send(req, res, err));
    CHECK(err.kind == http::failure::too_large);
    req.max_body_bytes = 256u << 20;
    req.body_sink = [](const char*, std::size_t) { return false; };
    CHECK_FALSE(c.send(req, res, err));
    CHECK(err.kind == http::failure::aborted);
}
