#include "control-plane/routes/table.hpp"

#include "control-plane/handlers/handlers.hpp"
#include "control-plane/http/headers.hpp"

#include <array>

namespace mvx::cp {
namespace {

namespace H = handlers;

// The routes, in the order the metrics list them. Several routes may share a
// pattern (one per method set); the first of them names the 405s and preflights.
constexpr std::array<route_spec, 13> k_routes{{
    {{"GET", "HEAD"}, "/healthz", auth_kind::none, "healthz", "liveness: `{\"ok\":true,\"timestamp\"}`", &H::healthz},
    {{"GET", "HEAD"},
     "/readyz",
     auth_kind::none,
     "readyz",
     "readiness: backend, queue depth, workers seen; 503 while stopping",
     &H::readyz},
    {{"GET", ""},
     "/metrics",
     auth_kind::none,
     "metrics",
     "Prometheus text: jobs, queue, workers, stages, backend calls, requests",
     &H::metrics_page},
    {{"POST", ""},
     "/v1/exports",
     auth_kind::api_key,
     "create",
     "submit an export (the GitNexus JSON body); 202 with the job",
     &H::create_export},
    {{"GET", ""}, "/v1/exports/{id}", auth_kind::api_key, "status", "the job's status", &H::export_status},
    {{"DELETE", ""}, "/v1/exports/{id}", auth_kind::api_key, "cancel", "cancel the job", &H::cancel_export},
    {{"GET", ""},
     "/v1/exports/{id}/events",
     auth_kind::api_key,
     "events",
     "a page of events (`sinceSeq`, `limit` 1..2000)",
     &H::export_events},
    {{"GET", ""},
     "/v1/exports/{id}/events/stream",
     auth_kind::api_key,
     "stream",
     "the events as SSE (`Last-Event-ID` or `sinceSeq` resume)",
     &H::export_stream},
    {{"GET", "HEAD"},
     "/v1/exports/{id}/download",
     auth_kind::api_key,
     "download",
     "the capsule (`Range`, `If-Range`, `If-None-Match`)",
     &H::download},
    {{"GET", ""},
     "/v2/{endpoint}/job-take/{worker}",
     auth_kind::worker_key,
     "job-take",
     "worker protocol: long-poll for a job (local queue)",
     &H::job_take},
    {{"POST", ""},
     "/v2/{endpoint}/job-done/{worker}/{job}",
     auth_kind::worker_key,
     "job-done",
     "worker protocol: progress, output or error",
     &H::job_done},
    {{"GET", ""},
     "/v2/{endpoint}/ping/{worker}",
     auth_kind::worker_key,
     "ping",
     "worker protocol: heartbeat with the held job ids",
     &H::job_ping},
    {{"GET", ""},
     "/v2/{endpoint}/job-stop/{worker}",
     auth_kind::worker_key,
     "job-stop",
     "worker protocol: long-poll for jobs to stop",
     &H::job_stop},
}};

constexpr std::array<route_scope, 2> k_scopes{{
    {"/v1", 1, auth_kind::api_key, false},
    {"/v2/{endpoint}", 3, auth_kind::worker_key, true},
}};

// "/a/b/" -> {"a", "b"} (one trailing slash dropped); "/" -> {""}.
std::vector<std::string_view> segments(std::string_view path) {
    std::vector<std::string_view> seg;
    std::size_t i = 1;
    while (i <= path.size()) {
        auto j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        seg.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    if (!seg.empty() && seg.back().empty() && seg.size() > 1) seg.pop_back();
    return seg;
}

// Does the path match the pattern's first `count` segments (all when count = npos)?
bool matches(std::string_view pattern, const std::vector<std::string_view>& seg, std::string_view endpoint, route_match* out,
             std::size_t count = std::string_view::npos) {
    const auto pat = segments(pattern);
    const std::size_t n = count == std::string_view::npos ? pat.size() : count;
    if (count == std::string_view::npos ? seg.size() != pat.size() : seg.size() < n) return false;
    bool bad_id = false;
    std::string id, worker, job;
    for (std::size_t i = 0; i < n; ++i) {
        const auto p = pat[i];
        const auto s = seg[i];
        if (p == "{id}") {
            bad_id = bad_id || !is_job_id(s);
            id = std::string(s);
        } else if (p == "{endpoint}") {
            if (s != endpoint) return false;
        } else if (p == "{worker}") {
            if (!valid_token(s)) return false;
            worker = std::string(s);
        } else if (p == "{job}") {
            if (!valid_token(s)) return false;
            job = std::string(s);
        } else if (p != s) {
            return false;
        }
    }
    if (out) {
        out->bad_id = bad_id;
        out->job_id = std::move(id);
        out->worker_id = std::move(worker);
        out->queue_job_id = std::move(job);
    }
    return true;
}

}  // namespace

std::span<const route_spec> routes() { return k_routes; }
std::span<const route_scope> scopes() { return k_scopes; }

std::vector<std::string_view> metric_labels() {
    std::vector<std::string_view> v{"other"};
    for (const auto& r : k_routes) v.push_back(r.metric);
    return v;
}

route_match match_route(std::string_view method, std::string_view target, std::string_view endpoint_id) {
    route_match m;
    // origin-form only: "/path[?query]" (no absolute-form, no authority-form, no '*').
    if (target.empty() || target.front() != '/') return m;
    const auto q = target.find('?');
    const std::string_view path = target.substr(0, q);
    if (q != std::string_view::npos) m.query = std::string(target.substr(q + 1));
    if (auto frag = m.query.find('#'); frag != std::string::npos) m.query.resize(frag);
    const auto seg = segments(path);
    m.preflight = method == "OPTIONS";

    bool found_path = false;
    for (std::size_t i = 0; i < k_routes.size(); ++i) {
        const auto& r = k_routes[i];
        route_match params;
        if (!matches(r.pattern, seg, endpoint_id, &params)) continue;
        if (!found_path) {  // the path's first route: its label, auth and parameters
            found_path = true;
            params.kind = route_match::outcome::method_not_allowed;
            params.index = i;
            params.metric = i + 1;
            params.auth = r.auth;
            params.preflight = m.preflight;
            params.query = m.query;
            m = std::move(params);
        }
        for (auto allowed : r.methods) {
            if (allowed.empty()) continue;
            if (allowed == method && m.kind != route_match::outcome::route) {
                m.kind = route_match::outcome::route;
                m.index = i;
                m.metric = i + 1;
            }
        }
    }
    if (found_path) {
        if (m.kind == route_match::outcome::method_not_allowed) {
            for (const auto& r : k_routes) {
                if (!matches(r.pattern, seg, endpoint_id, nullptr)) continue;
                for (auto allowed : r.methods)
                    if (!allowed.empty()) m.allow += (m.allow.empty() ? "" : ", ") + std::string(allowed);
            }
            m.allow += ", OPTIONS";
        }
        return m;
    }
    // No route: a scope may still want its key first.
    for (const auto& s : k_scopes) {
        const auto pre = segments(s.prefix);
        if (seg.size() >= s.min_segments && matches(s.prefix, seg, endpoint_id, nullptr, pre.size())) {
            m.auth = s.auth;
            m.echo_target = s.echo_target;
            break;
        }
    }
    return m;
}

std::string routes_markdown() {
    std::string o = "| Method | Path | Auth | Metric | What |\n|---|---|---|---|---|\n";
    for (const auto& r : k_routes) {
        std::string methods;
        for (auto m : r.methods)
            if (!m.empty()) methods += (methods.empty() ? "" : ", ") + std::string(m);
        const char* auth = r.auth == auth_kind::api_key ? "API key" : r.auth == auth_kind::worker_key ? "worker key" : "none";
        o += "| " + methods + " | `" + std::string(r.pattern) + "` | " + auth + " | `" + std::string(r.metric) + "` | " +
            std::string(r.summary) + " |\n";
    }
    return o;
}

}  // namespace mvx::cp
