// The control plane's log: one JSON object per line on stderr (ts, level, msg,
// jobId). MEMVID_LOG (error, warn, info, debug; default info) sets the level.
// Callers never pass secrets: keys stay out of messages by construction.
#pragma once

#include <cstdint>
#include <string>

namespace mvx::cp {

std::int64_t now_ms();  // wall clock, ms since the epoch
std::string rfc3339(std::int64_t ms);  // 2026-11-30T09:21:36.440Z

enum class log_level { error = 0, warn = 1, info = 2, debug = 3 };

void set_log_level(log_level l);
// Parses MEMVID_LOG; false when the value is not a level.
bool parse_log_level(const std::string& s, log_level& out);
void log_line(log_level l, const std::string& msg, const std::string& job_id = "");

}  // namespace mvx::cp
