// The parsing of what a client controls in a request (query, headers, ids):
// pure functions, no I/O, so the fuzzer drives them directly.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mvx::cp {

// A job id: a canonical lower-case UUID.
bool is_job_id(std::string_view s);

// A path segment naming a worker or a queue job: 1-128 of [A-Za-z0-9._-], not "." or "..".
bool valid_token(std::string_view s);

// One query parameter, percent-decoded ('+' is a space); nullopt when absent.
// Malformed escapes make the whole query invalid (returns nullopt, sets bad).
std::optional<std::string> query_param(std::string_view query, std::string_view name, bool& bad);

// A decimal u64 with no sign, spaces or overflow.
std::optional<std::uint64_t> parse_u64(std::string_view s);

// Authorization: "Bearer <token>" (scheme case-sensitive as the original);
// returns the trimmed token or nullopt with the 401 message in why.
std::optional<std::string> bearer_token(std::string_view header, std::string& why);

// Worker key: the raw key as Runpod sends it, or "Bearer <key>".
std::string worker_token(std::string_view header);

struct byte_range {
    std::uint64_t first = 0, last = 0;  // inclusive
};
enum class range_result { whole, partial, unsatisfiable };
// A single "bytes=" range against a file of `size` bytes; several ranges or a
// syntax error mean the whole file (RFC 9110 lets a server ignore Range).
range_result parse_range(std::string_view header, std::uint64_t size, byte_range& out);

// If-None-Match / If-Range against our strong ETag.
bool etag_matches(std::string_view header, std::string_view etag);

// An Idempotency-Key: 1..255 visible ASCII characters.
bool valid_idempotency_key(std::string_view key);

// attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>
std::string content_disposition(std::string_view file_name);

// Constant-time equality of two secrets (compares digests).
bool secret_equals(std::string_view a, std::string_view b);
// The same against a key whose BLAKE3 digest was taken once (the server's keys).
bool secret_matches(std::string_view token, const std::array<std::uint8_t, 32>& key_digest);

}  // namespace mvx::cp
