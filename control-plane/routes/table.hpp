// The route table: one entry per route — methods, path pattern, who may call
// it, the metric label, a one-line summary and the handler. Routing, the
// 401/404/405 answers, the request metrics and the route list in the README
// (`memvid-export-api routes`) all come from it. To add a route, add an entry
// here and its handler under handlers/ (CONTRIBUTING.md).
#pragma once

#include "control-plane/http/response.hpp"

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mvx::cp {

struct request;
struct context;
using handler_fn = handler_result (*)(const request& req, context& ctx);

enum class auth_kind {
    none,  // anyone
    api_key,  // Authorization: Bearer <MEMVID_EXPORT_API_KEY>, rate limited per key
    worker_key,  // the worker key, raw or as a bearer token (the Runpod worker protocol; local queue only)
};

// Pattern segments: literals, and
//   {id}        a job id (any segment matches; one that is not a job id is a 404 JOB_NOT_FOUND)
//   {endpoint}  MEMVID_LOCAL_QUEUE_ENDPOINT_ID
//   {worker}, {job}  a worker id / queue job id (valid_token), else no match
struct route_spec {
    std::array<std::string_view, 2> methods;  // "" when unused
    std::string_view pattern;
    auth_kind auth;
    std::string_view metric;
    std::string_view summary;
    handler_fn handler;
};

// Paths that match no route but lie under a scope still need its key (no
// probing without it), then get a 404.
struct route_scope {
    std::string_view prefix;  // a pattern prefix
    std::size_t min_segments;  // the path has at least this many segments
    auth_kind auth;
    bool echo_target;  // the 404 names the path
};

std::span<const route_spec> routes();
std::span<const route_scope> scopes();

// Metric labels by route index + 1; index 0 is "other" (no route matched).
std::vector<std::string_view> metric_labels();

struct route_match {
    enum class outcome { route, method_not_allowed, not_found } kind = outcome::not_found;
    std::size_t index = 0;  // routes()[index] (route, method_not_allowed: the path's first route)
    std::size_t metric = 0;  // metric_labels() index
    auth_kind auth = auth_kind::none;
    bool preflight = false;  // OPTIONS (answered before auth)
    bool bad_id = false;  // {id} was not a job id
    bool echo_target = true;  // for not_found
    std::string allow;  // for 405: "GET, DELETE, OPTIONS"
    std::string job_id, worker_id, queue_job_id;  // {id}, {worker}, {job}
    std::string query;  // raw query string, without '?' and any '#fragment'
};

// method: "GET", "POST", ...; target: the request-target as received.
route_match match_route(std::string_view method, std::string_view target, std::string_view endpoint_id);

// The README's route list: a Markdown table of the routes.
std::string routes_markdown();

}  // namespace mvx::cp
