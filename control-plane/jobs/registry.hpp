// The jobs the control plane knows: one mutex over their in-memory records,
// their events (the newest k_ring per job in memory, all in the store) and
// their subscribers. Every change goes through a `locked` handle, which writes
// it to the store in the same critical section and moves the status only
// through the state machine. The local queue, the Runpod driver and retention
// keep their own state and reach jobs through with_job()/for_each().
//
// Lock order: a component's own mutex (the local queue's) first, then the
// registry's; the registry never calls out while it holds its mutex.
#pragma once

#include "control-plane/config/config.hpp"
#include "control-plane/jobs/job.hpp"
#include "control-plane/jobs/state_machine.hpp"
#include "control-plane/jobs/store.hpp"
#include "control-plane/observability/metrics.hpp"

#include <boost/json/value.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace mvx::cp {

// What the upload left in the staging folder for a new job.
struct staged_body {
    std::filesystem::path part_file;  // renamed to payloads/<id>.json by admit()
    std::uint64_t bytes = 0, nodes = 0, relationships = 0, files = 0;
    std::string hash;  // BLAKE3 of the body, hex
    std::string idem_key;
};

struct admitted {
    std::string job_id;
    bool existing = false;  // Idempotency-Key named an earlier job
    std::string body;  // ExportAccepted JSON
};

class job_registry {
public:
    static constexpr std::size_t k_ring = 5000;

    job_registry(const config& cfg, job_store& store, metrics& m);
    job_registry(const job_registry&) = delete;
    job_registry& operator=(const job_registry&) = delete;

    const config& cfg() const { return cfg_; }

    // Staging paths of a job.
    std::filesystem::path part_file(const std::string& id) const;
    std::filesystem::path payload_file(const std::string& id) const;
    std::filesystem::path output_dir(const std::string& id) const;

    // Loads the store. Jobs of the other backend mode fail; a leased
    // local-queue job keeps its worker for one more lease period. Returns the
    // unfinished jobs to continue, in creation order.
    struct restored {
        std::vector<std::string> queued;  // local queue: waiting for a worker
        std::vector<std::string> runpod;  // runpod mode: drivers to restart
        std::size_t total = 0, active = 0;
    };
    restored open();

    // ---- the API
    bool has_room() const;  // fewer unfinished jobs than MEMVID_EXPORT_QUEUE_CAPACITY
    std::variant<admitted, api_error> admit(const std::string& job_id, staged_body body);
    std::optional<std::string> status_json(const std::string& id) const;
    struct canceled {
        std::string body;  // the status JSON after it
        std::string lease_worker, queue_job_id;  // the local-queue worker to tell, if any
    };
    std::variant<canceled, api_error> cancel(const std::string& id);
    // GET .../events: the page body.
    std::variant<std::string, api_error> events_json(const std::string& id, std::uint64_t since, std::size_t limit) const;
    // For SSE: events with seq > since (at most limit) into out; false (with
    // the code) when the job is unknown or expired.
    bool events_since(const std::string& id, std::uint64_t since, std::size_t limit, std::vector<event>& out,
                      std::string& not_found_code) const;
    void subscribe(const std::string& id, const std::shared_ptr<waiter>& w);
    struct artifact_info {
        job_status status = job_status::queued;
        std::string path, file_name;
        std::uint64_t size = 0;
    };
    std::optional<artifact_info> artifact(const std::string& id) const;
    struct tally {
        std::map<job_status, std::size_t> by_status;
        std::size_t leased = 0;
    };
    tally count() const;

    // A job held under the registry's lock.
    class locked {
    public:
        job& j;
        const config& cfg() const { return r_.cfg_; }
        // Records an event (and the job) in the store; after cancel or expiry
        // only the job_canceled / job_expired event itself is recorded.
        void append(event_type type, job_stage stage, double progress, double stage_progress, const std::string& message,
                    boost::json::value meta);
        // Moves the status; false (logged) when the state machine refuses.
        bool move(transition t);
        void save();
        void fail(const std::string& message);
        // Completes from a worker's output (artifact checked to lie in the
        // job's own output folder); fails the job with the reason otherwise.
        void complete(const boost::json::value& output, const std::string& runpod_status);
        void forget_events();  // ring and store (retention)
        void count_finished(job_status s);

    private:
        friend class job_registry;
        locked(job_registry& r, job& jj) : j(jj), r_(r) {}
        job_registry& r_;
    };

    // Runs f(locked&) on the job under the lock; false when there is no such job.
    template <typename F>
    bool with_job(const std::string& id, F&& f) {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = jobs_.find(id);
        if (it == jobs_.end()) return false;
        locked l(*this, *it->second);
        f(l);
        return true;
    }
    // Runs f(locked&) on every job, in id order, under the lock.
    template <typename F>
    void for_each(F&& f) {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& [id, j] : jobs_) {
            locked l(*this, *j);
            f(l);
        }
    }

    // Removes jobs from memory and the store (their Idempotency-Keys free again).
    void forget(const std::vector<std::string>& ids);

    void shutdown();  // wakes every subscriber (streams end)

private:
    void finish_failed(job& j, const std::string& message);
    std::filesystem::path within_staging(const std::string& ref, std::string& err) const;

    const config& cfg_;
    job_store& store_;
    metrics& metrics_;
    mutable std::mutex mu_;
    std::map<std::string, std::unique_ptr<job>> jobs_;
    std::map<std::string, std::string> idem_;  // Idempotency-Key -> job id
};

}  // namespace mvx::cp
