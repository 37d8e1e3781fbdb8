// The upload pipeline of POST /v1/exports: each chunk the session reads from
// the socket is size-checked, appended to the staging file
// (<staging>/payloads/.<id>.json.part), hashed (BLAKE3, for Idempotency-Key
// replays) and handed to the pack contract parser, which runs on its own
// thread one chunk behind: reading, staging and hashing overlap with parsing.
// At most k_buffers chunks exist at once; the parser checks file-content
// bodies without keeping them (the staged file has them).
//
// No I/O of its own beyond the staging file, and no Asio: the session drives
// it and waits through `wake` when acquire() says so. Unit-tested in
// tests/control_plane/test_upload.cpp.
#pragma once

#include "control-plane/jobs/job.hpp"
#include "control-plane/jobs/registry.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mvx::cp {

struct upload_outcome {
    bool client_left = false;  // the socket failed mid-body: nothing to answer
    bool body_complete = false;  // every byte of the body was read (keep-alive is safe)
    std::optional<api_error> error;  // 400 / 413 / 507, or nullopt: staged is ready for admit()
    staged_body staged;
};

class upload_pipeline {
public:
    static constexpr std::size_t k_chunk = 4 << 20;
    static constexpr std::size_t k_buffers = 3;

    // wake: called from the parser thread when a buffer frees or parsing ends.
    upload_pipeline(std::filesystem::path part_file, std::uint64_t max_bytes, std::function<void()> wake);
    ~upload_pipeline();  // stops the parser; removes the part file unless finish() handed it over
    upload_pipeline(const upload_pipeline&) = delete;
    upload_pipeline& operator=(const upload_pipeline&) = delete;

    // Creates the staging file and starts the parser; the error when it cannot.
    std::optional<api_error> start();

    enum class acquire_result { ready, wait, stop };
    // A free chunk buffer (k_chunk bytes) into buf: ready; none free yet: wait
    // (wake() follows); the parser or a check failed: stop reading.
    acquire_result acquire(std::vector<char>& buf);
    // n bytes arrived in buf: size limit, staging file, hash, parser. false: stop reading.
    bool consume(std::vector<char>&& buf, std::size_t n);
    // No more input; the parser finishes what it has.
    void close_input();
    bool parser_done() const;
    // After parser_done(): the verdict. body_complete: the caller read the whole body.
    upload_outcome finish(bool body_complete);
    // The client left: the staged file is removed.
    upload_outcome abandon();

    std::uint64_t bytes() const { return total_; }

private:
    struct shared;
    void cleanup();

    std::filesystem::path part_;
    std::uint64_t max_bytes_;
    std::function<void()> wake_;
    std::FILE* f_ = nullptr;
    std::shared_ptr<shared> pipe_;
    std::thread parser_;
    std::uint64_t total_ = 0;
    std::optional<api_error> failure_;
    bool handed_over_ = false;
    struct hash_state;
    std::unique_ptr<hash_state> hash_;
};

}  // namespace mvx::cp
