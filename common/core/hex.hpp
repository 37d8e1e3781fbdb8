// Hex and percent encoding: the one implementation the project uses (digests
// and ids in lower-case hex; URL path segments and RFC 5987 file names in
// upper-case percent escapes).
#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mvx {

inline constexpr char k_hex_lower[] = "0123456789abcdef";
inline constexpr char k_hex_upper[] = "0123456789ABCDEF";

// Lower-case hex of n bytes, appended.
inline void append_hex(std::string& out, const std::uint8_t* bytes, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        out += k_hex_lower[bytes[i] >> 4];
        out += k_hex_lower[bytes[i] & 15];
    }
}

template <typename Bytes>
std::string to_hex(const Bytes& b) {
    std::string s;
    s.reserve(b.size() * 2);
    append_hex(s, reinterpret_cast<const std::uint8_t*>(b.data()), b.size());
    return s;
}

// RFC 3986 unreserved characters stay; every other byte becomes %XX.
inline std::string percent_encode(std::string_view s) {
    std::string o;
    o.reserve(s.size());
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            o += char(c);
        } else {
            o += '%';
            o += k_hex_upper[c >> 4];
            o += k_hex_upper[c & 15];
        }
    }
    return o;
}

// 0-15 for a hex digit, -1 otherwise.
inline int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace mvx
