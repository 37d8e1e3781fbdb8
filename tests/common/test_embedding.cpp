// The native engine on a tiny synthetic BERT (written here, no downloads):
// safetensors validation, model loading errors, tokenizer rules, and the
// forward pass's invariants (batching, pooling, normalisation, dtypes).
// Reference numerics against sentence-transformers live in
// tests/oracle/check_embeddings.py.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "common/core/error.hpp"
#include "common/embedding/engine.hpp"
#include "common/embedding/safetensors.hpp"
#include "tests/common/test_helpers.hpp"

namespace fs = std::filesystem;
using namespace mvx::embedding;

namespace {

const char* k_vocab[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s", "un", "##able", "cafe",  "!",
                         ",",     "x",     "##x",   "a",     "##a",    "中",    "def",   "_",   "(",  ")",      "##ing", "go"};
constexpr std::size_t kV = sizeof(k_vocab) / sizeof(k_vocab[0]);

struct tiny_model {
    std::size_t H = 8, L = 2, heads = 2, I = 16, P = 32;
    std::string pooling = "cls";  // or "mean"
    bool st_files = true;
    std::string prefix;  // tensor name prefix, e.g. "bert."
    dtype as = dtype::f32;
    std::vector<std::string> drop;  // tensors to leave out
    std::pair<std::string, std::vector<std::int64_t>> reshape;  // one tensor with a wrong shape

    void write(const fs::path& dir, std::uint64_t seed = 7) const {
        fs::create_directories(dir);
        {
            std::ofstream v(dir / "vocab.txt");
            for (auto* t : k_vocab) v << t << "\n";
        }
        std::ofstream(dir / "tokenizer_config.json") << R"({"do_lower_case": true})";
        std::ofstream(dir / "config.json") << "{\"model_type\":\"bert\",\"hidden_size\":" << H << ",\"num_hidden_layers\":" << L
                                           << ",\"num_attention_heads\":" << heads << ",\"intermediate_size\":" << I
                                           << ",\"vocab_size\":" << kV << ",\"max_position_embeddings\":" << P
                                           << ",\"type_vocab_size\":2,\"layer_norm_eps\":1e-12,\"hidden_act\":\"gelu\"}";
        if (st_files) {
            std::ofstream(dir / "modules.json")
                << R"([{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},)"
                << R"({"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},)"
                << R"({"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}])";
            fs::create_directories(dir / "1_Pooling");
            std::ofstream(dir / "1_Pooling" / "config.json")
                << "{\"pooling_mode_cls_token\":" << (pooling == "cls" ? "true" : "false")
                << ",\"pooling_mode_mean_tokens\":" << (pooling == "mean" ? "true" : "false") << "}";
            std::ofstream(dir / "sentence_bert_config.json") << R"({"max_seq_length": 16})";
        }
        std::mt19937_64 rng(seed);
        std::normal_distribution<float> nd(0.0f, 0.3f);
        std::vector<st_tensor> ts;
        auto add = [&](const std::string& n, std::vector<std::int64_t> shape, float mean) {
            for (const auto& d : drop)
                if (d == n) return;
            if (reshape.first == n) shape = reshape.second;
            st_tensor t{prefix + n, shape, {}};
            std::size_t count = 1;
            for (auto s : shape) count *= std::size_t(s);
            for (std::size_t i = 0; i < count; ++i) t.data.push_back(mean + nd(rng));
            ts.push_back(std::move(t));
        };
        auto h = std::int64_t(H), in = std::int64_t(I);
        add("embeddings.word_embeddings.weight", {std::int64_t(kV), h}, 0);
        add("embeddings.position_embeddings.weight", {std::int64_t(P), h}, 0);
        add("embeddings.token_type_embeddings.weight", {2, h}, 0);
        add("embeddings.LayerNorm.weight", {h}, 1);
        add("embeddings.LayerNorm.bias", {h}, 0);
        for (std::size_t l = 0; l < L; ++l) {
            std::string p = "encoder.layer." + std::to_string(l) + ".";
            for (const char* q : {"query", "key", "value"}) {
                add(p + "attention.self." + q + ".weight", {h, h}, 0);
                add(p + "attention.self." + q + ".bias", {h}, 0);
            }
            add(p + "attention.output.dense.weight", {h, h}, 0);
            add(p + "attention.output.dense.bias", {h}, 0);
            add(p + "attention.output.LayerNorm.weight", {h}, 1);
            add(p + "attention.output.LayerNorm.bias", {h}, 0);
            add(p + "intermediate.dense.weight", {in, h}, 0);
            add(p + "intermediate.dense.bias", {in}, 0);
            add(p + "output.dense.weight", {h, in}, 0);
            add(p + "output.dense.bias", {h}, 0);
            add(p + "output.LayerNorm.weight", {h}, 1);
            add(p + "output.LayerNorm.bias", {h}, 0);
        }
        add("pooler.dense.weight", {h, h}, 0);  // present in checkpoints, unused
        write_safetensors((dir / "model.safetensors").string(), ts, as);
    }
};

