// runpod_queue backend: each job is submitted to a Runpod queue endpoint as a
// compact pointer job (the staged payload's file:// ref and the output prefix
// on the shared volume), then polled until it ends. Every transient failure
// (transport errors, timeouts, 429, 5xx) is retried with backoff; the job's
// events carry a heartbeat at least every MEMVID_EXPORT_HEARTBEAT_SECONDS.
#pragma once

#include "control-plane/config/config.hpp"

#include "control-plane/jobs/job.hpp"

#include <boost/json/value.hpp>

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace mvx::cp {

class job_registry;
class metrics;

class runpod_driver {
public:
    runpod_driver(const config& cfg, job_registry& jobs, metrics& m);
    ~runpod_driver();
    runpod_driver(const runpod_driver&) = delete;
    runpod_driver& operator=(const runpod_driver&) = delete;

    // Drives a new job, or one found unfinished at start (re-attaches to its Runpod job).
    void start(const std::string& job_id);
    // The job changed (canceled): its loop looks at it now instead of at the next poll.
    void wake(const std::string& job_id);
    void stop();

private:
    void drive(const std::string& id);
    bool sleep(const std::string& id, std::chrono::milliseconds d);  // false when stopping

    // The job's side of the driver (each under the registry's lock).
    struct view {
        job_status status = job_status::queued;
        std::string runpod_job_id;
        bool cancel_requested = false;
        unsigned submissions = 0;  // /run calls made so far (persisted)
        std::string output_dir;
    };
    std::optional<view> state(const std::string& id);
    void record_submission(const std::string& id, unsigned n);
    // The Runpod job id in the claim a worker wrote into the job's output folder ("" when none).
    std::string claimed(const std::string& id);
    void fail(const std::string& id, const std::string& message);
    void progress(const std::string& id, job_stage stage, double progress, double stage_progress, const std::string& message);
    void submitted(const std::string& id, const std::string& runpod_job_id);
    // A status seen while waiting; an event on change, on progress, or when quiet.
    void waiting(const std::string& id, const std::string& runpod_status, const boost::json::value* output);
    void completed(const std::string& id, const boost::json::value& output, const std::string& runpod_status);

    const config& cfg_;
    job_registry& jobs_;
    metrics& metrics_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::map<std::string, std::thread> threads_;
    std::set<std::string> woken_;
    std::set<std::string> finished_;  // drivers whose thread ended (joined at the next start)
    bool stopping_ = false;
};

}  // namespace mvx::cp
