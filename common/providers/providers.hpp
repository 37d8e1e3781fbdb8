// External embedding providers behind the embedder interface: openai (any
// OpenAI-compatible base URL), nvidia (OpenAI-compatible), voyage, ollama
// (batch /api/embed, legacy /api/embeddings). Many inputs per request, several
// requests in flight, order preserved; retries with exponential backoff and
// jitter on 429, 5xx, timeouts and resets (Retry-After honoured); other 4xx fail
// at once with the provider's own error text. Keys never appear in logs or errors.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/core/env.hpp"
#include "common/embedding/embedder.hpp"

namespace mvx::providers {

struct provider_config {
    std::string mode = "external_api";  // external_api | runpod_gpu
    std::string provider = "nvidia";  // nvidia | openai | voyage | ollama (voyageai, local accepted)
    std::string model;  // empty: the provider's default
    std::string api_key;  // secret
    std::string base_url;  // empty: the provider's default (ollama: OLLAMA_HOST)
    std::string voyage_input_type = "document";
    std::string voyage_output_dtype = "float";
    std::optional<int> voyage_output_dimension;
    bool voyage_truncation = true;
    std::chrono::milliseconds timeout{60000};
    std::chrono::milliseconds connect_timeout{10000};
    std::size_t batch_size = 0;  // inputs per request; 0 = the provider's default
    std::size_t concurrency = 4;  // requests in flight
    int max_attempts = 6;  // per request, first try included
    std::chrono::milliseconds backoff_base{500}, backoff_cap{30000};

    // The original's variables: MEMVID_EMBEDDING_MODE, MEMVID_EMBED_PROVIDER,
    // MEMVID_EMBED_MODEL, *_API_KEY, *_EMBED_BASE_URL, VOYAGE_*, OLLAMA_HOST,
    // MEMVID_EMBED_REQUEST_TIMEOUT_SECONDS; plus MEMVID_EMBED_BATCH_SIZE,
    // MEMVID_EMBED_CONCURRENCY, MEMVID_EMBED_MAX_ATTEMPTS, MEMVID_EMBED_RETRY_BASE_MS.
    // Arguments that are set override the environment. Names and default
    // models come from catalog.hpp.
    static provider_config from_env(const env_lookup& env, const std::string& mode, const std::string& provider,
                                    const std::string& model, const std::string& ollama_host = "");
    // The original's rules and messages ("Embedding misconfiguration: ...");
    // throws mvx::error(EMBEDDER_NOT_CONFIGURED).
    void validate() const;
};

class provider_embedder final : public embedding::embedder {
public:
    explicit provider_embedder(provider_config cfg);
    ~provider_embedder() override;

    embedding::identity id() const override;  // dimension known after the first batch
    void embed(std::span<const std::string> texts, std::vector<float>& out) override;
    std::size_t batch_size() const override { return 4096; }
    embedding::embed_report report() const override;

    struct stats {
        std::size_t requests = 0, retries = 0, texts = 0;
    };
    stats counters() const;

private:
    struct impl;
    std::unique_ptr<impl> p_;
};

}  // namespace mvx::providers
