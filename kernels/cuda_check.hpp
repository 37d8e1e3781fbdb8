// Host-side CUDA error checks for the ops and their callers: a failed runtime
// call throws mvx::error(EMBEDDING_FAILED) naming the call and the CUDA error.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "common/core/error.hpp"

namespace mvx::cuda {

[[noreturn]] inline void fail(const char* what, cudaError_t e) {
    throw mvx::error(mvx::error_kind::internal, "EMBEDDING_FAILED",
                     std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

}  // namespace mvx::cuda

#define MVX_CUDA_CHECK(call)                                             \
    do {                                                                 \
        cudaError_t mvx_err_ = (call);                                   \
        if (mvx_err_ != cudaSuccess) ::mvx::cuda::fail(#call, mvx_err_); \
    } while (0)
