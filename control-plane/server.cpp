#include "control-plane/server.hpp"

#include "common/contract/export_request.hpp"
#include "common/core/error.hpp"
#include "common/mv2/blake3.hpp"
#include "control-plane/jobs.hpp"
#include "control-plane/json_text.hpp"
#include "control-plane/log.hpp"
#include "control-plane/routing.hpp"
#include "control-plane/runpod_backend.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <openssl/crypto.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;

namespace mvx::cp {
namespace {

constexpr auto k_idle = std::chrono::seconds(75);
constexpr std::size_t k_chunk = 4 << 20;

struct timer_waiter : waiter, std::enable_shared_from_this<timer_waiter> {
    net::steady_timer timer;
    std::atomic<bool> woken{false};
    explicit timer_waiter(const net::any_io_executor& ex) : timer(ex) {}
    void wake() override {
        woken = true;
        auto self = shared_from_this();
        net::post(timer.get_executor(), [self] { self->timer.cancel(); });
    }
};

// Waits until woken or `d` passed; true when woken.
awaitable<bool> wait_for(timer_waiter& w, std::chrono::milliseconds d) {
    if (w.woken.exchange(false)) co_return true;
    w.timer.expires_after(d);
    boost::system::error_code ec;
    co_await w.timer.async_wait(net::redirect_error(use_awaitable, ec));
    co_return w.woken.exchange(false);
}

struct reply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    bool close = false;
    bool body_read = false;  // the handler consumed the request body itself

    reply() = default;
    reply(int s, std::string b) : status(s), body(std::move(b)) {}
    reply(int s, std::string b, std::string ct, std::vector<std::pair<std::string, std::string>> h, bool c)
        : status(s), body(std::move(b)), content_type(std::move(ct)), headers(std::move(h)), close(c) {}
};

reply error_reply(int status, const std::string& code, const std::string& message) {
    json::object inner{{"code", code}, {"message", message}};
    json::object o{{"error", std::move(inner)}};
    reply r;
    r.status = status;
    r.body = to_text(o);
    return r;
}


class rate_limiter {
public:
    rate_limiter(double per_minute, double burst) : per_minute_(per_minute), capacity_(std::max(burst, 1.0)) {}
    bool enabled() const { return per_minute_ > 0; }
    // Takes a token; fills remaining and reset (seconds until full).
    bool take(const std::string& key, double& remaining, double& reset) {
        std::lock_guard<std::mutex> lock(mu_);
        auto now = std::chrono::steady_clock::now();
        auto [it, fresh] = buckets_.try_emplace(key, bucket{capacity_, now});
        bucket& b = it->second;
        const double rate = per_minute_ / 60.0;
        b.tokens = std::min(capacity_, b.tokens + rate * std::chrono::duration<double>(now - b.at).count());
        b.at = now;
        bool ok = b.tokens >= 1.0;
        if (ok) b.tokens -= 1.0;
        remaining = std::floor(b.tokens);
        reset = std::ceil((capacity_ - b.tokens) / rate);
        return ok;
    }
    double per_minute() const { return per_minute_; }

private:
    struct bucket {
        double tokens;
        std::chrono::steady_clock::time_point at;
    };
    double per_minute_, capacity_;
    std::mutex mu_;
    std::map<std::string, bucket> buckets_;
};

std::string hex(const mv2::digest& d) {
    static const char* h = "0123456789abcdef";
    std::string s;
    for (auto b : d) {
        s += h[b >> 4];
        s += h[b & 15];
    }
    return s;
}

}  // namespace

struct server::impl {
    const config& cfg;
    job_service& jobs;
    runpod_driver* runpod;
    metrics& mx;
    // One single-threaded io_context per thread; a connection stays on one of
    // them (no strand, no cross-thread wake-up per handler: about half of a small
    // GET's cost with one shared multi-threaded context).
    std::vector<std::unique_ptr<net::io_context>> iocs;
    net::io_context& ioc;
    tcp::acceptor acceptor;
    std::size_t next_ioc = 0;
    rate_limiter limiter;
    const mv2::digest api_key_digest, worker_key_digest;  // taken once: a request hashes only its token
    std::atomic<bool> stopping{false};
    std::thread housekeeping;
    std::mutex stop_mu;
    std::condition_variable stop_cv;

    impl(const config& c, job_service& j, runpod_driver* r, metrics& m)
        : cfg(c), jobs(j), runpod(r), mx(m), iocs(make_iocs(c.threads)), ioc(*iocs[0]), acceptor(ioc),
          limiter(c.rate_per_minute, c.rate_burst), api_key_digest(mv2::blake3(c.api_key)),
          worker_key_digest(mv2::blake3(c.worker_key)) {}

    static std::vector<std::unique_ptr<net::io_context>> make_iocs(unsigned n) {
        std::vector<std::unique_ptr<net::io_context>> v;
        for (unsigned i = 0; i < std::max(1u, n); ++i) v.push_back(std::make_unique<net::io_context>(1));
        return v;
    }

    using parser_t = bhttp::request_parser<bhttp::buffer_body>;

    // ------------------------------------------------------------ plumbing

    // CORS as the original (any origin); the exposed headers only matter to a
    // browser, which always sends Origin.
    void common_headers(bhttp::fields& f, bool cors = true) const {
        f.set(bhttp::field::server, "memvid-export-api/0.1.0");
        f.set(bhttp::field::access_control_allow_origin, "*");
        if (cors)
            f.set(bhttp::field::access_control_expose_headers,
                  "Content-Disposition, ETag, Content-Range, Accept-Ranges, Location, Retry-After, X-RateLimit-Limit, "
                  "X-RateLimit-Remaining, X-RateLimit-Reset");
    }

