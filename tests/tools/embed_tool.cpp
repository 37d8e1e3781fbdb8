// mvx-embed: the native engine from the command line, for the oracle tests,
// the benchmarks and the GPU check. Boost-free (builds with MVX_ENGINE_ONLY).
//
//   mvx-embed tokenize --model DIR --texts FILE            ids per text, one line each
//   mvx-embed embed    --model DIR --texts FILE --out F32  raw float32 [n, dim] + JSON stats
//   mvx-embed bench    --model DIR --texts FILE [--repeat N] [--fixed-len L --count N]
//   mvx-embed random-model --shape bge-small|bge-base|minilm --tokenizer-from DIR --out DIR [--seed S] [--dtype f32|f16|bf16]
//   mvx-embed convert  --model DIR --dtype f16|bf16|f32 --out DIR
//   mvx-embed compare  --model DIR --texts FILE [--count 200] [--device cuda]   cosine vs the CPU backend
// common: --device auto|cpu|cuda --precision fp16|bf16|fp32 --threads N --max-batch-tokens N --max-length N
// TEXTS files: per text a u32 LE byte length and the UTF-8 bytes (texts may hold NUL).
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/core/error.hpp"
#include "common/embedding/engine.hpp"
#include "common/embedding/safetensors.hpp"

namespace fs = std::filesystem;
using namespace mvx::embedding;

namespace {

std::map<std::string, std::string> g_args;

std::string arg(const std::string& k, const std::string& dflt = "") {
    auto it = g_args.find(k);
    return it == g_args.end() ? dflt : it->second;
}
std::string need(const std::string& k) {
    auto it = g_args.find(k);
    if (it == g_args.end()) throw mvx::error(mvx::error_kind::invalid_input, "INVALID_ARGUMENT", "missing --" + k);
    return it->second;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw mvx::error(mvx::error_kind::io, "IO_ERROR", "cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// TEXTS files: each text as a 4-byte little-endian byte length, then its UTF-8 bytes.
std::vector<std::string> read_texts(const std::string& path) {
    std::string all = slurp(path);
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < all.size()) {
        if (at + 4 > all.size())
            throw mvx::error(mvx::error_kind::invalid_input, "INVALID_ARGUMENT", path + ": truncated length");
        std::uint32_t n = 0;
        for (int i = 3; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(all[at + std::size_t(i)]);
        at += 4;
        if (at + n > all.size()) throw mvx::error(mvx::error_kind::invalid_input, "INVALID_ARGUMENT", path + ": truncated text");
        out.push_back(all.substr(at, n));
        at += n;
    }
    return out;
}

engine_options options() {
    engine_options o;
    o.model_dir = need("model");
    o.device = arg("device", "auto");
    o.precision = arg("precision", "fp16");
    o.threads = std::stoi(arg("threads", "0"));
    o.max_batch_tokens = std::stoul(arg("max-batch-tokens", "16384"));
    o.max_length = std::stoul(arg("max-length", "0"));
    return o;
}

double peak_rss_mb() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_maxrss) / 1024.0;
}

double now_ms() { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string json_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') {
            o += '\\';
            o += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char b[8];
            std::snprintf(b, sizeof b, "\\u%04x", c);
            o += b;
        } else
            o += c;
    }
    return o;
}

