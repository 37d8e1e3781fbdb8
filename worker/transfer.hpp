// The worker's transfers over http(s): an http payload_ref downloaded to a
// file, and the capsule and sidecar PUT to a presigned output prefix.
// Presigned queries are secrets: errors show URLs without them.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace mvx::worker {

bool is_http(const std::string& s);
std::string redact_url(const std::string& url);  // without the query
// <base>/<name>, the name percent-encoded and placed before base's query.
std::string object_url(const std::string& base, const std::string& name);

// GET url into `to` (bounded size and time); throws mvx::error.
void download(const std::string& url, const std::filesystem::path& to, std::uint64_t max_bytes,
              std::chrono::milliseconds timeout);

// PUT file to object_url(base, name), retrying 5xx/429/network failures.
void upload(const std::string& base, const std::string& name, const std::filesystem::path& file);

}  // namespace mvx::worker
