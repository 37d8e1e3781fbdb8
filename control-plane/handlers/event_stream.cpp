// GET /v1/exports/{id}/events/stream: the job's events as Server-Sent Events
// (id = seq, event = type, data = the event JSON), resumed from Last-Event-ID
// or sinceSeq. The stream subscribes first and then reads the job's log by
// seq, so an event appended meanwhile is seen by the next read: never lost,
// never sent twice.
#include "control-plane/handlers/handlers.hpp"

#include "control-plane/http/headers.hpp"
#include "control-plane/jobs/registry.hpp"

namespace mvx::cp::handlers {
namespace {

constexpr std::size_t k_batch = 500;

void frames(const std::vector<event>& batch, std::string& out, std::uint64_t& since) {
    for (const auto& e : batch) {
        out += "id: " + std::to_string(e.seq) + "\nevent: " + e.type + "\ndata: " + e.json + "\n\n";
        since = e.seq;
    }
}

}  // namespace

handler_result export_stream(const request& req, context& ctx) {
    bool bad = false;
    auto since_s = query_param(req.route.query, "sinceSeq", bad);
    std::uint64_t since = 0;
    if (since_s && !since_s->empty()) {
        auto v = parse_u64(*since_s);
        if (!v)
            bad = true;
        else
            since = *v;
    }
    const auto last_id = req.header("Last-Event-ID");
    if (!last_id.empty()) {
        auto v = parse_u64(last_id);
        if (!v)
            bad = true;
        else
            since = std::max(since, *v);
    }
    if (bad) return error_reply(400, "INVALID_QUERY", "sinceSeq and Last-Event-ID must be non-negative integers");
    const std::string id = req.route.job_id;
    auto w = req.make_waiter();
    ctx.jobs.subscribe(id, w);
    std::vector<event> batch;
    std::string code;
    if (!ctx.jobs.events_since(id, since, k_batch, batch, code))
        return code == "JOB_EXPIRED" ? error_reply(410, "JOB_EXPIRED", "Export job " + id + " has expired")
                                     : error_reply(404, "JOB_NOT_FOUND", "No export job " + id);
    event_stream s;
    s.head.status = 200;
    s.head.content_type = "text/event-stream";
    s.head.headers = {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
    s.head.close = true;
    s.first = "retry: 2000\n\n";
    frames(batch, s.first, since);
    s.w = w;
    s.next = [&ctx, id, since](std::string& out) mutable {
        std::vector<event> more;
        std::string unused;
        if (!ctx.jobs.events_since(id, since, k_batch, more, unused)) return false;  // expired: the bus is gone
        frames(more, out, since);
        return true;
    };
    return s;
}

}  // namespace mvx::cp::handlers
