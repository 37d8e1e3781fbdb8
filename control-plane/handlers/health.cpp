// GET /healthz, /readyz and /metrics.
#include "control-plane/handlers/handlers.hpp"

#include "common/core/json_text.hpp"
#include "control-plane/jobs/local_queue.hpp"
#include "control-plane/jobs/registry.hpp"
#include "control-plane/observability/log.hpp"
#include "control-plane/observability/metrics.hpp"

#include <boost/json/object.hpp>

#include <map>

namespace json = boost::json;

namespace mvx::cp::handlers {

handler_result healthz(const request&, context&) {
    return reply{200, to_text(json::object{{"ok", true}, {"timestamp", rfc3339(now_ms())}})};
}

handler_result readyz(const request&, context& ctx) {
    json::object o{{"ok", true}, {"backend", ctx.cfg.backend_name()}, {"queueDepth", ctx.queue ? ctx.queue->depth() : 0}};
    if (ctx.queue) o["workers"] = ctx.queue->workers_seen(3 * ctx.cfg.lease_seconds * 1000);
    if (ctx.stopping) {
        o["ok"] = false;
        return reply{503, to_text(o)};
    }
    return reply{200, to_text(o)};
}

handler_result metrics_page(const request&, context& ctx) {
    const auto t = ctx.jobs.count();
    std::map<std::string_view, std::size_t> by_name;  // listed by name
    for (const auto& [s, n] : t.by_status) by_name[to_string(s)] = n;
    std::string o = "# HELP memvid_export_jobs Jobs in the store, by state.\n# TYPE memvid_export_jobs gauge\n";
    for (const auto& [s, n] : by_name) o += "memvid_export_jobs{status=\"" + std::string(s) + "\"} " + std::to_string(n) + "\n";
    const std::size_t depth = ctx.queue ? ctx.queue->depth() : 0;
    const std::size_t workers = ctx.queue ? ctx.queue->workers_seen(3 * ctx.cfg.lease_seconds * 1000 - 1) : 0;
    o += "# HELP memvid_export_queue_depth Jobs waiting for a worker (local queue).\n# TYPE memvid_export_queue_depth gauge\n"
         "memvid_export_queue_depth " +
        std::to_string(depth) + "\n";
    o += "# HELP memvid_export_leased_jobs Jobs a worker holds (local queue).\n# TYPE memvid_export_leased_jobs gauge\n"
         "memvid_export_leased_jobs " +
        std::to_string(t.leased) + "\n";
    o += "# HELP memvid_export_workers Workers seen in the last three lease periods (local queue).\n# TYPE memvid_export_workers "
         "gauge\n"
         "memvid_export_workers " +
        std::to_string(workers) + "\n";
    reply r{200, o + ctx.mx.text()};
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
}

}  // namespace mvx::cp::handlers
