#include "common/embedding/cpu_ops.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef MVX_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace mvx::embedding::cpu {
namespace {

int g_threads = 0;

// Hot loops are compiled three times (baseline x86-64, AVX2+FMA, AVX-512) and
// picked at run time, so one binary is fast on any x86-64 host.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define MVX_HOT __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define MVX_HOT
#endif

// exp(x) for x <= 88 with relative error < 2e-7 (Cephes' expf polynomial);
// branch-free so that loops over it vectorise.
inline float exp_fast(float x) {
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
    const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * r * r + r + 1.0f;
    const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
    return y * std::bit_cast<float>(bits);
}

// erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), for the
// exact-erf GELU of PyTorch's "gelu".
inline float erf_fast(float x) {
    const float z = std::fabs(x);
    const float t = 1.0f / (1.0f + 0.5f * z);
    const float r = t *
        exp_fast(-z * z - 1.26551223f +
                 t *
                     (1.00002368f +
                      t *
                          (0.37409196f +
                           t *
                               (0.09678418f +
                                t *
                                    (-0.18628806f +
                                     t *
                                         (0.27886807f +
                                          t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f)))))))));
    const float e = 1.0f - r;
    return x >= 0 ? e : -e;
}

MVX_HOT void gelu_erf_chunk(float* p, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) p[i] = 0.5f * p[i] * (1.0f + erf_fast(p[i] * 0.70710678118654752f));
}

MVX_HOT void gelu_tanh_chunk(float* p, std::size_t n) {
#pragma omp simd
    for (std::size_t i = 0; i < n; ++i) {
        const float v = p[i];
        const float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
        const float e = exp_fast(-2.0f * std::fabs(u));
        const float th = (1.0f - e) / (1.0f + e);
        p[i] = 0.5f * v * (1.0f + (u >= 0 ? th : -th));
    }
}

[[maybe_unused]] MVX_HOT void add_bias_row(float* c, const float* bias, std::size_t n) {
#pragma omp simd
    for (std::size_t j = 0; j < n; ++j) c[j] += bias[j];
}

MVX_HOT void layernorm_row(float* x, const float* add, std::size_t hidden, const float* gamma, const float* beta, float eps) {
    if (add) {
#pragma omp simd
        for (std::size_t j = 0; j < hidden; ++j) x[j] += add[j];
    }
    float mean = 0;
#pragma omp simd reduction(+ : mean)
    for (std::size_t j = 0; j < hidden; ++j) mean += x[j];
    mean /= float(hidden);
    float var = 0;
#pragma omp simd reduction(+ : var)
    for (std::size_t j = 0; j < hidden; ++j) var += (x[j] - mean) * (x[j] - mean);
    var /= float(hidden);
    const float inv = 1.0f / std::sqrt(var + eps);
#pragma omp simd
    for (std::size_t j = 0; j < hidden; ++j) x[j] = (x[j] - mean) * inv * gamma[j] + beta[j];
}

