#include "control-plane/jobs/state_machine.hpp"

#include <array>

namespace mvx::cp {

std::string_view to_string(transition t) {
    static constexpr std::array<std::string_view, 7> k{"take", "submit", "requeue", "complete", "fail", "cancel", "expire"};
    return k[std::size_t(t)];
}

std::optional<job_status> next_status(job_status from, transition t) {
    using S = job_status;
    switch (t) {
        case transition::take:
        case transition::submit: return from == S::queued ? std::optional(S::running) : std::nullopt;
        case transition::requeue: return from == S::running ? std::optional(S::queued) : std::nullopt;
        case transition::complete: return from == S::running ? std::optional(S::completed) : std::nullopt;
        case transition::fail: return from == S::queued || from == S::running ? std::optional(S::failed) : std::nullopt;
        case transition::cancel: return from == S::queued || from == S::running ? std::optional(S::canceled) : std::nullopt;
        case transition::expire: return from == S::completed ? std::optional(S::expired) : std::nullopt;
    }
    return std::nullopt;
}

bool apply(job& j, transition t) {
    const auto next = next_status(j.status, t);
    if (!next) return false;
    j.status = *next;
    return true;
}

}  // namespace mvx::cp
