// memvid-export-api: the /v1/exports control plane (Boost.Beast).
//
//   memvid-export-api              serve (configured by the environment: README, docs/export-api.md §14)
//   memvid-export-api worker-env   print the variables a memvid-export-worker needs for this server's local queue
//   memvid-export-api validate F   check an export request body with the same parser the API uses
//   memvid-export-api routes       print the route table (Markdown; the README's route list)
#include "common/core/error.hpp"
#include "common/core/json_out.hpp"
#include "common/pack/pack.hpp"
#include "control-plane/config/config.hpp"
#include "control-plane/http/server.hpp"
#include "control-plane/jobs/housekeeping.hpp"
#include "control-plane/jobs/local_queue.hpp"
#include "control-plane/jobs/registry.hpp"
#include "control-plane/jobs/sqlite_store.hpp"
#include "control-plane/observability/log.hpp"
#include "control-plane/observability/metrics.hpp"
#include "control-plane/routes/table.hpp"
#include "control-plane/runpod/driver.hpp"

#include <boost/json/serialize.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

constexpr const char* k_usage =
    "memvid-export-api 0.1.0 - the GitNexus -> memvid export control plane\n\n"
    "Usage:\n"
    "  memvid-export-api [serve]        serve /v1/exports (configuration from the environment; see .env.example)\n"
    "  memvid-export-api worker-env     print the environment a memvid-export-worker needs to take jobs\n"
    "                                   from this server's local queue (MEMVID_EXPORT_BACKEND_MODE=local_queue)\n"
    "  memvid-export-api validate <payload.json|payload.json.zst>\n"
    "                                   check an export request body; prints its counts or the error with its JSON path\n"
    "  memvid-export-api routes         print the route table (Markdown)\n"
    "  memvid-export-api --version\n";

// {"error":{"code","message"}}: the CLI's error line (stderr for the server, stdout for validate).
std::string error_line(const mvx::error& e) {
    namespace J = mvx::json_out;
    J::object inner;
    inner.str("code", e.code()).str("message", e.what());
    J::object o;
    o.raw("error", inner.str());
    return o.str();
}

int validate(const std::string& path) {
    namespace J = mvx::json_out;
    const auto req = mvx::pack::load_payload(path, {});
    J::object o;
    o.raw("valid", "true")
        .raw("nodes", J::u64(req.nodes.size()))
        .raw("relationships", J::u64(req.relationships.size()))
        .raw("files", J::u64(req.file_contents.size()))
        .raw("payloadBytes", J::u64(req.payload_bytes))
        .raw("repairedFileContentChars", J::u64(req.repaired_file_content_chars));
    std::cout << o.str() << std::endl;
    return 0;
}

mvx::cp::config load(std::vector<std::string>& warnings) { return mvx::cp::load_config(mvx::process_env(), warnings); }

int worker_env() {
    std::vector<std::string> warnings;
    auto cfg = load(warnings);
    if (cfg.backend != mvx::cp::backend_mode::local_queue)
        throw mvx::error(mvx::error_kind::invalid_input, "INVALID_CONFIG",
                         "worker-env is for MEMVID_EXPORT_BACKEND_MODE=local_queue; in runpod_queue mode the Runpod endpoint "
                         "gives workers their variables");
    const std::string v2 = cfg.public_url + "/v2/" + cfg.local_endpoint_id;
    std::cout << "# memvid-export-worker environment for " << cfg.public_url
              << " (local queue)\n"
              // With a query, as Runpod's own templates have one: the official SDK
              // appends "&job_in_progress=..." and "&isStream=..." to them.
              << "RUNPOD_WEBHOOK_GET_JOB='" << v2 << "/job-take/$ID?gpu=local'\n"
              << "RUNPOD_WEBHOOK_POST_OUTPUT='" << v2 << "/job-done/$RUNPOD_POD_ID/$ID?gpu=local'\n"
              << "RUNPOD_WEBHOOK_PING='" << v2 << "/ping/$RUNPOD_POD_ID?gpu=local'\n"
              << "RUNPOD_AI_API_KEY='" << cfg.worker_key << "'\n"
              << "RUNPOD_PING_INTERVAL=" << std::max<std::int64_t>(1000, cfg.lease_seconds * 1000 / 3) << "\n"
              << "# The worker reads payloads and writes capsules under the staging root: mount it at the same path.\n"
              << "# MEMVID_EXPORT_STAGING_ROOT=" << cfg.staging_root << "\n";
    return 0;
}

int serve() {
    namespace cp = mvx::cp;
    std::vector<std::string> warnings;
    const auto cfg = load(warnings);
    cp::set_log_level(cfg.log);
    for (const auto& w : warnings) cp::log_line(cp::log_level::warn, w);
    std::signal(SIGPIPE, SIG_IGN);
    cp::prepare_roots(cfg);
    cp::metrics m(cp::metric_labels());
    auto store = cp::open_sqlite_store(std::filesystem::path(cfg.export_root) / "jobs.sqlite3");
    cp::job_registry jobs(cfg, *store, m);
    const auto restored = jobs.open();
    std::unique_ptr<cp::local_queue> queue;
    std::unique_ptr<cp::runpod_driver> runpod;
    if (cfg.backend == cp::backend_mode::local_queue) {
        queue = std::make_unique<cp::local_queue>(jobs);
        for (const auto& id : restored.queued) queue->enqueue(id);
    } else {
        runpod = std::make_unique<cp::runpod_driver>(cfg, jobs, m);
    }
    cp::housekeeping hk(jobs, queue.get());
    cp::server srv(cfg, jobs, queue.get(), runpod.get(), hk, m);
    const auto port = srv.bind();
    for (const auto& id : restored.runpod) runpod->start(id);
    cp::log_line(cp::log_level::info,
                 "memvid-export-api listening on " + cfg.bind_host + ":" + std::to_string(port) + " (backend " +
                     cfg.backend_name() + ", export root " + cfg.export_root + ", staging " + cfg.staging_root + ")");
    // For scripts and tests that bind :0 — one machine-readable line on stdout.
    std::cout << "{\"listening\":" << port << "}" << std::endl;
    srv.run(true);
    if (runpod) runpod->stop();
    cp::log_line(cp::log_level::info, "memvid-export-api stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.empty() || args[0] == "serve") return serve();
        if (args[0] == "--help" || args[0] == "-h") {
            std::cout << k_usage;
            return 0;
        }
        if (args[0] == "--version") {
            std::cout << "memvid-export-api 0.1.0" << std::endl;
            return 0;
        }
        if (args[0] == "worker-env" && args.size() == 1) return worker_env();
        if (args[0] == "routes" && args.size() == 1) {
            std::cout << mvx::cp::routes_markdown();
            return 0;
        }
        if (args[0] == "validate" && args.size() == 2) {
            try {
                return validate(args[1]);
            } catch (const mvx::error& e) {
                std::cout << error_line(e) << std::endl;
                return 2;
            }
        }
        std::cerr << k_usage;
        return 2;
    } catch (const mvx::error& e) {
        std::cerr << error_line(e) << std::endl;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "{\"error\":{\"code\":\"INTERNAL\",\"message\":" << mvx::json_out::string(e.what()) << "}}" << std::endl;
        return 1;
    }
}
