#include "control-plane/http/server.hpp"

#include "common/core/error.hpp"
#include "common/core/json_text.hpp"
#include "control-plane/handlers/handlers.hpp"
#include "control-plane/http/auth.hpp"
#include "control-plane/http/connections.hpp"
#include "control-plane/jobs/housekeeping.hpp"
#include "control-plane/jobs/local_queue.hpp"
#include "control-plane/jobs/registry.hpp"
#include "control-plane/observability/log.hpp"
#include "control-plane/observability/metrics.hpp"
#include "control-plane/routes/dispatch.hpp"
#include "control-plane/upload/pipeline.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/object.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <condition_variable>
#include <thread>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;

namespace mvx::cp {
namespace {

constexpr auto k_idle = std::chrono::seconds(75);

// A waiter on a connection's executor: wake() from any thread cancels its timer.
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
awaitable<bool> wait_for(const std::shared_ptr<waiter>& w, std::chrono::milliseconds d) {
    auto& t = static_cast<timer_waiter&>(*w);  // every waiter here comes from make_waiter()
    if (t.woken.exchange(false)) co_return true;
    t.timer.expires_after(d);
    boost::system::error_code ec;
    co_await t.timer.async_wait(net::redirect_error(use_awaitable, ec));
    co_return t.woken.exchange(false);
}

using parser_t = bhttp::request_parser<bhttp::buffer_body>;

}  // namespace

struct server::impl {
    const config& cfg;
    job_registry& jobs;
    housekeeping& hk;
    metrics& mx;
    // One single-threaded io_context per thread; a connection stays on one of
    // them (no strand, no cross-thread wake-up per handler: about half of a small
    // GET's cost with one shared multi-threaded context).
    std::vector<std::unique_ptr<net::io_context>> iocs;
    net::io_context& ioc;
    tcp::acceptor acceptor;
    std::size_t next_ioc = 0;
    authorizer auth;
    connection_table conns;
    std::atomic<bool> stopping{false};
    context ctx;
    std::thread housekeeping_thread;
    std::mutex stop_mu;
    std::condition_variable stop_cv;

    impl(const config& c, job_registry& j, local_queue* q, runpod_driver* r, housekeeping& h, metrics& m)
        : cfg(c),
          jobs(j),
          hk(h),
          mx(m),
          iocs(make_iocs(c.threads)),
          ioc(*iocs[0]),
          acceptor(ioc),
          auth(c),
          conns(c.max_connections),
          ctx{c, j, q, r, m, auth, stopping} {}

    static std::vector<std::unique_ptr<net::io_context>> make_iocs(unsigned n) {
        std::vector<std::unique_ptr<net::io_context>> v;
        for (unsigned i = 0; i < std::max(1u, n); ++i) v.push_back(std::make_unique<net::io_context>(1));
        return v;
    }

    // ------------------------------------------------------------ writing answers

    // CORS as the original (any origin); the exposed headers only matter to a
    // browser, which always sends Origin (streams and files always carry them).
    static void common_headers(bhttp::fields& f, bool cors = true) {
        f.set(bhttp::field::server, "memvid-export-api/0.1.0");
        f.set(bhttp::field::access_control_allow_origin, "*");
        if (cors)
            f.set(bhttp::field::access_control_expose_headers,
                  "Content-Disposition, ETag, Content-Range, Accept-Ranges, Location, Retry-After, X-RateLimit-Limit, "
                  "X-RateLimit-Remaining, X-RateLimit-Reset");
    }

