// UTF-8 helpers: validation, lossy repair (U+FFFD per maximal invalid
// subsequence, as the WHATWG/Unicode "best practice" does) and counting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mvx::utf8 {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid there.
std::size_t valid_sequence_length(std::string_view s, std::size_t i) noexcept;

bool is_valid(std::string_view s) noexcept;

// Copies s, replacing each invalid subsequence with U+FFFD and, when
// replace_nul is set, each U+0000 with U+FFFD. Adds the count to *replaced.
std::string repair(std::string_view s, bool replace_nul, std::size_t* replaced);

// Number of Unicode scalar values (Rust's str::chars().count()).
std::size_t char_count(std::string_view s) noexcept;

// Byte offset just past the first n scalar values (or s.size()).
std::size_t byte_offset_of_char(std::string_view s, std::size_t n) noexcept;

// Decodes the scalar value at s[i] (s must be valid there); advances i.
char32_t decode(std::string_view s, std::size_t& i) noexcept;
void encode(char32_t cp, std::string& out);

}  // namespace mvx::utf8
