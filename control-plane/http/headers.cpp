#include "control-plane/http/headers.hpp"

#include "common/core/hex.hpp"
#include "common/mv2/blake3.hpp"

#include <openssl/crypto.h>

#include <vector>

namespace mvx::cp {
namespace {

bool id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

bool valid_token(std::string_view s) {
    if (s.empty() || s.size() > 128 || s == "." || s == "..") return false;
    for (char c : s)
        if (!id_char(c)) return false;
    return true;
}

bool is_job_id(std::string_view s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < 36; ++i) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name, bool& bad) {
    std::optional<std::string> found;
    std::size_t i = 0;
    while (i <= query.size()) {
        auto j = query.find('&', i);
        if (j == std::string_view::npos) j = query.size();
        std::string_view part = query.substr(i, j - i);
        i = j + 1;
        if (part.empty()) continue;
        auto eq = part.find('=');
        std::string_view k = part.substr(0, eq), v = eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
        auto decode = [&](std::string_view s, std::string& out) {
            out.clear();
            for (std::size_t x = 0; x < s.size(); ++x) {
                if (s[x] == '%') {
                    if (x + 2 >= s.size()) return false;
                    int hi = hex_value(s[x + 1]), lo = hex_value(s[x + 2]);
                    if (hi < 0 || lo < 0) return false;
                    out += char(hi * 16 + lo);
                    x += 2;
                } else {
                    out += s[x] == '+' ? ' ' : s[x];
                }
            }
            return true;
        };
        std::string dk, dv;
        if (!decode(k, dk) || !decode(v, dv)) {
            bad = true;
            return std::nullopt;
        }
        if (dk == name && !found) found = dv;
    }
    return found;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        std::uint64_t d = std::uint64_t(c - '0');
        if (v > (UINT64_MAX - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    return v;
}

std::optional<std::string> bearer_token(std::string_view header, std::string& why) {
    if (header.empty()) {
        why = "Missing Authorization header: send \"Authorization: Bearer <MEMVID_EXPORT_API_KEY>\"";
        return std::nullopt;
    }
    for (char c : header)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
            why = "Invalid Authorization header";
            return std::nullopt;
        }
    if (header.substr(0, 7) != "Bearer ") {
        why = "Authorization must use the Bearer scheme: \"Authorization: Bearer <key>\"";
        return std::nullopt;
    }
    std::string_view t = trim(header.substr(7));
    if (t.empty()) {
        why = "Invalid API key";
        return std::nullopt;
    }
    return std::string(t);
}

std::string worker_token(std::string_view header) {
    std::string_view t = trim(header);
    if (t.substr(0, 7) == "Bearer ") t = trim(t.substr(7));
    return std::string(t);
}

range_result parse_range(std::string_view h, std::uint64_t size, byte_range& out) {
    h = trim(h);
    if (h.substr(0, 6) != "bytes=") return range_result::whole;
    h = trim(h.substr(6));
    if (h.find(',') != std::string_view::npos) return range_result::whole;
    auto dash = h.find('-');
    if (dash == std::string_view::npos) return range_result::whole;
    std::string_view a = trim(h.substr(0, dash)), b = trim(h.substr(dash + 1));
    if (a.empty()) {  // suffix: last N bytes
        auto n = parse_u64(b);
        if (!n) return range_result::whole;
        if (*n == 0 || size == 0) return range_result::unsatisfiable;
        out.first = *n >= size ? 0 : size - *n;
        out.last = size - 1;
        return range_result::partial;
    }
    auto first = parse_u64(a);
    if (!first) return range_result::whole;
    std::optional<std::uint64_t> last;
    if (!b.empty()) {
        last = parse_u64(b);
        if (!last || *last < *first) return range_result::whole;
    }
    if (*first >= size) return range_result::unsatisfiable;
    out.first = *first;
    out.last = last ? std::min(*last, size - 1) : size - 1;
    return range_result::partial;
}

bool etag_matches(std::string_view header, std::string_view etag) {
    header = trim(header);
    if (header == "*") return true;
    std::size_t i = 0;
    while (i < header.size()) {
        auto j = header.find(',', i);
        if (j == std::string_view::npos) j = header.size();
        std::string_view t = trim(header.substr(i, j - i));
        if (t.substr(0, 2) == "W/") t.remove_prefix(2);  // weak comparison for If-None-Match
        if (t == etag) return true;
        i = j + 1;
    }
    return false;
}

bool valid_idempotency_key(std::string_view key) {
    if (key.empty() || key.size() > 255) return false;
    for (char c : key)
        if (c < 0x21 || c > 0x7e) return false;
    return true;
}

std::string content_disposition(std::string_view name) {
    std::string ascii;
    for (unsigned char c : name) ascii += (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? char(c) : '_';
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + percent_encode(name);
}

bool secret_matches(std::string_view token, const std::array<std::uint8_t, 32>& key_digest) {
    const auto d = mv2::blake3(token);
    return CRYPTO_memcmp(d.data(), key_digest.data(), d.size()) == 0;
}

bool secret_equals(std::string_view a, std::string_view b) { return secret_matches(a, mv2::blake3(b)); }

}  // namespace mvx::cp
