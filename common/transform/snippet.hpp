// Source snippets for node frames.
//
// GitNexus line numbers are 0-based: a node with startLine S and endLine E
// covers lines S..E of its file, counting from 0. The original system read
// them as 1-based (one line too early) and also ignored that the browser
// client sends *compact* file contents. This module fixes both.
//
// The compaction rule of the GitNexus browser client (useAppState.tsx,
// buildCompactExportFileContents), which we invert:
//   * per file, the ranges of all nodes with that filePath, in node order;
//   * for each of the first 10 ranges: from line s = max(1, start - 20) to
//     e = max(s, (end ?? start ?? min(len,120)) + 20), clipped to the file,
//     where the client reads the 0-based numbers as 1-based lines;
//   * each range's lines are joined with "\n" and trim()med; empty ones dropped;
//   * the pieces are joined with "\n\n...\n\n" and the whole is cut at
//     max(2000, 3 * maxSnippetChars) UTF-16 units + "\n...[truncated]".
//
// Reconstruction (compact_file): piece i belongs to range i and starts at
// 1-based line s_i + d_i, where d_i is the number of blank lines trim()
// removed at its start. d_i is 0 when the piece has exactly e_i - s_i + 1
// lines; otherwise it is the smallest d whose placement puts the node's name
// on the node's own first line, else the placement that agrees with lines
// already known from other pieces, else 0. The last line of a piece cut by
// the size limit is dropped (it may be partial). A piece whose first line lost
// its indentation to trim() is replaced by an untrimmed copy from an
// overlapping piece when one exists.
//
// A payload is compact when any of its fileContents values shows the
// client's separator or truncation marker; the client compacts every file or
// none. Otherwise contents are whole files.
#pragma once

#include "common/contract/export_request.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mvx::transform {

enum class snippet_source : std::uint8_t {
    exact,  // every requested line was present
    partial,  // the first lines were present, the rest was cut by the client
    absent,  // no content for this node's lines
};

struct snippet_result {
    std::string text;
    snippet_source source = snippet_source::absent;
};

// A file as known from the payload: 1-based line number -> text.
class source_file {
public:
    static source_file whole(std::string_view content);
    struct range {
        std::optional<std::uint64_t> start, end;
        std::string_view name;
    };
    static source_file compact(std::string_view content, const std::vector<range>& ranges);

    bool is_whole() const { return whole_; }
    std::size_t line_count() const { return whole_ ? lines_.size() : 0; }
    const std::string_view* line(std::uint64_t one_based) const;
    std::size_t known_lines() const { return whole_ ? lines_.size() : sparse_.size(); }

private:
    bool whole_ = true;
    std::vector<std::string_view> lines_;  // whole file
    std::map<std::uint64_t, std::string_view> sparse_;  // compact: line -> text
};

class snippet_builder {
public:
    explicit snippet_builder(const contract::export_request& req);

    // Snippet for one node, cut at max(maxSnippetChars, 80) characters.
    snippet_result build(const contract::graph_node& node);
    bool compact_mode() const { return compact_; }

private:
    const source_file* file_for(std::string_view path);

    const contract::export_request& req_;
    bool compact_ = false;
    std::unordered_map<std::string_view, std::vector<source_file::range>> ranges_;
    std::unordered_map<std::string_view, std::unique_ptr<source_file>> files_;
};

// Rust's truncate_chars: at most n chars, then "\n...[truncated]".
std::string truncate_chars(std::string_view s, std::size_t n);

}  // namespace mvx::transform
