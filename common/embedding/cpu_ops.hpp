// The encoder's operations in fp32 on the CPU. They define the numerics the
// CUDA kernels are tested against (kernels/ tests call these on the same data).
// All matrices are row-major. Sequences are ragged: tokens of all sequences are
// concatenated and cu_seqlens[i]..cu_seqlens[i+1] are sequence i's rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/embedding/model.hpp"

namespace mvx::embedding::cpu {

// C[M,N] = A[M,K] * B[N,K]^T (+ bias[N]). Uses OpenBLAS when built with it.
void gemm_bias(std::size_t M, std::size_t N, std::size_t K, const float* A, const float* B, const float* bias, float* C);

// out[t] = LN(word[ids[t]] + position[pos(t)] + token_type[0]); pos restarts per sequence.
void embed_layernorm(const std::int32_t* ids, const std::int32_t* cu_seqlens, std::size_t n_seqs, const float* word,
                     const float* position, const float* token_type, const float* gamma, const float* beta, std::size_t hidden,
                     float eps, float* out);

// x[T,N] = act(x) in place.
void activate(float* x, std::size_t count, activation act);

// x[T,H] = LN(x + y) in place.
void add_layernorm(float* x, const float* y, std::size_t rows, std::size_t hidden, const float* gamma, const float* beta,
                   float eps);

// qkv[T, 3H] (q | k | v per row) -> ctx[T, H]; softmax(q k^T / sqrt(d)) v per sequence and head.
void attention(const float* qkv, const std::int32_t* cu_seqlens, std::size_t n_seqs, std::size_t heads, std::size_t head_dim,
               float* ctx);

// out[n, H]: CLS row or mean of each sequence's rows; L2-normalised when normalize
// (a zero vector when the norm is not positive and finite).
void pool(const float* x, const std::int32_t* cu_seqlens, std::size_t n_seqs, std::size_t hidden, pooling mode, bool normalize,
          float* out);

// Number of threads the CPU path uses (OpenMP and the BLAS).
void set_threads(int n);
int threads();
const char* blas_name();

}  // namespace mvx::embedding::cpu
