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

// A path split at '/': "/a/b/" -> {"a", "b"} (one trailing slash dropped),
// "/" -> {""}. No allocation: the routes have at most k_max_segments
// segments, so a longer path keeps its first ones and its count.
constexpr std::size_t k_max_segments = 8;
struct split_path {
    std::array<std::string_view, k_max_segments> seg{};
    std::size_t n = 0;  // all segments, also those not kept
};

split_path segments(std::string_view path) {
    split_path out;
    std::size_t i = 1;
    while (i <= path.size()) {
        auto j = path.find('/', i);
        if (j == std::string_view::npos) j = path.size();
        if (out.n < k_max_segments) out.seg[out.n] = path.substr(i, j - i);
        ++out.n;
        i = j + 1;
    }
    if (out.n > 1 && out.n <= k_max_segments && out.seg[out.n - 1].empty())
        --out.n;
    else if (out.n > k_max_segments && !path.empty() && path.back() == '/')
        --out.n;
    return out;
}

// The patterns, split once.
const std::array<split_path, k_routes.size()>& route_segments() {
    static const auto split = [] {
        std::array<split_path, k_routes.size()> a{};
        for (std::size_t i = 0; i < k_routes.size(); ++i) a[i] = segments(k_routes[i].pattern);
        return a;
    }();
    return split;
}

struct params {
    bool bad_id = false;
    std::string_view id, worker, job;
};

// Does the path match the pattern's first `count` segments (all of them, and
// no more, when whole)?
bool matches(const split_path& pat, const split_path& seg, std::string_view endpoint, params& out, std::size_t count,
             bool whole) {
    if (whole ? seg.n != pat.n : seg.n < count) return false;
    params p;
    for (std::size_t i = 0; i < count; ++i) {
        const auto pt = pat.seg[i];
        const auto s = seg.seg[i];
        if (pt == "{id}") {
            p.bad_id = p.bad_id || !is_job_id(s);
            p.id = s;
        } else if (pt == "{endpoint}") {
            if (s != endpoint) return false;
        } else if (pt == "{worker}") {
            if (!valid_token(s)) return false;
            p.worker = s;
        } else if (pt == "{job}") {
            if (!valid_token(s)) return false;
            p.job = s;
        } else if (pt != s) {
            return false;
        }
    }
    out = p;
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
    // A Runpod worker template without a query gets the SDK's parameters
    // appended with '&' ("/job-take/w&job_in_progress=0"): that is a query too.
    auto q = target.find('?');
    if (q == std::string_view::npos && target.rfind("/v2/", 0) == 0) q = target.find('&');
    const std::string_view path = target.substr(0, q);
    if (q != std::string_view::npos) m.query = std::string(target.substr(q + 1));
    if (auto frag = m.query.find('#'); frag != std::string::npos) m.query.resize(frag);
    const split_path seg = segments(path);
    m.preflight = method == "OPTIONS";
    const auto& pats = route_segments();

    bool found_path = false;
    for (std::size_t i = 0; i < k_routes.size(); ++i) {
        params prm;
        if (!matches(pats[i], seg, endpoint_id, prm, pats[i].n, true)) continue;
        if (!found_path) {  // the path's first route: its label, auth and parameters
            found_path = true;
            m.kind = route_match::outcome::method_not_allowed;
            m.index = i;
            m.metric = i + 1;
            m.auth = k_routes[i].auth;
            m.bad_id = prm.bad_id;
            m.job_id = std::string(prm.id);
            m.worker_id = std::string(prm.worker);
            m.queue_job_id = std::string(prm.job);
        }
        for (auto allowed : k_routes[i].methods) {
            if (!allowed.empty() && allowed == method && m.kind != route_match::outcome::route) {
                m.kind = route_match::outcome::route;
                m.index = i;
                m.metric = i + 1;
            }
        }
    }
    if (found_path) {
        if (m.kind == route_match::outcome::method_not_allowed) {
            for (std::size_t i = 0; i < k_routes.size(); ++i) {
                params prm;
                if (!matches(pats[i], seg, endpoint_id, prm, pats[i].n, true)) continue;
                for (auto allowed : k_routes[i].methods)
                    if (!allowed.empty()) m.allow += (m.allow.empty() ? "" : ", ") + std::string(allowed);
            }
            m.allow += ", OPTIONS";
        }
        return m;
    }
    // No route: a scope may still want its key first.
    for (const auto& sc : k_scopes) {
        const split_path pre = segments(sc.prefix);
        params prm;
        if (seg.n >= sc.min_segments && matches(pre, seg, endpoint_id, prm, pre.n, false)) {
            m.auth = sc.auth;
            m.echo_target = sc.echo_target;
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
