// What a handler returns: one result type, a variant of the ways a request is
// answered. Handlers are plain functions (no Beast, no Asio); the session
// (http/server.cpp) carries the result out on the socket: a reply as it is; a
// file from disk; a long poll or an event stream woken through a waiter; a body
// read for the handler; an upload streamed into the upload pipeline. A client
// that leaves mid-request gets no answer and is not counted — no sentinel
// status stands for it.
#pragma once

#include "control-plane/jobs/job.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace mvx::cp {

class upload_pipeline;
struct upload_outcome;

using header_list = std::vector<std::pair<std::string, std::string>>;

struct reply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    header_list headers;
    bool close = false;  // end the connection after it
    bool body_read = false;  // the handler consumed the request body itself (keep-alive is safe)

    reply() = default;
    reply(int s, std::string b) : status(s), body(std::move(b)) {}
};

// {"error":{"code","message"}} with the status.
reply error_reply(int status, std::string_view code, std::string_view message);

// An open file descriptor, closed with its last owner.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    ~unique_fd() { reset(); }
    unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    int get() const { return fd_; }
    void reset();

private:
    int fd_ = -1;
};

// A file from disk: the head (status 200/206 and headers), then `length`
// bytes from `offset` (nothing for HEAD).
struct file_reply {
    reply head;
    unique_fd fd;
    std::uint64_t offset = 0, length = 0;
};

// Answered when poll() returns a reply, else with on_timeout once `wait`
// passed; `w` is woken when poll() may have something. poll() is called only
// while the client is still connected; if its answer cannot be written after
// all, undelivered() undoes what poll() did (a job taken goes back).
struct long_poll {
    std::shared_ptr<waiter> w;
    std::function<std::optional<reply>()> poll;
    std::chrono::milliseconds wait{0};
    reply on_timeout;
    std::function<void()> undelivered;
};

// text/event-stream: the head, then `first`, then whatever next() appends
// (false: the stream ends); `: ping` after each quiet interval.
struct event_stream {
    reply head;
    std::string first;
    std::shared_ptr<waiter> w;
    std::function<bool(std::string& out)> next;
    std::chrono::milliseconds ping_every{2000};
};

// A small body the handler needs (job-done): read up to `limit` bytes, then
// on_body(body). A larger or unfinished body gets too_large.
struct read_body {
    std::size_t limit = 0;
    std::function<reply(std::string body)> on_body;
    reply too_large;
};

// POST /v1/exports: the body streamed through the pipeline (staged, hashed,
// parsed), then finish() decides the answer.
struct upload_body {
    std::shared_ptr<upload_pipeline> pipeline;
    std::shared_ptr<waiter> w;  // woken by the pipeline's parser thread
    bool expect_continue = false;
    std::function<reply(upload_outcome outcome)> finish;
};

using handler_result = std::variant<reply, file_reply, long_poll, event_stream, read_body, upload_body>;

}  // namespace mvx::cp