std::unique_ptr<engine> open_cpu(const fs::path& dir) {
    engine_options o;
    o.model_dir = dir.string();
    o.device = "cpu";
    o.threads = 2;
    o.max_batch_tokens = 512;
    return engine::open(o);
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const mvx::error& e) {
        return e.what();
    }
    return "<no error>";
}

double cosine(const float* a, const float* b, std::size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < n; ++i) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

std::string st_file(const std::string& header, std::size_t data_bytes) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[std::size_t(i)] = char((std::uint64_t(header.size()) >> (8 * i)) & 0xFF);
    return s + header + std::string(data_bytes, '\0');
}

}  // namespace

TEST_CASE("safetensors: valid files parse; malformed ones fail naming the problem", "[embedding]") {
    mvx::test::temp_dir d;
    auto p = d.path / "m.safetensors";
    write_bytes(
        p,
        st_file(
            R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"I64","shape":[1],"data_offsets":[16,24]},"__metadata__":{"format":"pt"}})",
            24));
    safetensors_file f(p.string());
    REQUIRE(f.find("a"));
    CHECK(f.find("a")->elements() == 4);
    CHECK(f.metadata().at("format") == "pt");

    auto err = [&](const std::string& header, std::size_t bytes) {
        write_bytes(p, st_file(header, bytes));
        return error_of([&] { safetensors_file g(p.string()); });
    };
    CHECK_THAT(err(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 12),
               Catch::Contains("tensor a") && Catch::Contains("12 bytes"));
    CHECK_THAT(err(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), Catch::Contains("gap"));
    CHECK_THAT(
        err(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4),
        Catch::Contains("overlapping"));
    CHECK_THAT(err(R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}})", 4), Catch::Contains("unknown dtype"));
    CHECK_THAT(
        err(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
        Catch::Contains("duplicate key"));
    CHECK_THAT(err(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8), Catch::Contains("truncated"));
    CHECK_THAT(err(R"({"a":)", 0), Catch::Contains("invalid JSON"));
    write_bytes(p, std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8));
    CHECK_THAT(error_of([&] { safetensors_file g(p.string()); }), Catch::Contains("exceeds 100,000,000"));
    write_bytes(p, "abc");
    CHECK_THAT(error_of([&] { safetensors_file g(p.string()); }), Catch::Contains("shorter than"));
}

TEST_CASE("fp16 and bf16 conversions round-trip", "[embedding]") {
    for (float v : {0.0f, 1.0f, -2.5f, 0.333333f, 65504.0f, 6.1e-5f, 1e-7f}) {
        CHECK(std::fabs(half_to_float(float_to_half(v)) - v) <= std::fabs(v) * 1e-3f + 6e-8f);
        CHECK(std::fabs(bf16_to_float(float_to_bf16(v)) - v) <= std::fabs(v) * 8e-3f);
    }
    CHECK(std::isinf(half_to_float(float_to_half(1e6f))));
}

