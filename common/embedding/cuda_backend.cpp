// The CUDA backend, beside the CPU one: the encoder as cuBLAS GEMMs (fused
// QKV, fp32 accumulation) and the ops of kernels/ (embedding + LayerNorm,
// ragged attention with the QKV bias, bias + GELU, bias + residual +
// LayerNorm, pooling + L2 norm) on one stream. Host C++; built into the module
// libmvx-cuda.so (cuda_module.hpp), never linked into an executable.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/core/error.hpp"
#include "common/embedding/cuda_module.hpp"
#include "kernels/cuda_check.hpp"
#include "kernels/ops.hpp"

namespace mvx::embedding::cuda {
namespace {

namespace k = ::mvx::cuda;

[[noreturn]] void cublas_fail(const char* what, cublasStatus_t st) {
    throw mvx::error(
        mvx::error_kind::internal, "EMBEDDING_FAILED",
        std::string("cuBLAS error in ") + what + ": " + cublasGetStatusName(st) + " (" + cublasGetStatusString(st) + ")");
}
#define MVX_CUBLAS_CHECK(call)                                             \
    do {                                                                   \
        cublasStatus_t mvx_st_ = (call);                                   \
        if (mvx_st_ != CUBLAS_STATUS_SUCCESS) cublas_fail(#call, mvx_st_); \
    } while (0)

struct stream_handle {
    cudaStream_t s = nullptr;
    stream_handle() { MVX_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); }
    ~stream_handle() {
        if (s) cudaStreamDestroy(s);
    }
    stream_handle(const stream_handle&) = delete;
    stream_handle& operator=(const stream_handle&) = delete;
};

struct cublas_handle {
    cublasHandle_t h = nullptr;
    cublas_handle() { MVX_CUBLAS_CHECK(cublasCreate(&h)); }
    ~cublas_handle() {
        if (h) cublasDestroy(h);
    }
    cublas_handle(const cublas_handle&) = delete;
    cublas_handle& operator=(const cublas_handle&) = delete;
};

struct pinned_buffer {
    void* p = nullptr;
    std::size_t n = 0;
    pinned_buffer() = default;
    ~pinned_buffer() {
        if (p) cudaFreeHost(p);
    }
    pinned_buffer(const pinned_buffer&) = delete;
    pinned_buffer& operator=(const pinned_buffer&) = delete;
    void reserve(std::size_t bytes) {
        if (bytes <= n) return;
        if (p) cudaFreeHost(p);
        p = nullptr;
        MVX_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
        n = bytes;
    }
};

struct layer_dev {
    k::device_buffer qkv_w, qkv_b, out_w, out_b, ln1_g, ln1_b, ffn1_w, ffn1_b, ffn2_w, ffn2_b, ln2_g, ln2_b;
};

device_info probe_device();

class cuda_backend final : public backend {
public:
    cuda_backend(const model_view& m, const backend_options& o) : m_(m), opts_(o) {
        if (o.precision == "fp16")
            t_ = k::dtype::f16;
        else if (o.precision == "bf16")
            t_ = k::dtype::bf16;
        else if (o.precision == "fp32")
            t_ = k::dtype::f32;
        else
            throw mvx::error(mvx::error_kind::invalid_input, "INVALID_ARGUMENT",
                             "GPU precision \"" + o.precision + "\" is invalid: use fp16, bf16 or fp32");
        const auto& c = *m.config;
        if (c.head_dim() != 32 && c.head_dim() != 64)
            throw mvx::error(mvx::error_kind::unsupported, "EMBEDDER_UNAVAILABLE",
                             "the CUDA backend runs head sizes 32 and 64; this model's is " + std::to_string(c.head_dim()) +
                                 "; use --embedding-device cpu");
        if (c.hidden > 1024)
            throw mvx::error(mvx::error_kind::unsupported, "EMBEDDER_UNAVAILABLE",
                             "the CUDA backend runs hidden sizes up to 1024; use --embedding-device cpu");
        info_ = probe_device();
        MVX_CUBLAS_CHECK(cublasSetStream(blas_.h, stream_.s));
        const auto& w = *m.weights;
        const std::size_t H = c.hidden, I = c.intermediate;
        word_ = k::upload_as(t_, w.word, c.vocab * H);
        pos_ = k::upload_as(t_, w.position, c.max_positions * H);
        type_ = k::upload_as(t_, w.token_type, H);
        emb_g_ = k::upload_as(t_, w.emb_ln_g, H);
        emb_b_ = k::upload_as(t_, w.emb_ln_b, H);
        for (const auto& l : w.layers) {
            layer_dev d;
            d.qkv_w = k::upload_as(t_, l.qkv_w, 3 * H * H);
            d.qkv_b = k::upload_as(t_, l.qkv_b, 3 * H);
            d.out_w = k::upload_as(t_, l.out_w, H * H);
            d.out_b = k::upload_as(t_, l.out_b, H);
            d.ln1_g = k::upload_as(t_, l.ln1_g, H);
            d.ln1_b = k::upload_as(t_, l.ln1_b, H);
            d.ffn1_w = k::upload_as(t_, l.ffn1_w, I * H);
            d.ffn1_b = k::upload_as(t_, l.ffn1_b, I);
            d.ffn2_w = k::upload_as(t_, l.ffn2_w, H * I);
            d.ffn2_b = k::upload_as(t_, l.ffn2_b, H);
            d.ln2_g = k::upload_as(t_, l.ln2_g, H);
            d.ln2_b = k::upload_as(t_, l.ln2_b, H);
            layers_.push_back(std::move(d));
        }
        k::synchronize();
    }

