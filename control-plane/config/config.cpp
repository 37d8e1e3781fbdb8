#include "control-plane/config/config.hpp"

#include "common/core/error.hpp"
#include "common/providers/catalog.hpp"
#include "control-plane/observability/log.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <sys/resource.h>

namespace mvx::cp {
namespace {

[[noreturn]] void bad(const std::string& message) { throw error(error_kind::invalid_input, "INVALID_CONFIG", message); }

std::string read_key_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) bad("MEMVID_EXPORT_API_KEY_FILE=" + path + " cannot be read: mount the key file there or set MEMVID_EXPORT_API_KEY");
    std::stringstream ss;
    ss << f.rdbuf();
    return env_reader::trim(ss.str());
}

}  // namespace

void prepare_roots(const config& c) {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto& dir :
         {fs::path(c.export_root), fs::path(c.staging_root) / "payloads", fs::path(c.staging_root) / "outputs"}) {
        fs::create_directories(dir, ec);
        if (ec)
            throw error(error_kind::io, "INVALID_CONFIG",
                        "cannot create " + dir.string() + " (" + ec.message() +
                            "): mount a writable volume there or set MEMVID_EXPORT_ROOT / MEMVID_EXPORT_STAGING_ROOT");
    }
}

config load_config(const env_lookup& env, std::vector<std::string>& warnings) {
    const env_reader r(env);
    config c;

    c.api_key = r.str("MEMVID_EXPORT_API_KEY");
    if (c.api_key.empty()) {
        std::string file = r.str("MEMVID_EXPORT_API_KEY_FILE");
        if (!file.empty()) {
            c.api_key = read_key_file(file);
            if (c.api_key.empty())
                bad("MEMVID_EXPORT_API_KEY_FILE=" + file + " is empty: write the bearer key clients send into it");
        }
    }
    if (c.api_key.empty())
        bad("MEMVID_EXPORT_API_KEY is not set: set it (or MEMVID_EXPORT_API_KEY_FILE) to the bearer key clients send "
            "as \"Authorization: Bearer <key>\"");
    if (c.api_key.size() < 16) warnings.push_back("MEMVID_EXPORT_API_KEY is shorter than 16 characters: use a long random key");

    std::string bind = r.str("MEMVID_EXPORT_BIND_ADDR", "0.0.0.0:8080");
    {
        auto colon = bind.rfind(':');
        std::string host = colon == std::string::npos ? "" : bind.substr(0, colon);
        std::string port = colon == std::string::npos ? "" : bind.substr(colon + 1);
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
        unsigned p = 0;
        auto [e, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (host.empty() || port.empty() || ec != std::errc() || e != port.data() + port.size() || p > 65535)
            bad("MEMVID_EXPORT_BIND_ADDR=\"" + bind + "\" is not host:port: set it like 0.0.0.0:8080 or 127.0.0.1:0");
        c.bind_host = host;
        c.bind_port = static_cast<std::uint16_t>(p);
    }

    c.export_root = r.str("MEMVID_EXPORT_ROOT", c.export_root);
    c.staging_root = r.str("MEMVID_EXPORT_STAGING_ROOT", c.export_root + "/staging");
    c.retention_seconds = r.integer("MEMVID_EXPORT_RETENTION_SECONDS", 86400, 1, 365LL * 86400, "seconds");
    c.sweep_interval_seconds = r.integer("MEMVID_EXPORT_SWEEP_INTERVAL_SECONDS", 60, 1, 86400, "seconds");
    c.tombstone_seconds = r.integer("MEMVID_EXPORT_TOMBSTONE_SECONDS", 86400, 1, 365LL * 86400, "seconds");
    c.queue_capacity = static_cast<std::size_t>(r.integer("MEMVID_EXPORT_QUEUE_CAPACITY", 128, 1, 1000000, "a job count"));
    c.max_body_bytes =
        static_cast<std::uint64_t>(r.integer("MEMVID_EXPORT_MAX_BODY_BYTES", 500LL << 20, 1024, 64LL << 30, "bytes"));
    c.rate_per_minute =
        double(r.integer("MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE", 600, 0, 1000000000, "requests per minute (0 = off)"));
    c.rate_burst = double(r.integer("MEMVID_EXPORT_RATE_LIMIT_BURST", 120, 1, 1000000000, "requests"));
    c.threads = static_cast<unsigned>(
        r.integer("MEMVID_EXPORT_THREADS", std::max(2u, std::thread::hardware_concurrency()), 1, 256, "a thread count"));
    {
        // Room for the store, staged files and downloads beside the connections.
        rlimit rl{};
        const std::int64_t fds =
            ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? std::int64_t(rl.rlim_cur) : 4096;
        const std::int64_t def = std::clamp<std::int64_t>(fds - 64, 16, 65536);
        c.max_connections =
            static_cast<std::size_t>(r.integer("MEMVID_EXPORT_MAX_CONNECTIONS", def, 1, std::max<std::int64_t>(1, fds - 16),
                                               "a connection count (below the descriptor limit)"));
    }
    c.heartbeat_seconds =
        r.integer("MEMVID_EXPORT_HEARTBEAT_SECONDS", 5, 1, 14, "seconds (the browser client flags 15 s of silence as stalled)");

    std::string mode = r.str("MEMVID_EXPORT_BACKEND_MODE", "local_queue");
    if (mode == "local_queue") {
        c.backend = backend_mode::local_queue;
    } else if (mode == "runpod_queue") {
        c.backend = backend_mode::runpod_queue;
    } else if (mode == "legacy_vps") {
        c.backend = backend_mode::local_queue;
        warnings.push_back(
            "MEMVID_EXPORT_BACKEND_MODE=legacy_vps: exports run on memvid-export-worker processes through the "
            "local queue (see `memvid-export-api worker-env`); set local_queue to silence this");
    } else {
        bad("MEMVID_EXPORT_BACKEND_MODE=\"" + mode +
            "\" is not a backend: set local_queue (workers take jobs from this "
            "server) or runpod_queue (jobs go to a Runpod endpoint)");
    }

    c.local_endpoint_id = r.str("MEMVID_LOCAL_QUEUE_ENDPOINT_ID", "local");
    if (c.local_endpoint_id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
        std::string::npos)
        bad("MEMVID_LOCAL_QUEUE_ENDPOINT_ID=\"" + c.local_endpoint_id + "\" must be letters, digits, '-' or '_'");
    c.worker_key = r.str("MEMVID_LOCAL_QUEUE_WORKER_KEY", c.api_key);
    c.lease_seconds = r.integer("MEMVID_LOCAL_QUEUE_LEASE_SECONDS", 30, 2, 3600, "seconds");
    c.max_attempts = static_cast<unsigned>(r.integer("MEMVID_LOCAL_QUEUE_MAX_ATTEMPTS", 3, 1, 100, "a count"));
    c.take_wait_ms = r.integer("MEMVID_LOCAL_QUEUE_WAIT_MS", 20000, 10, 80000, "milliseconds");

    c.runpod_api_base = r.str("RUNPOD_API_BASE", c.runpod_api_base);
    while (!c.runpod_api_base.empty() && c.runpod_api_base.back() == '/') c.runpod_api_base.pop_back();
    c.runpod_endpoint_id = r.str("RUNPOD_ENDPOINT_ID");
    c.runpod_api_key = r.str("RUNPOD_API_KEY");
    c.runpod_poll_seconds = r.integer("RUNPOD_POLL_INTERVAL_SECONDS", 5, 1, 600, "seconds");
    c.runpod_execution_timeout_ms = r.integer("RUNPOD_EXECUTION_TIMEOUT_MS", 600000, 5000, 7LL * 86400000, "milliseconds");
    c.runpod_ttl_ms = r.integer("RUNPOD_TTL_MS", 86400000, 10000, 7LL * 86400000, "milliseconds");
    if (r.has("RUNPOD_REGION_SCOPE"))
        warnings.push_back(
            "RUNPOD_REGION_SCOPE has no effect: the endpoint's data centers (and its network volume's) decide where "
            "workers run; set them on the endpoint (runpod/endpoint.example.json) and remove this variable");
    c.runpod_request_timeout_ms = r.integer("RUNPOD_REQUEST_TIMEOUT_MS", 30000, 100, 600000, "milliseconds");
    c.runpod_submit_confirm_seconds = r.integer("RUNPOD_SUBMIT_CONFIRM_SECONDS", 600, 1, 7LL * 86400, "seconds");
    c.runpod_max_status_failures = static_cast<unsigned>(r.integer("RUNPOD_MAX_STATUS_FAILURES", 30, 1, 100000, "a count"));
    if (c.backend == backend_mode::runpod_queue) {
        if (c.runpod_endpoint_id.empty())
            bad("RUNPOD_ENDPOINT_ID is required when MEMVID_EXPORT_BACKEND_MODE=runpod_queue: set it to the queue endpoint's id");
        if (c.runpod_api_key.empty())
            bad("RUNPOD_API_KEY is required when MEMVID_EXPORT_BACKEND_MODE=runpod_queue: set it to a Runpod API key");
        if (c.runpod_api_base.rfind("http://", 0) != 0 && c.runpod_api_base.rfind("https://", 0) != 0)
            bad("RUNPOD_API_BASE=\"" + c.runpod_api_base + "\" must start with https:// (or http:// for a local test endpoint)");
        if (c.runpod_endpoint_id.find('/') != std::string::npos || c.runpod_endpoint_id.find('?') != std::string::npos)
            bad("RUNPOD_ENDPOINT_ID=\"" + c.runpod_endpoint_id + "\" must be the bare endpoint id, not a URL");
    }

    c.embedding_mode = r.str("MEMVID_EMBEDDING_MODE", "external_api");
    if (c.embedding_mode != "external_api" && c.embedding_mode != "runpod_gpu")
        bad("MEMVID_EMBEDDING_MODE=\"" + c.embedding_mode + "\" is not a mode: set external_api or runpod_gpu");
    const std::string provider = r.str("MEMVID_EMBED_PROVIDER", std::string(providers::k_default_provider));
    c.embedding_provider = providers::canonical_provider(provider);
    if (c.embedding_provider.empty())
        bad("MEMVID_EMBED_PROVIDER=\"" + provider + "\" is not a provider: set nvidia, openai, voyage, ollama or native");
    c.embedding_model = r.str("MEMVID_EMBED_MODEL", providers::default_model(c.embedding_provider));
    c.ollama_host = r.str("OLLAMA_HOST");
    if (c.embedding_provider == "ollama" && c.ollama_host.empty())
        warnings.push_back("MEMVID_EMBED_PROVIDER=ollama without OLLAMA_HOST: semantic exports need the worker's OLLAMA_HOST");

    std::string level = r.str("MEMVID_LOG", "info");
    if (!parse_log_level(level, c.log)) bad("MEMVID_LOG=\"" + level + "\" is not a log level: set error, warn, info or debug");

    std::string host = c.bind_host == "0.0.0.0" || c.bind_host == "::" ? "127.0.0.1" : c.bind_host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    c.public_url = r.str("MEMVID_EXPORT_PUBLIC_URL", "http://" + host + ":" + std::to_string(c.bind_port));
    while (!c.public_url.empty() && c.public_url.back() == '/') c.public_url.pop_back();
    return c;
}

}  // namespace mvx::cp
