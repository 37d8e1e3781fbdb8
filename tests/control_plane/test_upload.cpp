// The upload pipeline on its own: chunks in, a staged file, a hash and the
// contract parser's verdict out; every failure leaves nothing behind.
#include "common/core/hex.hpp"
#include "common/mv2/blake3.hpp"
#include "control-plane/upload/pipeline.hpp"
#include "tests/common/test_helpers.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

using namespace mvx;
using namespace mvx::cp;
namespace fs = std::filesystem;

namespace {

// Feeds body in pieces of `piece` bytes the way the session does (waiting for
// a buffer when all are in use), then the verdict.
upload_outcome feed(upload_pipeline& p, const std::string& body, std::size_t piece, bool complete = true) {
    std::size_t off = 0;
    while (off < body.size()) {
        std::vector<char> buf;
        auto r = p.acquire(buf);
        if (r == upload_pipeline::acquire_result::stop) break;
        if (r == upload_pipeline::acquire_result::wait) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            continue;
        }
        const std::size_t n = std::min({piece, buf.size(), body.size() - off});
        std::copy_n(body.data() + off, n, buf.data());
        off += n;
        if (!p.consume(std::move(buf), n)) break;
    }
    p.close_input();
    while (!p.parser_done()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return p.finish(complete && off == body.size());
}

}  // namespace

TEST_CASE("upload pipeline: a real payload is staged, hashed and counted", "[upload]") {
    test::temp_dir dir;
    const std::string body = test::to_text(test::sample_payload());
    std::atomic<int> wakes{0};
    for (std::size_t piece : {std::size_t(7), std::size_t(1000), body.size()}) {
        const fs::path part = dir.path / (".job-" + std::to_string(piece) + ".json.part");
        upload_pipeline p(part, 1 << 20, [&] { ++wakes; });
        REQUIRE_FALSE(p.start());
        auto o = feed(p, body, piece);
        INFO("piece " << piece);
        REQUIRE_FALSE(o.error);
        CHECK(o.body_complete);
        CHECK(o.staged.nodes == 3);
        CHECK(o.staged.relationships == 2);
        CHECK(o.staged.files == 1);
        CHECK(o.staged.bytes == body.size());
        CHECK(o.staged.hash == to_hex(mv2::blake3(body)));
        CHECK(o.staged.part_file == part);
        CHECK(test::read_file(part) == body);  // handed over: it stays for admit() to rename
    }
    CHECK(wakes > 0);
}

TEST_CASE("upload pipeline: each failure is its answer and removes the staged file", "[upload]") {
    test::temp_dir dir;
    const fs::path part = dir.path / ".job.json.part";
    auto run = [&](const std::string& body, std::uint64_t max, bool complete = true) {
        upload_outcome o;
        {
            upload_pipeline p(part, max, [] {});
            REQUIRE_FALSE(p.start());
            o = feed(p, body, 5, complete);
        }
        CHECK_FALSE(fs::exists(part));
        REQUIRE(o.error);
        return *o.error;
    };
    auto e = run(R"({"nodes": [1,)", 1 << 20);
    CHECK(e.http == 400);
    CHECK(e.code == "INVALID_EXPORT_REQUEST");
    auto wrong = test::sample_payload();
    wrong.as_object()["nodes"].as_array()[1].as_object()["label"] = 5;
    e = run(test::to_text(wrong), 1 << 20);
    CHECK(e.http == 400);
    CHECK_THAT(e.message, Catch::Contains("nodes[1].label"));  // the JSON path
    e = run(test::to_text(test::sample_payload()), 100);
    CHECK(e.http == 413);
    CHECK(e.message.find("MEMVID_EXPORT_MAX_BODY_BYTES") != std::string::npos);
    e = run(test::to_text(test::sample_payload()), 1 << 20, false);
    CHECK(e.message == "The body ended early");
    auto empty = test::sample_payload();
    empty.as_object()["relationships"] = boost::json::array();
    e = run(test::to_text(empty), 1 << 20);
    CHECK(e.message.find("body.relationships is empty") != std::string::npos);
}

TEST_CASE("upload pipeline: a client that leaves, and a staging folder that is not there", "[upload]") {
    test::temp_dir dir;
    const fs::path part = dir.path / ".job.json.part";
    {
        upload_pipeline p(part, 1 << 20, [] {});
        REQUIRE_FALSE(p.start());
        std::vector<char> buf;
        REQUIRE(p.acquire(buf) == upload_pipeline::acquire_result::ready);
        CHECK(p.consume(std::move(buf), 3));
        CHECK(p.abandon().client_left);
        CHECK_FALSE(fs::exists(part));
    }
    upload_pipeline nowhere(dir.path / "missing" / ".job.json.part", 1 << 20, [] {});
    auto e = nowhere.start();
    REQUIRE(e);
    CHECK(e->http == 500);
    CHECK(e->code == "STAGING_FAILED");
}
