#include "common/contract/surrogates.hpp"

#include "common/core/hex.hpp"

#include <cstring>

namespace mvx::contract {

std::size_t surrogate_fixer::run(std::string& buf, bool last) {
    std::size_t i = 0;
    const std::size_t n = buf.size();
    const char* p = buf.data();
    // memchr finds the next quote or backslash (the only bytes that matter);
    // the next backslash is remembered while it lies ahead.
    std::size_t next_bs = 0;
    bool bs_known = false;
    while (i < n) {
        if (!in_string_) {
            const void* q = std::memchr(p + i, '"', n - i);
            if (!q) return n;
            i = std::size_t(static_cast<const char*>(q) - p) + 1;
            in_string_ = true;
            continue;
        }
        if (!bs_known || next_bs < i) {
            const void* b = std::memchr(p + i, '\\', n - i);
            next_bs = b ? std::size_t(static_cast<const char*>(b) - p) : n;
            bs_known = true;
        }
        const void* q = std::memchr(p + i, '"', next_bs - i);
        if (q) {
            i = std::size_t(static_cast<const char*>(q) - p) + 1;
            in_string_ = false;
            continue;
        }
        i = next_bs;
        if (i >= n) return n;
        if (i + 1 >= n) {
            if (last) return n;
            return i;
        }
        if (buf[i + 1] != 'u') {
            i += 2;
            continue;
        }
        if (i + 6 > n) {
            if (last) return n;
            return i;
        }
        const int cu = hex4(buf, i + 2);
        if (cu >= 0xD800 && cu <= 0xDBFF) {
            if (i + 12 > n && !last) return i;
            const bool paired = i + 12 <= n && buf[i + 6] == '\\' && buf[i + 7] == 'u' && hex4(buf, i + 8) >= 0xDC00 &&
                hex4(buf, i + 8) <= 0xDFFF;
            if (paired) {
                i += 12;
                continue;
            }
            replace(buf, i);
            i += 6;
            continue;
        }
        if (cu >= 0xDC00 && cu <= 0xDFFF) replace(buf, i);
        i += 6;
    }
    return n;
}

int surrogate_fixer::hex4(const std::string& b, std::size_t at) {
    int v = 0;
    for (std::size_t k = at; k < at + 4; ++k) {
        const int d = hex_value(b[k]);
        if (d < 0) return -1;  // not hex: the parser reports it
        v = (v << 4) | d;
    }
    return v;
}

}  // namespace mvx::contract
