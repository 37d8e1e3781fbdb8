// The native Runpod queue worker: the job protocol spoken directly (job-take,
// job-done, ping, job-stop; docs/runpod-protocol.md), run_job as the handler,
// and the SDK's local test modes.
#pragma once

#include "worker/config.hpp"

#include <string>

namespace mvx::worker {

// Production loop (RUNPOD_WEBHOOK_GET_JOB set). Returns the exit code.
int run_serverless(const worker_config& cfg);

// One job offline from --test_input JSON or ./test_input.json; prints the
// output, returns 0 on success and 1 on failure.
int run_test_input(const worker_config& cfg, const std::string& json_text);

}  // namespace mvx::worker