    // A reply; true when the connection stays open.
    awaitable<bool> send(beast::tcp_stream& s, const parser_t& p, reply r, const header_list& extra, bool head_only,
                         bool* written = nullptr) {
        bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), p.get().version()};
        common_headers(res, p.get().count(bhttp::field::origin) > 0);
        const bool no_body = r.status == 204 || r.status == 304;
        if (!no_body) res.set(bhttp::field::content_type, r.content_type);
        for (auto& [k, v] : r.headers) res.set(k, v);
        for (auto& [k, v] : extra) res.set(k, v);
        const bool keep = p.get().keep_alive() && !r.close && (p.is_done() || r.body_read) && !stopping;
        res.keep_alive(keep);
        res.body() = std::move(r.body);
        if (no_body) {
            res.erase(bhttp::field::content_type);  // no body and no Content-Length (RFC 9110)
            res.body().clear();
        } else {
            res.prepare_payload();
        }
        boost::system::error_code ec;
        if (head_only) {
            res.body().clear();
            bhttp::response_serializer<bhttp::string_body> sr{res};
            co_await bhttp::async_write_header(s, sr, net::redirect_error(use_awaitable, ec));
        } else {
            co_await bhttp::async_write(s, res, net::redirect_error(use_awaitable, ec));
        }
        if (written) *written = !ec;
        co_return !ec && keep;
    }

    // The head of a stream or a file (its status, content type and headers,
    // the exposed CORS headers always), written and counted; false when the
    // client is gone.
    awaitable<bool> write_head(beast::tcp_stream& s, const parser_t& p, const reply& head, const header_list& extra,
                               std::optional<std::uint64_t> length, bool keep, std::size_t metric) {
        bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(head.status), p.get().version()};
        common_headers(res);
        for (auto& [k, v] : extra) res.set(k, v);
        res.set(bhttp::field::content_type, head.content_type);
        for (auto& [k, v] : head.headers) res.set(k, v);
        if (length) res.content_length(*length);
        res.keep_alive(keep);
        bhttp::response_serializer<bhttp::empty_body> sr{res};
        boost::system::error_code ec;
        s.expires_after(std::chrono::seconds(30));
        co_await bhttp::async_write_header(s, sr, net::redirect_error(use_awaitable, ec));
        mx.http_request(metric, head.status);
        co_return !ec;
    }

    awaitable<bool> send_file(beast::tcp_stream& s, const parser_t& p, file_reply f, const header_list& extra, bool head,
                              std::size_t metric) {
        const bool keep = p.get().keep_alive() && !stopping;
        const bool sent = co_await write_head(s, p, f.head, extra, f.length, keep, metric);
        if (!sent) co_return false;
        if (head) co_return keep;
        boost::system::error_code ec;
        std::vector<char> chunk(256 * 1024);
        std::uint64_t off = f.offset, left = f.length;
        while (left) {
            const ssize_t n = ::pread(f.fd.get(), chunk.data(), std::min<std::uint64_t>(left, chunk.size()), off_t(off));
            if (n <= 0) co_return false;  // truncated under us: the client sees a short body
            s.expires_after(std::chrono::seconds(60));
            co_await net::async_write(s, net::buffer(chunk.data(), std::size_t(n)), net::redirect_error(use_awaitable, ec));
            if (ec) co_return false;
            off += std::uint64_t(n);
            left -= std::uint64_t(n);
        }
        co_return keep;
    }

    // SSE: the head, then what the stream produces, `: ping` when quiet; ends
    // when the client leaves, the job's events are gone or the server stops.
    awaitable<bool> run_stream(beast::tcp_stream& s, const parser_t& p, event_stream st, const header_list& extra,
                               std::size_t metric) {
        const bool sent = co_await write_head(s, p, st.head, extra, std::nullopt, false, metric);
        if (!sent) co_return false;
        boost::system::error_code ec;
        std::string out = std::move(st.first);
        for (;;) {
            if (!out.empty()) {
                s.expires_after(std::chrono::seconds(30));
                co_await net::async_write(s, net::buffer(out), net::redirect_error(use_awaitable, ec));
                if (ec) co_return false;
                out.clear();
            }
            if (stopping) co_return false;
            if (!st.next(out)) co_return false;
            if (!out.empty()) continue;
            const bool woke = co_await wait_for(st.w, st.ping_every);
            if (stopping) co_return false;
            if (!st.next(out)) co_return false;
            if (!woke && out.empty()) out = ": ping\n\n";
        }
    }

    // Whether the peer closed its side (a pending EOF or reset); data it sent
    // ahead (a pipelined request) means it is still there.
    static bool peer_gone(beast::tcp_stream& s) {
        char c;
        const ssize_t n = ::recv(s.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    }

    // The answer, or nullopt when the client left while it waited (nothing
    // was taken for it).
    awaitable<std::optional<reply>> run_long_poll(beast::tcp_stream& s, long_poll& lp) {
        const auto deadline = std::chrono::steady_clock::now() + lp.wait;
        for (;;) {
            if (peer_gone(s)) co_return std::nullopt;
            if (auto r = lp.poll()) co_return std::move(*r);
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0 || stopping) co_return std::move(lp.on_timeout);
            co_await wait_for(lp.w, std::min(left, std::chrono::milliseconds(1000)));  // a departed client is noticed within 1 s
        }
    }

    // ------------------------------------------------------------ reading bodies

    // A small body into out; false when too large or the client left.
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

    // POST /v1/exports: the body from the socket through the upload pipeline.
    awaitable<upload_outcome> run_upload(beast::tcp_stream& s, beast::flat_buffer& buf, parser_t& p, upload_body& up,
                                         std::optional<reply>& early) {
        upload_pipeline& pipe = *up.pipeline;
        boost::system::error_code ec;
        if (up.expect_continue) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            s.expires_after(std::chrono::seconds(10));
            co_await net::async_write(s, net::buffer(cont, sizeof cont - 1), net::redirect_error(use_awaitable, ec));
            if (ec) co_return pipe.abandon();
        }
        if (auto e = pipe.start()) {
            early = error_reply(e->http, e->code, e->message);
            co_return upload_outcome{};
        }
        // A free chunk buffer, waiting for the parser to hand one back if needed;
        // empty when reading must stop (a parse error or a failed check).
        auto take_buffer = [&]() -> awaitable<std::vector<char>> {
            for (;;) {
                std::vector<char> c;
                switch (pipe.acquire(c)) {
                    case upload_pipeline::acquire_result::ready: co_return c;
                    case upload_pipeline::acquire_result::stop: co_return std::vector<char>{};
                    case upload_pipeline::acquire_result::wait: break;
                }
                co_await wait_for(up.w, std::chrono::milliseconds(500));
            }
        };
        bool stopped = false, body_done = false;
        const auto len = p.content_length();
        if (len && !p.chunked()) {
            // A sized body is read straight from the socket in large chunks (no
            // per-read parser step or timer: ~3x the throughput of Beast's body
            // reads); one watchdog per chunk bounds a stalled client.
            std::uint64_t remaining = *len;
            const std::size_t buffered = std::size_t(std::min<std::uint64_t>(buf.size(), remaining));
            if (buffered) {
                auto c = co_await take_buffer();
                if (c.empty()) {
                    stopped = true;
                } else {
                    net::buffer_copy(net::buffer(c.data(), buffered), buf.data());
                    buf.consume(buffered);
                    remaining -= buffered;
                    if (!pipe.consume(std::move(c), buffered)) stopped = true;
                }
            }
            net::steady_timer watchdog(co_await net::this_coro::executor);
            while (remaining && !stopped) {
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
                if (ec) co_return pipe.abandon();  // the client went away: nothing to answer
                remaining -= n;
                if (!pipe.consume(std::move(c), n)) stopped = true;
            }
            body_done = !stopped && remaining == 0;
        } else {
            while (!p.is_done() && !stopped) {
                auto c = co_await take_buffer();
                if (c.empty()) break;
                p.get().body().data = c.data();
                p.get().body().size = c.size();
                s.expires_after(std::chrono::seconds(120));
                co_await bhttp::async_read(s, buf, p, net::redirect_error(use_awaitable, ec));
                if (ec == bhttp::error::need_buffer) ec = {};
                if (ec) co_return pipe.abandon();
                const std::size_t n = c.size() - p.get().body().size;
                if (!pipe.consume(std::move(c), n)) stopped = true;
            }
            body_done = !stopped && p.is_done();
        }
        pipe.close_input();
        while (!pipe.parser_done()) co_await wait_for(up.w, std::chrono::milliseconds(500));  // it finishes what it was given
        co_return pipe.finish(body_done);
    }

    // ------------------------------------------------------------ the session

    awaitable<void> session(tcp::socket sock) {
        beast::tcp_stream s(std::move(sock));
        beast::flat_buffer buf;
        // In the table while it lives; under pressure the server may ask it to
        // close while it waits for a request (posted to this connection's thread,
        // where the session itself runs, so it never races the session's end).
        const auto me = conns.add();
        struct leave {
            connection_table& t;
            const connection_table::handle& h;
            ~leave() { t.remove(h); }
        } leave_table{conns, me};
        me->close = [ex = s.get_executor(), weak = std::weak_ptr<connection_table::entry>(me), ps = &s] {
            net::post(ex, [weak, ps] {
                if (!weak.lock()) return;  // the session ended meanwhile
                boost::system::error_code ec;
                ps->socket().cancel(ec);
            });
        };
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
            conns.set_idle(me, true, now_ms());
            co_await bhttp::async_read_header(s, buf, p, net::redirect_error(use_awaitable, ec));
            conns.set_idle(me, false, 0);
            if (ec) {
                if (ec != bhttp::error::end_of_stream && ec != net::error::eof && ec != beast::error::timeout &&
                    ec != net::error::connection_reset && ec != net::error::operation_aborted) {
                    bhttp::response<bhttp::string_body> res{bhttp::status::bad_request, 11};
                    common_headers(res);
                    res.set(bhttp::field::content_type, "application/json");
                    res.body() = to_text(json::object{
                        {"error",
                         json::object{{"code", "BAD_REQUEST"}, {"message", "Malformed HTTP request: " + ec.message()}}}});
                    res.keep_alive(false);
                    res.prepare_payload();
                    s.expires_after(std::chrono::seconds(5));
                    co_await bhttp::async_write(s, res, net::redirect_error(use_awaitable, ec));
                }
                break;
            }
            bool own_deadline = false;
            const bool keep = co_await handle(s, buf, p, own_deadline);
            if (own_deadline) armed = {};
            if (!keep) break;
        }
        boost::system::error_code ec;
        s.socket().shutdown(tcp::socket::shutdown_send, ec);
    }

    awaitable<bool> handle(beast::tcp_stream& s, beast::flat_buffer& buf, parser_t& p, bool& own_deadline) {
        const auto& msg = p.get();
        const std::string method(msg.method_string());
        const std::string target(msg.target());
        const auto ex = co_await net::this_coro::executor;
        request req;
        req.method = method;
        req.target = target;
        req.head = method == "HEAD";
        req.route = match_route(method, target, cfg.local_endpoint_id);
        req.header = [&msg](std::string_view name) -> std::string_view {
            auto v = msg[beast::string_view(name.data(), name.size())];
            return {v.data(), v.size()};
        };
        if (auto len = p.content_length()) req.content_length = *len;
        req.chunked = p.chunked();
        req.make_waiter = [&ex] { return std::make_shared<timer_waiter>(ex); };  // called only within dispatch()

        dispatched d = dispatch(req, ctx);
        const header_list& extra = d.extra;
        own_deadline = !std::holds_alternative<reply>(d.result);
        if (auto* f = std::get_if<file_reply>(&d.result))
            co_return co_await send_file(s, p, std::move(*f), extra, req.head, d.metric);
        if (auto* st = std::get_if<event_stream>(&d.result)) co_return co_await run_stream(s, p, std::move(*st), extra, d.metric);

        reply out;
        if (auto* r = std::get_if<reply>(&d.result)) {
            out = std::move(*r);
        } else if (auto* lp = std::get_if<long_poll>(&d.result)) {
            auto answer = co_await run_long_poll(s, *lp);
            if (!answer) co_return false;  // the client left: nothing taken, nothing to answer
            s.expires_after(std::chrono::seconds(30));  // after a long poll the idle deadline may be near
            const int status = answer->status;
            bool written = false;
            const bool keep = co_await send(s, p, std::move(*answer), extra, req.head, &written);
            mx.http_request(d.metric, status);
            if (!written && lp->undelivered) lp->undelivered();
            co_return keep;
        } else if (auto* rb = std::get_if<read_body>(&d.result)) {
            // (No co_await inside a conditional expression: GCC 12 destroys its temporaries twice.)
            std::string body;
            const bool complete = co_await read_small_body(s, buf, p, body, rb->limit);
            if (complete)
                out = rb->on_body(std::move(body));
            else
                out = std::move(rb->too_large);
        } else if (auto* up = std::get_if<upload_body>(&d.result)) {
            std::optional<reply> early;
            upload_outcome o = co_await run_upload(s, buf, p, *up, early);
            if (o.client_left) co_return false;  // nothing to answer, nothing to count
            out = early ? std::move(*early) : up->finish(std::move(o));
            s.expires_after(std::chrono::seconds(30));
        }
        const int status = out.status;
        const bool keep = co_await send(s, p, std::move(out), extra, req.head);
        mx.http_request(d.metric, status);
        co_return keep;
    }

    // ------------------------------------------------------------ accept loop

    // Accepts until stopped. At the connection cap it first closes the
    // connection idle the longest; when the process runs out of descriptors
    // (EMFILE, ENFILE) it backs off instead of spinning, with one log line per
    // burst, and frees idle ones: a new client — a health check — gets in as
    // soon as a descriptor is free.
    awaitable<void> accept_loop() {
        net::steady_timer pause(ioc);
        auto sleep = [&](std::chrono::milliseconds d) -> awaitable<void> {
            pause.expires_after(d);
            boost::system::error_code ec;
            co_await pause.async_wait(net::redirect_error(use_awaitable, ec));
        };
        std::uint64_t failures = 0;  // in the current burst
        bool at_cap = false;
        for (;;) {
            while (conns.live() >= conns.cap()) {
                if (!at_cap)
                    log_line(log_level::warn,
                             "connection cap reached (MEMVID_EXPORT_MAX_CONNECTIONS=" + std::to_string(conns.cap()) +
                                 "): closing the connections idle longest first");
                at_cap = true;
                if (!conns.evict_idle())
                    co_await sleep(std::chrono::milliseconds(20));  // all busy: wait for one to end
                else
                    co_await sleep(std::chrono::milliseconds(1));  // its close is posted to its thread
                if (stopping) co_return;
            }
            at_cap = false;
            boost::system::error_code ec;
            net::io_context& home = *iocs[next_ioc++ % iocs.size()];
            tcp::socket sock = co_await acceptor.async_accept(home, net::redirect_error(use_awaitable, ec));
            if (ec) {
                if (stopping || ec == net::error::operation_aborted) co_return;
                if (failures++ == 0)
                    log_line(log_level::warn, "accept failed: " + ec.message() + "; backing off (one line per burst)");
                if (ec == boost::system::errc::too_many_files_open || ec == boost::system::errc::too_many_files_open_in_system)
                    conns.evict_idle();
                co_await sleep(
                    std::chrono::milliseconds(std::min<std::uint64_t>(500, 5u << std::min<std::uint64_t>(failures, 7))));
                continue;
            }
            if (failures) {
                log_line(log_level::info, "accept works again after " + std::to_string(failures) + " failed attempts");
                failures = 0;
            }
            sock.set_option(tcp::no_delay(true), ec);
            auto ex = sock.get_executor();
            net::co_spawn(ex, session(std::move(sock)), net::detached);
        }
    }
};

