// Streaming .mv2 writer.
//
// Frames are added one at a time: each payload goes straight to a temporary
// file in the target folder, and each frame's TOC record, vector and lexical
// entry is encoded at once into unnamed spill files, so memory stays
// O(frames x fixed metadata), not O(text). commit() appends the index blobs,
// the TOC and the footer, writes the header, fsyncs and renames the file into
// place; a writer destroyed without commit() (an error, a cancel) removes its
// temporary file, so a failed run leaves no capsule.
//
// Same frames and options -> same bytes: nothing reads the clock here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mvx::mv2 {

struct writer_options {
    bool zstd_payloads = false;  // canonical_encoding 1 (a zstd frame per payload)
    int zstd_level = 3;
    bool native_lex = true;  // native lexical fallback index over the payload text
    // LexDocument.tokens: every token (memvid's own builder) or each distinct
    // token once (memvid's reader matches on sections only; a third the size).
    bool lex_unique_tokens = false;
    bool search_text = true;  // the reader's augmented search_text per frame
    std::uint64_t wal_size = 65536;
    std::optional<std::string> vector_model;  // VecIndexManifest.model (None by default)
    bool durable = true;  // fsync before the rename (off only for fuzzing)
};

struct frame_input {
    std::string_view title, uri, track, text;
    // Body of search_text when it should differ from text (default: text).
    std::optional<std::string_view> search_body;
    bool search_uri = true;  // put the "uri: ..." line into search_text
    std::optional<std::string_view> kind;
    std::vector<std::string> tags, labels;
    // extra_metadata; any order, keys must be unique.
    std::vector<std::pair<std::string, std::string>> extra_metadata;
    std::int64_t timestamp = 0;
    std::span<const float> embedding;  // empty: the frame has no vector
};

struct writer_summary {
    std::filesystem::path path;
    std::uint64_t frames = 0, vectors = 0, dimension = 0, bytes = 0;
    std::uint64_t payload_bytes = 0, toc_bytes = 0;
    bool native_lex_stub = false;  // over memvid's 512 MiB blob limit: an empty index instead
};

class writer {
public:
    writer(std::filesystem::path final_path, writer_options opts = {});
    ~writer();
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    void add(const frame_input& frame);
    // finish() writes indexes, TOC, footer and header and syncs the temporary
    // file; publish() renames it into place. commit() does both.
    writer_summary finish();
    void publish();
    writer_summary commit() {
        auto s = finish();
        publish();
        return s;
    }
    std::uint64_t frames() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// The reader's augmented search_text (docs/mv2-format.md §3.2); exposed for tests.
std::string cli_search_text(std::string_view text, std::string_view title, std::string_view uri, std::string_view track,
                            const std::vector<std::string>& tags, const std::vector<std::string>& labels,
                            const std::vector<std::pair<std::string, std::string>>& sorted_extra);

// Native lexical index helpers (docs/mv2-format.md §4.3); exposed for tests.
std::vector<std::string> lex_tokens(std::string_view text, bool unique = false);
std::vector<std::pair<std::uint64_t, std::string_view>> lex_sections(std::string_view content);

}  // namespace mvx::mv2
