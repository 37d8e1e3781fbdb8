// The control plane's job service: durable job state (SQLite, WAL), the event
// log of each job (seq per job, wire form of export-api spec A3), the local
// queue (leases for memvid-export-worker processes speaking the Runpod worker
// protocol) and the retention sweeper. One mutex guards the state; every change
// is written through to SQLite in the same critical section, so a restarted
// control plane continues exactly where the old one stopped.
#pragma once

#include "control-plane/config.hpp"
#include "control-plane/log.hpp"
#include "control-plane/metrics.hpp"
#include "control-plane/routing.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

struct sqlite3;

namespace mvx::cp {

std::string new_uuid4();

// Woken when something it waits for may have happened (an event, a job to take).
struct waiter {
    virtual ~waiter() = default;
    virtual void wake() = 0;
};

struct event {
    std::uint64_t seq = 0;
    std::string type;
    std::string json;  // the ExportLogEvent as sent
};

struct job {
    std::string id;
    std::string status = "queued", stage = "queued";
    double progress = 0, stage_progress = 0;
    std::optional<std::string> message;
    std::int64_t created_ms = 0, updated_ms = 0;
    // artifact (completed)
    bool has_artifact = false;
    std::string file_name, artifact_path;
    std::uint64_t size_bytes = 0;
    std::int64_t expires_ms = 0;
    // error (failed)
    std::optional<std::string> error_code, error_message;
    boost::json::object metadata;  // backend, runpodJobId, payloadRef, artifactRef, workerMetrics
    std::uint64_t next_seq = 1;
    std::uint64_t nodes = 0, relationships = 0, files = 0, body_bytes = 0;
    std::string idem_key, body_hash;
    std::string payload_path, output_dir;
    // backend state
    unsigned attempt = 0;              // local queue: leases handed out
    std::string lease_worker;
    std::int64_t lease_deadline_ms = 0;
    std::string runpod_status;         // last status seen (runpod mode)
    bool cancel_requested = false;
    bool cleaned = false;              // retention removed its files
    std::int64_t last_event_ms = 0;
    std::map<std::string, std::int64_t> stage_started_ms;  // not persisted: stage durations
    // in memory only
    std::deque<event> ring;            // the last k_ring events
    std::vector<std::weak_ptr<waiter>> waiters;

    bool terminal() const { return status == "completed" || status == "failed" || status == "canceled" || status == "expired"; }
};

struct api_error {
    int http = 500;
    std::string code, message;
};

// The result of admitting a new export.
struct admitted {
    std::string job_id;
    bool existing = false;   // Idempotency-Key named an earlier job
    std::string body;        // ExportAccepted JSON
};

struct staged_body {
    std::filesystem::path part_file;  // written by the server, renamed here
    std::uint64_t bytes = 0, nodes = 0, relationships = 0, files = 0;
    std::string hash;                 // BLAKE3 of the body, hex
    std::string idem_key;
};

class job_service {
public:
    static constexpr std::size_t k_ring = 5000;

    job_service(config cfg, metrics& m);
    ~job_service();
    job_service(const job_service&) = delete;
    job_service& operator=(const job_service&) = delete;

    // Opens (creates) the store under export_root and reloads every job.
    // Returns the ids of Runpod-mode jobs that need their driver restarted.
    std::vector<std::string> open();
    const config& cfg() const { return cfg_; }

