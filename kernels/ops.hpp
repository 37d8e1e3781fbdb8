// The CUDA ops of the native engine, callable from host C++ (no CUDA headers
// here). Each op is one kernel in its own .cu/.cuh pair; activations are stored
// in `dtype` (fp32, fp16 or bf16) and computed in fp32. All launches go on the
// given stream; pointers are device pointers. Layouts match common/embedding/cpu_ops.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mvx::cuda {

enum class dtype { f32, f16, bf16 };
std::size_t dtype_bytes(dtype t);

using stream_t = void*;  // cudaStream_t

// Throws mvx::error(EMBEDDING_FAILED) naming the CUDA error after any failed call.
void check_last(const char* what);

// out[t] = LN(word[ids[t]] + pos[positions[t]] + type[0])
void embed_layernorm(dtype t, const std::int32_t* ids, const std::int32_t* positions, std::size_t tokens, const void* word,
                     const void* pos, const void* type0, const void* gamma, const void* beta, std::size_t hidden, float eps,
                     void* out, stream_t s);

// x[T, N] = gelu_erf(x + bias) (exact erf), or tanh GELU / ReLU by act (0 erf, 1 tanh, 2 relu).
void bias_act(dtype t, void* x, const void* bias, std::size_t rows, std::size_t cols, int act, stream_t s);

// x = LN(x + y + bias) per row.
void add_bias_layernorm(dtype t, void* x, const void* y, const void* bias, const void* gamma, const void* beta, std::size_t rows,
                        std::size_t hidden, float eps, stream_t s);

// qkv[T, 3H] (+ qkv_bias[3H]) -> ctx[T, H]: softmax(q k^T / sqrt(d)) v per sequence and head over
// ragged sequences. tiles: (sequence, first query) pairs as int32 x2, one per 64-query tile.
void attention(dtype t, const void* qkv, const void* qkv_bias, const std::int32_t* cu_seqlens, const std::int32_t* tiles,
               std::size_t n_tiles, std::size_t heads, std::size_t head_dim, void* ctx, stream_t s);
constexpr std::size_t k_attention_tile = 64;

// out[n, H] fp32: CLS row (mode 0) or mean (mode 1) per sequence, L2-normalised when normalize.
void pool_normalize(dtype t, const void* x, const std::int32_t* cu_seqlens, std::size_t n_seqs, std::size_t hidden, int mode,
                    bool normalize, float* out, stream_t s);

// Device memory, RAII.
class device_buffer {
public:
    device_buffer() = default;
    explicit device_buffer(std::size_t bytes);
    ~device_buffer();
    device_buffer(device_buffer&& o) noexcept : p_(o.p_), n_(o.n_) {
        o.p_ = nullptr;
        o.n_ = 0;
    }
    device_buffer& operator=(device_buffer&& o) noexcept;
    device_buffer(const device_buffer&) = delete;
    device_buffer& operator=(const device_buffer&) = delete;
    void* get() const { return p_; }
    std::size_t size() const { return n_; }
    void upload(const void* host, std::size_t bytes, stream_t s = nullptr);
    void download(void* host, std::size_t bytes, stream_t s = nullptr) const;

private:
    void* p_ = nullptr;
    std::size_t n_ = 0;
};

// Host fp32 -> device storage type.
device_buffer upload_as(dtype t, const float* host, std::size_t count);
// Device storage type -> host fp32.
void download_f32(dtype t, const void* dev, std::size_t count, float* host);
void synchronize();

}  // namespace mvx::cuda
