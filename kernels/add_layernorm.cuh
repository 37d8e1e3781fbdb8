// Residual + bias + LayerNorm: x = LN(x + y + bias), one warp per row.
#pragma once
#include "kernels/embed_layernorm.cuh"

namespace mvx::cuda {

template <typename T>
__global__ void add_bias_layernorm_kernel(T* x, const T* y, const T* bias, const T* gamma, const T* beta, int rows, int hidden,
                                          float eps) {
    const int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (r >= rows) return;
    const int lane = threadIdx.x & 31;
    T* xr = x + static_cast<size_t>(r) * hidden;
    const T* yr = y + static_cast<size_t>(r) * hidden;
    float v[k_ln_max_per_lane];
#pragma unroll
    for (int k = 0; k < k_ln_max_per_lane; ++k) {
        const int j = lane + 32 * k;
        v[k] = j < hidden ? to_f(xr[j]) + to_f(yr[j]) + to_f(bias[j]) : 0.0f;
    }
    warp_layernorm(v, hidden, eps);
#pragma unroll
    for (int k = 0; k < k_ln_max_per_lane; ++k) {
        const int j = lane + 32 * k;
        if (j < hidden) xr[j] = from_f<T>(v[k] * to_f(gamma[j]) + to_f(beta[j]));
    }
}

}  // namespace mvx::cuda
