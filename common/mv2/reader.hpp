// Validating .mv2 reader: checks every length, offset and checksum of a
// capsule written in this project's layout (format.hpp) and decodes its TOC.
// Used by the tests, by `memvid-export-worker inspect`, and by the control
// plane before it serves a file. Any defect throws mvx::error with code
// CORRUPT_CAPSULE naming what is wrong and where (file offset).
//
// Scope: the subset of the layout memvid-export writes (no segments, no
// Tantivy files, no sketch/memories/logic-mesh tracks); a file using other
// features is reported as unsupported, not as valid.
#pragma once

#include "common/mv2/blake3.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mvx::mv2 {

struct frame_record {
    std::uint64_t id = 0;
    std::int64_t timestamp = 0;
    std::optional<std::int64_t> anchor_ts;
    std::optional<std::uint32_t> anchor_source;
    std::optional<std::string> kind, track;
    std::uint64_t payload_offset = 0, payload_length = 0;
    digest checksum{};
    std::optional<std::string> uri, title;
    std::uint32_t encoding = 0;
    std::optional<std::uint64_t> canonical_length;
    std::optional<std::string> mime;
    std::optional<std::string> search_text;
    std::vector<std::string> tags, labels;
    std::vector<std::pair<std::string, std::string>> extra_metadata;
    std::uint32_t role = 0, status = 0, enrichment_state = 0;
};

struct capsule_info {
    std::uint64_t file_size = 0;
    std::uint64_t wal_size = 0, toc_offset = 0, toc_length = 0, generation = 0;
    digest toc_checksum{};
    std::vector<frame_record> frames;
    std::uint64_t time_entries = 0;
    std::uint64_t vector_count = 0, dimension = 0;
    std::optional<std::string> vector_model;
    std::uint64_t lex_documents = 0;
    bool lex_enabled = false;
    std::uint64_t capacity_bytes = 0;
};

class capsule_reader {
public:
    // Opens and validates the whole file (payload checksums included).
    explicit capsule_reader(const std::filesystem::path& path);
    // Validates bytes already in memory (they must outlive the reader).
    capsule_reader(const unsigned char* data, std::size_t size, std::filesystem::path name);
    ~capsule_reader();
    capsule_reader(const capsule_reader&) = delete;
    capsule_reader& operator=(const capsule_reader&) = delete;

    const capsule_info& info() const { return info_; }
    // The decoded payload text of frame i.
    std::string text(std::size_t i) const;
    // The vector of frame i, or empty if it has none.
    std::vector<float> vector(std::size_t i) const;

private:
    void validate();
    std::filesystem::path path_;
    const unsigned char* data_ = nullptr;
    std::size_t size_ = 0;
    bool mapped_ = false;
    capsule_info info_;
    std::vector<std::uint64_t> vec_offset_;  // per frame: file offset of its floats, or 0
};

}  // namespace mvx::mv2
