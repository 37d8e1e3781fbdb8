// The native Runpod queue worker: the job protocol spoken directly (take,
// done, ping, stop — ../shared/specs/runpod.md), pack as the handler, and the
// SDK's local test modes.
#pragma once

#include <string>
#include <vector>

namespace mvx::worker {

// Production loop; used when RUNPOD_WEBHOOK_GET_JOB is set. Returns the exit code.
int run_serverless();

// One job offline from --test_input JSON or ./test_input.json; prints the
// output, returns 0 on success and 1 on failure.
int run_test_input(const std::string& json_text);

}  // namespace mvx::worker
