// Which embedder a pack or a job gets, decided in one place: the native
// engine (a Hugging Face model folder, GPU or CPU) or an external provider,
// from the job's or the flags' choice over the worker's configuration. The
// result is a factory for embedding::lazy_embedder: nothing is loaded until
// the payload asks for vectors.
#pragma once

#include "common/embedding/engine.hpp"
#include "common/embedding/lazy_embedder.hpp"
#include "worker/config.hpp"

#include <memory>
#include <string>

namespace mvx::worker {

struct embedder_choice {
    std::string mode, provider, model, ollama_host;  // as given; empty = the configuration's
};

// The choice with every empty field filled from the configuration (and the
// provider's default model); provider is canonical, or "native".
embedder_choice resolve(const worker_config& cfg, embedder_choice given);

// Opens the native engine on the configured device and token budget.
std::unique_ptr<embedding::engine> open_native(const worker_config& cfg, const std::string& model_dir);

// One JSON line describing an opened engine (what runs where), for logs.
std::string describe(const embedding::engine& e);

// A factory for a resolved choice. warm: an engine opened at start for
// warm_dir, used when the choice is native on that folder.
embedding::lazy_embedder::factory embedder_factory(const worker_config& cfg, const embedder_choice& resolved,
                                                   std::shared_ptr<embedding::engine> warm = nullptr,
                                                   const std::string& warm_dir = "");

}  // namespace mvx::worker
