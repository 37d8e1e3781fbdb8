// What a client controls in a request: query strings, Range / If-Range,
// ETags, Content-Disposition, bearer tokens, idempotency keys.
#include "control-plane/http/headers.hpp"

#include <catch2/catch.hpp>

using namespace mvx::cp;

TEST_CASE("headers: Range is one satisfiable range, or the whole file", "[headers]") {
    byte_range r;
    CHECK(parse_range("bytes=0-9", 100, r) == range_result::partial);
    CHECK((r.first == 0 && r.last == 9));
    CHECK(parse_range(" bytes=90- ", 100, r) == range_result::partial);
    CHECK((r.first == 90 && r.last == 99));
    CHECK(parse_range("bytes=50-500", 100, r) == range_result::partial);  // clamped to the end
    CHECK(r.last == 99);
    CHECK(parse_range("bytes=-5", 100, r) == range_result::partial);  // suffix
    CHECK((r.first == 95 && r.last == 99));
    CHECK(parse_range("bytes=-500", 100, r) == range_result::partial);
    CHECK(r.first == 0);
    CHECK(parse_range("bytes=100-", 100, r) == range_result::unsatisfiable);
    CHECK(parse_range("bytes=-0", 100, r) == range_result::unsatisfiable);
    CHECK(parse_range("bytes=-1", 0, r) == range_result::unsatisfiable);
    // Syntax we do not serve means the whole file (RFC 9110 lets a server ignore Range).
    for (const char* h :
         {"bytes=0-1,5-6", "bytes=9-2", "items=0-1", "bytes=a-b", "bytes=1", "bytes=-", "bytes=18446744073709551616-"})
        CHECK(parse_range(h, 100, r) == range_result::whole);
}

TEST_CASE("headers: ETags, weak comparison for If-None-Match, lists and *", "[headers]") {
    const std::string etag = "\"a1-b2-0f8fad5b\"";
    CHECK(etag_matches(etag, etag));
    CHECK(etag_matches("W/" + etag, etag));
    CHECK(etag_matches("\"x\", " + etag + " ,\"y\"", etag));
    CHECK(etag_matches("*", etag));
    CHECK_FALSE(etag_matches("\"a1-b2-0f8fad5c\"", etag));
    CHECK_FALSE(etag_matches("", etag));
}

TEST_CASE("headers: Content-Disposition has an ASCII fallback and the RFC 5987 UTF-8 name", "[headers]") {
    CHECK(content_disposition("memvid-gitnexus-x_capsule-2026-01-31.mv2") ==
          "attachment; filename=\"memvid-gitnexus-x_capsule-2026-01-31.mv2\"; "
          "filename*=UTF-8''memvid-gitnexus-x_capsule-2026-01-31.mv2");
    CHECK(content_disposition("capsule \xC3\xA9t\xC3\xA9.mv2") ==
          "attachment; filename=\"capsule __t__.mv2\"; filename*=UTF-8''capsule%20%C3%A9t%C3%A9.mv2");
    const auto hostile = content_disposition("a\"b\\c\r\nX-Evil: 1");
    CHECK(hostile.find('\r') == std::string::npos);
    CHECK(hostile.find('\n') == std::string::npos);
    CHECK(hostile.find("filename=\"a_b_c__X-Evil: 1\"") != std::string::npos);
}

TEST_CASE("headers: query parameters, numbers, tokens and keys", "[headers]") {
    bool bad = false;
    CHECK(query_param("a=1&sinceSeq=42&limit=5", "sinceSeq", bad) == "42");
    CHECK(query_param("x=%41+b", "x", bad) == "A b");
    CHECK_FALSE(query_param("a=1", "b", bad).has_value());
    CHECK_FALSE(bad);
    CHECK_FALSE(query_param("a=%zz&b=1", "b", bad).has_value());
    CHECK(bad);
    CHECK(parse_u64("18446744073709551615") == UINT64_MAX);
    CHECK_FALSE(parse_u64("18446744073709551616").has_value());
    CHECK_FALSE(parse_u64("-1").has_value());
    CHECK_FALSE(parse_u64(" 1").has_value());
    std::string why;
    CHECK(bearer_token("Bearer  abc ", why) == "abc");
    CHECK_FALSE(bearer_token("bearer abc", why).has_value());  // the scheme is case-sensitive, as the original
    CHECK(why.find("Bearer scheme") != std::string::npos);
    CHECK_FALSE(bearer_token("", why).has_value());
    CHECK(why.find("Missing Authorization") != std::string::npos);
    CHECK_FALSE(bearer_token("Bearer a\x01", why).has_value());
    CHECK(worker_token("  Bearer  k ") == "k");
    CHECK(worker_token("k") == "k");
    CHECK(valid_idempotency_key("order-42"));
    CHECK_FALSE(valid_idempotency_key("a b"));
    CHECK_FALSE(valid_idempotency_key(std::string(256, 'k')));
    CHECK(is_job_id("0f8fad5b-d9cb-469f-a165-70867728950e"));
    CHECK_FALSE(is_job_id("0f8fad5b-d9cb-469f-a165-70867728950"));
    CHECK(valid_token("pod-7.a_b"));
    CHECK_FALSE(valid_token(".."));
    CHECK_FALSE(valid_token("a/b"));
    CHECK(secret_equals("same", "same"));
    CHECK_FALSE(secret_equals("same", "other"));
}

#include "control-plane/observability/log.hpp"

#include <ctime>

TEST_CASE("log: rfc3339 times equal the C library's for any millisecond", "[headers]") {
    CHECK(rfc3339(0) == "1970-01-01T00:00:00.000Z");
    CHECK(rfc3339(1764582096440) == "2025-12-01T09:41:36.440Z");
    CHECK(rfc3339(951782400000) == "2000-02-29T00:00:00.000Z");  // a leap day
    CHECK(rfc3339(-1) == "1969-12-31T23:59:59.999Z");
    for (std::int64_t ms = -86400000LL * 800; ms < 86400000LL * 366 * 90; ms += 86400000LL * 17 + 3600000 * 5 + 60001 * 7 + 13) {
        const std::time_t t = std::time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        std::tm tm{};
        gmtime_r(&t, &tm);
        char b[64];
        std::snprintf(b, sizeof b, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                      tm.tm_hour, tm.tm_min, tm.tm_sec, int(((ms % 1000) + 1000) % 1000));
        REQUIRE(rfc3339(ms) == b);
    }
}
