// Fuzzes what a client controls in a control-plane request: the HTTP request
// as Beast parses it (request line, headers), then routing, the query string
// and every header parser the server uses. Checks invariants, not just crashes:
// a routed job id is a canonical UUID, a partial range lies inside the file,
// a worker route names valid ids, a bearer token is trimmed and non-empty.
#include "control-plane/http/headers.hpp"
#include "control-plane/routes/table.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

void exercise(std::string_view method, std::string_view target, std::string_view auth, std::string_view range,
              std::string_view inm, std::string_view idem, std::uint64_t size) {
    using namespace mvx::cp;
    route_match r = match_route(method, target, "local");
    if (r.kind != route_match::outcome::not_found) {
        require(r.index < routes().size() && r.metric == r.index + 1);
        const auto& spec = routes()[r.index];
        if (!r.bad_id && spec.pattern.find("{id}") != std::string_view::npos) require(is_job_id(r.job_id));
        if (spec.pattern.find("{worker}") != std::string_view::npos)
            require(spec.auth == auth_kind::worker_key && valid_token(r.worker_id));
        if (spec.pattern.find("{job}") != std::string_view::npos) require(valid_token(r.queue_job_id));
        if (r.kind == route_match::outcome::method_not_allowed) require(!r.allow.empty());
    } else {
        require(r.metric == 0 && r.job_id.empty() && r.worker_id.empty());
    }
    bool bad = false;
    for (const char* name : {"sinceSeq", "limit", "job_id"}) {
        auto v = query_param(r.query, name, bad);
        if (v) {
            auto n = parse_u64(*v);
            if (n) require(std::to_string(*n) == *v || (v->size() > 1 && (*v)[0] == '0'));
        }
    }
    std::string why;
    auto tok = bearer_token(auth, why);
    if (tok)
        require(!tok->empty() && tok->front() != ' ' && tok->back() != ' ');
    else
        require(!why.empty());
    (void)worker_token(auth);
    (void)secret_equals(auth, "key");
    byte_range br;
    if (parse_range(range, size, br) == range_result::partial) require(br.first <= br.last && br.last < size);
    (void)etag_matches(inm, "\"abc-1\"");
    (void)valid_idempotency_key(idem);
    auto cd = content_disposition(target);
    require(cd.find('\r') == std::string::npos && cd.find('\n') == std::string::npos);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    const std::uint64_t file_size = size ? data[0] * 977u : 0;
    // 1) The raw bytes as a request target, method chosen by the first byte.
    static const char* methods[] = {"GET", "POST", "DELETE", "HEAD", "OPTIONS", "PUT"};
    exercise(methods[size ? data[0] % 6 : 0], in, in, in, in, in, file_size);
    // 2) The bytes as an HTTP request through Beast's parser.
    boost::beast::http::request_parser<boost::beast::http::empty_body> p;
    p.header_limit(16 * 1024);
    p.eager(false);
    boost::beast::error_code ec;
    p.put(boost::asio::buffer(in.data(), in.size()), ec);
    if (!ec && p.is_header_done()) {
        const auto& req = p.get();
        auto sv = [](boost::beast::string_view s) { return std::string_view(s.data(), s.size()); };
        exercise(sv(req.method_string()), sv(req.target()), sv(req[boost::beast::http::field::authorization]),
                 sv(req[boost::beast::http::field::range]), sv(req[boost::beast::http::field::if_none_match]),
                 sv(req["Idempotency-Key"]), file_size);
    }
    return 0;
}
