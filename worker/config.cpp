#include "worker/config.hpp"

#include "common/pack/pack.hpp"
#include "common/providers/catalog.hpp"

#include <algorithm>

namespace mvx::worker {

worker_config load_worker_config(const env_lookup& lookup) {
    const env_reader r(lookup);
    worker_config c;
    c.env = lookup;

    c.embedding_mode = r.choice("MEMVID_EMBEDDING_MODE", c.embedding_mode, {"external_api", "runpod_gpu"}, "an embedding mode");
    const std::string provider = r.str("MEMVID_EMBED_PROVIDER", std::string(providers::k_default_provider));
    c.embedding_provider = providers::canonical_provider(provider);
    if (c.embedding_provider.empty())
        r.fail("MEMVID_EMBED_PROVIDER=\"" + provider.substr(0, 64) + "\" is not a provider: set one of " +
               std::string(providers::k_supported));
    c.embedding_model = r.str("MEMVID_EMBED_MODEL");
    c.model_dir = r.str("MEMVID_EMBED_MODEL_DIR", c.embedding_model);
    c.device = r.choice("MEMVID_EMBED_DEVICE", c.device, {"auto", "cpu", "cuda"}, "an embedding device");
    c.max_batch_tokens = static_cast<std::size_t>(
        r.integer("MEMVID_EMBED_MAX_BATCH_TOKENS", 16384, 512, 1 << 22, "a token count per forward pass"));
    c.ollama_host = r.str("OLLAMA_HOST");
    c.cuda_module = r.str("MEMVID_CUDA_MODULE");

    if (const std::string when = r.str("SOURCE_DATE_EPOCH"); !when.empty()) {
        c.created_at = pack::parse_time(when);
        if (!c.created_at)
            r.fail("SOURCE_DATE_EPOCH=\"" + when.substr(0, 64) +
                   "\" is neither Unix seconds nor RFC 3339 UTC: set it like 1767225600 or 2026-01-01T00:00:00Z");
    }
    c.staging_root = r.str("MEMVID_EXPORT_STAGING_ROOT");

    c.take_url = r.str("RUNPOD_WEBHOOK_GET_JOB");
    c.done_url = r.str("RUNPOD_WEBHOOK_POST_OUTPUT");
    c.ping_url = r.str("RUNPOD_WEBHOOK_PING");
    c.api_key = r.str("RUNPOD_AI_API_KEY");
    c.pod_id = r.str("RUNPOD_POD_ID");
    if (c.serverless()) {
        auto url = [&](const char* name, const std::string& v) {
            if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
                r.fail(std::string(name) + "=\"" + v.substr(0, v.find('?')).substr(0, 120) +
                       "\" is not an http(s) URL: set the template Runpod gives workers (or `memvid-export-api worker-env`'s)");
        };
        url("RUNPOD_WEBHOOK_GET_JOB", c.take_url);
        if (c.done_url.empty())
            r.fail("RUNPOD_WEBHOOK_POST_OUTPUT is not set: a queue worker needs the job-done URL template to post results");
        url("RUNPOD_WEBHOOK_POST_OUTPUT", c.done_url);
        if (!c.ping_url.empty()) url("RUNPOD_WEBHOOK_PING", c.ping_url);
    }
    // Clamped, not refused: Runpod's own templates use values from 1 s to 10 s.
    c.ping_ms =
        std::clamp<std::int64_t>(r.integer("RUNPOD_PING_INTERVAL", 10000, 0, 1000000000000000, "milliseconds between heartbeats"),
                                 worker_config::k_min_ping_ms, worker_config::k_max_ping_ms);
    c.concurrency = static_cast<unsigned>(r.integer("MEMVID_WORKER_CONCURRENCY", 1, 1, 64, "a number of jobs at once"));
    c.grace_ms = r.integer("MEMVID_WORKER_GRACE_MS", 20000, 0, 3600000, "milliseconds");
    c.wait_429_ms = r.integer("MEMVID_WORKER_429_WAIT_MS", 5000, 0, 600000, "milliseconds");
    c.download_timeout_ms = r.integer("MEMVID_WORKER_DOWNLOAD_TIMEOUT_MS", 120000, 1000, 3600000, "milliseconds");
    return c;
}

}  // namespace mvx::worker
