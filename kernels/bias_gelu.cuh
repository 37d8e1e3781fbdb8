// Bias + activation in place: exact-erf GELU (PyTorch "gelu"), tanh GELU or ReLU.
#pragma once
#include "kernels/cuda_common.cuh"

namespace mvx::cuda {

template <typename T, int ACT>
__global__ void bias_act_kernel(T* x, const T* bias, size_t total, int cols) {
    for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
         i += static_cast<size_t>(gridDim.x) * blockDim.x) {
        float v = to_f(x[i]) + to_f(bias[i % cols]);
        if (ACT == 0)
            v = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
        else if (ACT == 1)
            v = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        else
            v = v > 0.0f ? v : 0.0f;
        x[i] = from_f<T>(v);
    }
}

}  // namespace mvx::cuda