// Queries [q_begin, q_end) of one head of one sequence. kt: keys transposed
// [head_dim, ldk] (ldk = len rounded up to 32, zero-padded); scores: 4 * ldk
// floats of scratch. Four queries at a time share every key and value load;
// 16 keys at a time accumulate in registers over head_dim.
template <std::size_t HD>
[[gnu::always_inline]] inline void attention_rows_impl(const float* base, std::size_t ld, std::size_t H, std::size_t h,
                                                       std::size_t head_dim_rt, std::size_t len, std::size_t ldk,
                                                       std::size_t q_begin, std::size_t q_end, float scale, const float* kt,
                                                       float* scores, float* out_base) {
    constexpr std::size_t G = 4, J = 32;
    // HD > 0: head size known at compile time (accumulators stay in registers).
    const std::size_t head_dim = HD ? HD : head_dim_rt;
    constexpr std::size_t HDMAX = HD ? HD : 256;
    for (std::size_t i0 = q_begin; i0 < q_end; i0 += G) {
        const std::size_t g = std::min(G, q_end - i0);
        float qs[G][HDMAX];
        for (std::size_t r = 0; r < G; ++r)
            for (std::size_t d = 0; d < head_dim; ++d) qs[r][d] = r < g ? base[(i0 + r) * ld + h * head_dim + d] * scale : 0.0f;
        for (std::size_t j0 = 0; j0 < ldk; j0 += J) {
            float acc[G][J] = {};
            for (std::size_t d = 0; d < head_dim; ++d) {
                const float* kr = kt + d * ldk + j0;
                for (std::size_t r = 0; r < G; ++r) {
                    const float qd = qs[r][d];
#pragma omp simd
                    for (std::size_t jj = 0; jj < J; ++jj) acc[r][jj] += qd * kr[jj];
                }
            }
            for (std::size_t r = 0; r < G; ++r)
                for (std::size_t jj = 0; jj < J; ++jj) scores[r * ldk + j0 + jj] = acc[r][jj];
        }
        float inv[G];
        for (std::size_t r = 0; r < G; ++r) {
            float* sc = scores + r * ldk;
            float mx = sc[0];
#pragma omp simd reduction(max : mx)
            for (std::size_t j = 0; j < len; ++j) mx = std::max(mx, sc[j]);
            float sum = 0;
#pragma omp simd reduction(+ : sum)
            for (std::size_t j = 0; j < len; ++j) {
                sc[j] = exp_fast(sc[j] - mx);
                sum += sc[j];
            }
            inv[r] = 1.0f / sum;
        }
        float acc[G][HDMAX] = {};
        for (std::size_t j = 0; j < len; ++j) {
            const float* v = base + j * ld + 2 * H + h * head_dim;
            for (std::size_t r = 0; r < G; ++r) {
                const float pj = scores[r * ldk + j];
#pragma omp simd
                for (std::size_t d = 0; d < head_dim; ++d) acc[r][d] += pj * v[d];
            }
        }
        for (std::size_t r = 0; r < g; ++r) {
            float* o = out_base + (i0 + r) * H + h * head_dim;
            for (std::size_t d = 0; d < head_dim; ++d) o[d] = acc[r][d] * inv[r];
        }
    }
}

MVX_HOT void attention_rows_32(const float* base, std::size_t ld, std::size_t H, std::size_t h, std::size_t len, std::size_t ldk,
                               std::size_t q0, std::size_t q1, float scale, const float* kt, float* scores, float* out) {
    attention_rows_impl<32>(base, ld, H, h, 32, len, ldk, q0, q1, scale, kt, scores, out);
}
MVX_HOT void attention_rows_64(const float* base, std::size_t ld, std::size_t H, std::size_t h, std::size_t len, std::size_t ldk,
                               std::size_t q0, std::size_t q1, float scale, const float* kt, float* scores, float* out) {
    attention_rows_impl<64>(base, ld, H, h, 64, len, ldk, q0, q1, scale, kt, scores, out);
}
MVX_HOT void attention_rows_any(const float* base, std::size_t ld, std::size_t H, std::size_t h, std::size_t head_dim,
                                std::size_t len, std::size_t ldk, std::size_t q0, std::size_t q1, float scale, const float* kt,
                                float* scores, float* out) {
    attention_rows_impl<0>(base, ld, H, h, head_dim, len, ldk, q0, q1, scale, kt, scores, out);
}

}  // namespace

void set_threads(int n) {
    g_threads = n;
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#endif
#ifdef MVX_HAVE_OPENBLAS
    openblas_set_num_threads(1);  // parallelism comes from our OpenMP team
#endif
}

int threads() {
#ifdef _OPENMP
    return g_threads > 0 ? g_threads : omp_get_max_threads();
#else
    return 1;
#endif
}

const char* blas_name() {
#ifdef MVX_HAVE_OPENBLAS
    return "openblas";
#else
    return "builtin";
#endif
}

