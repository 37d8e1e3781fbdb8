#include "control-plane/http/connections.hpp"

#include <algorithm>

namespace mvx::cp {

connection_table::handle connection_table::add() {
    auto h = std::make_shared<entry>();
    std::lock_guard<std::mutex> lock(mu_);
    live_.push_back(h);
    return h;
}

void connection_table::remove(const handle& h) {
    std::lock_guard<std::mutex> lock(mu_);
    live_.remove(h);
}

void connection_table::set_idle(const handle& h, bool idle, std::int64_t now) {
    std::lock_guard<std::mutex> lock(mu_);
    h->idle_since_ms = idle ? std::max<std::int64_t>(now, 1) : 0;
}

bool connection_table::evict_idle() {
    std::function<void()> close;
    {
        std::lock_guard<std::mutex> lock(mu_);
        handle oldest;
        for (const auto& h : live_)
            if (h->idle_since_ms && (!oldest || h->idle_since_ms < oldest->idle_since_ms)) oldest = h;
        if (!oldest) return false;
        oldest->idle_since_ms = 0;  // asked once
        close = oldest->close;
        ++evicted_;
    }
    if (close) close();
    return true;
}

std::size_t connection_table::live() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.size();
}

std::uint64_t connection_table::evicted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return evicted_;
}

}  // namespace mvx::cp
