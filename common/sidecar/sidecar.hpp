// The SQLite sidecar index `<capsule>.index.v1.sqlite` with the original's
// schema (docs/mv2-format.md §11): meta, nodes_by_id/label/file,
// symbols_by_name_normalized, edges (+ by source/target type),
// process_steps_by_process_id, fulltext_lexical_index, hotspots,
// community_membership and the 9 secondary indexes. Rows stream in as frames
// are written; derived tables are filled at commit(). Written to a temporary
// file and renamed into place, in WAL journal mode, like the capsule.
#pragma once

#include "common/contract/export_request.hpp"
#include "common/transform/frames.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace mvx::sidecar {

struct sidecar_summary {
    std::filesystem::path path;
    std::size_t nodes = 0, edges = 0, fulltext = 0;
};

std::filesystem::path path_for_capsule(const std::filesystem::path& capsule);

class builder {
public:
    // generated_at: RFC 3339 time stored in meta.generated_at.
    builder(std::filesystem::path capsule_path, const contract::export_request& req, std::string generated_at);
    ~builder();
    builder(const builder&) = delete;
    builder& operator=(const builder&) = delete;

    void add(const transform::frame_document& doc);
    sidecar_summary commit();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Symbol normalisation: ASCII alphanumerics and '_' lower-cased, everything
// else a space, runs of spaces collapsed, trimmed.
std::string normalize_symbol(std::string_view name);

}  // namespace mvx::sidecar