TEST_CASE("model folders: missing or misshaped tensors and bad configs are named", "[embedding]") {
    mvx::test::temp_dir d;
    tiny_model m;
    m.drop = {"encoder.layer.1.output.dense.bias"};
    m.write(d.path / "a");
    CHECK_THAT(error_of([&] { open_cpu(d.path / "a"); }), Catch::Contains("missing tensor encoder.layer.1.output.dense.bias"));

    tiny_model r;
    r.reshape = {"encoder.layer.0.intermediate.dense.weight", {8, 16}};
    r.write(d.path / "b");
    CHECK_THAT(error_of([&] { open_cpu(d.path / "b"); }),
               Catch::Contains("encoder.layer.0.intermediate.dense.weight has shape [8, 16], expected [16, 8]"));

    CHECK_THAT(error_of([&] { open_cpu(d.path / "nope"); }), Catch::Contains("does not exist"));
    tiny_model ok;
    ok.write(d.path / "c");
    std::ofstream(d.path / "c" / "config.json") << R"({"model_type":"t5","hidden_size":8})";
    CHECK_THAT(error_of([&] { open_cpu(d.path / "c"); }), Catch::Contains("model_type is \"t5\""));
    ok.write(d.path / "e");
    fs::remove(d.path / "e" / "model.safetensors");
    CHECK_THAT(error_of([&] { open_cpu(d.path / "e"); }), Catch::Contains("no model.safetensors"));
    engine_options o;
    CHECK_THAT(error_of([&] { engine::open(o); }), Catch::Contains("MEMVID_EMBED_MODEL_DIR"));
}

TEST_CASE("tokenizer: BERT normalisation, punctuation, WordPiece, specials, truncation", "[embedding]") {
    mvx::test::temp_dir d;
    tiny_model m;
    m.write(d.path);
    auto tok = wordpiece_tokenizer::from_folder(d.path.string());
    auto ids = [&](const std::string& s, std::size_t max = 0) { return tok.encode(s, max).ids; };
    using V = std::vector<std::int32_t>;
    CHECK(ids("Hello, WORLDS!") == V{2, 5, 12, 6, 7, 11, 3});
    CHECK(ids("unable café") == V{2, 8, 9, 10, 3});  // ## continuation, accent stripped
    CHECK(ids("xxx") == V{2, 13, 14, 14, 3});
    CHECK(ids("hellox") == V{2, 5, 14, 3});
    CHECK(ids("hellogo") == V{2, 1, 3});  // no ##go piece -> the whole word is [UNK]
    CHECK(ids(std::string(101, 'x')) == V{2, 1, 3});  // longer than 100 chars -> [UNK]
    CHECK(ids(std::string(100, 'x')).size() == 102);
    CHECK(ids("a中a") == V{2, 15, 17, 15, 3});  // CJK split off
    CHECK(ids("hello[MASK]world") == V{2, 5, 4, 6, 3});  // special token matched in raw text
    CHECK(ids("\x01hello\tworld") == V{2, 5, 6, 3});  // control removed, tab splits
    CHECK(ids("hel\xe2\x80\x8blo") == V{2, 5, 3});  // zero-width space removed, joins
    CHECK(ids("") == V{2, 3});
    auto e = tok.encode("hello world hello world", 4);
    CHECK(e.ids == V{2, 5, 6, 3});
    CHECK(e.truncated);
    CHECK(e.dropped == 2);
}

