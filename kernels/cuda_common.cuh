// Shared device helpers: storage-type conversions, warp reductions, error checks.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda_check.hpp"
#include "kernels/ops.hpp"

namespace mvx::cuda {

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename T>
__device__ __forceinline__ T from_f(float v);
template <>
__device__ __forceinline__ float from_f<float>(float v) {
    return v;
}
template <>
__device__ __forceinline__ __half from_f<__half>(float v) {
    return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

inline cudaStream_t as_stream(stream_t s) { return static_cast<cudaStream_t>(s); }

// MVX_DISPATCH(t, fn, args...): fn<StorageType>(args...) for the dtype t.
#define MVX_DISPATCH(t, fn, ...)                                                  \
    do {                                                                          \
        switch (t) {                                                              \
            case ::mvx::cuda::dtype::f32: fn<float>(__VA_ARGS__); break;          \
            case ::mvx::cuda::dtype::f16: fn<__half>(__VA_ARGS__); break;         \
            case ::mvx::cuda::dtype::bf16: fn<__nv_bfloat16>(__VA_ARGS__); break; \
        }                                                                         \
    } while (0)

}  // namespace mvx::cuda
