// A job of the control plane: its status and stage (explicit enums; their
// names are the API's), the record the store keeps, and its events.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvx::cp {

enum class job_status : std::uint8_t { queued, running, completed, failed, canceled, expired };

// The API's stages: queued, then the worker's pack stages, then one final.
enum class job_stage : std::uint8_t {
    queued,
    transform,
    frame_prep,
    write_capsule,
    build_sidecar,
    finalize,
    download_ready,
    failed,
    canceled,
    expired,
};

enum class event_type : std::uint8_t {
    stage_progress,
    stage_heartbeat,
    job_started,
    job_completed,
    job_failed,
    job_canceled,
    job_expired,
};

std::string_view to_string(job_status s);
std::string_view to_string(job_stage s);
std::string_view to_string(event_type t);
std::optional<job_status> parse_job_status(std::string_view s);
std::optional<job_stage> parse_job_stage(std::string_view s);
// The API stage a worker's reported stage counts as (download -> transform,
// upload -> finalize); nullopt for a stage we do not know.
std::optional<job_stage> stage_of_worker(std::string_view worker_stage);

constexpr bool is_terminal(job_status s) {
    return s == job_status::completed || s == job_status::failed || s == job_status::canceled || s == job_status::expired;
}

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
    job_status status = job_status::queued;
    job_stage stage = job_stage::queued;
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
    unsigned attempt = 0;  // local queue: leases handed out
    std::string lease_worker;
    std::int64_t lease_deadline_ms = 0;
    std::string runpod_status;  // last status seen (runpod mode)
    bool cancel_requested = false;
    bool cleaned = false;  // retention removed its files
    std::int64_t cleaned_ms = 0;  // when; the record goes MEMVID_EXPORT_TOMBSTONE_SECONDS later
    std::int64_t last_event_ms = 0;
    // in memory only
    std::map<job_stage, std::int64_t> stage_started_ms;  // stage durations (metrics)
    std::deque<event> ring;  // the newest events
    std::vector<std::weak_ptr<waiter>> waiters;

    bool terminal() const { return is_terminal(status); }
    std::string backend() const;  // metadata.backend
    // The id a worker sees for the current attempt: "<job id>-a<attempt>".
    std::string queue_job_id() const { return id + "-a" + std::to_string(attempt); }
};

// A 4xx/5xx answer decided below the HTTP layer.
struct api_error {
    int http = 500;
    std::string code, message;
};

// Adds w, dropping waiters whose owner is gone; wakes and keeps the live ones.
void add_waiter(std::vector<std::weak_ptr<waiter>>& ws, const std::shared_ptr<waiter>& w);
void wake_all(std::vector<std::weak_ptr<waiter>>& ws);

std::string new_uuid4();

}  // namespace mvx::cp
