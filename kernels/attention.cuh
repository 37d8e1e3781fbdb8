// Attention over ragged sequences (no padding): one block per (64-query tile,
// head), one thread per query. Keys and values of the sequence stream through
// shared memory in tiles of 64 with an online softmax (FlashAttention-style
// running max and sum), fp32 throughout; the QKV bias is added on load.
#pragma once
#include "kernels/cuda_common.cuh"

namespace mvx::cuda {

template <typename T, int HD>
__global__ void __launch_bounds__(64)
    attention_kernel(const T* qkv, const T* qkv_bias, const int* cu_seqlens, const int* tiles, int hidden, float scale, T* ctx) {
    constexpr int TILE = 64;
    __shared__ float ks[TILE][HD + 1];
    __shared__ float vs[TILE][HD + 1];
    const int seq = tiles[2 * blockIdx.x], q0 = tiles[2 * blockIdx.x + 1];
    const int h = blockIdx.y;
    const int start = cu_seqlens[seq], len = cu_seqlens[seq + 1] - start;
    const int ld = 3 * hidden;
    const int qi = q0 + threadIdx.x;
    const bool active = qi < len;
    float q[HD], o[HD];
    if (active) {
        const T* qr = qkv + static_cast<size_t>(start + qi) * ld + h * HD;
#pragma unroll
        for (int d = 0; d < HD; ++d) q[d] = (to_f(qr[d]) + to_f(qkv_bias[h * HD + d])) * scale;
    }
#pragma unroll
    for (int d = 0; d < HD; ++d) o[d] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int k0 = 0; k0 < len; k0 += TILE) {
        const int kj = k0 + threadIdx.x;
        if (kj < len) {
            const T* kr = qkv + static_cast<size_t>(start + kj) * ld + hidden + h * HD;
            const T* vr = kr + hidden;
#pragma unroll
            for (int d = 0; d < HD; ++d) {
                ks[threadIdx.x][d] = to_f(kr[d]) + to_f(qkv_bias[hidden + h * HD + d]);
                vs[threadIdx.x][d] = to_f(vr[d]) + to_f(qkv_bias[2 * hidden + h * HD + d]);
            }
        }
        __syncthreads();
        if (active) {
            const int n = min(TILE, len - k0);
            for (int j = 0; j < n; ++j) {
                float sc = 0.0f;
#pragma unroll
                for (int d = 0; d < HD; ++d) sc += q[d] * ks[j][d];
                if (sc > m) {
                    const float corr = __expf(m - sc);
                    l *= corr;
#pragma unroll
                    for (int d = 0; d < HD; ++d) o[d] *= corr;
                    m = sc;
                }
                const float p = __expf(sc - m);
                l += p;
#pragma unroll
                for (int d = 0; d < HD; ++d) o[d] += p * vs[j][d];
            }
        }
        __syncthreads();
    }
    if (active) {
        T* out = ctx + static_cast<size_t>(start + qi) * hidden + h * HD;
        const float inv = 1.0f / l;
#pragma unroll
        for (int d = 0; d < HD; ++d) out[d] = from_f<T>(o[d] * inv);
    }
}

}  // namespace mvx::cuda
