// A real HTTP/1.1 server on loopback (Boost.Beast) playing an external service
// in tests and benchmarks: a test peer, not product code. Each connection runs
// on its own thread with keep-alive; the handler sees every request and decides
// the answer (status, headers, body, delay) — faults included.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mvx::test {

struct fake_request {
    std::string method, target, body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string header(const std::string& name) const {
        for (const auto& [k, v] : headers)
            if (boost::beast::iequals(k, name)) return v;
        return {};
    }
};

struct fake_response {
    int status = 200;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::chrono::milliseconds delay{0};  // before answering (a stall past the client's timeout)
    bool close = false;
};

inline fake_response reply(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    fake_response r;
    r.status = status;
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
}

class fake_http_server {
public:
    using handler = std::function<fake_response(const fake_request&, std::size_t call_index)>;

    // With cert/key (PEM files) it speaks HTTPS.
    explicit fake_http_server(handler h, const std::string& cert_pem = "", const std::string& key_pem = "")
        : handler_(std::move(h)), acceptor_(ioc_) {
        if (!cert_pem.empty()) {
            tls_.emplace(boost::asio::ssl::context::tls_server);
            tls_->use_certificate_chain_file(cert_pem);
            tls_->use_private_key_file(key_pem, boost::asio::ssl::context::pem);
        }
        namespace asio = boost::asio;
        asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(asio::socket_base::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen();
        port_ = acceptor_.local_endpoint().port();
        accept_thread_ = std::thread([this] { accept_loop(); });
    }

    ~fake_http_server() {
        stopping_ = true;
        boost::system::error_code ec;
        {  // a blocking accept() only returns for a connection: make one
            boost::asio::ip::tcp::socket wake(ioc_);
            wake.connect({boost::asio::ip::make_address("127.0.0.1"), port_}, ec);
        }
        if (accept_thread_.joinable()) accept_thread_.join();
        acceptor_.close(ec);
        std::vector<std::thread> threads;
        {
            std::lock_guard<std::mutex> lock(mu_);
            // shutdown() wakes a thread blocked in read(); close() would not.
            for (auto& s : sockets_) s->shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
            threads.swap(conn_threads_);
        }
        for (auto& t : threads)
            if (t.joinable()) t.join();
    }

    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    unsigned short port() const { return port_; }
    std::vector<fake_request> requests() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_;
    }
    std::size_t count() const {
        std::lock_guard<std::mutex> lock(mu_);
        return requests_.size();
    }
    std::size_t connections() const { return connections_; }

private:
    void accept_loop() {
        for (;;) {
            auto sock = std::make_shared<boost::asio::ip::tcp::socket>(ioc_);
            boost::system::error_code ec;
            acceptor_.accept(*sock, ec);
            if (ec || stopping_) return;
            ++connections_;
            std::lock_guard<std::mutex> lock(mu_);
            sockets_.push_back(sock);
            conn_threads_.emplace_back([this, sock] {
                if (!tls_) return serve(*sock);
                boost::beast::ssl_stream<boost::asio::ip::tcp::socket&> s(*sock, *tls_);
                boost::system::error_code hec;
                s.handshake(boost::asio::ssl::stream_base::server, hec);
                if (!hec) serve(s);
            });
        }
    }

    template <typename Stream>
    void serve(Stream& sock) {
        namespace http = boost::beast::http;
        boost::beast::flat_buffer buf;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(std::uint64_t(1) << 30);  // uploads of whole capsules
            boost::system::error_code ec;
            http::read(sock, buf, parser, ec);
            if (ec) return;
            auto req = parser.release();
            fake_request fr;
            fr.method = std::string(req.method_string());
            fr.target = std::string(req.target());
            fr.body = req.body();
            for (const auto& f : req) fr.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
            std::size_t idx;
            {
                std::lock_guard<std::mutex> lock(mu_);
                idx = requests_.size();
                requests_.push_back(fr);
            }
            fake_response r = handler_(fr, idx);
            if (r.delay.count()) std::this_thread::sleep_for(r.delay);
            if (stopping_) return;
            http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
            res.set(http::field::content_type, "application/json");
            for (const auto& [k, v] : r.headers) res.set(k, v);
            res.body() = r.body;
            res.keep_alive(!r.close && req.keep_alive());
            res.prepare_payload();
            http::write(sock, res, ec);
            if (ec || r.close || !req.keep_alive()) {
                boost::beast::get_lowest_layer(sock).shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
                return;
            }
        }
    }

    handler handler_;
    std::optional<boost::asio::ssl::context> tls_;
    boost::asio::io_context ioc_;
    boost::asio::ip::tcp::acceptor acceptor_;
    unsigned short port_ = 0;
    std::thread accept_thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> connections_{0};
    mutable std::mutex mu_;
    std::vector<fake_request> requests_;
    std::list<std::shared_ptr<boost::asio::ip::tcp::socket>> sockets_;
    std::vector<std::thread> conn_threads_;
};

// The deterministic vector a fake provider returns for a text.
inline std::vector<float> fake_vector(const std::string& text, std::size_t dim) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
    std::vector<float> v(dim);
    for (std::size_t j = 0; j < dim; ++j) {
        h = h * 6364136223846793005ull + 1442695040888963407ull;
        v[j] = static_cast<float>(static_cast<std::int64_t>(h >> 11) % 20001 - 10000) / 10000.0f;
    }
    return v;
}

}  // namespace mvx::test
