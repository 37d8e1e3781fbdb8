#include <cmath>

#include "kernels/attention.cuh"

namespace mvx::cuda {
namespace {

template <typename T>
void launch(dim3 grid, cudaStream_t s, const void* qkv, const void* qkv_bias, const std::int32_t* cu_seqlens,
            const std::int32_t* tiles, std::size_t head_dim, int hidden, float scale, void* ctx) {
    const auto* in = static_cast<const T*>(qkv);
    const auto* b = static_cast<const T*>(qkv_bias);
    auto* out = static_cast<T*>(ctx);
    if (head_dim == 32)
        attention_kernel<T, 32><<<grid, k_attention_tile, 0, s>>>(in, b, cu_seqlens, tiles, hidden, scale, out);
    else
        attention_kernel<T, 64><<<grid, k_attention_tile, 0, s>>>(in, b, cu_seqlens, tiles, hidden, scale, out);
}

}  // namespace

void attention(dtype t, const void* qkv, const void* qkv_bias, const std::int32_t* cu_seqlens, const std::int32_t* tiles,
               std::size_t n_tiles, std::size_t heads, std::size_t head_dim, void* ctx, stream_t s) {
    if (n_tiles == 0) return;
    if (head_dim != 32 && head_dim != 64)
        throw mvx::error(mvx::error_kind::unsupported, "EMBEDDING_FAILED",
                         "CUDA attention supports head sizes 32 and 64 (bge-small/MiniLM, bge-base); this model has " +
                             std::to_string(head_dim) + "; use --embedding-device cpu");
    const int hidden = static_cast<int>(heads * head_dim);
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    const dim3 grid(static_cast<unsigned>(n_tiles), static_cast<unsigned>(heads));
    MVX_DISPATCH(t, launch, grid, as_stream(s), qkv, qkv_bias, cu_seqlens, tiles, head_dim, hidden, scale, ctx);
    check_last("attention");
}

}  // namespace mvx::cuda