TEST_CASE("CPU forward: ragged batches equal one-by-one, pooling and normalisation hold", "[embedding]") {
    mvx::test::temp_dir d;
    tiny_model m;
    m.write(d.path / "cls");
    auto eng = open_cpu(d.path / "cls");
    CHECK(eng->id().dimension == 8);
    CHECK(eng->id().provider == "fastembed");
    CHECK(eng->model().pool() == pooling::cls);
    CHECK(eng->model().max_length() == 16);
    CHECK(eng->model().load_stats().tensors_skipped == 1);  // pooler.dense.weight
    std::vector<std::string> texts = {"hello world", "unable", "", "xxx hello, world! a 中 go",
                                      "hello world hello world hello world"};
    std::vector<float> all;
    eng->embed(texts, all);
    REQUIRE(all.size() == texts.size() * 8);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        std::vector<float> one;
        eng->embed(std::span<const std::string>(&texts[i], 1), one);
        double n = 0;
        for (std::size_t j = 0; j < 8; ++j) {
            CHECK(one[j] == Approx(all[i * 8 + j]).margin(1e-5));
            n += double(one[j]) * one[j];
        }
        CHECK(n == Approx(1.0).margin(1e-5));
    }
    CHECK(cosine(&all[0], &all[8], 8) < 0.999);  // different texts, different vectors

    tiny_model mm;
    mm.pooling = "mean";
    mm.write(d.path / "mean");
    auto mean = open_cpu(d.path / "mean");
    CHECK(mean->model().pool() == pooling::mean);
    std::vector<float> mv;
    mean->embed(texts, mv);
    CHECK(cosine(&mv[0], &all[0], 8) < 0.9999);  // same weights, other pooling

    // Truncation is counted.
    std::vector<std::string> long_text = {std::string(400, 'a') + " " + std::string(50, 'x')};
    std::vector<std::string> many(1, "");
    for (int i = 0; i < 30; ++i) many[0] += "hello ";
    std::vector<float> tv;
    eng->embed(many, tv);
    CHECK(eng->stats().truncated_texts == 1);
    CHECK(eng->stats().truncated_tokens == 30 - 14);
    CHECK(eng->report().truncated_texts == 1);
}

TEST_CASE("weights in F16 or BF16, with a bert. prefix, give the same vectors", "[embedding]") {
    mvx::test::temp_dir d;
    tiny_model a;
    a.write(d.path / "f32");
    tiny_model b = a;
    b.as = dtype::f16;
    b.prefix = "bert.";
    b.write(d.path / "f16");
    tiny_model c = a;
    c.as = dtype::bf16;
    c.write(d.path / "bf16");
    std::vector<std::string> texts = {"hello world", "unable cafe, go!"};
    std::vector<float> va, vb, vc;
    open_cpu(d.path / "f32")->embed(texts, va);
    open_cpu(d.path / "f16")->embed(texts, vb);
    open_cpu(d.path / "bf16")->embed(texts, vc);
    for (std::size_t i = 0; i < texts.size(); ++i) {
        CHECK(cosine(&va[i * 8], &vb[i * 8], 8) > 0.9999);
        CHECK(cosine(&va[i * 8], &vc[i * 8], 8) > 0.999);
    }
}

TEST_CASE("model ids resolve to memvid's names", "[embedding]") {
    CHECK(resolve_model_id("bge-small-en-v1.5", "/root/.cache/torch/sentence_transformers/BAAI_bge-small-en/") ==
          "BAAI/bge-small-en-v1.5");
    CHECK(resolve_model_id("models--BAAI--bge-base-en-v1.5", "") == "BAAI/bge-base-en-v1.5");
    CHECK(resolve_model_id("model", "nreimers/MiniLM-L6-H384-uncased") == "nreimers/MiniLM-L6-H384-uncased");
    CHECK(resolve_model_id("all-MiniLM-L6-v2", "nreimers/MiniLM-L6-H384-uncased") == "sentence-transformers/all-MiniLM-L6-v2");
    CHECK(resolve_model_id("my-model", "/abs/path/") == "my-model");
}

TEST_CASE("CUDA module: the engine finds and loads it only when a GPU may be used", "[embedding]") {
    // With device cpu the module is never loaded; probing loads it (beside this
    // binary when the build has one) and reports why there is no GPU here.
    const auto r = probe_devices();
#if MVX_TEST_CUDA_MODULE
    CHECK(r.cuda_compiled);  // libmvx-cuda.so was found beside the test binary and is this build's
    if (!r.cuda_present) CHECK_THAT(r.reason, Catch::StartsWith("no usable CUDA device"));
#else
    CHECK_FALSE(r.cuda_compiled);
    CHECK_THAT(r.reason, Catch::Contains("no CUDA backend"));
#endif
}
