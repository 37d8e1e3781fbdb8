#include "common/core/utf8.hpp"

namespace mvx::utf8 {

std::size_t valid_sequence_length(std::string_view s, std::size_t i) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    const unsigned c = p[i];
    if (c < 0x80) return 1;
    auto cont = [&](std::size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (i + 1 >= n) return 0;
        const unsigned c1 = p[i + 1];
        if (c == 0xE0 && c1 < 0xA0) return 0;  // overlong
        if (c == 0xED && c1 > 0x9F) return 0;  // surrogates
        return cont(1) && cont(2) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (i + 1 >= n) return 0;
        const unsigned c1 = p[i + 1];
        if (c == 0xF0 && c1 < 0x90) return 0;  // overlong
        if (c == 0xF4 && c1 > 0x8F) return 0;  // > U+10FFFF
        return cont(1) && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
}

bool is_valid(std::string_view s) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        // ASCII fast path, 8 bytes at a time.
        while (i + 8 <= s.size()) {
            std::uint64_t w;
            __builtin_memcpy(&w, s.data() + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= s.size()) break;
        const std::size_t len = valid_sequence_length(s, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

std::string repair(std::string_view s, bool replace_nul, std::size_t* replaced) {
    std::string out;
    out.reserve(s.size());
    std::size_t count = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t len = valid_sequence_length(s, i);
        if (len == 0) {
            // Skip the maximal prefix of a would-be sequence (at least one byte).
            std::size_t j = i + 1;
            while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80 && j - i < 4 &&
                   static_cast<unsigned char>(s[i]) >= 0xC2)
                ++j;
            out += "\xEF\xBF\xBD";
            ++count;
            i = j;
            continue;
        }
        if (replace_nul && len == 1 && s[i] == '\0') {
            out += "\xEF\xBF\xBD";
            ++count;
        } else {
            out.append(s.data() + i, len);
        }
        i += len;
    }
    if (replaced) *replaced += count;
    return out;
}

std::size_t char_count(std::string_view s) noexcept {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

std::size_t byte_offset_of_char(std::string_view s, std::size_t n) noexcept {
    std::size_t seen = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (seen == n) return i;
            ++seen;
        }
    }
    return s.size();
}

char32_t decode(std::string_view s, std::size_t& i) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const unsigned c = p[i];
    if (c < 0x80) {
        ++i;
        return c;
    }
    if (c < 0xE0) {
        char32_t r = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F);
        i += 2;
        return r;
    }
    if (c < 0xF0) {
        char32_t r = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
        i += 3;
        return r;
    }
    char32_t r = ((c & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12) | ((p[i + 2] & 0x3F) << 6) | (p[i + 3] & 0x3F);
    i += 4;
    return r;
}

void encode(char32_t cp, std::string& out) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

}  // namespace mvx::utf8
