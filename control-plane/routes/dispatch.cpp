// From a matched request to its handler: CORS preflight, the route's key,
// 405 and 404 answers, as the route table says.
#include "control-plane/handlers/handlers.hpp"

#include "control-plane/routes/dispatch.hpp"

namespace mvx::cp {

dispatched dispatch(const request& req, context& ctx) {
    const route_match& r = req.route;
    dispatched d;
    d.metric = r.metric;
    if (r.preflight) {
        reply out;
        out.status = 204;
        const auto asked = req.header("Access-Control-Request-Headers");
        out.headers = {{"Access-Control-Allow-Methods", "GET, POST, DELETE, HEAD, OPTIONS"},
                       {"Access-Control-Allow-Headers",
                        asked.empty() ? std::string("Authorization, Content-Type, Idempotency-Key, "
                                                    "Last-Event-ID, Range, If-None-Match")
                                      : std::string(asked)},
                       {"Access-Control-Max-Age", "600"}};
        d.result = std::move(out);
        return d;
    }
    if (auto denied = ctx.auth.check(r.auth, req.header("Authorization"), d.extra)) {
        d.result = std::move(*denied);
        return d;
    }
    if (r.kind == route_match::outcome::method_not_allowed) {
        const std::string_view target = req.target;
        reply out =
            error_reply(405, "METHOD_NOT_ALLOWED",
                        std::string(req.method) + " is not allowed on " + std::string(target.substr(0, target.find('?'))));
        out.headers.emplace_back("Allow", r.allow);
        d.result = std::move(out);
        return d;
    }
    if (r.kind == route_match::outcome::not_found) {
        d.result = r.echo_target ? error_reply(404, "NOT_FOUND", "No such route: " + std::string(req.target.substr(0, 200)))
                                 : error_reply(404, "NOT_FOUND", "No such route");
        return d;
    }
    if (r.bad_id) {
        d.result = error_reply(404, "JOB_NOT_FOUND", "No export job with that id (job ids are UUIDs)");
        return d;
    }
    d.result = routes()[r.index].handler(req, ctx);
    return d;
}

}  // namespace mvx::cp
