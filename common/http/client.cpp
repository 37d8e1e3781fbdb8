#include "common/http/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <optional>

#include "common/core/error.hpp"

namespace mvx::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

url parse_url(const std::string& text, const std::string& what) {
    url u;
    auto bad = [&](const std::string& why) -> url {
        throw error(error_kind::invalid_input, "INVALID_ARGUMENT",
                    what + " \"" + text + "\" is not a usable URL: " + why + " (expected http(s)://host[:port]/path)");
    };
    auto p = text.find("://");
    if (p == std::string::npos) return bad("no scheme");
    u.scheme = text.substr(0, p);
    std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (u.scheme != "http" && u.scheme != "https") return bad("scheme must be http or https");
    std::string rest = text.substr(p + 3);
    auto slash = rest.find_first_of("/?");
    std::string authority = rest.substr(0, slash);
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    if (u.target.front() == '?') u.target = "/" + u.target;
    if (authority.find('@') != std::string::npos) return bad("credentials in the URL are not accepted");
    if (authority.empty()) return bad("no host");
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string::npos) return bad("unterminated IPv6 literal");
        u.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = authority.substr(close + 2);
    } else {
        auto colon = authority.rfind(':');
        u.host = authority.substr(0, colon);
        if (colon != std::string::npos) u.port = authority.substr(colon + 1);
    }
    if (u.host.empty()) return bad("no host");
    if (u.port.empty()) u.port = u.scheme == "https" ? "443" : "80";
    for (char c : u.port)
        if (c < '0' || c > '9') return bad("port is not a number");
    for (char c : u.target)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("spaces or control characters in the path");
    return u;
}

std::string response::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

struct client::impl {
    asio::io_context ioc;
    std::optional<ssl::context> tls;  // made on the first https connection (loading the CA store costs ~20 ms)
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    std::string origin;  // of the open connection
    beast::flat_buffer buffer;

    ssl::context& tls_context() {
        if (!tls) {
            tls.emplace(ssl::context::tls_client);
            tls->set_default_verify_paths();
            tls->set_verify_mode(ssl::verify_peer);
            tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                             ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        }
        return *tls;
    }

    beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

    void reset() {
        beast::error_code ec;
        if (secure) beast::get_lowest_layer(*secure).socket().close(ec);
        if (plain) plain->socket().close(ec);
        secure.reset();
        plain.reset();
        origin.clear();
        buffer.clear();
    }

    // Runs the io_context until `done`; the stream's expiry turns a stall into
    // beast::error::timeout.
    void run(bool& done) {
        ioc.restart();
        while (!done && ioc.run_one() > 0) {}
    }

    static failure classify(const beast::error_code& ec) {
        if (ec == beast::error::timeout) return failure::timeout;
        if (ec == asio::error::connection_reset || ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
            ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated)
            return failure::reset;
        if (ec.category() == asio::error::get_ssl_category()) return failure::tls;
        if (ec.category() == beast::error_code(bhttp::error::bad_version).category()) return failure::protocol;
        return failure::connect;
    }

    bool connect(const request& req, transport_error& err) {
        reset();
        tcp::resolver resolver(ioc);
        beast::error_code ec;
        auto results = resolver.resolve(req.target.host, req.target.port, ec);
        if (ec) {
            err = {failure::connect, "cannot resolve " + req.target.host + ": " + ec.message()};
            return false;
        }
        if (req.target.scheme == "https") {
            secure.emplace(ioc, tls_context());
            if (!SSL_set_tlsext_host_name(secure->native_handle(), req.target.host.c_str())) {
                err = {failure::tls, "cannot set TLS server name for " + req.target.host};
                return false;
            }
            secure->set_verify_callback(ssl::host_name_verification(req.target.host));
        } else {
            plain.emplace(ioc);
        }
        auto& low = lowest();
        low.expires_after(req.connect_timeout);
        bool done = false;
        low.async_connect(results, [&](const beast::error_code& e, const tcp::endpoint&) {
            ec = e;
            done = true;
        });
        run(done);
        if (ec) {
            err = {ec == beast::error::timeout ? failure::timeout : failure::connect,
                   "cannot connect to " + req.target.origin() + ": " + ec.message()};
            return false;
        }
        if (secure) {
            low.expires_after(req.connect_timeout);
            done = false;
            secure->async_handshake(ssl::stream_base::client, [&](const beast::error_code& e) {
                ec = e;
                done = true;
            });
            run(done);
            if (ec) {
                err = {ec == beast::error::timeout ? failure::timeout : failure::tls,
                       "TLS handshake with " + req.target.origin() + " failed: " + ec.message()};
                return false;
            }
        }
        origin = req.target.origin();
        return true;
    }

