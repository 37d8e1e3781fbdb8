#include "common/embedding/cpu_ops.hpp"

#include <algorithm>
#include <cmath>
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

// erf with |error| < 1.2e-7 (Numerical Recipes erfc Chebyshev fit), branch-free
// so that the loop vectorises; exact-erf GELU as in PyTorch's "gelu".
inline float erf_fast(float x) {
    float z = std::fabs(x);
    float t = 1.0f / (1.0f + 0.5f * z);
    float r = t * std::exp(-z * z - 1.26551223f +
                           t * (1.00002368f +
                                t * (0.37409196f +
                                     t * (0.09678418f +
                                          t * (-0.18628806f +
                                               t * (0.27886807f +
                                                    t * (-1.13520398f +
                                                         t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f)))))))));
    float e = 1.0f - r;
    return x >= 0 ? e : -e;
}

}  // namespace

void set_threads(int n) {
    g_threads = n;
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#endif
#ifdef MVX_HAVE_OPENBLAS
    if (n > 0) openblas_set_num_threads(n);
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
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), 1.0f,
                A, static_cast<int>(K), B, static_cast<int>(K), 0.0f, C, static_cast<int>(N));
    if (bias) {
#pragma omp parallel for schedule(static)
        for (std::size_t i = 0; i < M; ++i) {
            float* c = C + i * N;
#pragma omp simd
            for (std::size_t j = 0; j < N; ++j) c[j] += bias[j];
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

static inline void layernorm_row(float* x, std::size_t hidden, const float* gamma, const float* beta, float eps) {
    float mean = 0;
#pragma omp simd reduction(+ : mean)
    for (std::size_t j = 0; j < hidden; ++j) mean += x[j];
    mean /= float(hidden);
    float var = 0;
#pragma omp simd reduction(+ : var)
    for (std::size_t j = 0; j < hidden; ++j) var += (x[j] - mean) * (x[j] - mean);
    var /= float(hidden);
    float inv = 1.0f / std::sqrt(var + eps);
#pragma omp simd
    for (std::size_t j = 0; j < hidden; ++j) x[j] = (x[j] - mean) * inv * gamma[j] + beta[j];
}

void embed_layernorm(const std::int32_t* ids, const std::int32_t* cu_seqlens, std::size_t n_seqs, const float* word,
                     const float* position, const float* token_type, const float* gamma, const float* beta,
                     std::size_t hidden, float eps, float* out) {
#pragma omp parallel for schedule(dynamic, 1)
    for (std::size_t s = 0; s < n_seqs; ++s) {
        for (std::int32_t t = cu_seqlens[s]; t < cu_seqlens[s + 1]; ++t) {
            const float* w = word + std::size_t(ids[t]) * hidden;
            const float* p = position + std::size_t(t - cu_seqlens[s]) * hidden;
            float* o = out + std::size_t(t) * hidden;
#pragma omp simd
            for (std::size_t j = 0; j < hidden; ++j) o[j] = w[j] + p[j] + token_type[j];
            layernorm_row(o, hidden, gamma, beta, eps);
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
            case activation::gelu_erf:
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) p[i] = 0.5f * p[i] * (1.0f + erf_fast(p[i] * 0.70710678118654752f));
                break;
            case activation::gelu_tanh:
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) {
                    float v = p[i];
                    p[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
                }
                break;
            case activation::relu:
#pragma omp simd
                for (std::size_t i = 0; i < n; ++i) p[i] = p[i] > 0 ? p[i] : 0.0f;
                break;
        }
    }
}

void add_layernorm(float* x, const float* y, std::size_t rows, std::size_t hidden, const float* gamma, const float* beta,
                   float eps) {
#pragma omp parallel for schedule(static)
    for (std::size_t r = 0; r < rows; ++r) {
        float* a = x + r * hidden;
        const float* b = y + r * hidden;
#pragma omp simd
        for (std::size_t j = 0; j < hidden; ++j) a[j] += b[j];
        layernorm_row(a, hidden, gamma, beta, eps);
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
            if (kt_seq != s || kt_head != h) {
                kt.resize(head_dim * len);
                for (std::size_t j = 0; j < len; ++j) {
                    const float* k = base + j * ld + H + h * head_dim;
                    for (std::size_t d = 0; d < head_dim; ++d) kt[d * len + j] = k[d];
                }
                kt_seq = s;
                kt_head = h;
            }
            scores.resize(len);
            std::size_t q_end = std::min(len, (qb + 1) * QB);
            for (std::size_t i = qb * QB; i < q_end; ++i) {
                const float* q = base + i * ld + h * head_dim;
                float* sc = scores.data();
                std::fill(sc, sc + len, 0.0f);
                for (std::size_t d = 0; d < head_dim; ++d) {
                    const float qd = q[d] * scale;
                    const float* krow = kt.data() + d * len;
#pragma omp simd
                    for (std::size_t j = 0; j < len; ++j) sc[j] += qd * krow[j];
                }
                float mx = sc[0];
                for (std::size_t j = 1; j < len; ++j) mx = std::max(mx, sc[j]);
                float sum = 0;
                for (std::size_t j = 0; j < len; ++j) {
                    sc[j] = std::exp(sc[j] - mx);
                    sum += sc[j];
                }
                const float inv = 1.0f / sum;
                float* o = ctx + (std::size_t(cu_seqlens[s]) + i) * H + h * head_dim;
                float acc[256];
                std::fill(acc, acc + head_dim, 0.0f);
                for (std::size_t j = 0; j < len; ++j) {
                    const float pj = sc[j] * inv;
                    const float* v = base + j * ld + 2 * H + h * head_dim;
#pragma omp simd
                    for (std::size_t d = 0; d < head_dim; ++d) acc[d] += pj * v[d];
                }
                std::memcpy(o, acc, head_dim * sizeof(float));
            }
        }
    }
}

void pool(const float* x, const std::int32_t* cu_seqlens, std::size_t n_seqs, std::size_t hidden, pooling mode,
          bool normalize, float* out) {
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
            if (!(n > 1e-12) || !std::isfinite(n)) std::fill(o, o + hidden, 0.0f);
            else {
                const float inv = float(1.0 / n);
                for (std::size_t j = 0; j < hidden; ++j) o[j] *= inv;
            }
        }
    }
}

}  // namespace mvx::embedding::cpu
