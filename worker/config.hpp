// memvid-export-worker's configuration: every variable it reads, loaded once
// from an injectable environment and validated like the control plane's (a bad
// value is an INVALID_CONFIG error naming the variable and what to set; the
// CLI exits 2). pack, runpod-execute and the queue loop use the same struct;
// pack's flags override its embedding fields. The external providers' own
// variables (*_API_KEY, VOYAGE_*, ...) are read by providers::provider_config
// from `env` when a semantic export first needs a provider.
#pragma once

#include "common/core/env.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace mvx::worker {

struct worker_config {
    // ---- the embedder (pack's defaults; a job's input may override them)
    std::string embedding_mode = "external_api";  // MEMVID_EMBEDDING_MODE: external_api | runpod_gpu
    std::string embedding_provider = "nvidia";  // MEMVID_EMBED_PROVIDER (canonical name, or native)
    std::string embedding_model;  // MEMVID_EMBED_MODEL (empty: the provider's default)
    std::string model_dir;  // MEMVID_EMBED_MODEL_DIR (native; else MEMVID_EMBED_MODEL)
    std::string device = "auto";  // MEMVID_EMBED_DEVICE: auto | cpu | cuda
    std::size_t max_batch_tokens = 16384;  // MEMVID_EMBED_MAX_BATCH_TOKENS
    std::string ollama_host;  // OLLAMA_HOST
    std::string cuda_module;  // MEMVID_CUDA_MODULE (empty: beside the binary)

    // ---- packing
    std::optional<std::int64_t> created_at;  // SOURCE_DATE_EPOCH (Unix seconds or RFC 3339)
    std::string staging_root;  // MEMVID_EXPORT_STAGING_ROOT: payloads and outputs must lie inside

    // ---- the Runpod queue worker (no arguments, RUNPOD_WEBHOOK_GET_JOB set)
    std::string take_url;  // RUNPOD_WEBHOOK_GET_JOB ($ID / $RUNPOD_POD_ID substituted)
    std::string done_url;  // RUNPOD_WEBHOOK_POST_OUTPUT
    std::string ping_url;  // RUNPOD_WEBHOOK_PING (empty: no heartbeat)
    std::string api_key;  // RUNPOD_AI_API_KEY, sent raw (secret: never logged)
    std::string pod_id;  // RUNPOD_POD_ID (empty: a random id)
    std::int64_t ping_ms = 10000;  // RUNPOD_PING_INTERVAL, clamped to [k_min_ping_ms, k_max_ping_ms]
    unsigned concurrency = 1;  // MEMVID_WORKER_CONCURRENCY
    std::int64_t grace_ms = 20000;  // MEMVID_WORKER_GRACE_MS: SIGTERM grace for held jobs
    std::int64_t wait_429_ms = 5000;  // MEMVID_WORKER_429_WAIT_MS: pause after a 429 from job-take
    std::int64_t download_timeout_ms = 120000;  // MEMVID_WORKER_DOWNLOAD_TIMEOUT_MS: http(s) payload_ref

    env_lookup env;  // where the values came from (the providers read theirs later)

    static constexpr std::int64_t k_min_ping_ms = 100;
    static constexpr std::int64_t k_max_ping_ms = 300000;

    bool serverless() const { return !take_url.empty(); }
    bool native() const { return embedding_provider == "native"; }
    // The model a native job uses when its input names none.
    const std::string& native_model_dir() const { return model_dir; }
};

// Throws mvx::error(INVALID_CONFIG) on the first bad value.
worker_config load_worker_config(const env_lookup& env);

}  // namespace mvx::worker
