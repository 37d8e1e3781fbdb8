// The local queue (MEMVID_EXPORT_BACKEND_MODE=local_queue): jobs wait in a
// FIFO until a memvid-export-worker takes one over the Runpod worker protocol
// this control plane serves (handlers/worker_protocol.cpp). A take leases the
// job to the worker for MEMVID_LOCAL_QUEUE_LEASE_SECONDS, renewed by its pings
// and posts; a worker that goes quiet loses the job, which is queued again
// until MEMVID_LOCAL_QUEUE_MAX_ATTEMPTS. Each attempt has its own queue job id
// (<job>-a<n>) and output folder, so a late post from a lost lease is refused.
#pragma once

#include "control-plane/jobs/registry.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mvx::cp {

class local_queue {
public:
    explicit local_queue(job_registry& jobs);

    // Queues a new (or restored) job and wakes a waiting take.
    void enqueue(const std::string& id);
    // A canceled job: out of the FIFO; its worker, if any, hears it on job-stop.
    void cancel(const std::string& id, const std::string& lease_worker, const std::string& queue_job_id);

    // The oldest queued job for `worker`, leased to it: the Runpod job object JSON.
    std::optional<std::string> take(const std::string& worker);
    void subscribe_take(const std::shared_ptr<waiter>& w);
    // The answer to a take could not be written (the worker left): the job goes
    // back to the head of the queue and the attempt is not counted.
    void untake(const std::string& worker, const std::string& queue_job_id);
    void subscribe_stop(const std::string& worker, const std::shared_ptr<waiter>& w);
    // The queue job ids this worker holds that were canceled or lost (and forgets them).
    std::vector<std::string> jobs_to_stop(const std::string& worker);
    void ping(const std::string& worker, const std::vector<std::string>& queue_job_ids);
    enum class done_result { ok, unknown_job, lease_lost };
    // A job-done post (progress, output or error).
    done_result job_done(const std::string& worker, const std::string& queue_job_id, const boost::json::value& body);

    // Leases past their deadline: the job is queued again (or fails).
    void expire_leases(std::int64_t now_ms);
    // Position of each waiting job (0 = next), for heartbeat messages.
    std::map<std::string, std::size_t> positions() const;
    std::size_t depth() const;
    std::size_t workers_seen(std::int64_t within_ms) const;
    void shutdown();  // wakes every long poll

private:
    void requeue_or_fail(job_registry::locked& l, const std::string& why);  // holds mu_
    void notify_stop(const std::string& worker, const std::string& queue_job_id);  // holds mu_

    job_registry& jobs_;
    mutable std::mutex mu_;
    std::deque<std::string> pending_;  // FIFO of job ids
    std::vector<std::weak_ptr<waiter>> take_waiters_;
    std::map<std::string, std::vector<std::weak_ptr<waiter>>> stop_waiters_;
    std::map<std::string, std::set<std::string>> to_stop_;  // worker -> queue job ids
    std::map<std::string, std::int64_t> worker_seen_;
};

}  // namespace mvx::cp
