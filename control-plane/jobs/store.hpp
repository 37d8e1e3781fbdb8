// Where jobs and their events persist. The registry writes every change
// through a job_store in the same critical section as the change itself, so a
// restarted control plane continues exactly where the old one stopped. SQLite
// is the implementation today (sqlite_store.hpp); another back end
// (PostgreSQL) implements this interface and nothing above it changes.
#pragma once

#include "control-plane/jobs/job.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mvx::cp {

class job_store {
public:
    virtual ~job_store() = default;

    // For logs and errors: "/data/exports/jobs.sqlite3".
    virtual std::string describe() const = 0;
    // Every stored job, oldest first, each with its newest `ring` events in its
    // ring (ascending seq). Documents that do not parse are skipped.
    virtual std::vector<std::unique_ptr<job>> load(std::size_t ring) = 0;
    // Inserts or replaces the job; false (and logged) when the store refused it.
    virtual bool save(const job& j) = 0;
    // The event and the job in one transaction; false (rolled back, logged) on failure.
    virtual bool append(const job& j, const event& e) = 0;
    // Events with seq > since, ascending, at most limit.
    virtual std::vector<event> events_after(const std::string& job_id, std::uint64_t since, std::size_t limit) = 0;
    // Removes a job's events (retention).
    virtual void remove_events(const std::string& job_id) = 0;
    // Removes the job and its events (the end of its tombstone period).
    virtual void remove_job(const std::string& job_id) = 0;
};

}  // namespace mvx::cp
