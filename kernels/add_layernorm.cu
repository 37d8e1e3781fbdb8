#include "kernels/add_layernorm.cuh"

namespace mvx::cuda {
namespace {

template <typename T>
void launch(unsigned blocks, unsigned threads, cudaStream_t s, void* x, const void* y, const void* bias, const void* gamma,
            const void* beta, std::size_t rows, std::size_t hidden, float eps) {
    add_bias_layernorm_kernel<T><<<blocks, threads, 0, s>>>(
        static_cast<T*>(x), static_cast<const T*>(y), static_cast<const T*>(bias), static_cast<const T*>(gamma),
        static_cast<const T*>(beta), static_cast<int>(rows), static_cast<int>(hidden), eps);
}

}  // namespace

void add_bias_layernorm(dtype t, void* x, const void* y, const void* bias, const void* gamma, const void* beta, std::size_t rows,
                        std::size_t hidden, float eps, stream_t s) {
    if (rows == 0) return;
    if (hidden > 32 * k_ln_max_per_lane)
        throw mvx::error(mvx::error_kind::unsupported, "EMBEDDING_FAILED", "CUDA LayerNorm supports hidden sizes up to 1024");
    constexpr unsigned warps = 4;
    const auto blocks = static_cast<unsigned>((rows + warps - 1) / warps);
    MVX_DISPATCH(t, launch, blocks, warps * 32, as_stream(s), x, y, bias, gamma, beta, rows, hidden, eps);
    check_last("add_bias_layernorm");
}

}  // namespace mvx::cuda