    // ---- API side ----
    bool queue_has_room() const;
    std::filesystem::path new_part_file(const std::string& job_id) const;
    // Moves the staged body into payloads/<id>.json and creates the job, or
    // returns the earlier job for the same Idempotency-Key and body.
    std::variant<admitted, api_error> admit(const std::string& job_id, staged_body body);
    std::optional<std::string> status_json(const std::string& id) const;
    std::variant<std::string, api_error> cancel(const std::string& id);
    // Events with seq > since (at most limit): the ExportEventsResponse body.
    std::variant<std::string, api_error> events_json(const std::string& id, std::uint64_t since, std::size_t limit) const;
    // For SSE: appends the wire JSON of events with seq > since to out (at most
    // limit); false when the job is gone or expired (the stream ends).
    bool events_since(const std::string& id, std::uint64_t since, std::size_t limit, std::vector<event>& out,
                      std::string& not_found_code) const;
    void subscribe(const std::string& id, const std::shared_ptr<waiter>& w);
    struct artifact_info {
        std::string status, path, file_name;
        std::uint64_t size = 0;
        std::int64_t updated_ms = 0;
    };
    std::optional<artifact_info> artifact(const std::string& id) const;
    std::string metrics_text() const;
    std::size_t queue_depth() const;

    // ---- local queue (worker protocol) ----
    // Takes the oldest queued job for `worker`: the Runpod job object JSON.
    std::optional<std::string> take(const std::string& worker);
    void subscribe_take(const std::shared_ptr<waiter>& w);
    void subscribe_stop(const std::string& worker, const std::shared_ptr<waiter>& w);
    // Jobs this worker holds that were canceled (and forgets them).
    std::vector<std::string> jobs_to_stop(const std::string& worker);
    void ping(const std::string& worker, const std::vector<std::string>& job_ids);
    // A job-done post; returns the HTTP status to answer.
    int job_done(const std::string& worker, const std::string& queue_job_id, const boost::json::value& body);
    std::size_t workers_seen(std::int64_t within_ms) const;

    // ---- Runpod driver side ----
    struct runpod_view {
        std::string status, runpod_job_id, payload_path, output_dir;
        bool cancel_requested = false;
        std::int64_t last_event_ms = 0;
    };
    std::optional<runpod_view> runpod_state(const std::string& id) const;
    boost::json::object job_input(const std::string& id) const;  // snake_case worker input (locks)
    void runpod_submitted(const std::string& id, const std::string& runpod_job_id);
    // A status seen while waiting; emits a heartbeat on change or when quiet.
    void runpod_waiting(const std::string& id, const std::string& runpod_status, const boost::json::value* output);
    void complete_from_output(const std::string& id, const boost::json::value& output, const std::string& runpod_status);
    void fail(const std::string& id, const std::string& message);
    void progress_event(const std::string& id, const std::string& type, const std::string& stage, double progress,
                        double stage_progress, const std::string& message, boost::json::object meta);

    // ---- housekeeping (called every second by the server) ----
    void tick();
    void shutdown();

private:
    bool persist(const job& j);  // caller holds mu_; false (logged) when the store refused it
    void append(job& j, const std::string& type, const std::string& stage, double progress, double stage_progress,
                const std::string& message, boost::json::value meta);  // caller holds mu_
    std::string status_json_locked(const job& j) const;
    void requeue_or_fail_locked(job& j, const std::string& why);
    void finish_failed_locked(job& j, const std::string& message);
    void complete_locked(job& j, const boost::json::value& output, const std::string& runpod_status);
    void sweep_locked(std::int64_t now);
    void wake_take_locked();
    void exec(const char* sql);
    boost::json::object job_input_locked(const std::string& id) const;
    std::filesystem::path within_staging(const std::string& path_or_ref, std::string& err) const;

    config cfg_;
    metrics& metrics_;
    mutable std::mutex mu_;
    sqlite3* db_ = nullptr;
    std::map<std::string, std::unique_ptr<job>> jobs_;
    std::map<std::string, std::string> idem_;   // key -> job id
    std::deque<std::string> pending_;           // local queue, FIFO
    std::vector<std::weak_ptr<waiter>> take_waiters_;
    std::map<std::string, std::vector<std::weak_ptr<waiter>>> stop_waiters_;
    std::map<std::string, std::set<std::string>> to_stop_;  // worker -> queue job ids
    std::map<std::string, std::int64_t> worker_seen_;
    std::int64_t last_sweep_ms_ = 0;
};

}  // namespace mvx::cp
