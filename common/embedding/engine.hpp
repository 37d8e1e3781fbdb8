// The native embedding engine: a BERT-family model from a Hugging Face folder,
// run in-process on the GPU (CUDA backend) or the CPU (fallback), behind the
// embedder interface pack uses.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

#include "common/embedding/backend.hpp"
#include "common/embedding/embedder.hpp"
#include "common/embedding/model.hpp"

namespace mvx::embedding {

struct engine_options {
    std::string model_dir;
    std::string device = "auto";  // auto | cpu | cuda
    std::string precision = "fp16";  // GPU: fp16 | bf16 | fp32 (fp32 = tests)
    std::size_t max_batch_tokens = 16384;  // token budget per forward pass
    int threads = 0;  // CPU threads; 0 = all cores
    std::string model_id;  // overrides the Hugging Face id
    std::size_t max_length = 0;  // 0 = the model's (bge 512, MiniLM 256)
    bool warm_up = true;
    std::string cuda_module;  // libmvx-cuda.so's path; empty: beside the executable (MEMVID_CUDA_MODULE)
};

struct engine_stats {
    std::size_t texts = 0, tokens = 0, batches = 0;
    std::size_t truncated_texts = 0, truncated_tokens = 0;
    double tokenize_ms = 0, forward_ms = 0;
};

// What the factory decided and why (logged by the worker).
struct device_report {
    bool cuda_compiled = false;
    bool cuda_present = false;
    std::string cuda_device;  // "NVIDIA H200 (sm_90, 139 GiB)"
    std::string reason;  // "no CUDA device: ..." when falling back
};

// Loads the CUDA module (once per process: the first call's path wins) and probes the driver.
device_report probe_devices(const std::string& cuda_module = "");

class engine final : public embedder {
public:
    // Loads the model and the backend; throws mvx::error (INVALID_MODEL,
    // EMBEDDER_UNAVAILABLE) with what went wrong and how to fix it.
    static std::unique_ptr<engine> open(const engine_options& options);

    identity id() const override;
    void embed(std::span<const std::string> texts, std::vector<float>& out) override;
    std::size_t batch_size() const override { return 1024; }
    embed_report report() const override;

    // Token ids as the engine feeds them (with [CLS]/[SEP], truncated).
    encoding tokenize(std::string_view text) const { return model_->tokenizer().encode(text, model_->max_length()); }

    const bert_model& model() const { return *model_; }
    const backend& compute() const { return *backend_; }
    engine_stats stats() const;
    const device_report& devices() const { return report_; }
    double warm_up_ms() const { return warm_up_ms_; }

private:
    engine_options opts_;
    std::unique_ptr<bert_model> model_;
    std::unique_ptr<backend> backend_;
    device_report report_;
    identity id_;
    double warm_up_ms_ = 0;
    mutable std::mutex mu_;
    engine_stats stats_;
};

}  // namespace mvx::embedding
