#include "control-plane/jobs/local_queue.hpp"

#include "common/contract/job_protocol.hpp"
#include "common/core/json_text.hpp"
#include "control-plane/jobs/wire.hpp"
#include "control-plane/observability/log.hpp"

#include <algorithm>

namespace json = boost::json;

namespace mvx::cp {
namespace {

// "<job id>-a<attempt>" -> the job id ("" when the id has no attempt suffix).
std::string job_of(const std::string& queue_job_id) {
    const auto p = queue_job_id.rfind("-a");
    return p == std::string::npos ? std::string() : queue_job_id.substr(0, p);
}

}  // namespace

local_queue::local_queue(job_registry& jobs) : jobs_(jobs) {}

void local_queue::enqueue(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(id);
    wake_all(take_waiters_);
}

void local_queue::cancel(const std::string& id, const std::string& worker, const std::string& qid) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.erase(std::remove(pending_.begin(), pending_.end(), id), pending_.end());
    if (!worker.empty()) notify_stop(worker, qid);
}

void local_queue::notify_stop(const std::string& worker, const std::string& qid) {
    to_stop_[worker].insert(qid);
    if (auto w = stop_waiters_.find(worker); w != stop_waiters_.end()) wake_all(w->second);
}

std::optional<std::string> local_queue::take(const std::string& worker) {
    std::lock_guard<std::mutex> lock(mu_);
    worker_seen_[worker] = now_ms();
    while (!pending_.empty()) {
        const std::string id = pending_.front();
        pending_.pop_front();
        std::optional<std::string> body;
        jobs_.with_job(id, [&](job_registry::locked& l) {
            job& j = l.j;
            if (j.terminal()) return;
            ++j.attempt;
            j.lease_worker = worker;
            j.lease_deadline_ms = now_ms() + l.cfg().lease_seconds * 1000;
            if (!l.move(transition::take)) return;
            j.metadata["worker"] = worker;
            j.metadata["attempt"] = j.attempt;
            l.append(event_type::job_started, job_stage::transform, 2, 0,
                     "Worker " + worker + " took the job" + (j.attempt > 1 ? " (attempt " + std::to_string(j.attempt) + ")" : ""),
                     json::object{{"worker", worker}, {"attempt", j.attempt}});
            json::object o;
            o["id"] = j.queue_job_id();
            o["input"] = wire::worker_input(j, l.cfg());
            log_line(log_level::info, "taken by " + worker + " as " + j.queue_job_id(), id);
            body = to_text(o);
        });
        if (body) return body;
    }
    return std::nullopt;
}

void local_queue::untake(const std::string& worker, const std::string& qid) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string id = job_of(qid);
    bool back = false;
    jobs_.with_job(id, [&](job_registry::locked& l) {
        job& j = l.j;
        if (j.terminal() || j.lease_worker != worker || j.queue_job_id() != qid || !l.move(transition::requeue)) return;
        j.lease_worker.clear();
        --j.attempt;
        j.metadata.erase("worker");
        l.append(event_type::stage_heartbeat, job_stage::queued, j.progress, 0,
                 "Worker " + worker + " left before it received the job; queued again (no attempt used)",
                 json::object{{"lostWorker", worker}, {"attempt", j.attempt}});
        back = true;
    });
    if (!back) return;
    pending_.push_front(id);
    wake_all(take_waiters_);
    log_line(log_level::warn, "take by " + worker + " was not delivered; re-queued", id);
}

void local_queue::subscribe_take(const std::shared_ptr<waiter>& w) {
    std::lock_guard<std::mutex> lock(mu_);
    add_waiter(take_waiters_, w);
}

void local_queue::subscribe_stop(const std::string& worker, const std::shared_ptr<waiter>& w) {
    std::lock_guard<std::mutex> lock(mu_);
    add_waiter(stop_waiters_[worker], w);
}

std::vector<std::string> local_queue::jobs_to_stop(const std::string& worker) {
    std::lock_guard<std::mutex> lock(mu_);
    worker_seen_[worker] = now_ms();
    auto it = to_stop_.find(worker);
    if (it == to_stop_.end()) return {};
    std::vector<std::string> out(it->second.begin(), it->second.end());
    to_stop_.erase(it);
    return out;
}

void local_queue::ping(const std::string& worker, const std::vector<std::string>& ids) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::int64_t now = now_ms();
    worker_seen_[worker] = now;
    for (const auto& qid : ids) {
        const std::string id = job_of(qid);
        if (id.empty()) continue;
        jobs_.with_job(id, [&](job_registry::locked& l) {
            job& j = l.j;
            if (!j.terminal() && j.lease_worker == worker && j.queue_job_id() == qid)
                j.lease_deadline_ms = now + l.cfg().lease_seconds * 1000;
        });
    }
}

std::size_t local_queue::workers_seen(std::int64_t within_ms) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t n = 0;
    const std::int64_t now = now_ms();
    for (const auto& [w, t] : worker_seen_) n += now - t <= within_ms;
    return n;
}