server::server(const config& cfg, job_registry& jobs, local_queue* queue, runpod_driver* runpod, housekeeping& hk, metrics& m)
    : p_(std::make_unique<impl>(cfg, jobs, queue, runpod, hk, m)) {}

server::~server() {
    stop();
    if (p_->housekeeping_thread.joinable()) p_->housekeeping_thread.join();
}

std::uint16_t server::bind() {
    auto& p = *p_;
    boost::system::error_code ec;
    auto addr = net::ip::make_address(p.cfg.bind_host, ec);
    if (ec)
        throw error(error_kind::invalid_input, "INVALID_CONFIG",
                    "MEMVID_EXPORT_BIND_ADDR host \"" + p.cfg.bind_host + "\" is not an IP address");
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
    p.housekeeping_thread = std::thread([&p] {
        std::unique_lock<std::mutex> lock(p.stop_mu);
        while (!p.stopping) {
            lock.unlock();
            try {
                p.hk.tick(now_ms());
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
    if (p.housekeeping_thread.joinable()) p.housekeeping_thread.join();
}

void server::stop() {
    auto& p = *p_;
    if (p.stopping.exchange(true)) return;
    { std::lock_guard<std::mutex> lock(p.stop_mu); }
    p.stop_cv.notify_all();
    net::post(p.ioc, [&p] {
        boost::system::error_code ec;
        p.acceptor.close(ec);
    });
    p.jobs.shutdown();
    if (p.ctx.queue) p.ctx.queue->shutdown();
    // Long polls and streams end at their next wake-up; give them a moment, then stop.
    auto timer = std::make_shared<net::steady_timer>(p.ioc, std::chrono::milliseconds(500));
    timer->async_wait([&p, timer](const boost::system::error_code&) {
        for (auto& io : p.iocs) io->stop();
    });
}

}  // namespace mvx::cp
