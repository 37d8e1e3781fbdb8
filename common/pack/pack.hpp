// pack: one GitNexus export payload -> one .mv2 capsule + SQLite sidecar.
#pragma once

#include "common/contract/export_request.hpp"
#include "common/embedding/embedder.hpp"
#include "common/mv2/writer.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace mvx::pack {

inline mv2::writer_options default_writer_options() {
    mv2::writer_options o;
    o.lex_unique_tokens = true;
    return o;
}

struct pack_options {
    std::string payload_ref;  // path or file:// URL (.json or .json.zst)
    std::string output_prefix;  // folder path or file:// URL
    std::string job_id;  // [A-Za-z0-9._-]{1,128}, default "local"
    std::string embedding_mode, embedding_provider, embedding_model;  // reported as given
    // One time for the whole capsule: frame timestamps, manifest generatedAt,
    // the date in the file name. Unset: the wall clock at start.
    std::optional<std::int64_t> created_at;
    // When set, payload_ref and output_prefix must resolve inside it.
    std::optional<std::filesystem::path> confine_root;
    contract::limits limits;
    mv2::writer_options writer = default_writer_options();
    embedding::embedder* embedder = nullptr;  // required when options.semanticEnabled
    bool sidecar = true;
    // Set from another thread to stop the pack at its next checkpoint (between
    // stages, embedding batches and every few hundred frames): throws
    // mvx::error with code JOB_CANCELED and leaves no files behind.
    const std::atomic<bool>* cancel = nullptr;
    // Called from the packing thread at stage boundaries: stage name, percent.
    std::function<void(const std::string& stage, double percent)> on_progress;
};

struct pack_result {
    std::string job_id, file_name;
    std::filesystem::path artifact_path, sidecar_path;
    std::uint64_t size_bytes = 0, frames = 0, vectors = 0, node_frames = 0, relation_frames = 0;
    std::size_t sidecar_nodes = 0, sidecar_edges = 0;
    std::string sidecar_status = "ready", sidecar_reason;
    std::size_t snippets_exact = 0, snippets_partial = 0, snippets_absent = 0;
    bool compact_contents = false;
    std::string native_lex = "written";  // or "disabled", or why it was left out
    std::size_t repaired_chars = 0, repaired_surrogates = 0;
    contract::lenient_counts lenient;  // what the parser filled in (upstream GitNexus payloads)
    std::uint64_t payload_bytes = 0;
    double parse_ms = 0, transform_ms = 0, embed_ms = 0, write_ms = 0, sidecar_ms = 0;
    std::string embedding_mode, embedding_provider, embedding_model;
    std::optional<embedding::embed_report> embedding;  // set when vectors were computed
    std::string embedding_identity_provider, embedding_identity_model;  // as written into the capsule
    std::size_t embedding_dimension = 0;

    std::string to_json() const;  // the CLI's one-line result
};

pack_result run(const pack_options& opts);

// Loads and parses a payload file (plain JSON, or zstd-compressed JSON).
contract::export_request load_payload(const std::filesystem::path& path, const contract::limits& lim);

// Resolves a path or file:// URL; rejects '..' components unless allowed and,
// with a root, anything that resolves outside it (symlinks included). `what` names the argument in errors.
std::filesystem::path resolve_ref(std::string_view ref, std::string_view what, const std::optional<std::filesystem::path>& root,
                                  bool allow_dotdot);

// RFC 3339 (UTC, seconds) and YYYY-MM-DD for a Unix time.
std::string rfc3339_utc(std::int64_t unix_seconds, bool z_suffix);
std::string date_utc(std::int64_t unix_seconds);
std::optional<std::int64_t> parse_time(std::string_view s);  // unix seconds or RFC 3339

}  // namespace mvx::pack