void gemm_bias(std::size_t M, std::size_t N, std::size_t K, const float* A, const float* B, const float* bias, float* C) {
    if (M == 0 || N == 0) return;
#ifdef MVX_HAVE_OPENBLAS
        // OpenBLAS runs single-threaded inside our OpenMP team (rows split across
        // threads, bias added while the block is hot): one thread pool, no spinning
        // BLAS workers competing with the attention and element-wise loops.
#pragma omp parallel
    {
#ifdef _OPENMP
        const std::size_t nt = std::size_t(omp_get_num_threads()), t = std::size_t(omp_get_thread_num());
#else
        const std::size_t nt = 1, t = 0;
#endif
        const std::size_t per = (M + nt - 1) / nt;
        const std::size_t r0 = std::min(M, t * per), r1 = std::min(M, r0 + per);
        if (r1 > r0) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(r1 - r0), static_cast<int>(N),
                        static_cast<int>(K), 1.0f, A + r0 * K, static_cast<int>(K), B, static_cast<int>(K), 0.0f, C + r0 * N,
                        static_cast<int>(N));
            if (bias)
                for (std::size_t i = r0; i < r1; ++i) add_bias_row(C + i * N, bias, N);
        }
    }
#else
        // Builtin: blocked dot products (B rows are contiguous in K). Used where no
        // BLAS is installed (the GPU machine's reference path); correct, not fast.
#pragma omp parallel for schedule(dynamic, 4)
    for (std::size_t i = 0; i < M; ++i) {
        const float* a = A + i * K;
        float* c = C + i * N;
        for (std::size_t j = 0; j < N; ++j) {
            const float* b = B + j * K;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (std::size_t k = 0; k < K; ++k) s += a[k] * b[k];
            c[j] = s + (bias ? bias[j] : 0.0f);
        }
    }
#endif
}

void embed_layernorm(const std::int32_t* ids, const std::int32_t* cu_seqlens, std::size_t n_seqs, const float* word,
                     const float* position, const float* token_type, const float* gamma, const float* beta, std::size_t hidden,
                     float eps, float* out) {
#pragma omp parallel for schedule(dynamic, 1)
    for (std::size_t s = 0; s < n_seqs; ++s) {
        for (std::int32_t t = cu_seqlens[s]; t < cu_seqlens[s + 1]; ++t) {
            const float* w = word + std::size_t(ids[t]) * hidden;
            const float* p = position + std::size_t(t - cu_seqlens[s]) * hidden;
            float* o = out + std::size_t(t) * hidden;
#pragma omp simd
            for (std::size_t j = 0; j < hidden; ++j) o[j] = w[j] + p[j] + token_type[j];
            layernorm_row(o, nullptr, hidden, gamma, beta, eps);
        }
    }
}

void activate(float* x, std::size_t count, activation act) {
    const std::size_t chunk = 4096;
    const std::size_t chunks = (count + chunk - 1) / chunk;
#pragma omp parallel for schedule(static)
    for (std::size_t c = 0; c < chunks; ++c) {
        float* p = x + c * chunk;
        std::size_t n = std::min(chunk, count - c * chunk);
        switch (act) {
            case activation::gelu_erf: gelu_erf_chunk(p, n); break;
            case activation::gelu_tanh: gelu_tanh_chunk(p, n); break;
            case activation::relu:
                for (std::size_t i = 0; i < n; ++i) p[i] = p[i] > 0 ? p[i] : 0.0f;
                break;
        }
    }
}

void add_layernorm(float* x, const float* y, std::size_t rows, std::size_t hidden, const float* gamma, const float* beta,
                   float eps) {
#pragma omp parallel for schedule(static)
    for (std::size_t r = 0; r < rows; ++r) {
        layernorm_row(x + r * hidden, y + r * hidden, hidden, gamma, beta, eps);
    }
}

