// Control-plane configuration: the original's environment variables plus ours
// (docs/export-api.md lists them), read once at start through an injectable
// environment and validated with messages that say which variable to set and how.
#pragma once

#include "common/core/env.hpp"
#include "control-plane/observability/log.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mvx::cp {

enum class backend_mode { local_queue, runpod_queue };

struct config {
    std::string api_key;  // MEMVID_EXPORT_API_KEY or the file named by _FILE
    std::string bind_host = "0.0.0.0";  // MEMVID_EXPORT_BIND_ADDR
    std::uint16_t bind_port = 8080;
    std::string export_root = "/data/exports";  // SQLite job store lives here
    std::string staging_root = "/data/exports/staging";  // payloads/, outputs/
    std::int64_t retention_seconds = 86400;
    std::int64_t sweep_interval_seconds = 60;
    std::int64_t tombstone_seconds = 86400;  // a cleaned job's record and events stay this long, then go
    std::size_t queue_capacity = 128;  // jobs not yet terminal
    backend_mode backend = backend_mode::local_queue;
    std::uint64_t max_body_bytes = 500ull << 20;
    double rate_per_minute = 600;  // per API key; 0 disables
    double rate_burst = 120;
    std::string public_url;  // what workers and worker-env use to reach us
    unsigned threads = 0;
    std::size_t max_connections = 1024;  // MEMVID_EXPORT_MAX_CONNECTIONS (default: descriptor limit less 64)
    std::int64_t heartbeat_seconds = 5;
    log_level log = log_level::info;  // MEMVID_LOG

    // local queue
    std::string local_endpoint_id = "local";
    std::string worker_key;  // MEMVID_LOCAL_QUEUE_WORKER_KEY, default the API key
    std::int64_t lease_seconds = 30;
    unsigned max_attempts = 3;
    std::int64_t take_wait_ms = 20000;  // job-take / job-stop long-poll

    // runpod queue
    std::string runpod_api_base = "https://api.runpod.ai/v2";
    std::string runpod_endpoint_id, runpod_api_key;
    std::int64_t runpod_poll_seconds = 5;
    std::int64_t runpod_execution_timeout_ms = 600000;
    std::int64_t runpod_ttl_ms = 86400000;
    std::int64_t runpod_request_timeout_ms = 30000;
    unsigned runpod_max_status_failures = 30;  // consecutive /status failures before the job fails
    std::int64_t runpod_submit_confirm_seconds = 600;  // an unanswered /run's claim is awaited this long

    // job input the worker receives
    std::string embedding_mode = "external_api";
    std::string embedding_provider = "nvidia";
    std::string embedding_model;
    std::string ollama_host;

    const char* backend_name() const { return backend == backend_mode::runpod_queue ? "runpod_queue" : "local_queue"; }
};

// Reads and validates; throws mvx::error (INVALID_CONFIG) naming the variable,
// its value (never for secrets) and what to set. Warnings go to `warnings`.
config load_config(const env_lookup& env, std::vector<std::string>& warnings);

// Creates the export root and the staging folders; INVALID_CONFIG naming the
// folder when it cannot.
void prepare_roots(const config& c);

}  // namespace mvx::cp
