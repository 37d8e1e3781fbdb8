#include "control-plane/observability/log.hpp"

#include "common/core/json_text.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace mvx::cp {
namespace {
std::atomic<int> g_level{int(log_level::info)};
std::mutex g_mu;
}  // namespace

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string rfc3339(std::int64_t ms) {
    std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char b[96];
    std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, int(ms % 1000));
    return b;
}

void set_log_level(log_level l) { g_level = int(l); }

bool parse_log_level(const std::string& s, log_level& out) {
    if (s == "error")
        out = log_level::error;
    else if (s == "warn" || s == "warning")
        out = log_level::warn;
    else if (s == "info")
        out = log_level::info;
    else if (s == "debug" || s == "trace")
        out = log_level::debug;
    else
        return false;
    return true;
}

void log_line(log_level l, const std::string& msg, const std::string& job_id) {
    if (int(l) > g_level.load()) return;
    static const char* names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    boost::json::object o{{"ts", rfc3339(now_ms())}, {"level", names[int(l)]}, {"msg", msg}};
    if (!job_id.empty()) o["jobId"] = job_id;
    std::string line = to_text(o) + "\n";
    std::lock_guard<std::mutex> lock(g_mu);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

}  // namespace mvx::cp
