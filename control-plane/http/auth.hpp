// Who may call a route: the API key (a bearer token, compared in constant time
// through digests taken once at start, and a token bucket per key for
// MEMVID_EXPORT_RATE_LIMIT_*), or the local queue's worker key (sent raw, as
// Runpod's workers send theirs). Keys never appear in answers or logs.
#pragma once

#include "control-plane/config/config.hpp"
#include "control-plane/http/response.hpp"
#include "control-plane/routes/table.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace mvx::cp {

class rate_limiter {
public:
    rate_limiter(double per_minute, double burst) : per_minute_(per_minute), capacity_(std::max(burst, 1.0)) {}
    bool enabled() const { return per_minute_ > 0; }
    double per_minute() const { return per_minute_; }
    // Takes a token from key's bucket; remaining and reset (seconds until full) for the headers.
    bool take(const std::string& key, double& remaining, double& reset);

private:
    struct bucket {
        double tokens;
        std::chrono::steady_clock::time_point at;
    };
    double per_minute_, capacity_;
    std::mutex mu_;
    std::map<std::string, bucket> buckets_;
};

class authorizer {
public:
    explicit authorizer(const config& cfg);
    // nullopt when the request may proceed; else the 401/404/429 answer.
    // Headers every later answer must carry (X-RateLimit-*) go into extra.
    std::optional<reply> check(auth_kind kind, std::string_view authorization, header_list& extra);

private:
    const config& cfg_;
    rate_limiter limiter_;
    const std::array<std::uint8_t, 32> api_key_digest_, worker_key_digest_;
};

}  // namespace mvx::cp
