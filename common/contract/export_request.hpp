// The POST /v1/exports body (docs/export-api.md §3.2), parsed and validated.
//
// Strings are views into the parsed JSON document, which the request owns;
// moving a request keeps them valid. Unknown fields are ignored. Every error
// names the JSON path of the offending value, e.g.
// "nodes[12].properties.filePath: expected string, got number".
//
// Text policy: every string except fileContents values must be valid UTF-8
// without U+0000 (they become titles, URIs, SQLite keys): otherwise the
// payload is rejected with the path. fileContents values are source text that
// GitNexus may have read from binary files: invalid UTF-8 sequences and U+0000
// are replaced with U+FFFD and counted (repairedFileContentChars), so no
// invalid UTF-8 or NUL ever reaches a frame. Unpaired UTF-16 surrogate
// escapes (the browser cuts text at UTF-16 lengths) read as U+FFFD anywhere.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mvx::contract {

struct limits {
    std::uint64_t max_payload_bytes = 500ull << 20;  // decompressed JSON
    std::size_t max_nodes = 2'000'000;
    std::size_t max_relationships = 10'000'000;
    std::size_t max_frames = 1'000'000;  // memvid's writable-open limit
    std::size_t max_string_bytes = 1u << 20;  // any string but file contents
    std::size_t max_file_content_bytes = 256u << 20;
    std::uint64_t max_snippet_chars = 1'000'000;
    std::size_t max_depth = 64;
    // false: fileContents bodies are checked (type, size) but not kept — the
    // request's file_contents then hold empty bodies (the control plane's
    // admission check; pack keeps them).
    bool keep_file_contents = true;
};

struct source_descriptor {
    std::string_view type, base_name, display_name;
    std::optional<std::string_view> url, branch, original_file_name, folder_name;
};

struct export_options {
    bool semantic_enabled = false;
    std::uint64_t max_snippet_chars = 1400;
    std::uint64_t max_node_frames = 50'000;
    std::uint64_t max_relation_frames = 120'000;
};

struct node_properties {
    std::string_view name, file_path;
    std::optional<std::uint64_t> start_line, end_line;
    std::optional<std::string_view> language;
    std::optional<bool> is_exported;
    std::optional<std::string_view> heuristic_label;
    std::optional<double> cohesion;
    std::optional<std::uint64_t> symbol_count;
    std::optional<std::vector<std::string_view>> keywords;
    std::optional<std::string_view> description, enriched_by, process_type;
    std::optional<std::uint64_t> step_count;
    std::optional<std::vector<std::string_view>> communities;
    std::optional<std::string_view> entry_point_id, terminal_id;
    std::optional<double> entry_point_score;
    std::optional<std::string_view> entry_point_reason;
};

// Members of the payload beyond the original's model (upstream GitNexus adds
// node properties such as returnType, visibility, parameterCount, annotations,
// and relationship evidence): kept, in payload order, for the frame's metadata.
using extra_members = std::vector<std::pair<std::string_view, const boost::json::value*>>;

struct graph_node {
    std::string_view id, label;
    node_properties properties;
    extra_members extra;  // properties this model does not name
};

struct graph_relationship {
    // The payload's id; a second relationship with the same id (upstream
    // GitNexus makes ids as `${sourceId}_${type}_${targetId}`, so parallel
    // edges collide) gets "<id>#2", "#3", ... and keeps both edges.
    std::string_view id, source_id, target_id, type;
    std::optional<std::string_view> payload_id;  // the id as sent, when it was made distinct
    double confidence = 1.0;  // null or missing: 1.0 (counted)
    std::string_view reason;  // null or missing: "" (counted)
    std::optional<std::uint64_t> step;
    extra_members extra;  // members this model does not name (evidence, ...)
};

// What the parser filled in for values the payload left out or sent as null.
struct lenient_counts {
    std::size_t missing_file_path = 0;  // nodes without properties.filePath: ""
    std::size_t default_confidence = 0, default_reason = 0, null_step = 0;
    std::size_t duplicate_relationship_ids = 0;
    std::size_t nodes_with_extra_properties = 0, relationships_with_extra_members = 0;
};

struct export_request {
    std::string_view session_id, project_name;
    source_descriptor source;
    std::vector<graph_node> nodes;
    std::vector<graph_relationship> relationships;
    // fileContents in payload order, and path -> index.
    std::vector<std::pair<std::string_view, std::string_view>> file_contents;
    std::unordered_map<std::string_view, std::size_t> file_index;
    export_options options;
    std::size_t repaired_file_content_chars = 0;
    std::size_t repaired_surrogates = 0;  // unpaired \uD800-\uDFFF escapes read as U+FFFD
    lenient_counts lenient;
    std::uint64_t payload_bytes = 0;

    const std::string_view* file_content(std::string_view path) const {
        auto it = file_index.find(path);
        return it == file_index.end() ? nullptr : &file_contents[it->second].second;
    }

    // Storage the views point into.
    std::shared_ptr<boost::json::value> document;
    std::shared_ptr<std::deque<std::string>> owned;
};

// Incremental parser: feed the JSON text in chunks, then finish().
class request_parser {
public:
    explicit request_parser(limits lim = {});
    ~request_parser();
    request_parser(const request_parser&) = delete;
    request_parser& operator=(const request_parser&) = delete;

    // `where` names the input in error messages (a file path or "request body").
    void write(const char* data, std::size_t size, std::string_view where);
    export_request finish(std::string_view where);

private:
    void feed(const char* data, std::size_t size, std::string_view where);
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Parses a complete JSON text.
export_request parse_request(std::string_view json, std::string_view where = "payload", const limits& lim = {});

// Validates an already-parsed document (used by parse_request and finish()).
export_request build_request(std::shared_ptr<boost::json::value> doc, const limits& lim);

}  // namespace mvx::contract
