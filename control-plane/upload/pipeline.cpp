#include "control-plane/upload/pipeline.hpp"

#include "common/contract/export_request.hpp"
#include "common/core/hex.hpp"
#include "common/mv2/blake3.hpp"

#include <malloc.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>

namespace fs = std::filesystem;

namespace mvx::cp {

// State shared with the parser thread (it may outlive a failed session step).
struct upload_pipeline::shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::vector<char>> queue;
    std::vector<std::vector<char>> spare;
    std::size_t buffers = 0;
    bool closed = false, done = false;
    std::string error;
    std::uint64_t nodes = 0, relationships = 0, files = 0;
};

struct upload_pipeline::hash_state {
    mv2::hasher h;
};

upload_pipeline::upload_pipeline(fs::path part_file, std::uint64_t max_bytes, std::function<void()> wake)
    : part_(std::move(part_file)),
      max_bytes_(max_bytes),
      wake_(std::move(wake)),
      pipe_(std::make_shared<shared>()),
      hash_(std::make_unique<hash_state>()) {}

upload_pipeline::~upload_pipeline() {
    {
        std::lock_guard<std::mutex> lock(pipe_->mu);
        pipe_->closed = true;
    }
    pipe_->cv.notify_all();
    if (parser_.joinable()) parser_.join();
    if (!handed_over_) cleanup();
}

void upload_pipeline::cleanup() {
    if (f_) std::fclose(f_);
    f_ = nullptr;
    std::error_code ec;
    fs::remove(part_, ec);
}

std::optional<api_error> upload_pipeline::start() {
    f_ = std::fopen(part_.c_str(), "wb");
    if (!f_)
        return api_error{500, "STAGING_FAILED",
                         "Could not create the staging file " + part_.string() + ": " + std::strerror(errno)};
    contract::limits lim;
    lim.max_payload_bytes = max_bytes_;
    lim.keep_file_contents = false;  // checked, not held: the staged file keeps them
    auto pipe = pipe_;
    auto wake = wake_;
    parser_ = std::thread([pipe, wake, lim] {
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
            wake();
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
        wake();
    });
    return std::nullopt;
}

upload_pipeline::acquire_result upload_pipeline::acquire(std::vector<char>& buf) {
    if (failure_) return acquire_result::stop;
    std::lock_guard<std::mutex> lock(pipe_->mu);
    if (!pipe_->error.empty()) return acquire_result::stop;
    if (!pipe_->spare.empty()) {
        buf = std::move(pipe_->spare.back());
        pipe_->spare.pop_back();
        buf.resize(k_chunk);
        return acquire_result::ready;
    }
    if (pipe_->buffers < k_buffers) {
        ++pipe_->buffers;
        buf.assign(k_chunk, 0);
        return acquire_result::ready;
    }
    return acquire_result::wait;
}

bool upload_pipeline::consume(std::vector<char>&& c, std::size_t n) {
    total_ += n;
    if (total_ > max_bytes_) {
        failure_ =
            api_error{413, "PAYLOAD_TOO_LARGE",
                      "The body exceeds the limit of " + std::to_string(max_bytes_) + " bytes (MEMVID_EXPORT_MAX_BODY_BYTES)"};
        return false;
    }
    if (n && std::fwrite(c.data(), 1, n, f_) != n) {
        failure_ = api_error{507, "STAGING_FAILED", "Could not write the staged payload: " + std::string(std::strerror(errno))};
        return false;
    }
    hash_->h.update(c.data(), n);
    c.resize(n);
    {
        std::lock_guard<std::mutex> lock(pipe_->mu);
        pipe_->queue.push_back(std::move(c));
    }
    pipe_->cv.notify_one();
    return true;
}

void upload_pipeline::close_input() {
    {
        std::lock_guard<std::mutex> lock(pipe_->mu);
        pipe_->closed = true;
    }
    pipe_->cv.notify_all();
}

bool upload_pipeline::parser_done() const {
    std::lock_guard<std::mutex> lock(pipe_->mu);
    return pipe_->done || !parser_.joinable();
}

upload_outcome upload_pipeline::finish(bool body_complete) {
    upload_outcome out;
    out.body_complete = body_complete;
    std::string parse_error;
    {
        std::lock_guard<std::mutex> lock(pipe_->mu);
        parse_error = pipe_->error;
        out.staged.nodes = pipe_->nodes;
        out.staged.relationships = pipe_->relationships;
        out.staged.files = pipe_->files;
    }
    if (!parse_error.empty() && !failure_) failure_ = api_error{400, "INVALID_EXPORT_REQUEST", parse_error};
    if (failure_ || !body_complete) {
        cleanup();
        out.error = failure_ ? *failure_ : api_error{400, "INVALID_EXPORT_REQUEST", "The body ended early"};
        return out;
    }
    const bool flushed = std::fflush(f_) == 0;
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!flushed || !closed) {
        cleanup();
        out.error = api_error{507, "STAGING_FAILED", "Could not write the staged payload"};
        return out;
    }
    if (out.staged.nodes == 0 || out.staged.relationships == 0) {
        cleanup();
        out.error = api_error{400, "INVALID_EXPORT_REQUEST",
                              out.staged.nodes == 0 ? "body.nodes is empty: an export needs at least one node"
                                                    : "body.relationships is empty: an export needs at least one relationship"};
        return out;
    }
    out.staged.part_file = part_;
    out.staged.bytes = total_;
    out.staged.hash = to_hex(hash_->h.finish());
    handed_over_ = true;  // admit() renames or removes it
    return out;
}

upload_outcome upload_pipeline::abandon() {
    cleanup();
    upload_outcome out;
    out.client_left = true;
    return out;
}

}  // namespace mvx::cp
