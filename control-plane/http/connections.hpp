// The live connections of the server: a cap (MEMVID_EXPORT_MAX_CONNECTIONS,
// by default the descriptor limit less a reserve), and which of them are idle
// — waiting for a request — so that under pressure the one idle longest is
// closed first and a new client (a health check) still gets in. No Asio: a
// connection brings its own close action.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>

namespace mvx::cp {

class connection_table {
public:
    struct entry {
        std::int64_t idle_since_ms = 0;  // 0: busy with a request
        std::function<void()> close;  // asks the connection to end (from any thread)
    };
    using handle = std::shared_ptr<entry>;

    explicit connection_table(std::size_t cap) : cap_(cap) {}

    handle add();
    void remove(const handle& h);
    void set_idle(const handle& h, bool idle, std::int64_t now_ms);
    // Asks the connection idle the longest to close; false when none is idle.
    bool evict_idle();

    std::size_t live() const;
    std::size_t cap() const { return cap_; }
    std::uint64_t evicted() const;

private:
    const std::size_t cap_;
    mutable std::mutex mu_;
    std::list<handle> live_;
    std::uint64_t evicted_ = 0;
};

}  // namespace mvx::cp
