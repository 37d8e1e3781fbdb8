#include "control-plane/http/auth.hpp"

#include "common/mv2/blake3.hpp"
#include "control-plane/http/headers.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cmath>

namespace mvx::cp {

bool rate_limiter::take(const std::string& key, double& remaining, double& reset) {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    auto [it, fresh] = buckets_.try_emplace(key, bucket{capacity_, now});
    bucket& b = it->second;
    const double rate = per_minute_ / 60.0;
    b.tokens = std::min(capacity_, b.tokens + rate * std::chrono::duration<double>(now - b.at).count());
    b.at = now;
    const bool ok = b.tokens >= 1.0;
    if (ok) b.tokens -= 1.0;
    remaining = std::floor(b.tokens);
    reset = std::ceil((capacity_ - b.tokens) / rate);
    return ok;
}

authorizer::authorizer(const config& cfg)
    : cfg_(cfg),
      limiter_(cfg.rate_per_minute, cfg.rate_burst),
      api_key_digest_(mv2::blake3(cfg.api_key)),
      worker_key_digest_(mv2::blake3(cfg.worker_key)) {}

std::optional<reply> authorizer::check(auth_kind kind, std::string_view authorization, header_list& extra) {
    if (kind == auth_kind::api_key) {
        std::string why;
        auto token = bearer_token(authorization, why);
        if (!token) return error_reply(401, "UNAUTHORIZED", why);
        // One digest of the token per request: the key check and the rate-limit bucket.
        const mv2::digest token_digest = mv2::blake3(*token);
        if (CRYPTO_memcmp(token_digest.data(), api_key_digest_.data(), token_digest.size()) != 0)
            return error_reply(401, "UNAUTHORIZED", "Invalid API key");
        if (limiter_.enabled()) {
            double remaining = 0, reset = 0;
            const bool ok = limiter_.take(std::string(token_digest.begin(), token_digest.end()), remaining, reset);
            extra.emplace_back("X-RateLimit-Limit", std::to_string(std::llround(limiter_.per_minute())));
            extra.emplace_back("X-RateLimit-Remaining", std::to_string(std::llround(remaining)));
            extra.emplace_back("X-RateLimit-Reset", std::to_string(std::llround(reset)));
            if (!ok) {
                auto e =
                    error_reply(429, "RATE_LIMITED", "Too many requests for this API key: retry after the time in Retry-After");
                e.headers = extra;
                e.headers.emplace_back("Retry-After",
                                       std::to_string(std::max<long long>(1, std::llround(60.0 / limiter_.per_minute()))));
                return e;
            }
        }
    } else if (kind == auth_kind::worker_key) {
        if (cfg_.backend != backend_mode::local_queue)
            return error_reply(404, "NOT_FOUND",
                               "The worker protocol is served only when MEMVID_EXPORT_BACKEND_MODE=local_queue");
        if (!secret_matches(worker_token(authorization), worker_key_digest_))
            return error_reply(401, "UNAUTHORIZED", "Invalid worker key: set RUNPOD_AI_API_KEY to MEMVID_LOCAL_QUEUE_WORKER_KEY");
    }
    return std::nullopt;
}

}  // namespace mvx::cp
