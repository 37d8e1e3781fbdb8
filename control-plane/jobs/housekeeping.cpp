#include "control-plane/jobs/housekeeping.hpp"

#include "control-plane/observability/log.hpp"

#include <filesystem>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace mvx::cp {

void housekeeping::tick(std::int64_t now) {
    if (queue_) queue_->expire_leases(now);
    heartbeats(now);
    if (now - last_sweep_ms_ >= jobs_.cfg().sweep_interval_seconds * 1000) {
        last_sweep_ms_ = now;
        sweep(now);
    }
}

void housekeeping::heartbeats(std::int64_t now) {
    const auto ahead = queue_ ? queue_->positions() : std::map<std::string, std::size_t>{};
    jobs_.for_each([&](job_registry::locked& l) {
        job& j = l.j;
        if (j.terminal() || now - j.last_event_ms < l.cfg().heartbeat_seconds * 1000) return;
        std::string msg;
        json::object meta;
        if (j.backend() == "runpod_queue") {
            msg = j.runpod_status.empty() ? "Submitting to Runpod" : "Waiting for Runpod (" + j.runpod_status + ")";
            meta["runpodStatus"] = j.runpod_status;
        } else if (!j.lease_worker.empty()) {
            msg = "Running on worker " + j.lease_worker;
            meta["worker"] = j.lease_worker;
        } else {
            auto p = ahead.find(j.id);
            const std::size_t n = p == ahead.end() ? 0 : p->second;
            msg = "Waiting for a worker (" + std::to_string(n) + " ahead)";
            meta["ahead"] = n;
        }
        l.append(event_type::stage_heartbeat, j.stage, j.progress, j.stage_progress, msg, std::move(meta));
    });
}

void housekeeping::sweep(std::int64_t now) {
    std::vector<std::string> gone;
    jobs_.for_each([&](job_registry::locked& l) {
        job& j = l.j;
        std::error_code ec;
        auto remove_files = [&] {
            fs::remove(j.payload_path, ec);
            fs::remove_all(j.output_dir, ec);
            if (j.has_artifact) {
                fs::remove(j.artifact_path, ec);
                for (const char* suffix : {".index.v1.sqlite", ".index.v1.sqlite-wal", ".index.v1.sqlite-shm"})
                    fs::remove(j.artifact_path + suffix, ec);
            }
            j.cleaned = true;
            j.cleaned_ms = now;
        };
        if (j.cleaned && j.terminal() && j.cleaned_ms + l.cfg().tombstone_seconds * 1000 <= now) {
            gone.push_back(j.id);  // the record has served its tombstone period
            return;
        }
        if (j.status == job_status::completed && j.expires_ms <= now) {
            remove_files();
            if (!l.move(transition::expire)) return;
            j.has_artifact = false;
            l.append(event_type::job_expired, job_stage::expired, 100, 100, "Artifact expired and removed", nullptr);
            wake_all(j.waiters);  // open streams end
            l.forget_events();
            l.count_finished(job_status::expired);
            log_line(log_level::info, "expired: capsule, sidecar, payload and outputs removed", j.id);
        } else if ((j.status == job_status::failed || j.status == job_status::canceled) && !j.cleaned &&
                   j.updated_ms + l.cfg().retention_seconds * 1000 <= now) {
            remove_files();
            l.save();
            log_line(log_level::info, "retention: staged payload and outputs removed", j.id);
        }
    });
    if (!gone.empty()) {
        jobs_.forget(gone);
        log_line(log_level::info, "retention: " + std::to_string(gone.size()) + " job record(s) and their events removed");
    }
}

}  // namespace mvx::cp
