// bincode 2 (serde, standard config, fixed-width little-endian integers) —
// the encoding of the .mv2 TOC and index blobs. See format.hpp for the rules.
#pragma once

#include "common/mv2/blake3.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mvx::mv2::bincode {

class encoder {
public:
    explicit encoder(std::string& out) : out_(out) {}

    void raw(const void* p, std::size_t n) { out_.append(static_cast<const char*>(p), n); }
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void u16(std::uint16_t v) { put(v); }
    void u32(std::uint32_t v) { put(v); }
    void u64(std::uint64_t v) { put(v); }
    void i64(std::int64_t v) { put(v); }
    void f32(float v) { put(v); }
    void boolean(bool v) { u8(v ? 1 : 0); }
    void variant(std::uint32_t index) { u32(index); }  // unit enum
    void none() { u8(0); }
    void some() { u8(1); }
    void str(std::string_view s) {
        u64(s.size());
        raw(s.data(), s.size());
    }
    void bytes32(const digest& d) { raw(d.data(), d.size()); }
    void opt_str(const std::optional<std::string_view>& s) {
        if (s) {
            some();
            str(*s);
        } else
            none();
    }
    void opt_u64(const std::optional<std::uint64_t>& v) {
        if (v) {
            some();
            u64(*v);
        } else
            none();
    }
    void strings(const std::vector<std::string>& v) {
        u64(v.size());
        for (const auto& s : v) str(s);
    }
    // BTreeMap<String,String>: entries must already be sorted and unique.
    void string_map(const std::vector<std::pair<std::string, std::string>>& sorted) {
        u64(sorted.size());
        for (const auto& [k, v] : sorted) {
            str(k);
            str(v);
        }
    }

private:
    template <class T>
    void put(T v) {
        static_assert(std::endian::native == std::endian::little, "big-endian hosts need byte swaps here");
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        out_.append(b, sizeof(T));
    }
    std::string& out_;
};

}  // namespace mvx::mv2::bincode
