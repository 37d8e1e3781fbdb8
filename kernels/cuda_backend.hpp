// The CUDA backend of the native engine (host-side interface; no CUDA headers).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/embedding/backend.hpp"

namespace mvx::embedding::cuda {

struct device_info {
    bool present = false;
    std::string description;  // "NVIDIA H200 (sm_90, 139.8 GiB, driver 13.0)"
    std::string error;        // why not present
};

// Runtime check: a CUDA device that this build's kernels can run on.
device_info probe();

struct backend_options {
    std::string precision = "fp16";  // fp16 | bf16 | fp32
    std::size_t max_batch_tokens = 16384;
};

// cuBLAS GEMMs (fp32 accumulation) + our kernels; weights uploaded once,
// workspace sized at warm-up, one stream. Throws mvx::error with the CUDA message.
std::unique_ptr<backend> make_backend(const bert_model& model, const backend_options& options);

}  // namespace mvx::embedding::cuda
