#include "common/embedding/model.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "common/core/error.hpp"
#include "common/embedding/json_lite.hpp"

namespace mvx::embedding {
namespace {

[[noreturn]] void bad(const std::string& msg) { throw error(error_kind::invalid_input, "INVALID_MODEL", msg); }

bool exists(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0;
}

std::size_t get_size(const json::value& cfg, const char* key, const std::string& path, std::size_t dflt, bool required) {
    const json::value* v = cfg.find(key);
    if (!v || v->is_null()) {
        if (required) bad(path + ": missing \"" + std::string(key) + "\"");
        return dflt;
    }
    if (!v->is_number() || v->as_number() < 0 || v->as_number() != double(std::size_t(v->as_number())))
        bad(path + ": \"" + std::string(key) + "\" must be a non-negative integer");
    return static_cast<std::size_t>(v->as_number());
}

std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

}  // namespace

std::string resolve_model_id(const std::string& folder_name, const std::string& config_name) {
    static const std::pair<const char*, const char*> known[] = {
        {"bge-small-en-v1.5", "BAAI/bge-small-en-v1.5"},
        {"bge-base-en-v1.5", "BAAI/bge-base-en-v1.5"},
        {"bge-large-en-v1.5", "BAAI/bge-large-en-v1.5"},
        {"all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2"},
        {"all-minilm-l12-v2", "sentence-transformers/all-MiniLM-L12-v2"},
        {"e5-small-v2", "intfloat/e5-small-v2"},
        {"e5-base-v2", "intfloat/e5-base-v2"},
        {"e5-large-v2", "intfloat/e5-large-v2"},
        {"gte-small", "thenlper/gte-small"},
        {"gte-base", "thenlper/gte-base"},
        {"gte-large", "thenlper/gte-large"},
    };
    auto last = [](std::string s) {
        while (!s.empty() && s.back() == '/') s.pop_back();
        s = s.substr(s.find_last_of('/') + 1);
        if (s.rfind("models--", 0) == 0) s = s.substr(8);
        auto p = s.rfind("--");
        if (p != std::string::npos) s = s.substr(p + 2);
        p = s.find('_');  // BAAI_bge-small-en-v1.5
        if (p != std::string::npos && s.find('-') > p) s = s.substr(p + 1);
        return lower(s);
    };
    for (const std::string& cand : {folder_name, config_name}) {
        std::string l = last(cand);
        for (const auto& [k, v] : known)
            if (l == k) return v;
    }
    if (!config_name.empty() && config_name.front() != '/' && config_name.front() != '.' &&
        std::count(config_name.begin(), config_name.end(), '/') == 1 && config_name.back() != '/')
        return config_name;
    return folder_name;
}

std::unique_ptr<bert_model> bert_model::load(const std::string& folder_in) {
    auto t0 = std::chrono::steady_clock::now();
    auto m = std::make_unique<bert_model>();
    std::string folder = folder_in;
    while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
    m->folder_ = folder;
    struct stat st {};
    if (::stat(folder.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        bad("model folder " + folder +
            " does not exist or is not a folder; pass a Hugging Face model folder "
            "(config.json, tokenizer.json, model.safetensors) with --embedding-model or MEMVID_EMBED_MODEL_DIR");

    // ---- config.json ----
    const std::string cfg_path = folder + "/config.json";
    if (!exists(cfg_path)) bad("model folder " + folder + " has no config.json");
    json::value cfg = json::parse(json::read_file(cfg_path), cfg_path);
    if (!cfg.is_object()) bad(cfg_path + ": not a JSON object");
    std::string model_type;
    if (const auto* v = cfg.find("model_type"); v && v->is_string()) model_type = v->as_string();
    if (model_type != "bert")
        bad(cfg_path + ": model_type is \"" + model_type +
            "\"; the native engine runs BERT-family encoders (bge, all-MiniLM, e5, gte); use an external provider for others");
    if (const auto* v = cfg.find("position_embedding_type"); v && v->is_string() && v->as_string() != "absolute")
        bad(cfg_path + ": position_embedding_type \"" + v->as_string() + "\" is not supported (absolute only)");
    bert_config& c = m->config_;
    c.hidden = get_size(cfg, "hidden_size", cfg_path, 0, true);
    c.layers = get_size(cfg, "num_hidden_layers", cfg_path, 0, true);
    c.heads = get_size(cfg, "num_attention_heads", cfg_path, 0, true);
    c.intermediate = get_size(cfg, "intermediate_size", cfg_path, 4 * c.hidden, false);
    c.vocab = get_size(cfg, "vocab_size", cfg_path, 0, true);
    c.max_positions = get_size(cfg, "max_position_embeddings", cfg_path, 512, false);
    c.type_vocab = get_size(cfg, "type_vocab_size", cfg_path, 2, false);
    if (const auto* v = cfg.find("layer_norm_eps"); v && v->is_number()) c.layer_norm_eps = v->as_number();
    if (c.hidden == 0 || c.heads == 0 || c.layers == 0 || c.hidden % c.heads != 0)
        bad(cfg_path + ": hidden_size " + std::to_string(c.hidden) + " must be a positive multiple of num_attention_heads " +
            std::to_string(c.heads));
    if (c.head_dim() > 256) bad(cfg_path + ": head size " + std::to_string(c.head_dim()) + " is above the engine's 256");
    if (c.hidden > 8192 || c.layers > 128 || c.intermediate > 65536 || c.vocab > 1000000 || c.max_positions > 65536)
        bad(cfg_path + ": sizes beyond what a BERT-family encoder uses");
    std::string act = "gelu";
    if (const auto* v = cfg.find("hidden_act"); v && v->is_string()) act = v->as_string();
    if (act == "gelu")
        c.act = activation::gelu_erf;
    else if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast")
        c.act = activation::gelu_tanh;
    else if (act == "relu")
        c.act = activation::relu;
    else
        bad(cfg_path + ": hidden_act \"" + act + "\" is not supported (gelu, gelu_new, relu)");
    if (const auto* v = cfg.find("_name_or_path"); v && v->is_string()) m->model_id_ = v->as_string();

    // The Hugging Face id: a known model named by the folder or the config,
    // else the config's "org/name", else the folder name.
    auto base = folder.substr(folder.find_last_of('/') + 1);
    m->model_id_ = resolve_model_id(base, m->model_id_);
    std::string lname = lower(m->model_id_ + " " + base);

    // ---- tokenizer ----
    m->tokenizer_ = wordpiece_tokenizer::from_folder(folder);
    if (m->tokenizer_.vocab_size() != c.vocab)
        bad("tokenizer of " + folder + " has " + std::to_string(m->tokenizer_.vocab_size()) +
            " tokens but config.json says vocab_size " + std::to_string(c.vocab));

    // ---- sentence-transformers: pooling, normalize, max length ----
    bool have_modules = false;
    if (exists(folder + "/modules.json")) {
        const std::string mp = folder + "/modules.json";
        json::value mods = json::parse(json::read_file(mp), mp);
        if (!mods.is_array()) bad(mp + ": expected an array of modules");
        have_modules = true;
        m->normalize_ = false;
        bool pooled = false;
        for (const auto& mod : mods.as_array()) {
            const json::value* type = mod.find("type");
            const json::value* path = mod.find("path");
            std::string t = type && type->is_string() ? type->as_string() : "";
            if (t.find("Normalize") != std::string::npos) m->normalize_ = true;
            if (t.find("Pooling") != std::string::npos) {
                pooled = true;
                std::string pc = folder + "/" + (path && path->is_string() ? path->as_string() : "1_Pooling") + "/config.json";
                if (exists(pc)) {
                    json::value p = json::parse(json::read_file(pc), pc);
                    auto flag = [&](const char* k) {
                        const json::value* v = p.find(k);
                        return v && v->is_bool() && v->as_bool();
                    };
                    if (flag("pooling_mode_cls_token"))
                        m->pooling_ = pooling::cls;
                    else if (flag("pooling_mode_mean_tokens"))
                        m->pooling_ = pooling::mean;
                    else
                        bad(pc + ": only CLS or mean pooling is supported");
                    if (flag("pooling_mode_max_tokens") || flag("pooling_mode_mean_sqrt_len_tokens") ||
                        (flag("pooling_mode_cls_token") && flag("pooling_mode_mean_tokens")))
                        bad(pc + ": combined pooling modes are not supported; use CLS or mean");
                } else {
                    have_modules = false;  // fall back to the name rule below
                }
            } else if (!t.empty() && t.find("Transformer") == std::string::npos && t.find("Normalize") == std::string::npos) {
                bad(mp + ": module \"" + t + "\" is not supported (Transformer, Pooling, Normalize)");
            }
        }
        if (!pooled) have_modules = false;
    }
    if (!have_modules) {
        // No sentence-transformers config: bge -> CLS, everything else -> mean; always normalised.
        m->pooling_ = lname.find("bge") != std::string::npos ? pooling::cls : pooling::mean;
        m->normalize_ = true;
    }
    m->max_length_ = std::min<std::size_t>(c.max_positions, 512);
    if (exists(folder + "/sentence_bert_config.json")) {
        const std::string sp = folder + "/sentence_bert_config.json";
        json::value s = json::parse(json::read_file(sp), sp);
        if (const auto* v = s.find("max_seq_length"); v && v->is_number() && v->as_number() >= 2)
            m->max_length_ = std::min<std::size_t>(static_cast<std::size_t>(v->as_number()), c.max_positions);
    } else if (lname.find("minilm") != std::string::npos) {
        m->max_length_ = std::min<std::size_t>(256, c.max_positions);
    }

    // ---- weights ----
    std::string st_path = folder + "/model.safetensors";
    if (!exists(st_path)) {
        if (exists(folder + "/pytorch_model.bin"))
            bad("model folder " + folder +
                " has pytorch_model.bin but no model.safetensors; convert it "
                "(python -c 'from safetensors.torch import save_file; ...') or download the safetensors file");
        bad("model folder " + folder + " has no model.safetensors");
    }
    m->file_ = std::make_unique<safetensors_file>(st_path);
    const safetensors_file& f = *m->file_;
    std::set<std::string> used;
    std::set<std::string> dtypes;
    std::string prefix;
    for (const char* p : {"", "bert.", "model."})
        if (f.find(std::string(p) + "embeddings.word_embeddings.weight")) {
            prefix = p;
            break;
        }

    auto get = [&](const std::string& name, std::vector<std::int64_t> shape, const char* alt = nullptr) -> const float* {
        const tensor_view* t = f.find(prefix + name);
        std::string used_name = prefix + name;
        if (!t && alt) {
            t = f.find(prefix + alt);
            used_name = prefix + alt;
        }
        if (!t)
            bad(st_path + ": missing tensor " + prefix + name + " (a BERT encoder of hidden size " + std::to_string(c.hidden) +
                ")");
        if (!t->is_float()) bad(st_path + ": tensor " + used_name + " has dtype " + t->type_text + "; expected F32, F16 or BF16");
        if (t->shape != shape) {
            tensor_view want;
            want.shape = shape;
            bad(st_path + ": tensor " + used_name + " has shape " + t->shape_text() + ", expected " + want.shape_text() +
                " from config.json");
        }
        used.insert(used_name);
        dtypes.insert(t->type_text);
        m->stats_.weight_bytes += t->elements() * 4;
        if (t->type == dtype::f32 && reinterpret_cast<std::uintptr_t>(t->data) % alignof(float) == 0)
            return reinterpret_cast<const float*>(t->data);
        auto buf = std::make_unique<float[]>(t->elements());
        t->to_f32(buf.get());
        m->owned_.push_back(std::move(buf));
        return m->owned_.back().get();
    };
    auto ln = [&](const std::string& base_name, std::int64_t n, const float*& g, const float*& b) {
        g = get(base_name + ".weight", {n}, (base_name + ".gamma").c_str());
        b = get(base_name + ".bias", {n}, (base_name + ".beta").c_str());
    };
    const auto H = static_cast<std::int64_t>(c.hidden), I = static_cast<std::int64_t>(c.intermediate);
    bert_weights& w = m->weights_;
    w.word = get("embeddings.word_embeddings.weight", {static_cast<std::int64_t>(c.vocab), H});
    w.position = get("embeddings.position_embeddings.weight", {static_cast<std::int64_t>(c.max_positions), H});
    w.token_type = get("embeddings.token_type_embeddings.weight", {static_cast<std::int64_t>(c.type_vocab), H});
    ln("embeddings.LayerNorm", H, w.emb_ln_g, w.emb_ln_b);
    for (std::size_t l = 0; l < c.layers; ++l) {
        const std::string p = "encoder.layer." + std::to_string(l) + ".";
        layer_weights lw;
        const float* q = get(p + "attention.self.query.weight", {H, H});
        const float* k = get(p + "attention.self.key.weight", {H, H});
        const float* v = get(p + "attention.self.value.weight", {H, H});
        const float* qb = get(p + "attention.self.query.bias", {H});
        const float* kb = get(p + "attention.self.key.bias", {H});
        const float* vb = get(p + "attention.self.value.bias", {H});
        auto fused = std::make_unique<float[]>(std::size_t(3 * H * H));
        std::memcpy(fused.get(), q, sizeof(float) * std::size_t(H * H));
        std::memcpy(fused.get() + H * H, k, sizeof(float) * std::size_t(H * H));
        std::memcpy(fused.get() + 2 * H * H, v, sizeof(float) * std::size_t(H * H));
        auto fused_b = std::make_unique<float[]>(std::size_t(3 * H));
        std::memcpy(fused_b.get(), qb, sizeof(float) * std::size_t(H));
        std::memcpy(fused_b.get() + H, kb, sizeof(float) * std::size_t(H));
        std::memcpy(fused_b.get() + 2 * H, vb, sizeof(float) * std::size_t(H));
        lw.qkv_w = fused.get();
        lw.qkv_b = fused_b.get();
        m->owned_.push_back(std::move(fused));
        m->owned_.push_back(std::move(fused_b));
        lw.out_w = get(p + "attention.output.dense.weight", {H, H});
        lw.out_b = get(p + "attention.output.dense.bias", {H});
        ln(p + "attention.output.LayerNorm", H, lw.ln1_g, lw.ln1_b);
        lw.ffn1_w = get(p + "intermediate.dense.weight", {I, H});
        lw.ffn1_b = get(p + "intermediate.dense.bias", {I});
        lw.ffn2_w = get(p + "output.dense.weight", {H, I});
        lw.ffn2_b = get(p + "output.dense.bias", {H});
        ln(p + "output.LayerNorm", H, lw.ln2_g, lw.ln2_b);
        w.layers.push_back(lw);
    }
    m->stats_.tensors_used = used.size();
    m->stats_.tensors_skipped = f.tensors().size() - used.size();
    m->stats_.source_dtype = dtypes.size() == 1 ? *dtypes.begin() : "mixed";
    m->stats_.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return m;
}

}  // namespace mvx::embedding
