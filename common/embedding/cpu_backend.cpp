// The CPU backend: fp32, OpenBLAS GEMMs over all real tokens of a batch (no
// padding), fused element-wise loops and per-(sequence, head) attention on all
// cores. It is the fallback when no GPU is present and the numerics reference.
#include <fstream>
#include <string>
#include <vector>

#include "common/embedding/backend.hpp"
#include "common/embedding/cpu_ops.hpp"

namespace mvx::embedding {
namespace {

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            auto p = line.find(':');
            if (p != std::string::npos) return line.substr(p + 2);
        }
    return "cpu";
}

class cpu_backend final : public backend {
public:
    cpu_backend(const bert_model& m, int threads) : m_(m) {
        cpu::set_threads(threads);
        device_ = cpu_model_name() + " (" + std::to_string(cpu::threads()) + " threads, " + cpu::blas_name() + ")";
    }

    std::string name() const override { return "cpu"; }
    std::string device() const override { return device_; }
    std::string precision() const override { return "fp32"; }

    void warm_up(std::size_t max_tokens, std::size_t max_len) override {
        reserve(max_tokens);
        token_batch b;
        std::vector<std::int32_t> seq(std::min<std::size_t>(max_len, 16), m_.tokenizer().cls_id());
        b.add(seq);
        std::vector<float> out(m_.config().hidden);
        forward(b, out.data());
    }

    void forward(const token_batch& b, float* out) override {
        const auto& c = m_.config();
        const auto& w = m_.weights();
        const std::size_t T = b.tokens(), H = c.hidden, I = c.intermediate, n = b.sequences();
        const float eps = static_cast<float>(c.layer_norm_eps);
        reserve(T);
        cpu::embed_layernorm(b.ids.data(), b.cu_seqlens.data(), n, w.word, w.position, w.token_type, w.emb_ln_g, w.emb_ln_b, H,
                             eps, x_.data());
        for (const auto& l : w.layers) {
            cpu::gemm_bias(T, 3 * H, H, x_.data(), l.qkv_w, l.qkv_b, qkv_.data());
            cpu::attention(qkv_.data(), b.cu_seqlens.data(), n, c.heads, c.head_dim(), ctx_.data());
            cpu::gemm_bias(T, H, H, ctx_.data(), l.out_w, l.out_b, tmp_.data());
            cpu::add_layernorm(x_.data(), tmp_.data(), T, H, l.ln1_g, l.ln1_b, eps);
            cpu::gemm_bias(T, I, H, x_.data(), l.ffn1_w, l.ffn1_b, inter_.data());
            cpu::activate(inter_.data(), T * I, c.act);
            cpu::gemm_bias(T, H, I, inter_.data(), l.ffn2_w, l.ffn2_b, tmp_.data());
            cpu::add_layernorm(x_.data(), tmp_.data(), T, H, l.ln2_g, l.ln2_b, eps);
        }
        cpu::pool(x_.data(), b.cu_seqlens.data(), n, H, m_.pool(), m_.normalize(), out);
    }

private:
    void reserve(std::size_t T) {
        const auto& c = m_.config();
        if (T <= cap_) return;
        cap_ = T;
        x_.resize(T * c.hidden);
        qkv_.resize(T * 3 * c.hidden);
        ctx_.resize(T * c.hidden);
        tmp_.resize(T * c.hidden);
        inter_.resize(T * c.intermediate);
    }

    const bert_model& m_;
    std::string device_;
    std::size_t cap_ = 0;
    std::vector<float> x_, qkv_, ctx_, tmp_, inter_;
};

}  // namespace

std::unique_ptr<backend> make_cpu_backend(const bert_model& model, int threads) {
    return std::make_unique<cpu_backend>(model, threads);
}

}  // namespace mvx::embedding
