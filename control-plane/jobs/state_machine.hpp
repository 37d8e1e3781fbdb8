// The job state machine: the only way a job's status changes. Each transition
// names the event that causes it; a transition not in the table is refused
// (the caller logs it and leaves the job as it was).
//
//   queued  --take-->     running     a local-queue worker took it
//   queued  --submit-->   running     Runpod accepted /run
//   running --requeue-->  queued      its worker was lost; attempts remain
//   running --complete--> completed   the worker's output checked out
//   queued|running --fail-->   failed
//   queued|running --cancel--> canceled
//   completed --expire--> expired     retention removed the capsule
#pragma once

#include "control-plane/jobs/job.hpp"

#include <optional>
#include <string_view>

namespace mvx::cp {

enum class transition : std::uint8_t { take, submit, requeue, complete, fail, cancel, expire };

std::string_view to_string(transition t);

// The status a job in `from` moves to by t, or nullopt when t is not allowed.
std::optional<job_status> next_status(job_status from, transition t);

// Moves j by t; false (and j unchanged) when the transition is illegal.
bool apply(job& j, transition t);

}  // namespace mvx::cp
