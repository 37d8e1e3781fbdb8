// Kernel tests: each CUDA op against the CPU backend's op (common/embedding/
// cpu_ops.hpp) on random data, in fp32, fp16 and bf16 storage; then the whole
// CUDA backend against the CPU backend on a small random BERT. Exit 77 (CTest
// "skipped") when no CUDA device is present. Boost-free; scripts/gpu-check.sh
// runs it on the GPU machine.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/core/error.hpp"
#include "common/embedding/cpu_ops.hpp"
#include "common/embedding/engine.hpp"
#include "common/embedding/safetensors.hpp"
#include "kernels/ops.hpp"

namespace fs = std::filesystem;
using namespace mvx;
namespace E = mvx::embedding;

namespace {

int failures = 0;

std::vector<float> rnd(std::size_t n, std::mt19937& g, float scale = 1.0f, float mean = 0.0f) {
    std::normal_distribution<float> d(mean, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(g);
    return v;
}

struct err_stats {
    double max_abs = 0, max_ref = 0;
};
err_stats compare(const std::vector<float>& got, const std::vector<float>& ref) {
    err_stats e;
    for (std::size_t i = 0; i < ref.size(); ++i) {
        e.max_abs = std::max(e.max_abs, double(std::fabs(got[i] - ref[i])));
        e.max_ref = std::max(e.max_ref, double(std::fabs(ref[i])));
    }
    return e;
}

const char* name_of(cuda::dtype t) { return t == cuda::dtype::f32 ? "fp32" : t == cuda::dtype::f16 ? "fp16" : "bf16"; }
double tol(cuda::dtype t) { return t == cuda::dtype::f32 ? 2e-4 : t == cuda::dtype::f16 ? 1e-2 : 6e-2; }

void report(const char* op, cuda::dtype t, const err_stats& e, double scale = 1.0) {
    const double rel = e.max_abs / std::max(1e-6, e.max_ref);
    const bool ok = rel <= tol(t) * scale;
    std::printf("  [%s] %-22s %s  max|err| %.3g  (max|ref| %.3g, rel %.3g, limit %.3g)\n", ok ? "ok  " : "FAIL", op, name_of(t),
                e.max_abs, e.max_ref, rel, tol(t) * scale);
    if (!ok) ++failures;
}

// Ragged batch: sequence lengths with 1, a tile boundary, a long one.
std::vector<std::int32_t> make_cu(const std::vector<int>& lens) {
    std::vector<std::int32_t> cu{0};
    for (int l : lens) cu.push_back(cu.back() + l);
    return cu;
}

void test_ops(cuda::dtype t) {
    std::mt19937 g(42);
    const std::size_t H = 384, I = 1536, heads = 12, V = 50, P = 512;
    const std::vector<int> lens = {1, 7, 64, 65, 130, 300};
    auto cu = make_cu(lens);
    const std::size_t T = std::size_t(cu.back()), n = lens.size();
    auto rounded = [&](std::vector<float> v) {  // what the device stores
        auto b = cuda::upload_as(t, v.data(), v.size());
        cuda::download_f32(t, b.get(), v.size(), v.data());
        return v;
    };
    auto i32 = [](const std::vector<std::int32_t>& v) {
        cuda::device_buffer b(v.size() * 4);
        b.upload(v.data(), v.size() * 4);
        return b;
    };

    {  // embedding gather + LayerNorm
        std::vector<std::int32_t> ids(T), pos(T);
        for (std::size_t s = 0; s < n; ++s)
            for (int p = cu[s]; p < cu[s + 1]; ++p) {
                ids[std::size_t(p)] = std::int32_t(g() % V);
                pos[std::size_t(p)] = p - cu[s];
            }
        auto word = rounded(rnd(V * H, g)), pe = rounded(rnd(P * H, g)), ty = rounded(rnd(2 * H, g));
        auto gam = rounded(rnd(H, g, 0.1f, 1.0f)), bet = rounded(rnd(H, g, 0.1f));
        std::vector<float> ref(T * H), got(T * H);
        E::cpu::embed_layernorm(ids.data(), cu.data(), n, word.data(), pe.data(), ty.data(), gam.data(), bet.data(), H, 1e-12f,
                                ref.data());
        auto dw = cuda::upload_as(t, word.data(), word.size()), dp = cuda::upload_as(t, pe.data(), pe.size()),
             dt = cuda::upload_as(t, ty.data(), H), dg = cuda::upload_as(t, gam.data(), H),
             db = cuda::upload_as(t, bet.data(), H);
        auto di = i32(ids), dpos = i32(pos);
        cuda::device_buffer out(T * H * cuda::dtype_bytes(t));
        cuda::embed_layernorm(t, static_cast<const std::int32_t*>(di.get()), static_cast<const std::int32_t*>(dpos.get()), T,
                              dw.get(), dp.get(), dt.get(), dg.get(), db.get(), H, 1e-12f, out.get(), nullptr);
        cuda::download_f32(t, out.get(), T * H, got.data());
        report("embed_layernorm", t, compare(got, ref));
    }
    {  // bias + exact GELU
        auto x = rounded(rnd(T * I, g, 2.0f)), b = rounded(rnd(I, g));
        std::vector<float> ref = x, got(T * I);
        for (std::size_t r = 0; r < T; ++r)
            for (std::size_t j = 0; j < I; ++j) ref[r * I + j] += b[j];
        E::cpu::activate(ref.data(), ref.size(), E::activation::gelu_erf);
        auto dx = cuda::upload_as(t, x.data(), x.size()), dbias = cuda::upload_as(t, b.data(), I);
        cuda::bias_act(t, dx.get(), dbias.get(), T, I, 0, nullptr);
        cuda::download_f32(t, dx.get(), T * I, got.data());
        report("bias_gelu", t, compare(got, ref));
    }
    {  // bias + residual + LayerNorm
        auto x = rounded(rnd(T * H, g)), y = rounded(rnd(T * H, g)), b = rounded(rnd(H, g));
        auto gam = rounded(rnd(H, g, 0.1f, 1.0f)), bet = rounded(rnd(H, g, 0.1f));
        std::vector<float> ref = x, yb = y, got(T * H);
        for (std::size_t r = 0; r < T; ++r)
            for (std::size_t j = 0; j < H; ++j) yb[r * H + j] += b[j];
        E::cpu::add_layernorm(ref.data(), yb.data(), T, H, gam.data(), bet.data(), 1e-12f);
        auto dx = cuda::upload_as(t, x.data(), x.size()), dy = cuda::upload_as(t, y.data(), y.size()),
             dbias = cuda::upload_as(t, b.data(), H), dg = cuda::upload_as(t, gam.data(), H),
             db = cuda::upload_as(t, bet.data(), H);
        cuda::add_bias_layernorm(t, dx.get(), dy.get(), dbias.get(), dg.get(), db.get(), T, H, 1e-12f, nullptr);
        cuda::download_f32(t, dx.get(), T * H, got.data());
        report("add_bias_layernorm", t, compare(got, ref));
    }
    for (std::size_t hd : {32, 64}) {  // ragged attention with the QKV bias
        const std::size_t nh = H / hd;
        auto qkv = rounded(rnd(T * 3 * H, g)), b = rounded(rnd(3 * H, g, 0.2f));
        std::vector<float> with_bias = qkv, ref(T * H), got(T * H);
        for (std::size_t r = 0; r < T; ++r)
            for (std::size_t j = 0; j < 3 * H; ++j) with_bias[r * 3 * H + j] += b[j];
        E::cpu::attention(with_bias.data(), cu.data(), n, nh, hd, ref.data());
        std::vector<std::int32_t> tiles;
        for (std::size_t s = 0; s < n; ++s)
            for (int q = 0; q < lens[s]; q += int(cuda::k_attention_tile)) {
                tiles.push_back(std::int32_t(s));
                tiles.push_back(q);
            }
        auto dq = cuda::upload_as(t, qkv.data(), qkv.size()), db = cuda::upload_as(t, b.data(), b.size());
        auto dcu = i32(cu), dt = i32(tiles);
        cuda::device_buffer out(T * H * cuda::dtype_bytes(t));
        cuda::attention(t, dq.get(), db.get(), static_cast<const std::int32_t*>(dcu.get()),
                        static_cast<const std::int32_t*>(dt.get()), tiles.size() / 2, nh, hd, out.get(), nullptr);
        cuda::download_f32(t, out.get(), T * H, got.data());
        report(hd == 32 ? "attention (d=32)" : "attention (d=64)", t, compare(got, ref));
    }
    for (int mode : {0, 1}) {  // pooling + L2 norm
        auto x = rounded(rnd(T * H, g));
        std::vector<float> ref(n * H), got(n * H);
        E::cpu::pool(x.data(), cu.data(), n, H, mode == 0 ? E::pooling::cls : E::pooling::mean, true, ref.data());
        auto dx = cuda::upload_as(t, x.data(), x.size());
        auto dcu = i32(cu);
        cuda::device_buffer out(n * H * 4);
        cuda::pool_normalize(t, dx.get(), static_cast<const std::int32_t*>(dcu.get()), n, H, mode, true,
                             static_cast<float*>(out.get()), nullptr);
        out.download(got.data(), n * H * 4);
        report(mode == 0 ? "pool_normalize (cls)" : "pool_normalize (mean)", t, compare(got, ref), 0.1);
    }
}

// Whole backend: CPU engine vs CUDA engine on a model folder.
void test_backend(const std::string& folder, const std::string& precision, double min_cos) {
    E::engine_options o;
    o.model_dir = folder;
    o.device = "cpu";
    auto cpu = E::engine::open(o);
    o.device = "cuda";
    o.precision = precision;
    auto gpu = E::engine::open(o);
    std::vector<std::string> texts = {"", "hello world", "fn main() { println!(\"hi\"); }"};
    std::string longer;
    for (int i = 0; i < 200; ++i) longer += "struct Frame { id: u64, uri: String } impl Frame { fn new() } ";
    texts.push_back(longer);
    for (int i = 0; i < 40; ++i)
        texts.push_back("function number " + std::to_string(i) + " parses the config file " +
                        std::string(std::size_t(i) * 3, 'x'));
    std::vector<float> a, b;
    cpu->embed(texts, a);
    gpu->embed(texts, b);
    const std::size_t H = cpu->id().dimension;
    double worst = 1;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        double ab = 0, aa = 0, bb = 0;
        for (std::size_t j = 0; j < H; ++j) {
            ab += double(a[i * H + j]) * b[i * H + j];
            aa += double(a[i * H + j]) * a[i * H + j];
            bb += double(b[i * H + j]) * b[i * H + j];
        }
        worst = std::min(worst, ab / std::sqrt(aa * bb + 1e-30));
    }
    const bool ok = worst >= min_cos;
    std::printf("  [%s] backend %-6s %s  min cosine vs CPU %.6f over %zu texts (limit %.4f) on %s\n", ok ? "ok  " : "FAIL",
                precision.c_str(), cpu->id().model.c_str(), worst, texts.size(), min_cos, gpu->compute().device().c_str());
    if (!ok) ++failures;
}

}  // namespace

int main(int argc, char** argv) {
    const auto info = E::probe_devices();  // loads the CUDA module (libmvx-cuda.so) beside this binary
    if (!info.cuda_present) {
        std::printf("SKIP: %s\n", info.reason.c_str());
        return 77;
    }
    std::printf("CUDA device: %s\n", info.cuda_device.c_str());
    try {
        for (auto t : {cuda::dtype::f32, cuda::dtype::f16, cuda::dtype::bf16}) test_ops(t);
        for (int i = 1; i < argc; ++i) {
            test_backend(argv[i], "fp32", 0.99999);
            test_backend(argv[i], "fp16", 0.999);
            test_backend(argv[i], "bf16", 0.99);
        }
    } catch (const std::exception& e) {
        std::printf("FAIL: %s\n", e.what());
        return 1;
    }
    std::printf(failures ? "kernel tests: %d failed\n" : "kernel tests: all passed\n", failures);
    return failures ? 1 : 0;
}
