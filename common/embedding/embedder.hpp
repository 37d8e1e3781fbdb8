// The embedding interface pack uses; engines (native CPU/CUDA, external
// providers) implement it. Vectors come back in input order, one per text,
// all of dimension(). Errors throw mvx::error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mvx::embedding {

// How memvid names the model that made the vectors (docs/mv2-format.md §3.3).
struct identity {
    std::string provider;  // memvid.embedding.provider, e.g. "fastembed", "openai"
    std::string model;  // memvid.embedding.model, e.g. "BAAI/bge-small-en-v1.5"
    std::size_t dimension = 0;
    bool normalized = true;
};

// What an embedder reports after a run (pack puts it in its result JSON).
struct embed_report {
    std::string backend, device, precision;  // "cpu"/"cuda"/"http", device name
    std::size_t texts = 0, tokens = 0;
    std::size_t truncated_texts = 0, truncated_tokens = 0;  // inputs cut at the model's max length
};

class embedder {
public:
    virtual ~embedder() = default;
    virtual identity id() const = 0;
    // Appends texts.size() * id().dimension floats to out.
    virtual void embed(std::span<const std::string> texts, std::vector<float>& out) = 0;
    // Preferred number of texts per call.
    virtual std::size_t batch_size() const { return 64; }
    virtual embed_report report() const { return {}; }
};

}  // namespace mvx::embedding
