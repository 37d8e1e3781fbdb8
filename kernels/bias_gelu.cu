#include <algorithm>

#include "kernels/bias_gelu.cuh"

namespace mvx::cuda {
namespace {

template <typename T>
void launch(unsigned blocks, unsigned threads, cudaStream_t s, void* x, const void* bias, std::size_t total, std::size_t cols,
            int act) {
    auto* p = static_cast<T*>(x);
    auto* b = static_cast<const T*>(bias);
    const int c = static_cast<int>(cols);
    if (act == 0)
        bias_act_kernel<T, 0><<<blocks, threads, 0, s>>>(p, b, total, c);
    else if (act == 1)
        bias_act_kernel<T, 1><<<blocks, threads, 0, s>>>(p, b, total, c);
    else
        bias_act_kernel<T, 2><<<blocks, threads, 0, s>>>(p, b, total, c);
}

}  // namespace

void bias_act(dtype t, void* x, const void* bias, std::size_t rows, std::size_t cols, int act, stream_t s) {
    const std::size_t total = rows * cols;
    if (total == 0) return;
    const unsigned threads = 256;
    const auto blocks = static_cast<unsigned>(std::min<std::size_t>((total + threads - 1) / threads, 65535u * 8));
    MVX_DISPATCH(t, launch, blocks, threads, as_stream(s), x, bias, total, cols, act);
    check_last("bias_act");
}

}  // namespace mvx::cuda