    template <typename Stream>
    bool exchange(Stream& s, const request& req, response& out, transport_error& err, bool& reusable) {
        bhttp::request<bhttp::string_body> r{req.method == "GET"       ? bhttp::verb::get
                                                 : req.method == "PUT" ? bhttp::verb::put
                                                                       : bhttp::verb::post,
                                             req.target.target, 11};
        const bool default_port = (req.target.scheme == "https" && req.target.port == "443") ||
            (req.target.scheme == "http" && req.target.port == "80");
        r.set(bhttp::field::host, default_port ? req.target.host : req.target.host + ":" + req.target.port);
        r.set(bhttp::field::user_agent, "memvid-export/0.1");
        r.keep_alive(true);
        for (const auto& [k, v] : req.headers) r.set(k, v);
        r.body() = req.body;
        r.prepare_payload();
        beast::error_code ec;
        lowest().expires_after(req.timeout);
        bool done = false;
        bhttp::async_write(s, r, [&](const beast::error_code& e, std::size_t) {
            ec = e;
            done = true;
        });
        run(done);
        if (!ec) {
            // The head first; then the body into a string, or piece by piece
            // into the caller's sink.
            bhttp::response_parser<bhttp::buffer_body> parser;
            parser.body_limit(req.max_body_bytes);
            done = false;
            bhttp::async_read_header(s, buffer, parser, [&](const beast::error_code& e, std::size_t) {
                ec = e;
                done = true;
            });
            run(done);
            bool aborted = false;
            if (!ec) {
                const int status = static_cast<int>(parser.get().result_int());
                const bool sink = req.body_sink && status >= 200 && status < 300;
                std::string body;
                std::vector<char> piece(64 * 1024);
                while (!ec && !parser.is_done()) {
                    parser.get().body().data = piece.data();
                    parser.get().body().size = piece.size();
                    done = false;
                    bhttp::async_read(s, buffer, parser, [&](const beast::error_code& e, std::size_t) {
                        ec = e;
                        done = true;
                    });
                    run(done);
                    if (ec == bhttp::error::need_buffer) ec = {};
                    if (ec) break;
                    const std::size_t n = piece.size() - parser.get().body().size;
                    if (sink) {
                        if (n && !req.body_sink(piece.data(), n)) {
                            aborted = true;
                            break;
                        }
                    } else {
                        body.append(piece.data(), n);
                    }
                }
                if (!ec && !aborted) {
                    const auto& res = parser.get();
                    out.status = status;
                    out.body = std::move(body);
                    out.headers.clear();
                    for (const auto& f : res) {
                        std::string name(f.name_string());
                        std::transform(name.begin(), name.end(), name.begin(),
                                       [](unsigned char c) { return char(std::tolower(c)); });
                        out.headers[name] = std::string(f.value());
                    }
                    reusable = res.keep_alive();
                    return true;
                }
            }
            if (aborted) {
                err = {failure::aborted, req.method + " " + req.target.origin() + ": stopped while receiving the body"};
                return false;
            }
            if (ec == bhttp::error::body_limit) {
                err = {failure::too_large,
                       req.method + " " + req.target.origin() + req.target.target.substr(0, req.target.target.find('?')) +
                           ": the response body is larger than " + std::to_string(req.max_body_bytes) + " bytes"};
                return false;
            }
        }
        err = {classify(ec),
               req.method + " " + req.target.origin() + req.target.target.substr(0, req.target.target.find('?')) + ": " +
                   (ec == beast::error::timeout ? "no complete response within " + std::to_string(req.timeout.count()) + " ms"
                                                : ec.message())};
        return false;
    }
};

client::client() : p_(std::make_unique<impl>()) {}
client::~client() = default;

void client::close() { p_->reset(); }

void client::interrupt() {
    asio::post(p_->ioc, [this] {
        beast::error_code ec;
        if (p_->secure) beast::get_lowest_layer(*p_->secure).socket().cancel(ec);
        if (p_->plain) p_->plain->socket().cancel(ec);
    });
}

bool client::send(const request& req, response& out, transport_error& err) {
    // A kept-alive connection may have been closed by the server meanwhile:
    // one silent retry on a fresh connection when the reused one fails at once.
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool reused = p_->origin == req.target.origin() && (p_->plain || p_->secure);
        if (!reused && !p_->connect(req, err)) return false;
        bool reusable = false;
        bool ok =
            p_->secure ? p_->exchange(*p_->secure, req, out, err, reusable) : p_->exchange(*p_->plain, req, out, err, reusable);
        if (ok) {
            if (!reusable) p_->reset();
            return true;
        }
        p_->reset();
        if (!(reused && err.kind == failure::reset && req.resend_on_stale_connection)) return false;
    }
    return false;
}

}  // namespace mvx::http
