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
    // Formatted by hand (every status body carries two of these): the civil
    // date from days since the epoch (H. Hinnant's algorithm), no locale, no printf.
    std::int64_t secs = ms / 1000, milli = ms % 1000;
    if (milli < 0) {
        milli += 1000;
        --secs;
    }
    std::int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const std::int64_t doe = days - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t year = yoe + era * 400 + (month <= 2);
    char b[32];
    auto put = [&](std::size_t at, std::int64_t v, int width) {
        for (int i = width - 1; i >= 0; --i, v /= 10) b[at + std::size_t(i)] = char('0' + v % 10);
    };
    if (year < 0 || year > 9999) return "0000-01-01T00:00:00.000Z";
    put(0, year, 4);
    b[4] = '-';
    put(5, month, 2);
    b[7] = '-';
    put(8, day, 2);
    b[10] = 'T';
    put(11, rem / 3600, 2);
    b[13] = ':';
    put(14, rem / 60 % 60, 2);
    b[16] = ':';
    put(17, rem % 60, 2);
    b[19] = '.';
    put(20, milli, 3);
    b[23] = 'Z';
    return std::string(b, 24);
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
