// A small HTTP/1.1 client on Boost.Beast for calls to external services
// (embedding providers, later Runpod and presigned uploads): http:// and
// https:// (OpenSSL, peer verification against the system CA store — OpenSSL's
// default paths, so SSL_CERT_FILE / SSL_CERT_DIR apply — host name checked, SNI
// set), keep-alive reuse of one connection per client, connect and whole-request
// timeouts, no proxy. One client is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mvx::http {

struct url {
    std::string scheme;  // "http" | "https"
    std::string host;
    std::string port;  // "80" / "443" when absent
    std::string target;  // path + query, at least "/"
    std::string origin() const { return scheme + "://" + host + ":" + port; }
};

// Parses http(s)://host[:port][/path][?query]; throws mvx::error naming `what`.
url parse_url(const std::string& text, const std::string& what);

struct response {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string header(const std::string& lower_name) const;
};

enum class failure { none, connect, timeout, reset, tls, protocol, too_large, aborted };

// A transport failure (no HTTP status): connect refused/unreachable, timeout,
// connection reset or closed, TLS handshake/verification, malformed response.
struct transport_error {
    failure kind = failure::none;
    std::string message;
};

struct request {
    std::string method = "POST";
    url target;
    std::vector<std::pair<std::string, std::string>> headers;  // values may be secrets: never logged
    std::string body;
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::milliseconds timeout{60000};  // for the whole exchange after connecting
    // A reused keep-alive connection that fails at once is retried silently on
    // a fresh one; false for a request that must not reach the server twice
    // (a Runpod /run: the first may have been accepted).
    bool resend_on_stale_connection = true;
    // The largest response body accepted (more: a `too_large` failure).
    std::uint64_t max_body_bytes = 256u << 20;
    // When set, a 2xx body is handed over in pieces of at most 64 KiB as it
    // arrives instead of being kept (a download of any size in bounded
    // memory); returning false stops the exchange (an `aborted` failure).
    std::function<bool(const char* data, std::size_t size)> body_sink;
};

class client {
public:
    client();
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Returns false and fills err on a transport failure; true with the
    // response otherwise (any status). Reuses the open connection when the
    // origin matches and the server kept it alive.
    bool send(const request& req, response& out, transport_error& err);
    void close();
    // From another thread: the exchange in progress (or the next one) ends
    // with a `reset` failure. For shutting down a long poll.
    void interrupt();

private:
    struct impl;
    std::unique_ptr<impl> p_;
};

}  // namespace mvx::http
