// WordPiece tokenizer, the way Hugging Face `tokenizers` runs it for BERT-family
// embedding models (bge, all-MiniLM, e5, gte):
//   1. special tokens (added tokens with normalized=false) are split off the raw text;
//   2. BertNormalizer: clean text (drop NUL, U+FFFD and control characters, every
//      whitespace -> ' '), spaces around CJK ideographs, strip accents (NFD, drop
//      non-spacing marks; on by default when lowercasing), lowercase;
//   3. BertPreTokenizer: split on whitespace, isolate each punctuation character;
//   4. WordPiece: greedy longest match, "##" continuation, [UNK] for a word longer
//      than max_input_chars_per_word (100) or with no match;
//   5. [CLS] ... [SEP]; truncation to max_length tokens in all (the model's limit),
//      right side, counted.
// Code point data comes from unicode_bert.inc (see scripts/gen-unicode-tables.py).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mvx::embedding {

struct tokenizer_options {
    bool clean_text = true;
    bool handle_chinese_chars = true;
    bool strip_accents = true;
    bool lowercase = true;
};

struct encoding {
    std::vector<std::int32_t> ids;  // includes [CLS] and [SEP]
    bool truncated = false;
    std::size_t dropped = 0;  // word pieces cut by truncation
};

class wordpiece_tokenizer {
public:
    // Reads tokenizer.json when present, else vocab.txt (+ tokenizer_config.json).
    // Throws mvx::error naming the file and the unsupported or malformed part.
    static wordpiece_tokenizer from_folder(const std::string& folder);
    static wordpiece_tokenizer from_tokenizer_json(const std::string& path);
    static wordpiece_tokenizer from_vocab_txt(const std::string& path, tokenizer_options opts);

    // max_length counts [CLS] and [SEP]; 0 = no truncation.
    encoding encode(std::string_view text, std::size_t max_length) const;
    // Appends the word-piece ids of text (no specials, no truncation).
    void tokenize(std::string_view text, std::vector<std::int32_t>& out) const;

    std::size_t vocab_size() const { return vocab_.size(); }
    std::int32_t cls_id() const { return cls_; }
    std::int32_t sep_id() const { return sep_; }
    std::int32_t unk_id() const { return unk_; }
    std::int32_t pad_id() const { return pad_; }
    const tokenizer_options& options() const { return opts_; }
    std::int32_t id_of(std::string_view token) const;  // -1 when absent

    wordpiece_tokenizer() = default;
    wordpiece_tokenizer(const wordpiece_tokenizer&) = delete;  // lookups view into vocab_
    wordpiece_tokenizer& operator=(const wordpiece_tokenizer&) = delete;
    wordpiece_tokenizer(wordpiece_tokenizer&&) = default;
    wordpiece_tokenizer& operator=(wordpiece_tokenizer&&) = default;

private:
    void finish_setup();
    void normalize_and_split(std::string_view text, std::vector<std::int32_t>& out) const;
    void word_to_ids(std::string_view word, std::size_t chars, std::vector<std::int32_t>& out) const;

    tokenizer_options opts_;
    std::vector<std::string> vocab_;  // id -> token
    std::unordered_map<std::string, std::int32_t> vocab_ids_;
    // Lookups without allocation: whole-word pieces and "##" pieces (prefix removed).
    std::unordered_map<std::string_view, std::int32_t> head_, tail_;
    std::size_t max_piece_bytes_ = 0;
    std::string continuing_prefix_ = "##";
    std::string unk_token_ = "[UNK]";
    std::size_t max_input_chars_per_word_ = 100;
    std::int32_t cls_ = -1, sep_ = -1, unk_ = -1, pad_ = 0;
    std::vector<std::pair<std::string, std::int32_t>> specials_;  // raw-text matched
};

}  // namespace mvx::embedding
