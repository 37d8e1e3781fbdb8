// Embedding gather + LayerNorm: one warp per token.
#pragma once
#include "kernels/cuda_common.cuh"

namespace mvx::cuda {

constexpr int k_ln_max_per_lane = 32;  // hidden <= 1024

// LayerNorm of v[0..n) held as PER values per lane (lane-strided), fp32 stats.
template <int PER>
__device__ __forceinline__ void warp_layernorm(float (&v)[PER], int hidden, float eps) {
    const int lane = threadIdx.x & 31;
    float s = 0;
#pragma unroll
    for (int k = 0; k < PER; ++k)
        if (lane + 32 * k < hidden) s += v[k];
    const float mean = warp_sum(s) / hidden;
    float q = 0;
#pragma unroll
    for (int k = 0; k < PER; ++k)
        if (lane + 32 * k < hidden) q += (v[k] - mean) * (v[k] - mean);
    const float inv = rsqrtf(warp_sum(q) / hidden + eps);
#pragma unroll
    for (int k = 0; k < PER; ++k) v[k] = (v[k] - mean) * inv;
}

template <typename T>
__global__ void embed_layernorm_kernel(const int* ids, const int* positions, int tokens, const T* word, const T* pos,
                                       const T* type0, const T* gamma, const T* beta, int hidden, float eps, T* out) {
    const int t = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (t >= tokens) return;
    const int lane = threadIdx.x & 31;
    const T* w = word + static_cast<size_t>(ids[t]) * hidden;
    const T* p = pos + static_cast<size_t>(positions[t]) * hidden;
    float v[k_ln_max_per_lane];
#pragma unroll
    for (int k = 0; k < k_ln_max_per_lane; ++k) {
        const int j = lane + 32 * k;
        v[k] = j < hidden ? to_f(w[j]) + to_f(p[j]) + to_f(type0[j]) : 0.0f;
    }
    warp_layernorm(v, hidden, eps);
    T* o = out + static_cast<size_t>(t) * hidden;
#pragma unroll
    for (int k = 0; k < k_ln_max_per_lane; ++k) {
        const int j = lane + 32 * k;
        if (j < hidden) o[j] = from_f<T>(v[k] * to_f(gamma[j]) + to_f(beta[j]));
    }
}

}  // namespace mvx::cuda
