// pack end to end: the library on the fixtures (sidecar contents), and the
// real worker binary on bad input (each gives its error and leaves nothing).
#include "common/mv2/reader.hpp"
#include "common/pack/pack.hpp"
#include "common/sidecar/sidecar.hpp"
#include "fake_http_server.hpp"
#include "test_helpers.hpp"

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace mvx;
using Catch::Matchers::Contains;
namespace json = boost::json;

namespace {

struct run_result {
    int code = -1;
    std::string out;
};

run_result run_worker(const std::vector<std::string>& args, rlim_t fsize = RLIM_INFINITY) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(fds[1], 1);
        ::close(fds[0]);
        if (fsize != RLIM_INFINITY) {
            struct rlimit rl {
                fsize, fsize
            };
            ::setrlimit(RLIMIT_FSIZE, &rl);
        }
        std::vector<char*> argv;
        std::string bin = MVX_WORKER_BIN;
        argv.push_back(bin.data());
        std::vector<std::string> copy = args;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(bin.c_str(), argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);
    run_result r;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

std::int64_t count(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const auto v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

std::string fixture(const char* name) { return (std::filesystem::path(MVX_FIXTURES_DIR) / name).string(); }

}  // namespace

TEST_CASE("pack the fixtures: capsule, sidecar and result", "[pack]") {
    for (const char* name : {"hexyl.json.zst", "memvid.json.zst"}) {
        test::temp_dir dir;
        pack::pack_options o;
        o.payload_ref = fixture(name);
        o.output_prefix = "file://" + dir.path.string();
        o.job_id = "job-1";
        o.created_at = 1'767'225'600;  // 2026-01-01T00:00:00Z
        const auto r = pack::run(o);
        const auto req = pack::load_payload(o.payload_ref, {});
        INFO(name);
        CHECK(r.frames == req.nodes.size() + req.relationships.size() + 5);
        CHECK(r.file_name == std::string(req.source.base_name) + "-gitnexus-mem_capsule-2026-01-01.mv2");
        CHECK(r.compact_contents);
        CHECK(r.snippets_exact > 0);
        mv2::capsule_reader cap(r.artifact_path);
        CHECK(cap.info().frames.size() == r.frames);

        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open_v2(r.sidecar_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
        CHECK(count(db, "SELECT count(*) FROM nodes_by_id") == static_cast<std::int64_t>(req.nodes.size()));
        CHECK(count(db, "SELECT count(*) FROM edges") == static_cast<std::int64_t>(req.relationships.size()));
        CHECK(count(db, "SELECT count(*) FROM fulltext_lexical_index") == static_cast<std::int64_t>(r.frames));
        CHECK(count(db, "SELECT count(*) FROM sqlite_master WHERE type='index' AND name LIKE 'idx_%'") == 9);
        CHECK(count(db, "SELECT count(*) FROM meta") == 4);
        CHECK(count(db, "SELECT count(*) FROM hotspots WHERE score != 10*calls_count + node_count") == 0);
        CHECK(count(db, "SELECT count(*) FROM edges_by_source_type") == static_cast<std::int64_t>(req.relationships.size()));
        std::int64_t steps = 0, members = 0;
        for (const auto& rel : req.relationships)
            if (rel.type == "STEP_IN_PROCESS" &&
                (rel.source_id.find("proc_") != std::string_view::npos || rel.target_id.find("proc_") != std::string_view::npos))
                ++steps;
        for (const auto& n : req.nodes)
            if (n.properties.communities) members += static_cast<std::int64_t>(n.properties.communities->size());
        CHECK(count(db, "SELECT count(*) FROM process_steps_by_process_id") == steps);
        CHECK(count(db, "SELECT count(*) FROM community_membership") == members);
        CHECK(count(db, "SELECT count(*) FROM symbols_by_name_normalized WHERE symbol_norm GLOB '*[^a-z0-9_ ]*'") == 0);
        sqlite3_close(db);
        // The text of each frame is stored once in the capsule and once in the sidecar.
        CHECK(cap.text(0).rfind("Node ", 0) == 0);
    }
}

TEST_CASE("the symbol normaliser", "[pack]") {
    CHECK(sidecar::normalize_symbol("Printer::print_all") == "printer print_all");
    CHECK(sidecar::normalize_symbol("  Foo-Bar  baz ") == "foo bar baz");
    CHECK(sidecar::normalize_symbol("Print_all → BorderElements") == "print_all borderelements");
    CHECK(sidecar::normalize_symbol("→") == "");
}

TEST_CASE("refs: file:// URLs, '..' and confinement", "[pack]") {
    CHECK(pack::resolve_ref("file:///a/b", "x", std::nullopt, false) == "/a/b");
    CHECK_THROWS_WITH(pack::resolve_ref("out/../../etc", "output prefix", std::nullopt, false), Contains("'..'"));
    CHECK_THROWS_WITH(pack::resolve_ref("file://host/x", "x", std::nullopt, false), Contains("absolute path"));
    CHECK_THROWS_WITH(pack::resolve_ref("s3://b/k", "x", std::nullopt, false), Contains("unsupported scheme"));
    test::temp_dir dir;
    std::filesystem::create_directories(dir.path / "root/in");
    std::filesystem::create_symlink("/etc", dir.path / "root/link");
    const auto root = std::optional<std::filesystem::path>(dir.path / "root");
    CHECK_NOTHROW(pack::resolve_ref((dir.path / "root/in/p.json").string(), "p", root, true));
    CHECK_THROWS_WITH(pack::resolve_ref((dir.path / "root/../x").string(), "p", root, true),
                      Contains("outside the allowed root"));
    CHECK_THROWS_WITH(pack::resolve_ref((dir.path / "root/link/passwd").string(), "p", root, true),
                      Contains("outside the allowed root"));
}

TEST_CASE("time parsing", "[pack]") {
    CHECK(pack::parse_time("1767225600") == 1767225600);
    CHECK(pack::parse_time("2026-01-01T00:00:00Z") == 1767225600);
    CHECK(pack::parse_time("2026-01-01T00:00:00.250Z") == 1767225600);
    CHECK_FALSE(pack::parse_time("yesterday"));
    CHECK(pack::rfc3339_utc(1767225600, true) == "2026-01-01T00:00:00Z");
    CHECK(pack::rfc3339_utc(1767225600, false) == "2026-01-01T00:00:00+00:00");
}

TEST_CASE("worker CLI: a good pack prints the result line", "[cli]") {
    test::temp_dir dir;
    const auto payload = dir.write("p.json", test::to_text(test::sample_payload()));
    auto r = run_worker({"pack", "--payload-ref", payload.string(), "--output-prefix", (dir.path / "out").string(), "--job-id",
                         "j1", "--created-at", "2026-01-01T00:00:00Z"});
    REQUIRE(r.code == 0);
    const auto v = json::parse(r.out).as_object();
    for (const char* k : {"backend", "jobId", "fileName", "artifactPath", "artifactRef", "sizeBytes", "frames", "embeddingMode",
                          "embeddingProvider", "embeddingModel", "sidecar", "timings"})
        CHECK(v.contains(k));
    CHECK(v.at("frames").as_int64() == 10);
    CHECK(v.at("fileName").as_string() == "demo-gitnexus-mem_capsule-2026-01-01.mv2");
    for (const char* k : {"parseMs", "transformMs", "embedMs", "writeMs", "sidecarMs"})
        CHECK(v.at("timings").as_object().contains(k));
    CHECK(v.at("sidecar").at("status").as_string() == "ready");
    // runpod-execute is the same command, and the output is reproducible.
    const std::string first = test::read_file(std::string(v.at("artifactPath").as_string()));
    auto r2 = run_worker({"runpod-execute", "--payload-ref", payload.string(), "--output-prefix", (dir.path / "out2").string(),
                          "--created-at", "1767225600"});
    REQUIRE(r2.code == 0);
    const auto v2 = json::parse(r2.out).as_object();
    CHECK(test::read_file(std::string(v2.at("artifactPath").as_string())) == first);
    auto ins = run_worker({"inspect", std::string(v.at("artifactPath").as_string())});
    CHECK(ins.code == 0);
    CHECK_THAT(ins.out, Contains("\"status\":\"valid\""));
}

TEST_CASE("worker CLI: bad input gives its error and leaves no capsule or sidecar", "[cli]") {
    const std::string good = test::to_text(test::sample_payload());
    struct bad_case {
        std::string name, payload, code, message;
        std::vector<std::string> extra;
    };
    auto with = [&](auto edit) {
        auto v = test::sample_payload();
        edit(v);
        return test::to_text(v);
    };
    std::string nul = good;
    nul.insert(nul.find("\"demo\""), 1, '\0');
    std::string bad_utf8 = good;
    bad_utf8.replace(bad_utf8.find("\"Cluster_0\""), 11, "\"Clu\xC3\x28ster\"");
    std::vector<bad_case> cases = {
        {"truncated", good.substr(0, good.size() - 40), "INVALID_PAYLOAD", "truncated", {}},
        {"wrong type",
         with([](json::value& v) { v.at("nodes").at(0).as_object()["label"] = 3; }),
         "INVALID_PAYLOAD",
         "nodes[0].label: expected string, got number",
         {}},
        {"nul byte", nul, "INVALID_PAYLOAD", "invalid JSON at byte", {}},
        {"invalid utf-8", bad_utf8, "INVALID_PAYLOAD", "nodes[2].properties.name: invalid UTF-8", {}},
        {"duplicate ids",
         with([](json::value& v) { v.at("nodes").at(1).as_object()["id"] = "File:a.rs"; }),
         "INVALID_PAYLOAD",
         "duplicate node id",
         {}},
        {"unknown node",
         with([](json::value& v) { v.at("relationships").at(0).as_object()["sourceId"] = "ghost"; }),
         "INVALID_PAYLOAD",
         "relationships[0].sourceId: unknown node id \"ghost\"",
         {}},
        {"base name path",
         with([](json::value& v) { v.at("source").as_object()["baseName"] = "../evil"; }),
         "INVALID_PAYLOAD",
         "source.baseName",
         {}},
        {"semantic without embedder",
         with([](json::value& v) { v.at("options").as_object()["semanticEnabled"] = true; }),
         "EMBEDDER_NOT_CONFIGURED",
         "provider=nvidia requires NVIDIA_API_KEY",
         {}},
        {"job id escape", good, "INVALID_ARGUMENT", "job id \"../x\" is invalid", {"--job-id", "../x"}},
    };
    for (const auto& c : cases) {
        test::temp_dir dir;
        const auto payload = dir.write("p.json", c.payload);
        const auto out = dir.path / "out";
        std::vector<std::string> args = {"pack", "--payload-ref", payload.string(), "--output-prefix", out.string()};
        args.insert(args.end(), c.extra.begin(), c.extra.end());
        auto r = run_worker(args);
        INFO(c.name << ": " << r.out);
        CHECK(r.code != 0);
        const auto v = json::parse(r.out).as_object();
        CHECK(v.at("error").at("code").as_string() == c.code);
        CHECK_THAT(std::string(v.at("error").at("message").as_string()), Contains(c.message));
        CHECK((!std::filesystem::exists(out) || std::filesystem::is_empty(out)));
    }
}

TEST_CASE("worker CLI: output prefix escapes and unwritable folders", "[cli]") {
    test::temp_dir dir;
    const auto payload = dir.write("p.json", test::to_text(test::sample_payload()));
    auto r = run_worker({"pack", "--payload-ref", payload.string(), "--output-prefix", (dir.path / "a/../../b").string()});
    CHECK(r.code == 2);
    CHECK_THAT(r.out, Contains("'..' components are not allowed"));
    // /proc refuses new files even for root.
    r = run_worker({"pack", "--payload-ref", payload.string(), "--output-prefix", "/proc/self/mvx-out"});
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Contains("IO_ERROR") && Contains("/proc/self/mvx-out"));
    // A confinement root refuses payloads outside it.
    r = run_worker({"pack", "--payload-ref", payload.string(), "--output-prefix", (dir.path / "root/out").string(),
                    "--staging-root", (dir.path / "root").string()});
    CHECK(r.code == 2);
    CHECK_THAT(r.out, Contains("outside the allowed root"));
}

TEST_CASE("worker CLI: a full disk (file size limit) fails cleanly", "[cli]") {
    test::temp_dir dir;
    const auto out = dir.path / "out";
    std::filesystem::create_directories(out);
    auto r = run_worker({"pack", "--payload-ref", fixture("hexyl.json.zst"), "--output-prefix", out.string()}, 200'000);
    INFO(r.out);
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Contains("IO_ERROR") && Contains("File too large"));
    CHECK(std::filesystem::is_empty(out));  // no capsule, no sidecar, no temporary file
}

TEST_CASE("worker CLI: a full disk (a 2 MiB tmpfs) fails cleanly", "[cli]") {
    test::temp_dir dir;
    const auto mnt = dir.path / "tmpfs";
    std::filesystem::create_directories(mnt);
    if (std::system(("mount -t tmpfs -o size=2m tmpfs " + mnt.string() + " 2>/dev/null").c_str()) != 0) {
        WARN("cannot mount a tmpfs here (needs root and mount rights); the RLIMIT_FSIZE case above covers the path");
        return;
    }
    auto r = run_worker({"pack", "--payload-ref", fixture("hexyl.json.zst"), "--output-prefix", mnt.string()});
    const bool empty = std::filesystem::is_empty(mnt);
    std::system(("umount " + mnt.string()).c_str());
    INFO(r.out);
    CHECK(r.code == 1);
    CHECK_THAT(r.out, Contains("IO_ERROR") && Contains("No space left on device"));
    CHECK(empty);
}

namespace {
// A test peer standing in for an engine: deterministic unit vectors from the text.
class hash_embedder : public embedding::embedder {
public:
    embedding::identity id() const override { return {"fastembed", "BAAI/bge-small-en-v1.5", 8, true}; }
    void embed(std::span<const std::string> texts, std::vector<float>& out) override {
        ++calls;
        for (const auto& t : texts) {
            std::uint64_t h = 1469598103934665603ull;
            for (unsigned char c : t) h = (h ^ c) * 1099511628211ull;
            for (int k = 0; k < 8; ++k) out.push_back(static_cast<float>((h >> (k * 8)) & 0xFF) / 255.0f);
        }
    }
    std::size_t batch_size() const override { return 4; }
    int calls = 0;
};
}  // namespace

TEST_CASE("pack with an embedder: every frame gets its vector and the identity keys", "[pack]") {
    test::temp_dir dir;
    auto v = test::sample_payload();
    v.at("options").as_object()["semanticEnabled"] = true;
    const auto payload = dir.write("p.json", test::to_text(v));
    hash_embedder emb;
    pack::pack_options o;
    o.payload_ref = payload.string();
    o.output_prefix = (dir.path / "out").string();
    o.created_at = 1'767'225'600;
    o.embedder = &emb;
    const auto r = pack::run(o);
    CHECK(r.vectors == r.frames);
    CHECK(emb.calls == 3);  // 10 frames in batches of 4
    mv2::capsule_reader cap(r.artifact_path);
    CHECK(cap.info().dimension == 8);
    for (std::size_t i = 0; i < cap.info().frames.size(); ++i) {
        const auto& f = cap.info().frames[i];
        std::vector<float> want;
        hash_embedder().embed(std::vector<std::string>{cap.text(i)}, want);
        CHECK(cap.vector(i) == want);
        const auto has = [&](const char* k, const char* val) {
            return std::find(f.extra_metadata.begin(), f.extra_metadata.end(), std::pair<std::string, std::string>(k, val)) !=
                f.extra_metadata.end();
        };
        CHECK(has("memvid.embedding.provider", "fastembed"));
        CHECK(has("memvid.embedding.model", "BAAI/bge-small-en-v1.5"));
        CHECK(has("memvid.embedding.dimension", "8"));
        CHECK(has("semantic", "true"));
    }
}

TEST_CASE("worker CLI: a semantic export through an external provider (env configured)", "[pack][providers]") {
    test::temp_dir dir;
    auto v = test::sample_payload();
    v.at("options").as_object()["semanticEnabled"] = true;
    const auto payload = dir.write("p.json", test::to_text(v));
    test::fake_http_server server([](const test::fake_request& r, std::size_t) {
        auto body = boost::json::parse(r.body).as_object();
        boost::json::array data;
        for (const auto& t : body.at("input").as_array()) {
            boost::json::object item;
            item["embedding"] = boost::json::value_from(test::fake_vector(std::string(t.as_string()), 6));
            data.push_back(std::move(item));
        }
        boost::json::object o;
        o["data"] = std::move(data);
        return test::reply(r.header("Authorization") == "Bearer sk-cli-test" ? 200 : 401, boost::json::serialize(o));
    });
    ::setenv("OPENAI_API_KEY", "sk-cli-test", 1);
    ::setenv("OPENAI_EMBED_BASE_URL", (server.base_url() + "/v1/").c_str(), 1);
    auto r =
        run_worker({"pack", "--payload-ref", payload.string(), "--output-prefix", (dir.path / "out").string(), "--embedding-mode",
                    "external_api", "--embedding-provider", "openai", "--embedding-model", "text-embedding-3-small"});
    ::unsetenv("OPENAI_API_KEY");
    ::unsetenv("OPENAI_EMBED_BASE_URL");
    REQUIRE(r.code == 0);
    auto res = boost::json::parse(r.out).as_object();
    CHECK(res.at("vectors") == res.at("frames"));
    CHECK(res.at("embedding").at("provider") == "openai");
    CHECK(res.at("embedding").at("model") == "text-embedding-3-small");
    CHECK(res.at("embedding").at("dimension") == 6);
    CHECK(r.out.find("sk-cli-test") == std::string::npos);
    mv2::capsule_reader cap(std::string(res.at("artifactPath").as_string()));
    for (std::size_t i = 0; i < cap.info().frames.size(); ++i) CHECK(cap.vector(i) == test::fake_vector(cap.text(i), 6));
}