local_queue::done_result local_queue::job_done(const std::string& worker, const std::string& qid, const json::value& body) {
    namespace P = protocol;
    std::lock_guard<std::mutex> lock(mu_);
    const std::int64_t now = now_ms();
    worker_seen_[worker] = now;
    const std::string id = job_of(qid);
    done_result result = done_result::unknown_job;
    if (id.empty()) return result;
    jobs_.with_job(id, [&](job_registry::locked& l) {
        job& j = l.j;
        result = done_result::ok;
        if (j.terminal()) return;  // canceled meanwhile: the result is not wanted
        if (j.lease_worker != worker || j.queue_job_id() != qid) {
            log_line(log_level::warn,
                     "job-done from " + worker + " for " + qid + " ignored: the lease is " + j.queue_job_id() + " on " +
                         j.lease_worker,
                     j.id);
            result = done_result::lease_lost;
            return;
        }
        j.lease_deadline_ms = now + l.cfg().lease_seconds * 1000;
        if (!body.is_object()) {
            l.fail("Worker posted a result that is not a JSON object");
            return;
        }
        const auto& o = body.as_object();
        if (wire::string_field(o, P::progress::status) == P::progress::in_progress) {
            const json::value* out_v = o.if_contains(P::progress::output);
            if (out_v && !out_v->is_object() && !out_v->is_null()) {
                // The official SDK's progress_update(job, anything): a note on the job's log.
                std::string note = out_v->is_string() ? std::string(out_v->as_string()) : to_text(*out_v);
                if (note.size() > 200) note = note.substr(0, 200) + "...";
                l.append(event_type::stage_heartbeat, j.stage, j.progress, j.stage_progress, "Worker " + worker + ": " + note,
                         json::object{{"worker", worker}});
                return;
            }
            if (out_v && out_v->is_object()) {
                const auto& out = o.at(P::progress::output).as_object();
                const std::string worker_stage = wire::string_field(out, P::progress::stage).substr(0, 64);
                const job_stage stage = stage_of_worker(worker_stage).value_or(j.stage);
                const double pct =
                    out.contains(P::progress::percent) ? wire::percent_or(out.at(P::progress::percent), j.progress) : j.progress;
                l.append(stage == j.stage ? event_type::stage_heartbeat : event_type::stage_progress, stage,
                         std::max(j.progress, std::min(pct, 99.0)), pct,
                         "Worker " + worker + ": " + worker_stage + " " + std::to_string(int(pct)) + "%",
                         json::object{{"worker", worker}, {"workerStage", worker_stage}});
            }
            return;
        }
        if (o.contains("stopPod") && !o.contains(P::result::output) && !o.contains(P::result::error)) return;
        if (o.contains(P::result::error) && !o.at(P::result::error).is_null()) {
            const auto& e = o.at(P::result::error);
            l.fail(e.is_string() ? std::string(e.as_string()) : to_text(e));
            return;
        }
        if (!o.contains(P::result::output) || o.at(P::result::output).is_null()) {
            l.fail("Runpod completed without output");
            return;
        }
        l.complete(o.at(P::result::output), "COMPLETED");
    });
    return result;
}

void local_queue::requeue_or_fail(job_registry::locked& l, const std::string& why) {
    job& j = l.j;
    const std::string worker = j.lease_worker;
    // If the worker is alive after all, it stops this attempt at its next job-stop poll.
    notify_stop(worker, j.queue_job_id());
    j.lease_worker.clear();
    const unsigned max_attempts = l.cfg().max_attempts;
    if (j.attempt >= max_attempts) {
        l.fail(why + "; gave up after " + std::to_string(j.attempt) + " attempts (MEMVID_LOCAL_QUEUE_MAX_ATTEMPTS)");
        return;
    }
    if (!l.move(transition::requeue)) return;
    l.append(event_type::stage_heartbeat, job_stage::queued, j.progress, 0,
             why + "; queued again (attempt " + std::to_string(j.attempt + 1) + " of " + std::to_string(max_attempts) + ")",
             json::object{{"lostWorker", worker}, {"attempt", j.attempt}});
    pending_.push_front(j.id);
    wake_all(take_waiters_);
    log_line(log_level::warn, why + "; re-queued", j.id);
}

void local_queue::expire_leases(std::int64_t now) {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.for_each([&](job_registry::locked& l) {
        job& j = l.j;
        if (j.terminal() || j.lease_worker.empty() || j.lease_deadline_ms >= now) return;
        requeue_or_fail(
            l, "Worker " + j.lease_worker + " stopped responding (no ping for " + std::to_string(l.cfg().lease_seconds) + " s)");
    });
}

std::map<std::string, std::size_t> local_queue::positions() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, std::size_t> p;
    std::size_t ahead = 0;
    for (const auto& id : pending_) p[id] = ahead++;
    return p;
}

std::size_t local_queue::depth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.size();
}

void local_queue::shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    wake_all(take_waiters_);
    for (auto& [w, ws] : stop_waiters_) wake_all(ws);
}

}  // namespace mvx::cp
