#include "kernels/embed_layernorm.cuh"

namespace mvx::cuda {
namespace {

template <typename T>
void launch(unsigned blocks, unsigned threads, cudaStream_t s, const std::int32_t* ids, const std::int32_t* positions,
            std::size_t tokens, const void* word, const void* pos, const void* type0, const void* gamma, const void* beta,
            std::size_t hidden, float eps, void* out) {
    embed_layernorm_kernel<T><<<blocks, threads, 0, s>>>(ids, positions, static_cast<int>(tokens), static_cast<const T*>(word),
                                                         static_cast<const T*>(pos), static_cast<const T*>(type0),
                                                         static_cast<const T*>(gamma), static_cast<const T*>(beta),
                                                         static_cast<int>(hidden), eps, static_cast<T*>(out));
}

}  // namespace

void embed_layernorm(dtype t, const std::int32_t* ids, const std::int32_t* positions, std::size_t tokens, const void* word,
                     const void* pos, const void* type0, const void* gamma, const void* beta, std::size_t hidden, float eps,
                     void* out, stream_t s) {
    if (tokens == 0) return;
    if (hidden > 32 * k_ln_max_per_lane)
        throw mvx::error(mvx::error_kind::unsupported, "EMBEDDING_FAILED", "CUDA LayerNorm supports hidden sizes up to 1024");
    constexpr unsigned warps = 4;
    const auto blocks = static_cast<unsigned>((tokens + warps - 1) / warps);
    MVX_DISPATCH(t, launch, blocks, warps * 32, as_stream(s), ids, positions, tokens, word, pos, type0, gamma, beta, hidden, eps,
                 out);
    check_last("embed_layernorm");
}

}  // namespace mvx::cuda
