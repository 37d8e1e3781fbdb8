// Prometheus metrics of the control plane (text exposition format 0.0.4):
// counters and histograms kept here; the job gauges are added by the health
// handler. Request counters are per route of the route table (its metric names).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mvx::cp {

class metrics {
public:
    static constexpr std::array<double, 12> k_buckets{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60};
    static constexpr std::array<double, 10> k_stage_buckets{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800};

    // route_names: the metric label of each route index (0 is "other", for
    // requests that matched no route); labels may repeat.
    explicit metrics(std::vector<std::string_view> route_names)
        : routes_(std::move(route_names)), http_(std::make_unique<std::atomic<std::uint64_t>[]>(routes_.size() * 500)) {}

    // Lock-free: one counter per (route, status).
    void http_request(std::size_t route, int status) {
        if (route >= routes_.size()) route = 0;
        if (status < 100 || status > 599) status = 599;
        http_[route * 500 + std::size_t(status - 100)].fetch_add(1, std::memory_order_relaxed);
    }
    void backend_call(const std::string& op, double seconds, const std::string& error_kind) {
        std::lock_guard<std::mutex> lock(mu_);
        observe(backend_[op], k_buckets.data(), k_buckets.size(), seconds);
        if (!error_kind.empty()) ++backend_errors_[op + "\x1f" + error_kind];
    }
    void stage_duration(const std::string& stage, double seconds) {
        std::lock_guard<std::mutex> lock(mu_);
        observe(stages_[stage], k_stage_buckets.data(), k_stage_buckets.size(), seconds);
    }
    void job_finished(const std::string& status) {
        std::lock_guard<std::mutex> lock(mu_);
        ++finished_[status];
    }
    std::string text() const;

private:
    struct histogram {
        std::array<std::uint64_t, 16> counts{};
        std::uint64_t count = 0;
        double sum = 0;
    };
    static void observe(histogram& h, const double* b, std::size_t n, double v) {
        for (std::size_t i = 0; i < n; ++i)
            if (v <= b[i]) ++h.counts[i];
        ++h.count;
        h.sum += v;
    }
    mutable std::mutex mu_;
    std::vector<std::string_view> routes_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> http_;
    std::map<std::string, std::uint64_t> backend_errors_, finished_;
    std::map<std::string, histogram> backend_, stages_;
};

}  // namespace mvx::cp
