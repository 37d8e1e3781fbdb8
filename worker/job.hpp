// One Runpod job, whatever delivered it (the queue loop, --test_input,
// ./test_input.json): its input parsed (snake_case, or the original's
// camelCase), pack run as the handler, http(s) payloads and outputs moved, and
// the output object the control plane reads (docs/runpod-protocol.md).
#pragma once

#include "common/embedding/engine.hpp"
#include "worker/config.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace mvx::worker {

struct job_input {
    std::string job_id, payload_ref, output_prefix, embedding_mode, embedding_provider, embedding_model, ollama_host;
};

// Throws mvx::error(INVALID_INPUT) naming the field.
job_input parse_job_input(const boost::json::value& input);

// What the worker keeps between jobs: its configuration and the native engine
// it warmed up at start (when MEMVID_EMBED_PROVIDER=native).
struct worker_state {
    const worker_config& cfg;
    std::shared_ptr<embedding::engine> warm;
};

using progress_fn = std::function<void(std::string_view stage, double percent)>;

// Runs one job; returns the output object or throws mvx::error (JOB_CANCELED
// when cancel was set).
boost::json::object run_job(const worker_state& st, const job_input& in, const std::string& runpod_job_id,
                            const std::atomic<bool>* cancel, const progress_fn& progress);

}  // namespace mvx::worker