    std::string name() const override { return "cuda"; }
    std::string device() const override { return info_.description; }
    std::string precision() const override { return opts_.precision; }

    void warm_up(std::size_t max_tokens, std::size_t max_len) override {
        reserve(max_tokens);
        // One full-budget batch of max-length sequences: shakes out memory
        // errors and cuBLAS heuristics before the first job.
        token_batch b;
        std::vector<std::int32_t> seq(std::max<std::size_t>(2, max_len), m_.cls_id);
        while (b.tokens() + seq.size() <= max_tokens) b.add(seq);
        if (b.sequences() == 0) b.add(std::vector<std::int32_t>(2, m_.cls_id));
        std::vector<float> out(b.sequences() * (*m_.config).hidden);
        forward(b, out.data());
    }

    void forward(const token_batch& b, float* out) override {
        const auto& c = (*m_.config);
        const std::size_t T = b.tokens(), n = b.sequences(), H = c.hidden, I = c.intermediate;
        if (T == 0) return;
        reserve(T);
        // Host staging (pinned): ids | positions | cu_seqlens | tiles, one copy.
        std::size_t n_tiles = 0;
        for (std::size_t s = 0; s < n; ++s)
            n_tiles += (std::size_t(b.cu_seqlens[s + 1] - b.cu_seqlens[s]) + k::k_attention_tile - 1) / k::k_attention_tile;
        const std::size_t ints = 2 * T + (n + 1) + 2 * n_tiles;
        host_in_.reserve(ints * 4);
        auto* hi = static_cast<std::int32_t*>(host_in_.p);
        std::memcpy(hi, b.ids.data(), T * 4);
        std::int32_t* pos = hi + T;
        std::int32_t* cu = pos + T;
        std::int32_t* tiles = cu + n + 1;
        std::size_t ti = 0;
        for (std::size_t s = 0; s < n; ++s) {
            const std::int32_t len = b.cu_seqlens[s + 1] - b.cu_seqlens[s];
            for (std::int32_t p = 0; p < len; ++p) pos[b.cu_seqlens[s] + p] = p;
            for (std::int32_t q = 0; q < len; q += std::int32_t(k::k_attention_tile)) {
                tiles[2 * ti] = std::int32_t(s);
                tiles[2 * ti + 1] = q;
                ++ti;
            }
        }
        std::memcpy(cu, b.cu_seqlens.data(), (n + 1) * 4);
        if (ints * 4 > ints_.size()) ints_ = k::device_buffer(ints * 4 * 2);
        ints_.upload(hi, ints * 4, stream_.s);
        const auto* d_ids = static_cast<const std::int32_t*>(ints_.get());
        const auto* d_pos = d_ids + T;
        const auto* d_cu = d_pos + T;
        const auto* d_tiles = d_cu + n + 1;
        const float eps = static_cast<float>(c.layer_norm_eps);
        void* s = stream_.s;

        k::embed_layernorm(t_, d_ids, d_pos, T, word_.get(), pos_.get(), type_.get(), emb_g_.get(), emb_b_.get(), H, eps,
                           x_.get(), s);
        const int act = c.act == activation::gelu_erf ? 0 : c.act == activation::gelu_tanh ? 1 : 2;
        for (const auto& l : layers_) {
            gemm(T, 3 * H, H, x_.get(), l.qkv_w.get(), qkv_.get());
            k::attention(t_, qkv_.get(), l.qkv_b.get(), d_cu, d_tiles, n_tiles, c.heads, c.head_dim(), ctx_.get(), s);
            gemm(T, H, H, ctx_.get(), l.out_w.get(), tmp_.get());
            k::add_bias_layernorm(t_, x_.get(), tmp_.get(), l.out_b.get(), l.ln1_g.get(), l.ln1_b.get(), T, H, eps, s);
            gemm(T, I, H, x_.get(), l.ffn1_w.get(), inter_.get());
            k::bias_act(t_, inter_.get(), l.ffn1_b.get(), T, I, act, s);
            gemm(T, H, I, inter_.get(), l.ffn2_w.get(), tmp_.get());
            k::add_bias_layernorm(t_, x_.get(), tmp_.get(), l.ffn2_b.get(), l.ln2_g.get(), l.ln2_b.get(), T, H, eps, s);
        }
        k::pool_normalize(t_, x_.get(), d_cu, n, H, m_.pool == pooling::cls ? 0 : 1, m_.normalize,
                          static_cast<float*>(pooled_.get()), s);
        host_out_.reserve(n * H * 4);
        pooled_.download(host_out_.p, n * H * 4, s);
        MVX_CUDA_CHECK(cudaStreamSynchronize(stream_.s));
        std::memcpy(out, host_out_.p, n * H * 4);
    }

private:
    // C[M,N] = A[M,K] * W[N,K]^T, row-major, in the storage type, fp32 accumulation.
    void gemm(std::size_t M, std::size_t N, std::size_t K, const void* A, const void* W, void* C) {
        const float alpha = 1.0f, beta = 0.0f;
        const cudaDataType_t dt = t_ == k::dtype::f16 ? CUDA_R_16F : t_ == k::dtype::bf16 ? CUDA_R_16BF : CUDA_R_32F;
        MVX_CUBLAS_CHECK(cublasGemmEx(blas_.h, CUBLAS_OP_T, CUBLAS_OP_N, int(N), int(M), int(K), &alpha, W, dt, int(K), A, dt,
                                      int(K), &beta, C, dt, int(N), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }

    void reserve(std::size_t T) {
        if (T <= cap_) return;
        const auto& c = (*m_.config);
        const std::size_t e = k::dtype_bytes(t_);
        x_ = k::device_buffer(T * c.hidden * e);
        qkv_ = k::device_buffer(T * 3 * c.hidden * e);
        ctx_ = k::device_buffer(T * c.hidden * e);
        tmp_ = k::device_buffer(T * c.hidden * e);
        inter_ = k::device_buffer(T * c.intermediate * e);
        pooled_ = k::device_buffer(T * c.hidden * 4);
        ints_ = k::device_buffer((5 * T + 2) * 4);
        cap_ = T;
    }

    model_view m_;
    backend_options opts_;
    k::dtype t_ = k::dtype::f16;
    device_info info_;
    stream_handle stream_;
    cublas_handle blas_;
    k::device_buffer word_, pos_, type_, emb_g_, emb_b_;
    std::vector<layer_dev> layers_;
    std::size_t cap_ = 0;
    k::device_buffer x_, qkv_, ctx_, tmp_, inter_, pooled_, ints_;
    pinned_buffer host_in_, host_out_;
};

device_info probe_device() {
    device_info d;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        d.error = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
        cudaGetLastError();
        return d;
    }
    if (count == 0) {
        d.error = "no CUDA device visible";
        return d;
    }
    cudaDeviceProp p{};
    e = cudaGetDeviceProperties(&p, 0);
    if (e != cudaSuccess) {
        d.error = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
        return d;
    }
    if (p.major < 8) {
        d.error = std::string(p.name) + " has compute capability " + std::to_string(p.major) + "." + std::to_string(p.minor) +
            "; the kernels are built for 8.0 and newer";
        return d;
    }
    int driver = 0;
    cudaDriverGetVersion(&driver);
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.1f GiB", double(p.totalGlobalMem) / (1024.0 * 1024 * 1024));
    d.present = true;
    d.description = std::string(p.name) + " (sm_" + std::to_string(p.major) + std::to_string(p.minor) + ", " + mem + ", driver " +
        std::to_string(driver / 1000) + "." + std::to_string((driver % 1000) / 10) + ")";
    return d;
}

std::unique_ptr<backend> make_backend(const model_view& model, const backend_options& options) {
    return std::make_unique<cuda_backend>(model, options);
}

constexpr module_api k_api{k_module_abi, &probe_device, &make_backend};

}  // namespace
}  // namespace mvx::embedding::cuda

extern "C" __attribute__((visibility("default"))) const mvx::embedding::cuda::module_api* mvx_cuda_module() {
    return &mvx::embedding::cuda::k_api;
}
