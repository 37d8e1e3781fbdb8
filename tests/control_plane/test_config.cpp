// Configuration from a fake environment: every bad value is an INVALID_CONFIG
// error that names the variable and what to set; the control plane's and the
// worker's readers share one implementation (common/core/env.hpp).
#include "common/core/error.hpp"
#include "control-plane/config/config.hpp"
#include "worker/config.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace mvx;

namespace {

using vars = std::map<std::string, std::string>;

cp::config control(vars v, std::vector<std::string>* warnings = nullptr) {
    if (!v.count("MEMVID_EXPORT_API_KEY")) v["MEMVID_EXPORT_API_KEY"] = "config-test-key-0123456789";
    std::vector<std::string> w;
    auto c = cp::load_config(map_env(v), w);
    if (warnings) *warnings = w;
    return c;
}

// The message of the INVALID_CONFIG error f throws ("" when none).
template <typename F>
std::string config_error(F f) {
    try {
        f();
    } catch (const error& e) {
        CHECK(e.code() == "INVALID_CONFIG");
        CHECK(e.kind() == error_kind::invalid_input);
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("control-plane config: defaults, and the original's spellings", "[config]") {
    std::vector<std::string> warnings;
    const auto c = control({{"MEMVID_EXPORT_BACKEND_MODE", "legacy_vps"},
                            {"MEMVID_EMBED_PROVIDER", "VoyageAI"},
                            {"MEMVID_EXPORT_BIND_ADDR", "\"127.0.0.1:0\""}},
                           &warnings);
    CHECK(c.backend == cp::backend_mode::local_queue);
    CHECK(c.embedding_provider == "voyage");
    CHECK(c.embedding_model == "voyage-code-3");  // from the one provider catalog
    CHECK(c.bind_host == "127.0.0.1");
    CHECK(c.bind_port == 0);
    CHECK(c.staging_root == "/data/exports/staging");
    CHECK(c.worker_key == c.api_key);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("legacy_vps") != std::string::npos);
    CHECK(control({{"MEMVID_EMBED_PROVIDER", "native"}}).embedding_model.empty());
}

TEST_CASE("control-plane config: each bad value names its variable and the fix", "[config]") {
    struct bad_case {
        vars v;
        const char* expect;
    };
    const std::vector<bad_case> cases = {
        {{{"MEMVID_EXPORT_API_KEY", " "}}, "MEMVID_EXPORT_API_KEY is not set"},
        {{{"MEMVID_EXPORT_API_KEY", ""}, {"MEMVID_EXPORT_API_KEY_FILE", "/nonexistent/key"}},
         "MEMVID_EXPORT_API_KEY_FILE=/nonexistent/key cannot be read"},
        {{{"MEMVID_EXPORT_BIND_ADDR", "8080"}}, "MEMVID_EXPORT_BIND_ADDR=\"8080\" is not host:port"},
        {{{"MEMVID_EXPORT_BIND_ADDR", "0.0.0.0:70000"}}, "is not host:port"},
        {{{"MEMVID_EXPORT_RETENTION_SECONDS", "1d"}},
         "MEMVID_EXPORT_RETENTION_SECONDS=\"1d\" is not a whole number: set it to seconds between 1 and"},
        {{{"MEMVID_EXPORT_QUEUE_CAPACITY", "0"}}, "MEMVID_EXPORT_QUEUE_CAPACITY=0 is out of range"},
        {{{"MEMVID_EXPORT_HEARTBEAT_SECONDS", "15"}}, "MEMVID_EXPORT_HEARTBEAT_SECONDS=15 is out of range"},
        {{{"MEMVID_EXPORT_BACKEND_MODE", "vps"}}, "MEMVID_EXPORT_BACKEND_MODE=\"vps\" is not a backend"},
        {{{"MEMVID_EXPORT_BACKEND_MODE", "runpod_queue"}}, "RUNPOD_ENDPOINT_ID is required"},
        {{{"MEMVID_EXPORT_BACKEND_MODE", "runpod_queue"}, {"RUNPOD_ENDPOINT_ID", "ep"}}, "RUNPOD_API_KEY is required"},
        {{{"MEMVID_EXPORT_BACKEND_MODE", "runpod_queue"},
          {"RUNPOD_ENDPOINT_ID", "https://api.runpod.ai/v2/ep"},
          {"RUNPOD_API_KEY", "k"}},
         "must be the bare endpoint id"},
        {{{"MEMVID_EXPORT_BACKEND_MODE", "runpod_queue"},
          {"RUNPOD_ENDPOINT_ID", "ep"},
          {"RUNPOD_API_KEY", "k"},
          {"RUNPOD_API_BASE", "ftp://x"}},
         "RUNPOD_API_BASE=\"ftp://x\" must start with https://"},
        {{{"MEMVID_LOCAL_QUEUE_ENDPOINT_ID", "a/b"}}, "MEMVID_LOCAL_QUEUE_ENDPOINT_ID=\"a/b\" must be letters"},
        {{{"MEMVID_EMBEDDING_MODE", "gpu"}}, "MEMVID_EMBEDDING_MODE=\"gpu\" is not a mode"},
        {{{"MEMVID_EMBED_PROVIDER", "cohere"}}, "MEMVID_EMBED_PROVIDER=\"cohere\" is not a provider"},
        {{{"MEMVID_LOG", "verbose"}}, "MEMVID_LOG=\"verbose\" is not a log level"},
    };
    for (const auto& c : cases) {
        INFO(c.expect);
        CHECK_THAT(config_error([&] { control(c.v); }), Catch::Contains(c.expect));
    }
    // A secret's value is never repeated in an error.
    const auto msg = config_error([&] {
        control({{"MEMVID_EXPORT_BACKEND_MODE", "runpod_queue"}, {"RUNPOD_ENDPOINT_ID", "ep"}});
    });
    CHECK(msg.find("config-test-key") == std::string::npos);
}

TEST_CASE("control-plane config: warnings for short keys and variables that do nothing", "[config]") {
    std::vector<std::string> warnings;
    control({{"MEMVID_EXPORT_API_KEY", "short"}, {"RUNPOD_REGION_SCOPE", "EU-primary"}}, &warnings);
    REQUIRE(warnings.size() == 2);
    CHECK(warnings[0].find("shorter than 16") != std::string::npos);
    CHECK(warnings[1].find("RUNPOD_REGION_SCOPE has no effect") != std::string::npos);
}

TEST_CASE("worker config: defaults, clamps and each bad value", "[config]") {
    auto load = [](vars v) { return worker::load_worker_config(map_env(v)); };
    auto c = load({});
    CHECK(c.embedding_provider == "nvidia");
    CHECK(c.concurrency == 1);
    CHECK(c.ping_ms == 10000);
    CHECK_FALSE(c.serverless());
    c = load({{"RUNPOD_PING_INTERVAL", "50"},
              {"MEMVID_EMBED_PROVIDER", "local"},
              {"MEMVID_EMBED_MODEL", "/m"},
              {"SOURCE_DATE_EPOCH", "1767225600"}});
    CHECK(c.ping_ms == worker::worker_config::k_min_ping_ms);  // clamped, not refused
    CHECK(c.embedding_provider == "ollama");
    CHECK(c.model_dir == "/m");  // MEMVID_EMBED_MODEL_DIR falls back to MEMVID_EMBED_MODEL
    CHECK(c.created_at == 1767225600);
    CHECK(load({{"RUNPOD_PING_INTERVAL", "99999999999"}}).ping_ms == worker::worker_config::k_max_ping_ms);
    c = load({{"RUNPOD_WEBHOOK_GET_JOB", "http://h/v2/e/job-take/$ID"},
              {"RUNPOD_WEBHOOK_POST_OUTPUT", "http://h/v2/e/job-done/$RUNPOD_POD_ID/$ID"}});
    CHECK(c.serverless());

    struct bad_case {
        vars v;
        const char* expect;
    };
    const std::vector<bad_case> cases = {
        {{{"MEMVID_WORKER_CONCURRENCY", "two"}}, "MEMVID_WORKER_CONCURRENCY=\"two\" is not a whole number"},
        {{{"MEMVID_WORKER_CONCURRENCY", "0"}}, "MEMVID_WORKER_CONCURRENCY=0 is out of range"},
        {{{"MEMVID_WORKER_GRACE_MS", "-1"}}, "MEMVID_WORKER_GRACE_MS=-1 is out of range"},
        {{{"MEMVID_WORKER_429_WAIT_MS", "5s"}}, "MEMVID_WORKER_429_WAIT_MS=\"5s\""},
        {{{"MEMVID_WORKER_DOWNLOAD_TIMEOUT_MS", "10"}}, "MEMVID_WORKER_DOWNLOAD_TIMEOUT_MS=10 is out of range"},
        {{{"RUNPOD_PING_INTERVAL", "ten"}}, "RUNPOD_PING_INTERVAL=\"ten\""},
        {{{"MEMVID_EMBED_DEVICE", "tpu"}}, "MEMVID_EMBED_DEVICE=\"tpu\" is not an embedding device: set one of auto, cpu, cuda"},
        {{{"MEMVID_EMBEDDING_MODE", "x"}}, "MEMVID_EMBEDDING_MODE=\"x\" is not an embedding mode"},
        {{{"MEMVID_EMBED_PROVIDER", "cohere"}}, "MEMVID_EMBED_PROVIDER=\"cohere\" is not a provider"},
        {{{"MEMVID_EMBED_MAX_BATCH_TOKENS", "100"}}, "MEMVID_EMBED_MAX_BATCH_TOKENS=100 is out of range"},
        {{{"SOURCE_DATE_EPOCH", "yesterday"}}, "SOURCE_DATE_EPOCH=\"yesterday\" is neither Unix seconds nor RFC 3339"},
        {{{"RUNPOD_WEBHOOK_GET_JOB", "http://h/job-take/$ID"}}, "RUNPOD_WEBHOOK_POST_OUTPUT is not set"},
        {{{"RUNPOD_WEBHOOK_GET_JOB", "h/job-take/$ID"}, {"RUNPOD_WEBHOOK_POST_OUTPUT", "http://h/done"}},
         "RUNPOD_WEBHOOK_GET_JOB=\"h/job-take/$ID\" is not an http(s) URL"},
        {{{"RUNPOD_WEBHOOK_GET_JOB", "http://h/job-take/$ID"}, {"RUNPOD_WEBHOOK_POST_OUTPUT", "JOB_DONE_URL"}},
         "RUNPOD_WEBHOOK_POST_OUTPUT=\"JOB_DONE_URL\" is not"},
        {{{"RUNPOD_WEBHOOK_GET_JOB", "http://h/t"},
          {"RUNPOD_WEBHOOK_POST_OUTPUT", "http://h/d"},
          {"RUNPOD_WEBHOOK_PING", "ping?key=secret"}},
         "RUNPOD_WEBHOOK_PING=\"ping\" is not an http(s) URL"},
    };
    for (const auto& b : cases) {
        INFO(b.expect);
        CHECK_THAT(config_error([&] { load(b.v); }), Catch::Contains(b.expect));
    }
    // The query of a webhook URL (it may carry a token) is not echoed.
    CHECK(config_error([&] { load(cases.back().v); }).find("secret") == std::string::npos);
}
