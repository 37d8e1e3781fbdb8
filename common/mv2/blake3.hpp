// BLAKE3-256 (unkeyed), the only hash in the .mv2 format.
#pragma once

#include <blake3.h>

#include <array>
#include <cstdint>
#include <string_view>

namespace mvx::mv2 {

using digest = std::array<std::uint8_t, 32>;

class hasher {
public:
    hasher() { blake3_hasher_init(&h_); }
    void update(const void* data, std::size_t n) { blake3_hasher_update(&h_, data, n); }
    void update(std::string_view s) { update(s.data(), s.size()); }
    digest finish() const {
        digest d;
        blake3_hasher_finalize(&h_, d.data(), d.size());
        return d;
    }

private:
    blake3_hasher h_;
};

inline digest blake3(const void* data, std::size_t n) {
    hasher h;
    h.update(data, n);
    return h.finish();
}
inline digest blake3(std::string_view s) { return blake3(s.data(), s.size()); }

}  // namespace mvx::mv2
