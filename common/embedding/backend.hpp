// A compute backend runs the encoder on one ragged batch: token ids of all
// sequences concatenated, cu_seqlens[i]..cu_seqlens[i+1] the rows of sequence i.
// It returns pooled (and, per the model, L2-normalised) vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/embedding/model.hpp"

namespace mvx::embedding {

struct token_batch {
    std::vector<std::int32_t> ids;
    std::vector<std::int32_t> cu_seqlens{0};
    std::size_t max_len = 0;
    std::size_t sequences() const { return cu_seqlens.size() - 1; }
    std::size_t tokens() const { return ids.size(); }
    void clear() {
        ids.clear();
        cu_seqlens.assign(1, 0);
        max_len = 0;
    }
    void add(const std::vector<std::int32_t>& seq) {
        ids.insert(ids.end(), seq.begin(), seq.end());
        cu_seqlens.push_back(static_cast<std::int32_t>(ids.size()));
        if (seq.size() > max_len) max_len = seq.size();
    }
};

class backend {
public:
    virtual ~backend() = default;
    // out: sequences() * hidden floats.
    virtual void forward(const token_batch& batch, float* out) = 0;
    // Sizes workspaces for batches of up to max_tokens tokens and runs once.
    virtual void warm_up(std::size_t max_tokens, std::size_t max_len) = 0;
    virtual std::string name() const = 0;  // "cpu" | "cuda"
    virtual std::string device() const = 0;  // e.g. "AMD EPYC 9B14 (2 threads, openblas)"
    virtual std::string precision() const = 0;  // "fp32" | "fp16" | "bf16"
};

std::unique_ptr<backend> make_cpu_backend(const bert_model& model, int threads);

}  // namespace mvx::embedding