    awaitable<bool> send(beast::tcp_stream& s, const parser_t& p, reply r, bool head_only = false) {
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), p.get().version()};
        common_headers(res, p.get().count(bhttp::field::origin) > 0);
        if (r.status != 204 && r.status != 304) res.set(bhttp::field::content_type, r.content_type);
        for (auto& [k, v] : r.headers) res.set(k, v);
        const bool keep = p.get().keep_alive() && !r.close && (p.is_done() || r.body_read) && !stopping;
        res.keep_alive(keep);
        res.body() = std::move(r.body);
        if (r.status == 204 || r.status == 304) {
            res.erase(bhttp::field::content_type);  // no body and no Content-Length (RFC 9110)
            res.body().clear();
        } else {
            res.prepare_payload();
        }
        if (head_only) res.body().clear();
        boost::system::error_code ec;
        if (head_only) {
            bhttp::response_serializer<bhttp::string_body> sr{res};
            co_await bhttp::async_write_header(s, sr, net::redirect_error(use_awaitable, ec));
        } else {
            co_await bhttp::async_write(s, res, net::redirect_error(use_awaitable, ec));
        }
        co_return !ec && keep;
    }

    // A plain reply from a streaming handler (SSE, download): its extra headers
    // and its count in the request metrics, as handle() does for the others.
    awaitable<bool> send_counted(beast::tcp_stream& s, const parser_t& p, const route& r,
                                 const std::vector<std::pair<std::string, std::string>>& extra, reply e, bool head) {
        for (const auto& h : extra) e.headers.push_back(h);
        const int st = e.status;
        const bool keep = co_await send(s, p, std::move(e), head);
        metrics_ref().http_request(r.name, st);
        co_return keep;
    }

    // Reads a small body (worker posts) into a string; false when too large or the client left.
    awaitable<bool> read_small_body(beast::tcp_stream& s, beast::flat_buffer& buf, parser_t& p, std::string& out,
                                    std::size_t limit) {
        std::vector<char> chunk(64 * 1024);
        while (!p.is_done()) {
            p.get().body().data = chunk.data();
            p.get().body().size = chunk.size();
            boost::system::error_code ec;
            s.expires_after(std::chrono::seconds(60));
            co_await bhttp::async_read(s, buf, p, net::redirect_error(use_awaitable, ec));
            if (ec == bhttp::error::need_buffer) ec = {};
            if (ec) co_return false;
            out.append(chunk.data(), chunk.size() - p.get().body().size);
            if (out.size() > limit) co_return false;
        }
        co_return true;
    }

    std::optional<reply> authorize(const parser_t& p, const route& r, std::vector<std::pair<std::string, std::string>>& extra) {
        if (r.api) {
            std::string why;
            auto auth = p.get()[bhttp::field::authorization];
            auto token = bearer_token(std::string_view(auth.data(), auth.size()), why);
            if (!token) return error_reply(401, "UNAUTHORIZED", why);
            // One digest of the token per request: the key check and the rate-limit bucket.
            const mv2::digest token_digest = mv2::blake3(*token);
            if (CRYPTO_memcmp(token_digest.data(), api_key_digest.data(), token_digest.size()) != 0)
                return error_reply(401, "UNAUTHORIZED", "Invalid API key");
            if (limiter.enabled()) {
                double remaining = 0, reset = 0;
                bool ok = limiter.take(std::string(token_digest.begin(), token_digest.end()), remaining, reset);
                extra.emplace_back("X-RateLimit-Limit", std::to_string(std::llround(limiter.per_minute())));
                extra.emplace_back("X-RateLimit-Remaining", std::to_string(std::llround(remaining)));
                extra.emplace_back("X-RateLimit-Reset", std::to_string(std::llround(reset)));
                if (!ok) {
                    auto e = error_reply(429, "RATE_LIMITED", "Too many requests for this API key: retry after the time in Retry-After");
                    e.headers = extra;
                    e.headers.emplace_back("Retry-After", std::to_string(std::max<long long>(1, std::llround(60.0 / limiter.per_minute()))));
                    return e;
                }
            }
        } else if (r.worker) {
            if (cfg.backend != backend_mode::local_queue)
                return error_reply(404, "NOT_FOUND", "The worker protocol is served only when MEMVID_EXPORT_BACKEND_MODE=local_queue");
            auto auth = p.get()[bhttp::field::authorization];
            if (!secret_matches(worker_token(std::string_view(auth.data(), auth.size())), worker_key_digest))
                return error_reply(401, "UNAUTHORIZED", "Invalid worker key: set RUNPOD_AI_API_KEY to MEMVID_LOCAL_QUEUE_WORKER_KEY");
        }
        return std::nullopt;
    }

    // ------------------------------------------------------------ session

    awaitable<void> session(tcp::socket sock) {
        beast::tcp_stream s(std::move(sock));
        beast::flat_buffer buf;
        // The idle deadline is re-armed lazily (every 30 s of traffic, or after a
        // handler set its own): a timer syscall per request costs more than the
        // rest of a small GET.
        auto armed = std::chrono::steady_clock::time_point{};
        for (;;) {
            parser_t p;
            p.header_limit(16 * 1024);
            p.body_limit(boost::none);
            boost::system::error_code ec;
            const auto now = std::chrono::steady_clock::now();
            if (now - armed > std::chrono::seconds(30)) {
                s.expires_after(k_idle);
                armed = now;
            }
            co_await bhttp::async_read_header(s, buf, p, net::redirect_error(use_awaitable, ec));
            if (ec) {
                if (ec != bhttp::error::end_of_stream && ec != net::error::eof && ec != beast::error::timeout &&
                    ec != net::error::connection_reset && ec != net::error::operation_aborted) {
                    bhttp::response<bhttp::string_body> res{bhttp::status::bad_request, 11};
                    common_headers(res);
                    res.set(bhttp::field::content_type, "application/json");
                    res.body() = to_text(json::object{
                        {"error", json::object{{"code", "BAD_REQUEST"}, {"message", "Malformed HTTP request: " + ec.message()}}}});
                    res.keep_alive(false);
                    res.prepare_payload();
                    s.expires_after(std::chrono::seconds(5));
                    co_await bhttp::async_write(s, res, net::redirect_error(use_awaitable, ec));
                }
                break;
            }
            bool own_deadline = false;
            bool keep = co_await handle(s, buf, p, own_deadline);
            if (own_deadline) armed = {};
            if (!keep) break;
        }
        boost::system::error_code ec;
        s.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    awaitable<bool> handle(beast::tcp_stream& s, beast::flat_buffer& buf, parser_t& p, bool& own_deadline) {
        const auto& req = p.get();
        std::string method(req.method_string());
        std::string target(req.target());
        route r = match_route(method, target, cfg.local_endpoint_id);
        std::vector<std::pair<std::string, std::string>> extra;
        reply out;
        bool head = method == "HEAD";
        own_deadline = r.kind == route_kind::create_export || r.kind == route_kind::done || r.kind == route_kind::export_stream ||
                       r.kind == route_kind::download;
        bool streamed = false;
        bool keep = false;
        if (r.kind == route_kind::preflight) {
            out.status = 204;
            out.headers = {{"Access-Control-Allow-Methods", "GET, POST, DELETE, HEAD, OPTIONS"},
                           {"Access-Control-Allow-Headers",
                            req[bhttp::field::access_control_request_headers].empty()
                                ? std::string("Authorization, Content-Type, Idempotency-Key, Last-Event-ID, Range, If-None-Match")
                                : std::string(req[bhttp::field::access_control_request_headers])},
                           {"Access-Control-Max-Age", "600"}};
        } else if (auto denied = authorize(p, r, extra)) {
            out = std::move(*denied);
        } else if (r.kind == route_kind::method_not_allowed) {
            out = error_reply(405, "METHOD_NOT_ALLOWED", method + " is not allowed on " + std::string(target.substr(0, target.find('?'))));
            out.headers.emplace_back("Allow", r.allow);
        } else if (r.bad_id) {
            out = r.kind == route_kind::not_found || r.kind == route_kind::create_export
                      ? error_reply(404, "NOT_FOUND", "No such route")
                      : error_reply(404, "JOB_NOT_FOUND", "No export job with that id (job ids are UUIDs)");
        } else {
            switch (r.kind) {
                case route_kind::healthz:
                    out.body = to_text(json::object{{"ok", true}, {"timestamp", rfc3339(now_ms())}});
                    break;
                case route_kind::readyz: out = readyz(); break;
                case route_kind::metrics:
                    out.body = jobs.metrics_text();
                    out.content_type = "text/plain; version=0.0.4; charset=utf-8";
                    break;
                case route_kind::create_export: {
                    auto res = co_await create_export(s, buf, p);
                    out = std::move(res);
                    break;
                }
                case route_kind::export_status: {
                    auto st = jobs.status_json(r.job_id);
                    out = st ? reply{200, std::move(*st)} : error_reply(404, "JOB_NOT_FOUND", "No export job " + r.job_id);
                    break;
                }
                case route_kind::cancel_export: {
                    auto res = jobs.cancel(r.job_id);
                    if (auto* e = std::get_if<api_error>(&res)) {
                        out = error_reply(e->http, e->code, e->message);
                    } else {
                        if (runpod) runpod->wake(r.job_id);
                        out.body = std::get<std::string>(res);
                    }
                    break;
                }
                case route_kind::export_events: out = events(r); break;
                case route_kind::export_stream:
                    streamed = true;
                    keep = co_await stream(s, p, r, extra);
                    break;
                case route_kind::download:
                    streamed = true;
                    keep = co_await download(s, p, r, extra, head);
                    break;
                case route_kind::take:
                    out = co_await take(r);
                    break;
                case route_kind::done: {
                    std::string body;
                    if (!co_await read_small_body(s, buf, p, body, 32u << 20)) {
                        out = error_reply(413, "PAYLOAD_TOO_LARGE", "job-done body over 32 MiB or incomplete");
                        out.close = true;
                        break;
                    }
                    json::error_code jec;
                    auto v = json::parse(body, jec);
                    if (jec) {
                        out = error_reply(400, "INVALID_JSON", "job-done body is not JSON: " + jec.message());
                        break;
                    }
                    int code = jobs.job_done(r.worker_id, r.queue_job_id, v);
                    out = code == 200 ? reply{200, "{}"}
                          : code == 404 ? error_reply(404, "JOB_NOT_FOUND", "No job " + r.queue_job_id)
                                        : error_reply(409, "LEASE_LOST", "Job " + r.queue_job_id + " is no longer leased to " + r.worker_id);
                    break;
                }
                case route_kind::ping: {
                    bool bad = false;
                    auto ids = query_param(r.query, "job_id", bad);
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
                    jobs.ping(r.worker_id, list);
                    out.body = "{}";
                    break;
                }
                case route_kind::stop: out = co_await stop_poll(r); break;
                default: out = error_reply(404, "NOT_FOUND", "No such route: " + std::string(target.substr(0, 200))); break;
            }
        }
        if (!streamed && out.status == 499) co_return false;  // the client left mid-body: nothing to answer
        if (!streamed) {
            if (r.kind == route_kind::take || r.kind == route_kind::stop || r.kind == route_kind::create_export) {
                s.expires_after(std::chrono::seconds(30));  // after a long poll the idle deadline may be near
                own_deadline = true;
            }
            for (auto& h : extra) out.headers.push_back(h);
            const int status = out.status;
            keep = co_await send(s, p, std::move(out), head);
            jobs_metrics(r, status);
        }
        co_return keep;
    }

    void jobs_metrics(const route& r, int status) { metrics_ref().http_request(r.name, status); }
    metrics& metrics_ref() { return mx; }

    reply readyz() {
        json::object o{{"ok", true}, {"backend", cfg.backend_name()}, {"queueDepth", jobs.queue_depth()}};
        if (cfg.backend == backend_mode::local_queue) o["workers"] = jobs.workers_seen(3 * cfg.lease_seconds * 1000);
        if (stopping) {
            o["ok"] = false;
            return reply{503, to_text(o)};
        }
        return reply{200, to_text(o)};
    }

    reply events(const route& r) {
        bool bad = false;
        auto since_s = query_param(r.query, "sinceSeq", bad);
        auto limit_s = query_param(r.query, "limit", bad);
        if (bad) return error_reply(400, "INVALID_QUERY", "The query string has a malformed %-escape");
        std::uint64_t since = 0, limit = 200;
        if (since_s && !since_s->empty()) {
            auto v = parse_u64(*since_s);
            if (!v) return error_reply(400, "INVALID_QUERY", "sinceSeq must be a non-negative integer, got \"" + since_s->substr(0, 40) + "\"");
            since = *v;
        }
        if (limit_s && !limit_s->empty()) {
            auto v = parse_u64(*limit_s);
            if (!v) return error_reply(400, "INVALID_QUERY", "limit must be a positive integer (1..2000), got \"" + limit_s->substr(0, 40) + "\"");
            limit = std::clamp<std::uint64_t>(*v, 1, 2000);
        }
        auto res = jobs.events_json(r.job_id, since, std::size_t(limit));
        if (auto* e = std::get_if<api_error>(&res)) return error_reply(e->http, e->code, e->message);
        return reply{200, std::move(std::get<std::string>(res))};
    }

    // ------------------------------------------------------------ POST /v1/exports

    awaitable<reply> create_export(beast::tcp_stream& s, beast::flat_buffer& buf, parser_t& p) {
        const auto& req = p.get();
        auto ct = req[bhttp::field::content_type];
        if (!ct.empty() && ct.find("json") == boost::string_view::npos)
            co_return [&] { auto e = error_reply(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json"); e.close = true; return e; }();
        std::string idem(req["Idempotency-Key"]);
        if (!idem.empty() && !valid_idempotency_key(idem))
            co_return [&] { auto e = error_reply(400, "INVALID_IDEMPOTENCY_KEY", "Idempotency-Key must be 1-255 visible ASCII characters"); e.close = true; return e; }();
        auto len = p.content_length();
        if (len && *len > cfg.max_body_bytes)
            co_return [&] {
                auto e = error_reply(413, "PAYLOAD_TOO_LARGE", "The body is " + std::to_string(*len) + " bytes; the limit is " +
                                                                   std::to_string(cfg.max_body_bytes) + " (MEMVID_EXPORT_MAX_BODY_BYTES)");
                e.close = true;
                return e;
            }();
        if (!jobs.queue_has_room())
            co_return [&] {
                auto e = error_reply(503, "QUEUE_FULL", "The export queue is full (MEMVID_EXPORT_QUEUE_CAPACITY=" +
                                                            std::to_string(cfg.queue_capacity) + "): retry later");
                e.headers.emplace_back("Retry-After", "5");
                e.close = true;
                return e;
            }();
        boost::system::error_code ec;
        if (beast::iequals(req[bhttp::field::expect], "100-continue")) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            s.expires_after(std::chrono::seconds(10));
            co_await net::async_write(s, net::buffer(cont, sizeof cont - 1), net::redirect_error(use_awaitable, ec));
            if (ec) co_return reply{499, "", "", {}, true};
        }
        const std::string id = new_uuid4();
        const fs::path part = jobs.new_part_file(id);
        std::FILE* f = std::fopen(part.c_str(), "wb");
        if (!f) co_return error_reply(500, "STAGING_FAILED", "Could not create the staging file " + part.string() + ": " + std::strerror(errno));
        auto cleanup = [&] {
            if (f) std::fclose(f);
            f = nullptr;
            std::error_code fec;
            fs::remove(part, fec);
        };
        contract::limits lim;
        lim.max_payload_bytes = cfg.max_body_bytes;
        lim.keep_file_contents = false;  // checked, not held: the staged file keeps them
        mv2::hasher h;
        std::uint64_t total = 0;
        std::optional<reply> failure;

        // The contract parser runs on its own thread, one chunk behind the
        // socket: reading, staging and hashing overlap with parsing. At most
        // k_pipe_buffers chunks exist at once.
        struct pipe_state {
            std::mutex mu;
            std::condition_variable cv;
            std::deque<std::vector<char>> queue;
            std::vector<std::vector<char>> spare;
            std::size_t buffers = 0;
            bool closed = false, done = false;
            std::string error;
            std::uint64_t nodes = 0, relationships = 0, files = 0;
        };
        constexpr std::size_t k_pipe_buffers = 3;
        auto pipe = std::make_shared<pipe_state>();
        auto waker = std::make_shared<timer_waiter>(co_await net::this_coro::executor);
        std::thread parse_thread([pipe, waker, lim] {
            std::optional<contract::request_parser> parser(std::in_place, lim);
            bool failed = false;
            for (;;) {
                std::vector<char> c;
                {
                    std::unique_lock<std::mutex> lock(pipe->mu);
                    pipe->cv.wait(lock, [&] { return !pipe->queue.empty() || pipe->closed; });
                    if (pipe->queue.empty()) break;
                    c = std::move(pipe->queue.front());
                    pipe->queue.pop_front();
                }
                if (!failed) {
                    try {
                        parser->write(c.data(), c.size(), "body");
                    } catch (const std::exception& e) {
                        std::lock_guard<std::mutex> lock(pipe->mu);
                        pipe->error = e.what();
                        failed = true;
                    }
                }
                {
                    std::lock_guard<std::mutex> lock(pipe->mu);
                    pipe->spare.push_back(std::move(c));
                }
                waker->wake();
            }
            std::string err;
            std::uint64_t n = 0, r = 0, fc = 0;
            if (!failed) {
                try {
                    auto parsed = parser->finish("body");
                    n = parsed.nodes.size();
                    r = parsed.relationships.size();
                    fc = parsed.file_contents.size();
                } catch (const std::exception& e) {
                    err = e.what();
                }
            }
            parser.reset();
#ifdef __GLIBC__
            malloc_trim(0);  // the parse's memory goes back to the system, not to this thread's arena
#endif
            {
                std::lock_guard<std::mutex> lock(pipe->mu);
                if (!err.empty()) pipe->error = err;
                pipe->nodes = n;
                pipe->relationships = r;
                pipe->files = fc;
                pipe->done = true;
            }
            waker->wake();
        });
        struct joiner {
            std::thread& t;
            std::shared_ptr<pipe_state> p;
            ~joiner() {
                {
                    std::lock_guard<std::mutex> lock(p->mu);
                    p->closed = true;
                }
                p->cv.notify_all();
                if (t.joinable()) t.join();
            }
        } join_parse{parse_thread, pipe};
        auto parse_error = [&] {
            std::lock_guard<std::mutex> lock(pipe->mu);
            return pipe->error;
        };
        // A free chunk buffer, waiting for the parser to hand one back if needed;
        // empty when the parser failed (the rest of the body is not read).
        auto take_buffer = [&]() -> awaitable<std::vector<char>> {
            for (;;) {
                {
                    std::lock_guard<std::mutex> lock(pipe->mu);
                    if (!pipe->error.empty()) co_return std::vector<char>{};
                    if (!pipe->spare.empty()) {
                        auto b = std::move(pipe->spare.back());
                        pipe->spare.pop_back();
                        b.resize(k_chunk);
                        co_return b;
                    }
                    if (pipe->buffers < k_pipe_buffers) {
                        ++pipe->buffers;
                        co_return std::vector<char>(k_chunk);
                    }
                }
                co_await wait_for(*waker, std::chrono::milliseconds(500));
            }
        };
        // One step per chunk: size check, staging file, hash, then to the parser.
        auto consume = [&](std::vector<char>&& c, std::size_t n) -> bool {
            total += n;
            if (total > cfg.max_body_bytes) {
                failure = error_reply(413, "PAYLOAD_TOO_LARGE", "The body exceeds the limit of " + std::to_string(cfg.max_body_bytes) +
                                                                    " bytes (MEMVID_EXPORT_MAX_BODY_BYTES)");
                return false;
            }
            if (n && std::fwrite(c.data(), 1, n, f) != n) {
                failure = error_reply(507, "STAGING_FAILED", "Could not write the staged payload: " + std::string(std::strerror(errno)));
                return false;
            }
            h.update(c.data(), n);
            c.resize(n);
            {
                std::lock_guard<std::mutex> lock(pipe->mu);
                pipe->queue.push_back(std::move(c));
            }
            pipe->cv.notify_one();
            return true;
        };
        auto parser_failed = [&] {
            std::string e = parse_error();
            if (!e.empty() && !failure) failure = error_reply(400, "INVALID_EXPORT_REQUEST", e);
            return !e.empty();
        };
        bool body_done = false;
        if (len && !p.chunked()) {
            // A sized body is read straight from the socket in large chunks (no
            // per-read parser step or timer: ~3x the throughput of Beast's body
            // reads); one watchdog per chunk bounds a stalled client.
            std::uint64_t remaining = *len;
            const std::size_t buffered = std::size_t(std::min<std::uint64_t>(buf.size(), remaining));
            if (buffered) {
                auto c = co_await take_buffer();
                net::buffer_copy(net::buffer(c.data(), buffered), buf.data());
                buf.consume(buffered);
                remaining -= buffered;
                if (!consume(std::move(c), buffered)) remaining = 0;
            }
            net::steady_timer watchdog(co_await net::this_coro::executor);
            while (remaining && !failure) {
                auto c = co_await take_buffer();
                if (c.empty()) break;  // the parser found an error
                const std::size_t want = std::size_t(std::min<std::uint64_t>(c.size(), remaining));
                watchdog.expires_after(std::chrono::seconds(120));
                watchdog.async_wait([&s](const boost::system::error_code& wec) {
                    if (!wec) s.socket().cancel();
                });
                const std::size_t n =
                    co_await net::async_read(s.socket(), net::buffer(c.data(), want), net::redirect_error(use_awaitable, ec));
                watchdog.cancel();
                if (ec) {
                    cleanup();
                    co_return reply{499, "", "", {}, true};  // the client went away: nothing to answer
                }
                remaining -= n;
                consume(std::move(c), n);
            }
            body_done = !failure && remaining == 0;
        } else {
            while (!p.is_done() && !failure) {
                auto c = co_await take_buffer();
                if (c.empty()) break;
                p.get().body().data = c.data();
                p.get().body().size = c.size();
                s.expires_after(std::chrono::seconds(120));
                co_await bhttp::async_read(s, buf, p, net::redirect_error(use_awaitable, ec));
                if (ec == bhttp::error::need_buffer) ec = {};
                if (ec) {
                    cleanup();
                    co_return reply{499, "", "", {}, true};
                }
                const std::size_t n = c.size() - p.get().body().size;
                consume(std::move(c), n);
            }
            body_done = !failure && p.is_done();
        }
        {
            std::lock_guard<std::mutex> lock(pipe->mu);
            pipe->closed = true;
        }
        pipe->cv.notify_all();
        for (;;) {  // the parser finishes what it was given
            {
                std::lock_guard<std::mutex> lock(pipe->mu);
                if (pipe->done) break;
            }
            co_await wait_for(*waker, std::chrono::milliseconds(500));
        }
        if (parser_failed() || failure || !body_done) {
            cleanup();
            if (!failure) failure = error_reply(400, "INVALID_EXPORT_REQUEST", "The body ended early");
            failure->close = !body_done;  // the rest of the body was not read
            co_return *failure;
        }
        if (std::fflush(f) != 0 || std::fclose(f) != 0) {
            f = nullptr;
            cleanup();
            co_return error_reply(507, "STAGING_FAILED", "Could not write the staged payload");
        }
        f = nullptr;
        staged_body body;
        body.nodes = pipe->nodes;
        body.relationships = pipe->relationships;
        body.files = pipe->files;
        if (body.nodes == 0 || body.relationships == 0) {
            cleanup();
            co_return error_reply(400, "INVALID_EXPORT_REQUEST",
                                  body.nodes == 0 ? "body.nodes is empty: an export needs at least one node"
                                                  : "body.relationships is empty: an export needs at least one relationship");
        }
        body.part_file = part;
        body.bytes = total;
        body.hash = hex(h.finish());
        body.idem_key = idem;
        auto res = jobs.admit(id, std::move(body));
        if (auto* e = std::get_if<api_error>(&res)) co_return error_reply(e->http, e->code, e->message);
        auto& a = std::get<admitted>(res);
        if (!a.existing && runpod) {
            try {
                runpod->start(a.job_id);
            } catch (const std::exception& e) {  // no thread for its driver: the job fails, the client hears why
                jobs.fail(a.job_id, std::string("Could not start the Runpod driver: ") + e.what());
            }
        }
        reply out{202, std::move(a.body)};
        out.body_read = body_done && !p.chunked();
        out.headers.emplace_back("Location", "/v1/exports/" + a.job_id);
        if (a.existing) out.headers.emplace_back("Idempotent-Replayed", "true");
        co_return out;
    }

    // ------------------------------------------------------------ SSE

    awaitable<bool> stream(beast::tcp_stream& s, parser_t& p, const route& r, std::vector<std::pair<std::string, std::string>>& extra) {
        const auto& req = p.get();
        bool bad = false;
        auto since_s = query_param(r.query, "sinceSeq", bad);
        std::uint64_t since = 0;
        if (since_s && !since_s->empty()) {
            auto v = parse_u64(*since_s);
            if (!v) bad = true;
            else since = *v;
        }
        auto last_id = req["Last-Event-ID"];
        if (!last_id.empty()) {
            auto v = parse_u64(std::string_view(last_id.data(), last_id.size()));
            if (!v) bad = true;
            else since = std::max(since, *v);
        }
        auto fail = [&](reply e) { return send_counted(s, p, r, extra, std::move(e), false); };
        if (bad) co_return co_await fail(error_reply(400, "INVALID_QUERY", "sinceSeq and Last-Event-ID must be non-negative integers"));
        // Subscribe first, then replay by seq: an event appended meanwhile is
        // seen by the next read, never lost and never sent twice.
        auto w = std::make_shared<timer_waiter>(co_await net::this_coro::executor);
        jobs.subscribe(r.job_id, w);
        std::vector<event> batch;
        std::string code;
        if (!jobs.events_since(r.job_id, since, 500, batch, code)) {
            co_return co_await fail(code == "JOB_EXPIRED" ? error_reply(410, "JOB_EXPIRED", "Export job " + r.job_id + " has expired")
                                                          : error_reply(404, "JOB_NOT_FOUND", "No export job " + r.job_id));
        }
        bhttp::response<bhttp::empty_body> res{bhttp::status::ok, req.version()};
        common_headers(res);
        for (auto& [k, v] : extra) res.set(k, v);
        res.set(bhttp::field::content_type, "text/event-stream");
        res.set(bhttp::field::cache_control, "no-cache");
        res.set("X-Accel-Buffering", "no");
        res.keep_alive(false);
        bhttp::response_serializer<bhttp::empty_body> sr{res};
        boost::system::error_code ec;
        s.expires_after(std::chrono::seconds(30));
        co_await bhttp::async_write_header(s, sr, net::redirect_error(use_awaitable, ec));
        metrics_ref().http_request(r.name, 200);
        if (ec) co_return false;
        std::string out = "retry: 2000\n\n";
        for (;;) {
            for (const auto& e : batch) {
                out += "id: " + std::to_string(e.seq) + "\nevent: " + e.type + "\ndata: " + e.json + "\n\n";
                since = e.seq;
            }
            if (!out.empty()) {
                s.expires_after(std::chrono::seconds(30));
                co_await net::async_write(s, net::buffer(out), net::redirect_error(use_awaitable, ec));
                if (ec) co_return false;
                out.clear();
            }
            if (stopping) co_return false;
            batch.clear();
            if (!jobs.events_since(r.job_id, since, 500, batch, code)) co_return false;  // expired: the bus is gone
            if (!batch.empty()) continue;
            bool woke = co_await wait_for(*w, std::chrono::milliseconds(2000));
            if (stopping) co_return false;
            if (!jobs.events_since(r.job_id, since, 500, batch, code)) co_return false;
            if (!woke && batch.empty()) out = ": ping\n\n";
        }
    }

    // ------------------------------------------------------------ download

    awaitable<bool> download(beast::tcp_stream& s, parser_t& p, const route& r, std::vector<std::pair<std::string, std::string>>& extra,
                             bool head) {
        const auto& req = p.get();
        auto fail = [&](reply e) { return send_counted(s, p, r, extra, std::move(e), head); };
        auto a = jobs.artifact(r.job_id);
        if (!a) co_return co_await fail(error_reply(404, "JOB_NOT_FOUND", "No export job " + r.job_id));
        if (a->status != "completed" || a->path.empty())
            co_return co_await fail(error_reply(409, "ARTIFACT_NOT_READY",
                                                "Export " + r.job_id + " is " + a->status + "; the capsule can be downloaded once it is completed"));
        int fd = ::open(a->path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
            if (errno == ENOENT)
                co_return co_await fail(error_reply(410, "ARTIFACT_MISSING", "The capsule of export " + r.job_id + " is no longer on disk"));
            co_return co_await fail(error_reply(500, "ARTIFACT_READ_FAILED", "Could not open the capsule: " + std::string(std::strerror(errno))));
        }
        struct closer {
            int fd;
            ~closer() { ::close(fd); }
        } guard{fd};
        struct stat st{};
        if (::fstat(fd, &st) != 0) co_return co_await fail(error_reply(500, "ARTIFACT_READ_FAILED", "Could not stat the capsule"));
        const std::uint64_t size = std::uint64_t(st.st_size);
        char etag[96];
        std::snprintf(etag, sizeof etag, "\"%llx-%llx-%.8s\"", (unsigned long long)size,
                      (unsigned long long)(st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec), r.job_id.c_str());
        auto inm = req[bhttp::field::if_none_match];
        if (!inm.empty() && etag_matches(std::string_view(inm.data(), inm.size()), etag)) {
            reply nm{304, "", "application/octet-stream", {{"ETag", etag}}, false};
            co_return co_await fail(std::move(nm));
        }
        byte_range range;
        range_result rr = range_result::whole;
        auto rh = req[bhttp::field::range];
        if (!rh.empty()) {
            auto ir = req[bhttp::field::if_range];
            if (ir.empty() || std::string_view(ir.data(), ir.size()) == etag) rr = parse_range(std::string_view(rh.data(), rh.size()), size, range);
        }
        if (rr == range_result::unsatisfiable) {
            reply e = error_reply(416, "RANGE_NOT_SATISFIABLE", "The requested range is outside the capsule (" + std::to_string(size) + " bytes)");
            e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
            co_return co_await fail(std::move(e));
        }
        std::uint64_t first = 0, count = size;
        bhttp::response<bhttp::empty_body> res{rr == range_result::partial ? bhttp::status::partial_content : bhttp::status::ok, req.version()};
        common_headers(res);
        for (auto& [k, v] : extra) res.set(k, v);
        res.set(bhttp::field::content_type, "application/octet-stream");
        res.set(bhttp::field::content_disposition, content_disposition(a->file_name));
        res.set(bhttp::field::etag, etag);
        res.set(bhttp::field::accept_ranges, "bytes");
        res.set(bhttp::field::cache_control, "private, no-transform");
        if (rr == range_result::partial) {
            first = range.first;
            count = range.last - range.first + 1;
            res.set(bhttp::field::content_range,
                    "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" + std::to_string(size));
        }
        res.content_length(count);
        const bool keep = req.keep_alive() && !stopping;
        res.keep_alive(keep);
        bhttp::response_serializer<bhttp::empty_body> sr{res};
        boost::system::error_code ec;
        s.expires_after(std::chrono::seconds(30));
        co_await bhttp::async_write_header(s, sr, net::redirect_error(use_awaitable, ec));
        metrics_ref().http_request(r.name, rr == range_result::partial ? 206 : 200);
        if (ec) co_return false;
        if (head) co_return keep;
        std::vector<char> chunk(256 * 1024);
        std::uint64_t off = first, left = count;
        while (left) {
            ssize_t n = ::pread(fd, chunk.data(), std::min<std::uint64_t>(left, chunk.size()), off_t(off));
            if (n <= 0) co_return false;  // truncated under us: the client sees a short body
            s.expires_after(std::chrono::seconds(60));
            co_await net::async_write(s, net::buffer(chunk.data(), std::size_t(n)), net::redirect_error(use_awaitable, ec));
            if (ec) co_return false;
            off += std::uint64_t(n);
            left -= std::uint64_t(n);
        }
        co_return keep;
    }

    // ------------------------------------------------------------ worker protocol

    awaitable<reply> take(const route& r) {
        auto w = std::make_shared<timer_waiter>(co_await net::this_coro::executor);
        jobs.subscribe_take(w);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.take_wait_ms);
        for (;;) {
            if (auto job = jobs.take(r.worker_id)) co_return reply{200, std::move(*job)};
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 || stopping) co_return reply{204, ""};
            co_await wait_for(*w, left);
        }
    }

    awaitable<reply> stop_poll(const route& r) {
        auto w = std::make_shared<timer_waiter>(co_await net::this_coro::executor);
        jobs.subscribe_stop(r.worker_id, w);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.take_wait_ms);
        for (;;) {
            auto ids = jobs.jobs_to_stop(r.worker_id);
            if (!ids.empty()) {
                json::array a;
                for (auto& id : ids) a.emplace_back(id);
                co_return reply{200, to_text(json::object{{"jobsToStop", std::move(a)}})};
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 || stopping) co_return reply{204, ""};
            co_await wait_for(*w, left);
        }
    }

    // ------------------------------------------------------------ accept loop

    awaitable<void> accept_loop() {
        for (;;) {
            boost::system::error_code ec;
            net::io_context& home = *iocs[next_ioc++ % iocs.size()];
            tcp::socket sock = co_await acceptor.async_accept(home, net::redirect_error(use_awaitable, ec));
            if (ec) {
                if (stopping || ec == net::error::operation_aborted) co_return;
                log_line(log_level::warn, "accept failed: " + ec.message());
                continue;
            }
            sock.set_option(tcp::no_delay(true), ec);
            auto ex = sock.get_executor();
            net::co_spawn(ex, session(std::move(sock)), net::detached);
        }
    }
};

