// The request handlers, by concern, and what they are given. A handler is a
// plain function of the request and the context: it decides the answer and
// returns it as a handler_result (http/response.hpp); it never touches the
// socket. Authorization, 404/405 and metrics happen before and after it, from
// the route table (routes/table.hpp).
#pragma once

#include "control-plane/config/config.hpp"
#include "control-plane/http/auth.hpp"
#include "control-plane/http/response.hpp"
#include "control-plane/routes/table.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace mvx::cp {

class job_registry;
class local_queue;
class runpod_driver;
class metrics;

struct context {
    const config& cfg;
    job_registry& jobs;
    local_queue* queue;  // MEMVID_EXPORT_BACKEND_MODE=local_queue
    runpod_driver* runpod;  // MEMVID_EXPORT_BACKEND_MODE=runpod_queue
    metrics& mx;
    authorizer& auth;
    const std::atomic<bool>& stopping;
};

struct request {
    std::string_view method, target;
    bool head = false;
    route_match route;
    // A header's value, "" when absent (case-insensitive name).
    std::function<std::string_view(std::string_view name)> header;
    std::optional<std::uint64_t> content_length;
    bool chunked = false;
    // A waiter woken on this connection's executor (long polls, streams, uploads).
    std::function<std::shared_ptr<waiter>()> make_waiter;
};

namespace handlers {
// health.cpp
handler_result healthz(const request& req, context& ctx);
handler_result readyz(const request& req, context& ctx);
handler_result metrics_page(const request& req, context& ctx);
// exports.cpp
handler_result create_export(const request& req, context& ctx);
handler_result export_status(const request& req, context& ctx);
handler_result cancel_export(const request& req, context& ctx);
handler_result export_events(const request& req, context& ctx);
// event_stream.cpp
handler_result export_stream(const request& req, context& ctx);
// download.cpp
handler_result download(const request& req, context& ctx);
// worker_protocol.cpp
handler_result job_take(const request& req, context& ctx);
handler_result job_done(const request& req, context& ctx);
handler_result job_ping(const request& req, context& ctx);
handler_result job_stop(const request& req, context& ctx);
}  // namespace handlers

}  // namespace mvx::cp