void attention(const float* qkv, const std::int32_t* cu_seqlens, std::size_t n_seqs, std::size_t heads, std::size_t head_dim,
               float* ctx) {
    const std::size_t H = heads * head_dim, ld = 3 * H;
    const float scale = 1.0f / std::sqrt(float(head_dim));
    // One task per (sequence, head, block of 16 queries): long sequences split
    // across threads, short ones stay cheap.
    constexpr std::size_t QB = 16;
    std::vector<std::size_t> task_start(n_seqs + 1, 0);
    for (std::size_t s = 0; s < n_seqs; ++s) {
        std::size_t len = std::size_t(cu_seqlens[s + 1] - cu_seqlens[s]);
        task_start[s + 1] = task_start[s] + heads * ((len + QB - 1) / QB);
    }
    const std::size_t tasks = task_start[n_seqs];
#pragma omp parallel
    {
        std::vector<float> scores;
        std::vector<float> kt;  // keys transposed: [head_dim, len]
        std::size_t kt_seq = std::size_t(-1), kt_head = 0;
#pragma omp for schedule(dynamic, 1)
        for (std::size_t task = 0; task < tasks; ++task) {
            std::size_t s = std::size_t(std::upper_bound(task_start.begin(), task_start.end(), task) - task_start.begin()) - 1;
            std::size_t local = task - task_start[s];
            std::size_t len = std::size_t(cu_seqlens[s + 1] - cu_seqlens[s]);
            std::size_t qblocks = (len + QB - 1) / QB;
            std::size_t h = local / qblocks, qb = local % qblocks;
            const float* base = qkv + std::size_t(cu_seqlens[s]) * ld;
            const std::size_t ldk = (len + 31) / 32 * 32;
            if (kt_seq != s || kt_head != h) {
                kt.assign(head_dim * ldk, 0.0f);
                for (std::size_t j = 0; j < len; ++j) {
                    const float* k = base + j * ld + H + h * head_dim;
                    for (std::size_t d = 0; d < head_dim; ++d) kt[d * ldk + j] = k[d];
                }
                kt_seq = s;
                kt_head = h;
            }
            scores.resize(4 * ldk);
            const std::size_t q0 = qb * QB, q1 = std::min(len, (qb + 1) * QB);
            float* out = ctx + std::size_t(cu_seqlens[s]) * H;
            if (head_dim == 32)
                attention_rows_32(base, ld, H, h, len, ldk, q0, q1, scale, kt.data(), scores.data(), out);
            else if (head_dim == 64)
                attention_rows_64(base, ld, H, h, len, ldk, q0, q1, scale, kt.data(), scores.data(), out);
            else
                attention_rows_any(base, ld, H, h, head_dim, len, ldk, q0, q1, scale, kt.data(), scores.data(), out);
        }
    }
}

void pool(const float* x, const std::int32_t* cu_seqlens, std::size_t n_seqs, std::size_t hidden, pooling mode, bool normalize,
          float* out) {
#pragma omp parallel for schedule(static)
    for (std::size_t s = 0; s < n_seqs; ++s) {
        float* o = out + s * hidden;
        const std::size_t b = std::size_t(cu_seqlens[s]), e = std::size_t(cu_seqlens[s + 1]);
        if (mode == pooling::cls || e == b) {
            std::memcpy(o, x + b * hidden, hidden * sizeof(float));
        } else {
            std::fill(o, o + hidden, 0.0f);
            for (std::size_t t = b; t < e; ++t) {
                const float* r = x + t * hidden;
#pragma omp simd
                for (std::size_t j = 0; j < hidden; ++j) o[j] += r[j];
            }
            const float inv = 1.0f / float(e - b);
            for (std::size_t j = 0; j < hidden; ++j) o[j] *= inv;
        }
        if (normalize) {
            double ss = 0;
            for (std::size_t j = 0; j < hidden; ++j) ss += double(o[j]) * o[j];
            double n = std::sqrt(ss);
            // sentence-transformers divides by max(norm, 1e-12); a degenerate or
            // non-finite norm gives the zero vector (memvid's rule).
            if (!(n > 1e-12) || !std::isfinite(n))
                std::fill(o, o + hidden, 0.0f);
            else {
                const float inv = float(1.0 / n);
                for (std::size_t j = 0; j < hidden; ++j) o[j] *= inv;
            }
        }
    }
}

}  // namespace mvx::embedding::cpu
