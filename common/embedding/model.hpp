// A BERT-family encoder loaded from a Hugging Face model folder:
// config.json, tokenizer.json | vocab.txt, model.safetensors (F32/F16/BF16),
// and the sentence-transformers files (modules.json, 1_Pooling/config.json,
// sentence_bert_config.json) when present. Weights are kept in fp32 on the host
// (the CPU backend's working copy and the GPU backend's source); F32 tensors
// are used in place from the mmapped file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/embedding/safetensors.hpp"
#include "common/embedding/tokenizer.hpp"

namespace mvx::embedding {

enum class pooling { cls, mean };
enum class activation { gelu_erf, gelu_tanh, relu };

struct bert_config {
    std::size_t hidden = 0, layers = 0, heads = 0, intermediate = 0;
    std::size_t vocab = 0, max_positions = 0, type_vocab = 0;
    double layer_norm_eps = 1e-12;
    activation act = activation::gelu_erf;
    std::size_t head_dim() const { return heads ? hidden / heads : 0; }
};

struct layer_weights {
    const float* qkv_w = nullptr;  // [3H, H] (query, key, value rows stacked)
    const float* qkv_b = nullptr;  // [3H]
    const float* out_w = nullptr;  // [H, H]
    const float* out_b = nullptr;
    const float* ln1_g = nullptr;
    const float* ln1_b = nullptr;
    const float* ffn1_w = nullptr;  // [I, H]
    const float* ffn1_b = nullptr;
    const float* ffn2_w = nullptr;  // [H, I]
    const float* ffn2_b = nullptr;
    const float* ln2_g = nullptr;
    const float* ln2_b = nullptr;
};

struct bert_weights {
    const float* word = nullptr;  // [V, H]
    const float* position = nullptr;  // [P, H]
    const float* token_type = nullptr;  // [T, H]; row 0 is used
    const float* emb_ln_g = nullptr;
    const float* emb_ln_b = nullptr;
    std::vector<layer_weights> layers;
};

struct model_load_stats {
    double load_ms = 0;
    std::size_t tensors_used = 0, tensors_skipped = 0;
    std::size_t weight_bytes = 0;  // fp32 bytes of the encoder
    std::string source_dtype;  // "F32", "F16", "BF16" or "mixed"
};

// "BAAI/bge-small-en-v1.5" from a folder named bge-small-en-v1.5 (or
// models--BAAI--bge-small-en-v1.5, or a config _name_or_path naming it).
std::string resolve_model_id(const std::string& folder_name, const std::string& config_name);

class bert_model {
public:
    // Throws mvx::error(INVALID_MODEL) naming the file, tensor or field.
    static std::unique_ptr<bert_model> load(const std::string& folder);

    const bert_config& config() const { return config_; }
    const bert_weights& weights() const { return weights_; }
    const wordpiece_tokenizer& tokenizer() const { return tokenizer_; }
    pooling pool() const { return pooling_; }
    bool normalize() const { return normalize_; }
    std::size_t max_length() const { return max_length_; }  // tokens incl. [CLS]/[SEP]
    void set_max_length(std::size_t n) { max_length_ = n; }
    const std::string& folder() const { return folder_; }
    // Hugging Face id (config _name_or_path, or the folder name).
    const std::string& model_id() const { return model_id_; }
    const model_load_stats& load_stats() const { return stats_; }

private:
    std::string folder_, model_id_;
    bert_config config_;
    bert_weights weights_;
    wordpiece_tokenizer tokenizer_;
    pooling pooling_ = pooling::mean;
    bool normalize_ = true;
    std::size_t max_length_ = 512;
    std::unique_ptr<safetensors_file> file_;
    std::vector<std::unique_ptr<float[]>> owned_;  // converted / fused tensors
    model_load_stats stats_;
};

}  // namespace mvx::embedding
