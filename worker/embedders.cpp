#include "worker/embedders.hpp"

#include "common/core/json_out.hpp"
#include "common/providers/catalog.hpp"
#include "common/providers/providers.hpp"

#include <cmath>
#include <iostream>

namespace mvx::worker {

embedder_choice resolve(const worker_config& cfg, embedder_choice c) {
    if (c.mode.empty()) c.mode = cfg.embedding_mode;
    if (c.provider.empty()) c.provider = cfg.embedding_provider;
    if (const auto canonical = providers::canonical_provider(c.provider); !canonical.empty()) c.provider = canonical;
    if (c.model.empty()) {
        if (c.provider == "native")
            c.model = cfg.model_dir;
        else
            c.model = cfg.embedding_model.empty() ? providers::default_model(c.provider) : cfg.embedding_model;
    }
    if (c.ollama_host.empty()) c.ollama_host = cfg.ollama_host;
    return c;
}

std::unique_ptr<embedding::engine> open_native(const worker_config& cfg, const std::string& model_dir) {
    embedding::engine_options o;
    o.model_dir = model_dir;
    o.device = cfg.device;
    o.max_batch_tokens = cfg.max_batch_tokens;
    o.cuda_module = cfg.cuda_module;
    return embedding::engine::open(o);
}

std::string describe(const embedding::engine& e) {
    json_out::object o;
    o.str("event", "embedder_ready")
        .str("model", e.id().model)
        .str("backend", e.compute().name())
        .str("device", e.compute().device())
        .str("precision", e.compute().precision())
        .str("cudaFallbackReason", e.devices().reason)
        .raw("loadMs", json_out::f64(std::round(e.model().load_stats().load_ms)))
        .raw("warmUpMs", json_out::f64(std::round(e.warm_up_ms())));
    return o.str();
}

embedding::lazy_embedder::factory embedder_factory(const worker_config& cfg, const embedder_choice& c,
                                                   std::shared_ptr<embedding::engine> warm, const std::string& warm_dir) {
    if (c.provider == "native") {
        return [&cfg, c, warm, warm_dir]() -> std::shared_ptr<embedding::embedder> {
            if (warm && c.model == warm_dir) return warm;
            std::shared_ptr<embedding::engine> e = open_native(cfg, c.model);
            std::cerr << describe(*e) << std::endl;  // stdout carries the result
            return e;
        };
    }
    if (providers::canonical_provider(c.provider).empty())
        throw error(
            error_kind::invalid_input, "EMBEDDER_NOT_CONFIGURED",
            "Unsupported MEMVID_EMBED_PROVIDER `" + c.provider + "`. Supported: " + std::string(providers::k_supported) + ".");
    return [&cfg, c]() -> std::shared_ptr<embedding::embedder> {
        return std::make_shared<providers::provider_embedder>(
            providers::provider_config::from_env(cfg.env, c.mode, c.provider, c.model, c.ollama_host));
    };
}

}  // namespace mvx::worker
