// The worker side of the Runpod queue protocol, served for the local queue
// (docs/runpod-protocol.md): job-take and job-stop are long polls on one
// helper; job-done carries progress, the output or an error; ping renews the
// leases of the jobs a worker names.
#include "control-plane/handlers/handlers.hpp"

#include "common/core/json_text.hpp"
#include "control-plane/http/headers.hpp"
#include "control-plane/jobs/local_queue.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

namespace json = boost::json;

namespace mvx::cp::handlers {
namespace {

// Answered with poll()'s reply as soon as it has one, else 204 after
// MEMVID_LOCAL_QUEUE_WAIT_MS; subscribed before the first poll, so nothing
// that happens in between is missed.
long_poll poll_until(const request& req, context& ctx, const std::function<void(const std::shared_ptr<waiter>&)>& subscribe,
                     std::function<std::optional<reply>()> poll) {
    long_poll lp;
    lp.w = req.make_waiter();
    subscribe(lp.w);
    lp.poll = std::move(poll);
    lp.wait = std::chrono::milliseconds(ctx.cfg.take_wait_ms);
    lp.on_timeout = reply{204, ""};
    return lp;
}

}  // namespace

handler_result job_take(const request& req, context& ctx) {
    local_queue& q = *ctx.queue;
    const std::string worker = req.route.worker_id;
    auto taken = std::make_shared<std::string>();  // the queue job id handed out, if any
    auto lp = poll_until(
        req, ctx, [&q](const std::shared_ptr<waiter>& w) { q.subscribe_take(w); },
        [&q, worker, taken]() -> std::optional<reply> {
            auto job = q.take(worker);
            if (!job) return std::nullopt;
            *taken = std::string(boost::json::parse(*job).at("id").as_string());
            return reply{200, std::move(*job)};
        });
    lp.undelivered = [&q, worker, taken] {
        if (!taken->empty()) q.untake(worker, *taken);
    };
    return lp;
}

handler_result job_stop(const request& req, context& ctx) {
    local_queue& q = *ctx.queue;
    const std::string worker = req.route.worker_id;
    return poll_until(
        req, ctx, [&q, worker](const std::shared_ptr<waiter>& w) { q.subscribe_stop(worker, w); },
        [&q, worker]() -> std::optional<reply> {
            auto ids = q.jobs_to_stop(worker);
            if (ids.empty()) return std::nullopt;
            json::array a;
            for (auto& id : ids) a.emplace_back(id);
            return reply{200, to_text(json::object{{"jobsToStop", std::move(a)}})};
        });
}

handler_result job_done(const request& req, context& ctx) {
    read_body rb;
    rb.limit = 32u << 20;
    rb.too_large = error_reply(413, "PAYLOAD_TOO_LARGE", "job-done body over 32 MiB or incomplete");
    rb.too_large.close = true;
    rb.on_body = [&ctx, worker = req.route.worker_id, qid = req.route.queue_job_id](std::string body) -> reply {
        json::error_code jec;
        auto v = json::parse(body, jec);
        if (jec) return error_reply(400, "INVALID_JSON", "job-done body is not JSON: " + jec.message());
        switch (ctx.queue->job_done(worker, qid, v)) {
            case local_queue::done_result::ok: return reply{200, "{}"};
            case local_queue::done_result::unknown_job: return error_reply(404, "JOB_NOT_FOUND", "No job " + qid);
            case local_queue::done_result::lease_lost: break;
        }
        return error_reply(409, "LEASE_LOST", "Job " + qid + " is no longer leased to " + worker);
    };
    return rb;
}

handler_result job_ping(const request& req, context& ctx) {
    bool bad = false;
    auto ids = query_param(req.route.query, "job_id", bad);
    std::vector<std::string> list;
    if (ids) {
        std::size_t i = 0;
        while (i <= ids->size()) {
            auto j = ids->find(',', i);
            if (j == std::string::npos) j = ids->size();
            if (j > i) list.push_back(ids->substr(i, j - i));
            i = j + 1;
        }
    }
    ctx.queue->ping(req.route.worker_id, list);
    return reply{200, "{}"};
}

}  // namespace mvx::cp::handlers
