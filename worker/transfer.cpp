#include "worker/transfer.hpp"

#include "common/core/error.hpp"
#include "common/core/hex.hpp"
#include "common/http/client.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

namespace mvx::worker {

using namespace std::chrono_literals;

bool is_http(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

std::string redact_url(const std::string& u) { return u.substr(0, u.find('?')); }

std::string object_url(const std::string& base, const std::string& name) {
    const auto q = base.find('?');
    std::string path = q == std::string::npos ? base : base.substr(0, q);
    const std::string query = q == std::string::npos ? "" : base.substr(q);
    if (path.empty() || path.back() != '/') path += '/';
    return path + percent_encode(name) + query;
}

void download(const std::string& url, const std::filesystem::path& to, std::uint64_t max_bytes,
              std::chrono::milliseconds timeout) {
    // Streamed to the file as it arrives: memory stays bounded whatever the
    // size, and the limit is the payload limit, as for a local file.
    const int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) throw error(error_kind::io, "IO_ERROR", "cannot create " + to.string() + ": " + std::strerror(errno));
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    std::uint64_t written = 0;
    int write_errno = 0;
    http::client c;
    http::request req;
    req.method = "GET";
    req.target = http::parse_url(url, "payload_ref");
    req.timeout = timeout;
    req.connect_timeout = 10s;
    req.max_body_bytes = max_bytes;
    req.body_sink = [&](const char* data, std::size_t n) {
        while (n) {
            const ssize_t w = ::write(fd, data, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                write_errno = errno;
                return false;
            }
            data += w;
            n -= std::size_t(w);
            written += std::uint64_t(w);
        }
        return true;
    };
    http::response res;
    http::transport_error err;
    if (!c.send(req, res, err)) {
        if (err.kind == http::failure::too_large)
            throw error(error_kind::limit, "LIMIT_EXCEEDED",
                        "payload_ref " + redact_url(url) + " is larger than the payload limit of " + std::to_string(max_bytes) +
                            " bytes");
        if (write_errno)
            throw error(error_kind::io, "IO_ERROR",
                        "cannot write the downloaded payload to " + to.string() + ": " + std::strerror(write_errno));
        throw error(error_kind::io, "PAYLOAD_UNREACHABLE", "cannot download payload_ref " + redact_url(url) + ": " + err.message);
    }
    if (res.status != 200)
        throw error(error_kind::io, "PAYLOAD_UNREACHABLE",
                    "downloading payload_ref " + redact_url(url) + " answered HTTP " + std::to_string(res.status));
    (void)written;
}

void upload(const std::string& base, const std::string& name, const std::filesystem::path& file) {
    const std::string url = object_url(base, name);
    std::ifstream in(file, std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    http::client c;
    http::request req;
    req.method = "PUT";
    req.target = http::parse_url(url, "output_prefix");
    req.body = std::move(body);
    req.headers.emplace_back("Content-Type", "application/octet-stream");
    req.timeout = 600s;
    for (int attempt = 0;; ++attempt) {
        http::response res;
        http::transport_error err;
        const bool ok = c.send(req, res, err);
        if (ok && res.status >= 200 && res.status < 300) return;
        const bool transient = !ok || res.status >= 500 || res.status == 429;
        if (!transient || attempt == 3)
            throw error(error_kind::io, "UPLOAD_FAILED",
                        "uploading " + name + " to " + redact_url(url) +
                            " failed: " + (ok ? "HTTP " + std::to_string(res.status) : err.message));
        std::this_thread::sleep_for(std::chrono::milliseconds(500 << attempt));
    }
}

}  // namespace mvx::worker