server::server(const config& cfg, job_service& jobs, runpod_driver* runpod, metrics& m)
    : p_(std::make_unique<impl>(cfg, jobs, runpod, m)) {}
server::~server() {
    stop();
    if (p_->housekeeping.joinable()) p_->housekeeping.join();
}

std::uint16_t server::bind() {
    auto& p = *p_;
    boost::system::error_code ec;
    auto addr = net::ip::make_address(p.cfg.bind_host, ec);
    if (ec) throw error(error_kind::invalid_input, "INVALID_CONFIG", "MEMVID_EXPORT_BIND_ADDR host \"" + p.cfg.bind_host + "\" is not an IP address");
    tcp::endpoint ep{addr, p.cfg.bind_port};
    p.acceptor.open(ep.protocol(), ec);
    if (!ec) p.acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) p.acceptor.bind(ep, ec);
    if (!ec) p.acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
        throw error(error_kind::io, "BIND_FAILED",
                    "cannot listen on " + p.cfg.bind_host + ":" + std::to_string(p.cfg.bind_port) + " (" + ec.message() +
                        "): free the port or set MEMVID_EXPORT_BIND_ADDR");
    return p.acceptor.local_endpoint().port();
}

void server::run(bool install_signals) {
    auto& p = *p_;
    net::co_spawn(p.ioc, p.accept_loop(), net::detached);
    std::optional<net::signal_set> signals;
    if (install_signals) {
        signals.emplace(p.ioc, SIGINT, SIGTERM);
        signals->async_wait([this](const boost::system::error_code& ec, int) {
            if (!ec) stop();
        });
    }
    p.housekeeping = std::thread([&p] {
        std::unique_lock<std::mutex> lock(p.stop_mu);
        while (!p.stopping) {
            lock.unlock();
            try {
                p.jobs.tick();
            } catch (const std::exception& e) {
                log_line(log_level::error, std::string("housekeeping: ") + e.what());
            }
            lock.lock();
            p.stop_cv.wait_for(lock, std::chrono::seconds(1), [&] { return p.stopping.load(); });
        }
    });
    std::vector<std::thread> pool;
    std::vector<net::executor_work_guard<net::io_context::executor_type>> guards;
    for (std::size_t i = 1; i < p.iocs.size(); ++i) {
        guards.push_back(net::make_work_guard(*p.iocs[i]));
        pool.emplace_back([&p, i] { p.iocs[i]->run(); });
    }
    p.ioc.run();
    for (auto& io : p.iocs) io->stop();
    for (auto& t : pool) t.join();
    if (p.housekeeping.joinable()) p.housekeeping.join();
}

void server::stop() {
    auto& p = *p_;
    if (p.stopping.exchange(true)) return;
    {
        std::lock_guard<std::mutex> lock(p.stop_mu);
    }
    p.stop_cv.notify_all();
    net::post(p.ioc, [&p] {
        boost::system::error_code ec;
        p.acceptor.close(ec);
    });
    p.jobs.shutdown();
    // Long polls and streams end at their next wake-up; give them a moment, then stop.
    auto timer = std::make_shared<net::steady_timer>(p.ioc, std::chrono::milliseconds(500));
    timer->async_wait([&p, timer](const boost::system::error_code&) {
        for (auto& io : p.iocs) io->stop();
    });
}

}  // namespace mvx::cp
