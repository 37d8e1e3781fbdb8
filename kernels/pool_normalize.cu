#include "kernels/pool_normalize.cuh"

namespace mvx::cuda {
namespace {

template <typename T>
void launch(unsigned blocks, unsigned threads, std::size_t shm, cudaStream_t s, const void* x, const std::int32_t* cu_seqlens,
            std::size_t hidden, int mode, bool normalize, float* out) {
    pool_normalize_kernel<T>
        <<<blocks, threads, shm, s>>>(static_cast<const T*>(x), cu_seqlens, static_cast<int>(hidden), mode, normalize, out);
}

}  // namespace

void pool_normalize(dtype t, const void* x, const std::int32_t* cu_seqlens, std::size_t n_seqs, std::size_t hidden, int mode,
                    bool normalize, float* out, stream_t s) {
    if (n_seqs == 0) return;
    const unsigned threads = 256;
    const std::size_t shm = (hidden + 32) * sizeof(float);
    MVX_DISPATCH(t, launch, static_cast<unsigned>(n_seqs), threads, shm, as_stream(s), x, cu_seqlens, hidden, mode, normalize,
                 out);
    check_last("pool_normalize");
}

}  // namespace mvx::cuda
