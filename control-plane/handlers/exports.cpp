// POST /v1/exports, GET/DELETE /v1/exports/{id}, GET /v1/exports/{id}/events.
#include "control-plane/handlers/handlers.hpp"

#include "control-plane/http/headers.hpp"
#include "control-plane/jobs/local_queue.hpp"
#include "control-plane/jobs/registry.hpp"
#include "control-plane/runpod/driver.hpp"
#include "control-plane/upload/pipeline.hpp"

#include <algorithm>

namespace mvx::cp::handlers {
namespace {

reply closing(reply r) {
    r.close = true;
    return r;
}

}  // namespace

handler_result create_export(const request& req, context& ctx) {
    const auto ct = req.header("Content-Type");
    if (!ct.empty() && ct.find("json") == std::string_view::npos)
        return closing(error_reply(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"));
    const std::string idem(req.header("Idempotency-Key"));
    if (!idem.empty() && !valid_idempotency_key(idem))
        return closing(error_reply(400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1-255 visible ASCII characters"));
    if (req.content_length && *req.content_length > ctx.cfg.max_body_bytes)
        return closing(error_reply(413, "PAYLOAD_TOO_LARGE",
                                   "The body is " + std::to_string(*req.content_length) + " bytes; the limit is " +
                                       std::to_string(ctx.cfg.max_body_bytes) + " (MEMVID_EXPORT_MAX_BODY_BYTES)"));
    if (!ctx.jobs.has_room()) {
        auto e = error_reply(503, "QUEUE_FULL",
                             "The export queue is full (MEMVID_EXPORT_QUEUE_CAPACITY=" + std::to_string(ctx.cfg.queue_capacity) +
                                 "): retry later");
        e.headers.emplace_back("Retry-After", "5");
        return closing(std::move(e));
    }
    std::string expect(req.header("Expect"));
    std::transform(expect.begin(), expect.end(), expect.begin(), [](unsigned char c) { return char(std::tolower(c)); });

    const std::string id = new_uuid4();
    auto w = req.make_waiter();
    upload_body up;
    up.pipeline = std::make_shared<upload_pipeline>(ctx.jobs.part_file(id), ctx.cfg.max_body_bytes, [w] { w->wake(); });
    up.w = w;
    up.expect_continue = expect == "100-continue";
    up.finish = [&ctx, id, idem, sized = req.content_length.has_value() && !req.chunked](upload_outcome o) -> reply {
        if (o.error) {
            auto e = error_reply(o.error->http, o.error->code, o.error->message);
            e.close = !o.body_complete;  // the rest of the body was not read
            return e;
        }
        o.staged.idem_key = idem;
        auto res = ctx.jobs.admit(id, std::move(o.staged));
        if (auto* e = std::get_if<api_error>(&res)) return error_reply(e->http, e->code, e->message);
        auto& a = std::get<admitted>(res);
        if (!a.existing) {
            if (ctx.queue) ctx.queue->enqueue(a.job_id);
            if (ctx.runpod) {
                try {
                    ctx.runpod->start(a.job_id);
                } catch (const std::exception& ex) {  // no thread for its driver: the job fails, the client hears why
                    ctx.jobs.with_job(a.job_id, [&](job_registry::locked& l) {
                        if (!l.j.terminal()) l.fail(std::string("Could not start the Runpod driver: ") + ex.what());
                    });
                }
            }
        }
        reply out{202, std::move(a.body)};
        out.body_read = o.body_complete && sized;
        out.headers.emplace_back("Location", "/v1/exports/" + a.job_id);
        if (a.existing) out.headers.emplace_back("Idempotent-Replayed", "true");
        return out;
    };
    return up;
}

handler_result export_status(const request& req, context& ctx) {
    const auto& id = req.route.job_id;
    auto st = ctx.jobs.status_json(id);
    return st ? reply{200, std::move(*st)} : error_reply(404, "JOB_NOT_FOUND", "No export job " + id);
}

handler_result cancel_export(const request& req, context& ctx) {
    const auto& id = req.route.job_id;
    auto res = ctx.jobs.cancel(id);
    if (auto* e = std::get_if<api_error>(&res)) return error_reply(e->http, e->code, e->message);
    auto& c = std::get<job_registry::canceled>(res);
    if (ctx.queue) ctx.queue->cancel(id, c.lease_worker, c.queue_job_id);
    if (ctx.runpod) ctx.runpod->wake(id);
    return reply{200, std::move(c.body)};
}

handler_result export_events(const request& req, context& ctx) {
    bool bad = false;
    const auto& q = req.route.query;
    auto since_s = query_param(q, "sinceSeq", bad);
    auto limit_s = query_param(q, "limit", bad);
    if (bad) return error_reply(400, "INVALID_QUERY", "The query string has a malformed %-escape");
    std::uint64_t since = 0, limit = 200;
    if (since_s && !since_s->empty()) {
        auto v = parse_u64(*since_s);
        if (!v)
            return error_reply(400, "INVALID_QUERY",
                               "sinceSeq must be a non-negative integer, got \"" + since_s->substr(0, 40) + "\"");
        since = *v;
    }
    if (limit_s && !limit_s->empty()) {
        auto v = parse_u64(*limit_s);
        if (!v)
            return error_reply(400, "INVALID_QUERY",
                               "limit must be a positive integer (1..2000), got \"" + limit_s->substr(0, 40) + "\"");
        limit = std::clamp<std::uint64_t>(*v, 1, 2000);
    }
    auto res = ctx.jobs.events_json(req.route.job_id, since, std::size_t(limit));
    if (auto* e = std::get_if<api_error>(&res)) return error_reply(e->http, e->code, e->message);
    return reply{200, std::move(std::get<std::string>(res))};
}

}  // namespace mvx::cp::handlers
