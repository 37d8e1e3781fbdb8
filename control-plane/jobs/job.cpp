#include "control-plane/jobs/job.hpp"

#include "common/contract/job_protocol.hpp"
#include "common/core/error.hpp"
#include "common/core/hex.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>

namespace mvx::cp {
namespace {

constexpr std::array<std::string_view, 6> k_status{"queued", "running", "completed", "failed", "canceled", "expired"};
constexpr std::array<std::string_view, 10> k_stage{"queued",
                                                   protocol::stage::transform,
                                                   protocol::stage::frame_prep,
                                                   protocol::stage::write_capsule,
                                                   protocol::stage::build_sidecar,
                                                   protocol::stage::finalize,
                                                   "download_ready",
                                                   "failed",
                                                   "canceled",
                                                   "expired"};
constexpr std::array<std::string_view, 7> k_event{"stage_progress", "stage_heartbeat", "job_started", "job_completed",
                                                  "job_failed",     "job_canceled",    "job_expired"};

}  // namespace

std::string_view to_string(job_status s) { return k_status[std::size_t(s)]; }
std::string_view to_string(job_stage s) { return k_stage[std::size_t(s)]; }
std::string_view to_string(event_type t) { return k_event[std::size_t(t)]; }

std::optional<job_status> parse_job_status(std::string_view s) {
    for (std::size_t i = 0; i < k_status.size(); ++i)
        if (k_status[i] == s) return job_status(i);
    return std::nullopt;
}

std::optional<job_stage> parse_job_stage(std::string_view s) {
    for (std::size_t i = 0; i < k_stage.size(); ++i)
        if (k_stage[i] == s) return job_stage(i);
    return std::nullopt;
}

std::optional<job_stage> stage_of_worker(std::string_view w) {
    for (std::string_view k : protocol::stage::pack_stages)
        if (w == k) return parse_job_stage(k);
    if (w == protocol::stage::download) return job_stage::transform;
    if (w == protocol::stage::upload) return job_stage::finalize;
    return std::nullopt;
}

std::string job::backend() const {
    auto it = metadata.find("backend");
    return it != metadata.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}

void add_waiter(std::vector<std::weak_ptr<waiter>>& ws, const std::shared_ptr<waiter>& w) {
    ws.erase(std::remove_if(ws.begin(), ws.end(), [](const std::weak_ptr<waiter>& x) { return x.expired(); }), ws.end());
    ws.push_back(w);
}

void wake_all(std::vector<std::weak_ptr<waiter>>& ws) {
    std::vector<std::weak_ptr<waiter>> keep;
    for (auto& w : ws)
        if (auto p = w.lock()) {
            p->wake();
            keep.push_back(w);
        }
    ws.swap(keep);
}

std::string new_uuid4() {
    std::array<std::uint8_t, 16> b{};
    if (RAND_bytes(b.data(), int(b.size())) != 1)
        throw error(error_kind::internal, "INTERNAL", "no randomness for a job id (RAND_bytes failed)");
    b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
    std::string s;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
        append_hex(s, &b[i], 1);
    }
    return s;
}

}  // namespace mvx::cp
