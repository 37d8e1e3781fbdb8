// The job store on SQLite: <MEMVID_EXPORT_ROOT>/jobs.sqlite3 in WAL mode
// (synchronous=NORMAL). Tables: jobs(id, created_ms, doc) with the wire::to_doc
// document, events(job_id, seq, type, doc), meta(key, value) with the schema name.
#pragma once

#include "control-plane/jobs/store.hpp"

#include <filesystem>
#include <memory>

namespace mvx::cp {

// Opens (creates) the database; throws mvx::error(INVALID_CONFIG) naming the
// file and what to fix when it cannot.
std::unique_ptr<job_store> open_sqlite_store(const std::filesystem::path& file);

}  // namespace mvx::cp
