#include "common/embedding/tokenizer.hpp"

#include <sys/stat.h>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/core/error.hpp"
#include "common/embedding/json_lite.hpp"

namespace mvx::embedding {
namespace {

#include "common/embedding/unicode_bert.inc"

constexpr unsigned char k_removed = 1, k_to_space = 2, k_punct = 4, k_ws_split = 8;

[[noreturn]] void bad(const std::string& where, const std::string& msg) {
    throw error(error_kind::invalid_input, "INVALID_MODEL", where + ": " + msg);
}

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Flags for the ASCII range are looked up directly; the rest by binary search.
struct flag_table {
    unsigned char ascii[128]{};
    flag_table() {
        for (const auto& r : k_bert_flag_runs)
            for (char32_t c = r.first; c <= r.last && c < 128; ++c) ascii[c] = r.flags;
    }
};
const flag_table k_flags;

unsigned char flags_of(char32_t c) {
    if (c < 128) return k_flags.ascii[c];
    const auto* b = std::begin(k_bert_flag_runs);
    const auto* e = std::end(k_bert_flag_runs);
    const auto* it = std::upper_bound(b, e, c, [](char32_t v, const bert_flag_run& r) { return v < r.first; });
    if (it == b) return 0;
    --it;
    return c <= it->last ? it->flags : 0;
}

bool is_cjk(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
        (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
        (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

template <std::size_t N, std::size_t P>
bool lookup_map(const bert_map_entry (&map)[N], const char32_t (&pool)[P], char32_t c, const char32_t*& out, std::size_t& len) {
    const auto* it =
        std::lower_bound(std::begin(map), std::end(map), c, [](const bert_map_entry& e, char32_t v) { return e.cp < v; });
    if (it == std::end(map) || it->cp != c) return false;
    out = pool + it->offset;
    len = it->length;
    return true;
}

// Decodes one code point; invalid sequences yield U+FFFD for one byte (and the
// normaliser drops U+FFFD, as the reference does for text it receives).
char32_t next_cp(std::string_view s, std::size_t& i) {
    auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        ++i;
        return b0;
    }
    int n = b0 >= 0xF5 ? -1 : b0 >= 0xF0 ? 3 : b0 >= 0xE0 ? 2 : b0 >= 0xC2 ? 1 : -1;
    if (n < 0 || i + std::size_t(n) >= s.size()) {
        ++i;
        return 0xFFFD;
    }
    char32_t cp = b0 & (0x3F >> n);
    for (int k = 1; k <= n; ++k) {
        auto b = static_cast<unsigned char>(s[i + std::size_t(k)]);
        if ((b & 0xC0) != 0x80) {
            ++i;
            return 0xFFFD;
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
        ++i;
        return 0xFFFD;
    }
    i += std::size_t(n) + 1;
    return cp;
}

}  // namespace

void wordpiece_tokenizer::finish_setup() {
    vocab_ids_.clear();
    head_.clear();
    tail_.clear();
    max_piece_bytes_ = 0;
    for (std::size_t id = 0; id < vocab_.size(); ++id) {
        const std::string& t = vocab_[id];
        vocab_ids_.emplace(t, static_cast<std::int32_t>(id));
    }
    for (std::size_t id = 0; id < vocab_.size(); ++id) {
        std::string_view t = vocab_[id];
        auto sid = static_cast<std::int32_t>(id);
        if (!continuing_prefix_.empty() && t.size() > continuing_prefix_.size() &&
            t.substr(0, continuing_prefix_.size()) == continuing_prefix_)
            tail_.emplace(t.substr(continuing_prefix_.size()), sid);
        head_.emplace(t, sid);
        max_piece_bytes_ = std::max(max_piece_bytes_, t.size());
    }
    auto need = [&](const char* tok, std::int32_t& slot, bool required) {
        if (slot >= 0) return;
        slot = id_of(tok);
        if (slot < 0 && required)
            bad("tokenizer", std::string("vocabulary has no ") + tok + " token; BERT-family models need it");
    };
    need(unk_token_.c_str(), unk_, true);
    need("[CLS]", cls_, true);
    need("[SEP]", sep_, true);
    std::int32_t pad = -1;
    need("[PAD]", pad, false);
    if (pad >= 0) pad_ = pad;
    if (specials_.empty())
        for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
            if (id_of(t) >= 0) specials_.emplace_back(t, id_of(t));
    // Leftmost-longest matching wants longer tokens first at equal positions.
    std::stable_sort(specials_.begin(), specials_.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::int32_t wordpiece_tokenizer::id_of(std::string_view token) const {
    auto it = vocab_ids_.find(std::string(token));
    return it == vocab_ids_.end() ? -1 : it->second;
}

wordpiece_tokenizer wordpiece_tokenizer::from_folder(const std::string& folder) {
    if (file_exists(folder + "/tokenizer.json")) return from_tokenizer_json(folder + "/tokenizer.json");
    if (file_exists(folder + "/vocab.txt")) {
        tokenizer_options o;
        if (file_exists(folder + "/tokenizer_config.json")) {
            auto cfg = json::parse(json::read_file(folder + "/tokenizer_config.json"), folder + "/tokenizer_config.json");
            if (const auto* v = cfg.find("do_lower_case"); v && v->is_bool()) o.lowercase = v->as_bool();
            o.strip_accents = o.lowercase;
            if (const auto* v = cfg.find("strip_accents"); v && v->is_bool()) o.strip_accents = v->as_bool();
            if (const auto* v = cfg.find("tokenize_chinese_chars"); v && v->is_bool()) o.handle_chinese_chars = v->as_bool();
        }
        return from_vocab_txt(folder + "/vocab.txt", o);
    }
    throw error(error_kind::invalid_input, "INVALID_MODEL",
                "model folder " + folder +
                    " has neither tokenizer.json nor vocab.txt; copy the tokenizer files "
                    "from the model's Hugging Face repository into it");
}

wordpiece_tokenizer wordpiece_tokenizer::from_vocab_txt(const std::string& path, tokenizer_options opts) {
    wordpiece_tokenizer t;
    t.opts_ = opts;
    std::string text = json::read_file(path);
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t nl = text.find('\n', at);
        if (nl == std::string::npos) nl = text.size();
        std::string line = text.substr(at, nl - at);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        t.vocab_.push_back(std::move(line));
        at = nl + 1;
    }
    if (t.vocab_.empty()) bad(path, "empty vocabulary");
    t.finish_setup();
    return t;
}

wordpiece_tokenizer wordpiece_tokenizer::from_tokenizer_json(const std::string& path) {
    json::value doc = json::parse(json::read_file(path), path);
    if (!doc.is_object()) bad(path, "not a JSON object");
    wordpiece_tokenizer t;
    const json::value* model = doc.find("model");
    if (!model || !model->is_object()) bad(path, "missing \"model\"");
    const json::value* type = model->find("type");
    if (!type || !type->is_string() || type->as_string() != "WordPiece")
        bad(path,
            "model.type is " + (type && type->is_string() ? "\"" + type->as_string() + "\"" : std::string("missing")) +
                "; only WordPiece (BERT-family) tokenizers are supported");
    if (const auto* v = model->find("continuing_subword_prefix"); v && v->is_string()) t.continuing_prefix_ = v->as_string();
    if (const auto* v = model->find("max_input_chars_per_word"); v && v->is_number())
        t.max_input_chars_per_word_ = static_cast<std::size_t>(v->as_number());
    const json::value* vocab = model->find("vocab");
    if (!vocab || !vocab->is_object() || vocab->members().empty()) bad(path, "model.vocab must be a non-empty object");
    t.vocab_.resize(vocab->members().size());
    std::vector<bool> seen(t.vocab_.size());
    for (const auto& [tok, idv] : vocab->members()) {
        if (!idv.is_number()) bad(path, "model.vocab[\"" + tok + "\"] is not a number");
        double d = idv.as_number();
        if (d < 0 || d >= double(t.vocab_.size()) || d != double(std::size_t(d)))
            bad(path,
                "model.vocab[\"" + tok + "\"] = " + idv.number_text() + " is not an id in 0.." +
                    std::to_string(t.vocab_.size() - 1));
        auto id = std::size_t(d);
        if (seen[id]) bad(path, "model.vocab has id " + std::to_string(id) + " twice");
        seen[id] = true;
        t.vocab_[id] = tok;
    }
    if (const auto* unk = model->find("unk_token"); unk && unk->is_string()) t.unk_token_ = unk->as_string();
    const json::value* norm = doc.find("normalizer");
    if (norm && !norm->is_null()) {
        const json::value* nt = norm->find("type");
        if (!nt || !nt->is_string() || nt->as_string() != "BertNormalizer")
            bad(path,
                "normalizer.type is " + (nt && nt->is_string() ? "\"" + nt->as_string() + "\"" : std::string("missing")) +
                    "; only BertNormalizer is supported");
        auto flag = [&](const char* k, bool dflt) {
            const json::value* v = norm->find(k);
            return v && v->is_bool() ? v->as_bool() : dflt;
        };
        t.opts_.clean_text = flag("clean_text", true);
        t.opts_.handle_chinese_chars = flag("handle_chinese_chars", true);
        t.opts_.lowercase = flag("lowercase", true);
        const json::value* sa = norm->find("strip_accents");
        t.opts_.strip_accents = sa && sa->is_bool() ? sa->as_bool() : t.opts_.lowercase;
    } else {
        t.opts_ = tokenizer_options{false, false, false, false};
    }
    const json::value* pre = doc.find("pre_tokenizer");
    if (pre && !pre->is_null()) {
        const json::value* pt = pre->find("type");
        if (!pt || !pt->is_string() || pt->as_string() != "BertPreTokenizer")
            bad(path,
                "pre_tokenizer.type is " + (pt && pt->is_string() ? "\"" + pt->as_string() + "\"" : std::string("missing")) +
                    "; only BertPreTokenizer is supported");
    }
    if (const auto* added = doc.find("added_tokens"); added && added->is_array()) {
        for (const auto& a : added->as_array()) {
            const json::value* content = a.find("content");
            const json::value* id = a.find("id");
            const json::value* normalized = a.find("normalized");
            if (!content || !content->is_string() || !id || !id->is_number()) bad(path, "added_tokens entry without content/id");
            if (normalized && normalized->is_bool() && normalized->as_bool())
                bad(path, "added token \"" + content->as_string() + "\" is matched after normalisation; not supported");
            t.specials_.emplace_back(content->as_string(), static_cast<std::int32_t>(id->as_number()));
        }
    }
    if (const auto* pp = doc.find("post_processor"); pp && pp->is_object()) {
        if (const auto* st = pp->find("special_tokens"); st && st->is_object()) {
            auto get = [&](const char* name, std::int32_t& slot) {
                if (const auto* e = st->find(name); e && e->is_object())
                    if (const auto* ids = e->find("ids"); ids && ids->is_array() && ids->as_array().size() == 1)
                        slot = static_cast<std::int32_t>(ids->as_array()[0].as_number());
            };
            get("[CLS]", t.cls_);
            get("[SEP]", t.sep_);
        }
        if (const auto* c = pp->find("cls"); c && c->is_array() && c->as_array().size() == 2)
            t.cls_ = static_cast<std::int32_t>(c->as_array()[1].as_number());
        if (const auto* c = pp->find("sep"); c && c->is_array() && c->as_array().size() == 2)
            t.sep_ = static_cast<std::int32_t>(c->as_array()[1].as_number());
    }
    t.finish_setup();
    return t;
}

void wordpiece_tokenizer::word_to_ids(std::string_view word, std::size_t chars, std::vector<std::int32_t>& out) const {
    if (word.empty()) return;
    if (chars > max_input_chars_per_word_) {
        out.push_back(unk_);
        return;
    }
    std::size_t mark = out.size();
    std::size_t start = 0;
    while (start < word.size()) {
        std::size_t end = std::min(word.size(), start + max_piece_bytes_);
        // Do not cut a code point: move end back to a boundary.
        while (end > start && end < word.size() && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
        const auto& map = start == 0 ? head_ : tail_;
        std::int32_t found = -1;
        while (end > start) {
            auto it = map.find(word.substr(start, end - start));
            if (it != map.end()) {
                found = it->second;
                break;
            }
            --end;
            while (end > start && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
        }
        if (found < 0) {
            out.resize(mark);
            out.push_back(unk_);
            return;
        }
        out.push_back(found);
        start = end;
    }
}

void wordpiece_tokenizer::normalize_and_split(std::string_view text, std::vector<std::int32_t>& out) const {
    std::string word;
    std::size_t word_chars = 0;
    auto flush = [&] {
        word_to_ids(word, word_chars, out);
        word.clear();
        word_chars = 0;
    };
    auto emit = [&](char32_t c) {  // one normalised code point into the pre-tokeniser
        unsigned char f = flags_of(c);
        if (f & k_ws_split) {
            flush();
            return;
        }
        if (f & k_punct) {
            flush();
            json::append_utf8(word, c);
            word_chars = 1;
            flush();
            return;
        }
        json::append_utf8(word, c);
        ++word_chars;
    };
    std::size_t i = 0;
    while (i < text.size()) {
        char32_t c = next_cp(text, i);
        if (opts_.clean_text) {
            unsigned char f = flags_of(c);
            if (c == 0 || c == 0xFFFD || (f & k_removed)) continue;
            if (f & k_to_space) c = U' ';
        }
        if (opts_.handle_chinese_chars && is_cjk(c)) {
            flush();  // the spaces around it split words
            emit(c);
            flush();
            continue;
        }
        const char32_t* mapped = nullptr;
        std::size_t len = 0;
        bool hit = false;
        if (opts_.strip_accents && opts_.lowercase)
            hit = lookup_map(k_bert_map_lower_strip, k_bert_pool_lower_strip, c, mapped, len);
        else if (opts_.lowercase)
            hit = lookup_map(k_bert_map_lower, k_bert_pool_lower, c, mapped, len);
        else if (opts_.strip_accents)
            hit = lookup_map(k_bert_map_strip, k_bert_pool_strip, c, mapped, len);
        if (!hit)
            emit(c);
        else
            for (std::size_t k = 0; k < len; ++k) emit(mapped[k]);
    }
    flush();
}

void wordpiece_tokenizer::tokenize(std::string_view text, std::vector<std::int32_t>& out) const {
    // Split special tokens off the raw text (leftmost, then longest).
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t best = std::string_view::npos;
        const std::pair<std::string, std::int32_t>* which = nullptr;
        for (const auto& sp : specials_) {
            std::size_t p = text.find(sp.first, at);
            if (p != std::string_view::npos && (p < best || (p == best && which && sp.first.size() > which->first.size()))) {
                best = p;
                which = &sp;
            }
        }
        if (!which) break;
        normalize_and_split(text.substr(at, best - at), out);
        out.push_back(which->second);
        at = best + which->first.size();
    }
    if (at < text.size()) normalize_and_split(text.substr(at), out);
}

encoding wordpiece_tokenizer::encode(std::string_view text, std::size_t max_length) const {
    encoding e;
    e.ids.push_back(cls_);
    tokenize(text, e.ids);
    if (max_length >= 2 && e.ids.size() + 1 > max_length) {
        e.dropped = e.ids.size() + 1 - max_length;
        e.truncated = true;
        e.ids.resize(max_length - 1);
    }
    e.ids.push_back(sep_);
    return e;
}

}  // namespace mvx::embedding