int cmd_tokenize() {
    auto m = bert_model::load(need("model"));
    auto texts = read_texts(need("texts"));
    std::size_t max_len = std::stoul(arg("max-length", std::to_string(m->max_length())));
    std::string out;
    for (const auto& t : texts) {
        auto e = m->tokenizer().encode(t, max_len);
        for (std::size_t i = 0; i < e.ids.size(); ++i) {
            if (i) out += ' ';
            out += std::to_string(e.ids[i]);
        }
        out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    return 0;
}

int cmd_embed() {
    double t0 = now_ms();
    auto e = engine::open(options());
    double t_load = now_ms() - t0;
    auto texts = read_texts(need("texts"));
    std::vector<float> v;
    double t1 = now_ms();
    e->embed(texts, v);
    double t_embed = now_ms() - t1;
    std::ofstream out(need("out"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
    auto s = e->stats();
    std::printf(
        "{\"texts\":%zu,\"dimension\":%zu,\"tokens\":%zu,\"truncatedTexts\":%zu,\"truncatedTokens\":%zu,"
        "\"backend\":\"%s\",\"precision\":\"%s\",\"device\":\"%s\",\"model\":\"%s\",\"loadMs\":%.1f,\"embedMs\":%.1f}\n",
        texts.size(), e->id().dimension, s.tokens, s.truncated_texts, s.truncated_tokens, e->compute().name().c_str(),
        e->compute().precision().c_str(), json_escape(e->compute().device()).c_str(), json_escape(e->id().model).c_str(), t_load,
        t_embed);
    return 0;
}

int cmd_bench() {
    double t0 = now_ms();
    auto o = options();
    auto e = engine::open(o);
    double t_load = now_ms() - t0;
    double rss_load = peak_rss_mb();
    std::vector<std::string> texts;
    if (!arg("fixed-len").empty()) {
        // Texts of exactly L tokens ([CLS] + L-2 pieces + [SEP]): "hello" is one piece.
        std::size_t L = std::stoul(arg("fixed-len")), n = std::stoul(arg("count", "1024"));
        std::string t;
        for (std::size_t i = 0; i + 2 < L; ++i) t += "hello ";
        texts.assign(n, t);
    } else {
        texts = read_texts(need("texts"));
    }
    int repeat = std::stoi(arg("repeat", "1"));
    // Tokenizer throughput, single thread.
    std::size_t bytes = 0;
    for (const auto& t : texts) bytes += t.size();
    double tt = now_ms();
    std::size_t ntok = 0;
    for (const auto& t : texts) ntok += e->tokenize(t).ids.size();
    double tok_ms = now_ms() - tt;
    std::vector<float> v;
    e->embed(texts, v);  // warm (first-touch, caches)
    auto s0 = e->stats();
    double best = 1e300;
    for (int r = 0; r < repeat; ++r) {
        v.clear();
        double a = now_ms();
        e->embed(texts, v);
        best = std::min(best, now_ms() - a);
    }
    // Batch-1 latency: one short text, median of 50.
    std::vector<double> lat;
    std::vector<std::string> one{"def parse_config(path): return json.load(open(path))"};
    for (int i = 0; i < 50; ++i) {
        std::vector<float> w;
        double a = now_ms();
        e->embed(one, w);
        lat.push_back(now_ms() - a);
    }
    std::sort(lat.begin(), lat.end());
    std::printf(
        "{\"model\":\"%s\",\"backend\":\"%s\",\"precision\":\"%s\",\"device\":\"%s\",\"texts\":%zu,\"tokens\":%zu,"
        "\"bestMs\":%.2f,\"tokensPerSec\":%.1f,\"textsPerSec\":%.1f,\"batch1MedianMs\":%.3f,"
        "\"tokenizerMBps\":%.2f,\"loadMs\":%.1f,\"warmUpMs\":%.1f,\"rssAfterLoadMB\":%.1f,\"peakRssMB\":%.1f,"
        "\"threads\":%d}\n",
        json_escape(e->id().model).c_str(), e->compute().name().c_str(), e->compute().precision().c_str(),
        json_escape(e->compute().device()).c_str(), texts.size(), s0.tokens, best, double(s0.tokens) / best * 1000.0,
        double(texts.size()) / best * 1000.0, lat[lat.size() / 2], double(bytes) / 1e6 / (tok_ms / 1000.0), t_load,
        e->warm_up_ms(), rss_load, peak_rss_mb(), o.threads);
    (void)ntok;
    return 0;
}

// CPU backend vs another device/precision on the same texts: min and mean cosine.
int cmd_compare() {
    auto texts = read_texts(need("texts"));
    std::size_t count = std::stoul(arg("count", "200"));
    if (texts.size() > count) {
        std::vector<std::string> pick;
        const double step = double(texts.size()) / double(count);
        for (std::size_t i = 0; i < count; ++i) pick.push_back(texts[std::size_t(double(i) * step)]);
        texts.swap(pick);
    }
    auto o = options();
    o.device = "cpu";
    auto ref = engine::open(o);
    o.device = arg("device", "cuda");
    auto other = engine::open(o);
    std::vector<float> a, b;
    ref->embed(texts, a);
    other->embed(texts, b);
    const std::size_t H = ref->id().dimension;
    double worst = 1, sum = 0;
    std::size_t worst_i = 0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        double ab = 0, aa = 0, bb = 0;
        for (std::size_t j = 0; j < H; ++j) {
            ab += double(a[i * H + j]) * b[i * H + j];
            aa += double(a[i * H + j]) * a[i * H + j];
            bb += double(b[i * H + j]) * b[i * H + j];
        }
        const double c = ab / std::sqrt(aa * bb + 1e-30);
        sum += c;
        if (c < worst) {
            worst = c;
            worst_i = i;
        }
    }
    std::printf(
        "{\"model\":\"%s\",\"texts\":%zu,\"against\":\"%s %s\",\"device\":\"%s\",\"minCosine\":%.7f,\"meanCosine\":%.7f,"
        "\"worstTextBytes\":%zu}\n",
        json_escape(ref->id().model).c_str(), texts.size(), other->compute().name().c_str(), other->compute().precision().c_str(),
        json_escape(other->compute().device()).c_str(), worst, sum / double(texts.size()), texts[worst_i].size());
    return 0;
}

void copy_if_exists(const fs::path& from, const fs::path& to) {
    if (fs::exists(from)) {
        fs::create_directories(to.parent_path());
        fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    }
}

int cmd_random_model() {
    std::string shape = need("shape"), out = need("out"), tok = need("tokenizer-from");
    std::string dt = arg("dtype", "f32");
    std::uint64_t seed = std::stoull(arg("seed", "1"));
    std::size_t H, L, I;
    if (shape == "bge-small") {
        H = 384;
        L = 12;
        I = 1536;
    } else if (shape == "bge-base") {
        H = 768;
        L = 12;
        I = 3072;
    } else if (shape == "minilm") {
        H = 384;
        L = 6;
        I = 1536;
    } else
        throw mvx::error(mvx::error_kind::invalid_input, "INVALID_ARGUMENT", "--shape: bge-small, bge-base or minilm");
    const std::size_t V = 30522, P = 512, heads = H / (shape == "bge-base" ? 64 : 32);
    fs::create_directories(out);
    for (const char* f : {"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"})
        copy_if_exists(fs::path(tok) / f, fs::path(out) / f);
    bool cls = shape != "minilm";
    std::string id = "mvx-test/random-" + shape;
    std::ofstream(fs::path(out) / "config.json")
        << "{\n  \"_name_or_path\": \"" << id << "\",\n  \"architectures\": [\"BertModel\"],\n  \"hidden_act\": \"gelu\",\n"
        << "  \"hidden_size\": " << H << ",\n  \"intermediate_size\": " << I << ",\n  \"layer_norm_eps\": 1e-12,\n"
        << "  \"max_position_embeddings\": " << P << ",\n  \"model_type\": \"bert\",\n  \"num_attention_heads\": " << heads
        << ",\n  \"num_hidden_layers\": " << L << ",\n  \"pad_token_id\": 0,\n  \"position_embedding_type\": \"absolute\",\n"
        << "  \"type_vocab_size\": 2,\n  \"vocab_size\": " << V << "\n}\n";
    std::ofstream(fs::path(out) / "modules.json")
        << "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
           "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"},"
           "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}]\n";
    fs::create_directories(fs::path(out) / "1_Pooling");
    std::ofstream(fs::path(out) / "1_Pooling" / "config.json")
        << "{\"word_embedding_dimension\": " << H << ", \"pooling_mode_cls_token\": " << (cls ? "true" : "false")
        << ", \"pooling_mode_mean_tokens\": " << (cls ? "false" : "true")
        << ", \"pooling_mode_max_tokens\": false, \"pooling_mode_mean_sqrt_len_tokens\": false}\n";
    std::ofstream(fs::path(out) / "sentence_bert_config.json")
        << "{\"max_seq_length\": " << (cls ? 512 : 256) << ", \"do_lower_case\": false}\n";
    // BERT's initialisation: N(0, 0.02) weights, zero biases, unit LayerNorm;
    // biases and LayerNorm get a little noise so that every tensor is exercised.
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> nd(0.0f, 0.02f);
    std::vector<st_tensor> ts;
    auto add = [&](const std::string& name, std::vector<std::int64_t> sh, float mean, float scale) {
        st_tensor t{name, sh, {}};
        std::size_t n = 1;
        for (auto d : sh) n *= std::size_t(d);
        t.data.resize(n);
        for (auto& x : t.data) x = mean + nd(rng) * (scale / 0.02f);
        ts.push_back(std::move(t));
    };
    auto iH = std::int64_t(H), iI = std::int64_t(I);
    add("embeddings.word_embeddings.weight", {std::int64_t(V), iH}, 0, 0.02f);
    add("embeddings.position_embeddings.weight", {std::int64_t(P), iH}, 0, 0.02f);
    add("embeddings.token_type_embeddings.weight", {2, iH}, 0, 0.02f);
    add("embeddings.LayerNorm.weight", {iH}, 1, 0.05f);
    add("embeddings.LayerNorm.bias", {iH}, 0, 0.02f);
    for (std::size_t l = 0; l < L; ++l) {
        std::string p = "encoder.layer." + std::to_string(l) + ".";
        for (const char* q : {"query", "key", "value"}) {
            add(p + "attention.self." + q + ".weight", {iH, iH}, 0, 0.05f);
            add(p + "attention.self." + q + ".bias", {iH}, 0, 0.02f);
        }
        add(p + "attention.output.dense.weight", {iH, iH}, 0, 0.05f);
        add(p + "attention.output.dense.bias", {iH}, 0, 0.02f);
        add(p + "attention.output.LayerNorm.weight", {iH}, 1, 0.05f);
        add(p + "attention.output.LayerNorm.bias", {iH}, 0, 0.02f);
        add(p + "intermediate.dense.weight", {iI, iH}, 0, 0.05f);
        add(p + "intermediate.dense.bias", {iI}, 0, 0.02f);
        add(p + "output.dense.weight", {iH, iI}, 0, 0.05f);
        add(p + "output.dense.bias", {iH}, 0, 0.02f);
        add(p + "output.LayerNorm.weight", {iH}, 1, 0.05f);
        add(p + "output.LayerNorm.bias", {iH}, 0, 0.02f);
    }
    add("pooler.dense.weight", {iH, iH}, 0, 0.02f);
    add("pooler.dense.bias", {iH}, 0, 0.02f);
    write_safetensors((fs::path(out) / "model.safetensors").string(), ts,
                      dt == "f32"       ? dtype::f32
                          : dt == "f16" ? dtype::f16
                                        : dtype::bf16);
    std::printf("{\"model\":\"%s\",\"folder\":\"%s\",\"dtype\":\"%s\",\"tensors\":%zu}\n", id.c_str(), out.c_str(), dt.c_str(),
                ts.size());
    return 0;
}

int cmd_convert() {
    std::string in = need("model"), out = need("out"), dt = arg("dtype", "f16");
    safetensors_file f(in + "/model.safetensors");
    fs::create_directories(out);
    for (const auto& entry : fs::recursive_directory_iterator(in)) {
        if (!entry.is_regular_file() || entry.path().filename() == "model.safetensors") continue;
        auto rel = fs::relative(entry.path(), in);
        copy_if_exists(entry.path(), fs::path(out) / rel);
    }
    std::vector<st_tensor> ts;
    for (const auto& [name, t] : f.tensors()) {
        if (!t.is_float()) continue;  // e.g. position_ids (I64): unused
        st_tensor o{name, t.shape, std::vector<float>(t.elements())};
        t.to_f32(o.data.data());
        ts.push_back(std::move(o));
    }
    write_safetensors(out + "/model.safetensors", ts, dt == "f32" ? dtype::f32 : dt == "f16" ? dtype::f16 : dtype::bf16);
    std::printf("{\"folder\":\"%s\",\"dtype\":\"%s\",\"tensors\":%zu}\n", out.c_str(), dt.c_str(), ts.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: mvx-embed tokenize|embed|bench|random-model|convert --model DIR ...\n");
        return 2;
    }
    std::string cmd = argv[1];
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0 || i + 1 >= argc) {
            std::fprintf(stderr, "mvx-embed: expected --name value, got %s\n", a.c_str());
            return 2;
        }
        g_args[a.substr(2)] = argv[++i];
    }
    try {
        if (cmd == "tokenize") return cmd_tokenize();
        if (cmd == "embed") return cmd_embed();
        if (cmd == "bench") return cmd_bench();
        if (cmd == "random-model") return cmd_random_model();
        if (cmd == "convert") return cmd_convert();
        if (cmd == "compare") return cmd_compare();
        std::fprintf(stderr, "mvx-embed: unknown command %s\n", cmd.c_str());
        return 2;
    } catch (const mvx::error& e) {
        std::fprintf(stderr, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}\n", e.code().c_str(),
                     json_escape(e.what()).c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"%s\"}}\n", json_escape(e.what()).c_str());
        return 1;
    }
}
