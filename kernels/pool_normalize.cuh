// Pooling (CLS row or mean over the sequence) + L2 normalisation, one block per
// sequence; writes fp32 vectors (a zero vector for a degenerate norm).
#pragma once
#include "kernels/cuda_common.cuh"

namespace mvx::cuda {

template <typename T>
__global__ void pool_normalize_kernel(const T* x, const int* cu_seqlens, int hidden, int mode, bool normalize, float* out) {
    extern __shared__ float shm[];  // hidden floats + 32 partial sums
    float* v = shm;
    float* part = shm + hidden;
    const int s = blockIdx.x;
    const int b = cu_seqlens[s], e = cu_seqlens[s + 1];
    for (int j = threadIdx.x; j < hidden; j += blockDim.x) {
        float acc;
        if (mode == 0 || e == b) {
            acc = to_f(x[static_cast<size_t>(b) * hidden + j]);
        } else {
            acc = 0.0f;
            for (int t = b; t < e; ++t) acc += to_f(x[static_cast<size_t>(t) * hidden + j]);
            acc /= static_cast<float>(e - b);
        }
        v[j] = acc;
    }
    __syncthreads();
    float ss = 0.0f;
    for (int j = threadIdx.x; j < hidden; j += blockDim.x) ss += v[j] * v[j];
    ss = warp_sum(ss);
    if ((threadIdx.x & 31) == 0) part[threadIdx.x / 32] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
        float t = threadIdx.x < blockDim.x / 32 ? part[threadIdx.x] : 0.0f;
        t = warp_sum(t);
        if (threadIdx.x == 0) part[0] = t;
    }
    __syncthreads();
    const float n = sqrtf(part[0]);
    const float scale = !normalize ? 1.0f : (n > 1e-12f && isfinite(n) ? 1.0f / n : 0.0f);
    for (int j = threadIdx.x; j < hidden; j += blockDim.x) out[static_cast<size_t>(s) * hidden + j] = v[j] * scale;
}

}  // namespace mvx::cuda
