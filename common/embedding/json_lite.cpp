#include "common/embedding/json_lite.hpp"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "common/core/error.hpp"

namespace mvx::embedding::json {

const value* value::find(std::string_view key) const {
    for (const auto& [k, v] : obj_)
        if (k == key) return &v;
    return nullptr;
}

const char* value::type_name(type t) {
    switch (t) {
        case type::null: return "null";
        case type::boolean: return "boolean";
        case type::number: return "number";
        case type::string: return "string";
        case type::array: return "array";
        case type::object: return "object";
    }
    return "?";
}

class parser {
public:
    parser(std::string_view text, const std::string& what, bool reject_duplicates)
        : t_(text), what_(what), reject_dup_(reject_duplicates) {}

    value run() {
        value v = parse_value(0);
        skip_ws();
        if (i_ != t_.size()) fail("unexpected data after the JSON document");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& msg) const {
        throw error(error_kind::invalid_input, "INVALID_MODEL",
                    what_ + ": invalid JSON at byte " + std::to_string(i_) + ": " + msg);
    }
    void skip_ws() {
        while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
    }
    char peek() {
        skip_ws();
        if (i_ >= t_.size()) fail("unexpected end of input");
        return t_[i_];
    }
    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++i_;
    }

    value parse_value(int depth) {
        if (depth > 256) fail("nesting deeper than 256");
        value v;
        char c = peek();
        if (c == '{') {
            v.kind_ = value::type::object;
            ++i_;
            std::set<std::string> seen;
            if (peek() == '}') {
                ++i_;
                return v;
            }
            for (;;) {
                if (peek() != '"') fail("expected a string key");
                std::string key = parse_string();
                if (reject_dup_ && !seen.insert(key).second) fail("duplicate key \"" + key + "\"");
                expect(':');
                v.obj_.emplace_back(std::move(key), parse_value(depth + 1));
                char d = peek();
                ++i_;
                if (d == '}') break;
                if (d != ',') {
                    --i_;
                    fail("expected ',' or '}'");
                }
            }
        } else if (c == '[') {
            v.kind_ = value::type::array;
            ++i_;
            if (peek() == ']') {
                ++i_;
                return v;
            }
            for (;;) {
                v.arr_.push_back(parse_value(depth + 1));
                char d = peek();
                ++i_;
                if (d == ']') break;
                if (d != ',') {
                    --i_;
                    fail("expected ',' or ']'");
                }
            }
        } else if (c == '"') {
            v.kind_ = value::type::string;
            v.s_ = parse_string();
        } else if (c == 't' && t_.substr(i_, 4) == "true") {
            v.kind_ = value::type::boolean;
            v.b_ = true;
            i_ += 4;
        } else if (c == 'f' && t_.substr(i_, 5) == "false") {
            v.kind_ = value::type::boolean;
            i_ += 5;
        } else if (c == 'n' && t_.substr(i_, 4) == "null") {
            i_ += 4;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            std::size_t start = i_;
            if (t_[i_] == '-') ++i_;
            auto digits = [&] {
                std::size_t s = i_;
                while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
                if (i_ == s) fail("malformed number");
            };
            digits();
            if (i_ < t_.size() && t_[i_] == '.') {
                ++i_;
                digits();
            }
            if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
                ++i_;
                if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
                digits();
            }
            v.kind_ = value::type::number;
            v.s_ = std::string(t_.substr(start, i_ - start));
            errno = 0;
            v.n_ = std::strtod(v.s_.c_str(), nullptr);
        } else {
            fail(std::string("unexpected character '") + c + "'");
        }
        return v;
    }

    unsigned hex4() {
        if (i_ + 4 > t_.size()) fail("truncated \\u escape");
        unsigned u = 0;
        for (int k = 0; k < 4; ++k) {
            char h = t_[i_++];
            u <<= 4;
            if (h >= '0' && h <= '9')
                u |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f')
                u |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
                u |= unsigned(h - 'A' + 10);
            else
                fail("bad hex digit in \\u escape");
        }
        return u;
    }
    std::string parse_string() {
        ++i_;  // opening quote
        std::string out;
        for (;;) {
            if (i_ >= t_.size()) fail("unterminated string");
            char c = t_[i_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= t_.size()) fail("unterminated escape");
            char e = t_[i_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && i_ + 1 < t_.size() && t_[i_] == '\\' && t_[i_ + 1] == 'u') {
                        std::size_t save = i_;
                        i_ += 2;
                        unsigned lo = hex4();
                        if (lo >= 0xDC00 && lo < 0xE000)
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        else {
                            i_ = save;
                            cp = 0xFFFD;
                        }
                    } else if (cp >= 0xD800 && cp < 0xE000) {
                        cp = 0xFFFD;
                    }
                    append_utf8(out, cp);
                    break;
                }
                default: fail(std::string("bad escape \\") + e);
            }
        }
    }

    std::string_view t_;
    const std::string& what_;
    bool reject_dup_;
    std::size_t i_ = 0;
};

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80)
        out += char(cp);
    else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error(error_kind::io, "INVALID_MODEL", "cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

value parse(std::string_view text, const std::string& what, bool reject_duplicates) {
    return parser(text, what, reject_duplicates).run();
}

}  // namespace mvx::embedding::json
