// The CUDA backend lives in a module, libmvx-cuda.so (this folder's
// cuda_backend.cpp with kernels/ and cuBLAS), that the engine loads the first
// time an embedder asks for a GPU. A process that never embeds — a lexical
// export, the control plane — never maps cuBLAS or touches the CUDA driver.
//
// The module exports one C function returning the table below. Both sides are
// built from the same sources by the same build, so the table may use C++
// types; `abi` guards against a stale module from another build.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/embedding/backend.hpp"
#include "common/embedding/model.hpp"

namespace mvx::embedding::cuda {

inline constexpr std::uint32_t k_module_abi = 1;
inline constexpr const char* k_module_file = "libmvx-cuda.so";
inline constexpr const char* k_module_entry = "mvx_cuda_module";

struct device_info {
    bool present = false;
    std::string description;  // "NVIDIA H200 (sm_90, 139.8 GiB, driver 13.0)"
    std::string error;  // why not present
};

struct backend_options {
    std::string precision = "fp16";  // fp16 | bf16 | fp32
    std::size_t max_batch_tokens = 16384;
};

// What the backend needs of a loaded model (no tokenizer, no file).
struct model_view {
    const bert_config* config = nullptr;
    const bert_weights* weights = nullptr;
    pooling pool = pooling::cls;
    bool normalize = true;
    std::int32_t cls_id = 0;
};

struct module_api {
    std::uint32_t abi = 0;
    // Runtime check: a CUDA device that the module's kernels can run on.
    device_info (*probe)() = nullptr;
    // cuBLAS GEMMs (fp32 accumulation) + our kernels; weights uploaded once,
    // workspaces sized at warm-up, one stream. Throws mvx::error.
    std::unique_ptr<backend> (*make_backend)(const model_view& model, const backend_options& options) = nullptr;
};

// Loads the module once: `path`, else beside the executable, else
// ../lib/memvid-export/ (the worker image); nullptr with the reason in why.
const module_api* load_module(const std::string& path, std::string& why);

// The view of a loaded model the module takes.
model_view view_of(const bert_model& m);

}  // namespace mvx::embedding::cuda

extern "C" const mvx::embedding::cuda::module_api* mvx_cuda_module();
