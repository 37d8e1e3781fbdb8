// Fuzzes the WordPiece tokenizer with arbitrary bytes (payload texts are
// untrusted): no crash, ids in the vocabulary, [CLS] first, [SEP] last,
// truncation honoured.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "common/embedding/tokenizer.hpp"

namespace {
const mvx::embedding::wordpiece_tokenizer& tok() {
    static const auto t = [] {
        auto dir = std::filesystem::temp_directory_path() / "mvx-fuzz-tokenizer";
        std::filesystem::create_directories(dir);
        std::ofstream v(dir / "vocab.txt");
        for (const char* w : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "##a", "b",  "##b", "ab", "##ab", "!",
                              "é",     "中",    "##中",  "the",   "##s",    "x", "##x", "fn", "(",   ")",  "_"})
            v << w << "\n";
        v.close();
        return mvx::embedding::wordpiece_tokenizer::from_vocab_txt((dir / "vocab.txt").string(), {});
    }();
    return t;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& t = tok();
    std::string_view text(reinterpret_cast<const char*>(data), size);
    const std::size_t max = size ? 2 + data[0] % 64 : 16;
    auto e = t.encode(text, max);
    if (e.ids.size() < 2 || e.ids.size() > max || e.ids.front() != t.cls_id() || e.ids.back() != t.sep_id()) std::abort();
    for (auto id : e.ids)
        if (id < 0 || std::size_t(id) >= t.vocab_size()) std::abort();
    auto full = t.encode(text, 0);
    if (e.truncated != (full.ids.size() > max) || (e.truncated && e.dropped != full.ids.size() - max)) std::abort();
    return 0;
}
