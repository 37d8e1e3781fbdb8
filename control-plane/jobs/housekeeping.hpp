// What runs every second, off the request path: leases past their deadline go
// back to the queue, quiet jobs get a heartbeat event (at least every
// MEMVID_EXPORT_HEARTBEAT_SECONDS, so a client never sees a stalled job), and
// retention removes what is past MEMVID_EXPORT_RETENTION_SECONDS: a completed
// job's capsule, sidecar, payload and outputs (the job becomes expired), the
// files of failed and canceled jobs.
#pragma once

#include "control-plane/jobs/local_queue.hpp"
#include "control-plane/jobs/registry.hpp"

#include <cstdint>

namespace mvx::cp {

class housekeeping {
public:
    housekeeping(job_registry& jobs, local_queue* queue) : jobs_(jobs), queue_(queue) {}
    void tick(std::int64_t now_ms);

    void heartbeats(std::int64_t now_ms);
    void sweep(std::int64_t now_ms);

private:
    job_registry& jobs_;
    local_queue* queue_;
    std::int64_t last_sweep_ms_ = 0;
};

}  // namespace mvx::cp
