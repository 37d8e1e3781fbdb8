#include "control-plane/observability/metrics.hpp"

#include <algorithm>
#include <cstdio>

namespace mvx::cp {
namespace {

std::string num(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.9g", v);
    return b;
}

template <class H>
void histogram_text(std::string& o, const char* name, const char* label, const std::map<std::string, H>& hs, const double* bounds,
                    std::size_t n) {
    for (const auto& [key, h] : hs) {
        for (std::size_t i = 0; i < n; ++i)
            o += std::string(name) + "_bucket{" + label + "=\"" + key + "\",le=\"" + num(bounds[i]) + "\"} " +
                std::to_string(h.counts[i]) + "\n";
        o += std::string(name) + "_bucket{" + label + "=\"" + key + "\",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
        o += std::string(name) + "_sum{" + label + "=\"" + key + "\"} " + num(h.sum) + "\n";
        o += std::string(name) + "_count{" + label + "=\"" + key + "\"} " + std::to_string(h.count) + "\n";
    }
}

}  // namespace

std::string metrics::text() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string o;
    o += "# HELP memvid_export_http_requests_total HTTP requests answered, by route and status.\n"
         "# TYPE memvid_export_http_requests_total counter\n";
    // One line per (label, code): routes sharing a label add up, in the
    // order their labels first appear.
    std::vector<std::string_view> labels;
    for (auto n : routes_)
        if (std::find(labels.begin(), labels.end(), n) == labels.end()) labels.push_back(n);
    for (auto label : labels)
        for (std::size_t c = 0; c < 500; ++c) {
            std::uint64_t v = 0;
            for (std::size_t r = 0; r < routes_.size(); ++r)
                if (routes_[r] == label) v += http_[r * 500 + c].load(std::memory_order_relaxed);
            if (v)
                o += "memvid_export_http_requests_total{route=\"" + std::string(label) + "\",code=\"" + std::to_string(c + 100) +
                    "\"} " + std::to_string(v) + "\n";
        }
    o += "# HELP memvid_export_backend_request_seconds Latency of calls to the job backend (Runpod API), by operation.\n"
         "# TYPE memvid_export_backend_request_seconds histogram\n";
    histogram_text(o, "memvid_export_backend_request_seconds", "op", backend_, k_buckets.data(), k_buckets.size());
    o += "# HELP memvid_export_backend_errors_total Failed calls to the job backend, by operation and kind.\n"
         "# TYPE memvid_export_backend_errors_total counter\n";
    for (const auto& [k, v] : backend_errors_) {
        auto s = k.find('\x1f');
        o += "memvid_export_backend_errors_total{op=\"" + k.substr(0, s) + "\",kind=\"" + k.substr(s + 1) + "\"} " +
            std::to_string(v) + "\n";
    }
    o += "# HELP memvid_export_stage_duration_seconds Time jobs spent in each stage.\n"
         "# TYPE memvid_export_stage_duration_seconds histogram\n";
    histogram_text(o, "memvid_export_stage_duration_seconds", "stage", stages_, k_stage_buckets.data(), k_stage_buckets.size());
    o += "# HELP memvid_export_jobs_finished_total Jobs that reached a terminal state since start, by state.\n"
         "# TYPE memvid_export_jobs_finished_total counter\n";
    for (const auto& [k, v] : finished_)
        o += "memvid_export_jobs_finished_total{status=\"" + k + "\"} " + std::to_string(v) + "\n";
    return o;
}

}  // namespace mvx::cp
