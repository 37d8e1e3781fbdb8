// The route table: matching, the 401/404/405 answers the router derives from
// it, and the README's route list.
#include "control-plane/handlers/handlers.hpp"
#include "control-plane/http/auth.hpp"
#include "control-plane/jobs/registry.hpp"
#include "control-plane/jobs/sqlite_store.hpp"
#include "control-plane/observability/metrics.hpp"
#include "control-plane/routes/dispatch.hpp"
#include "control-plane/routes/table.hpp"
#include "tests/common/test_helpers.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace mvx;
using namespace mvx::cp;

namespace {

constexpr const char* k_id = "0f8fad5b-d9cb-469f-a165-70867728950e";

std::string_view metric_of(const route_match& m) { return metric_labels()[m.metric]; }

}  // namespace

TEST_CASE("routes: every route of the table matches its own path and method", "[routes]") {
    for (std::size_t i = 0; i < routes().size(); ++i) {
        const auto& r = routes()[i];
        std::string path(r.pattern);
        for (auto [from, to] : std::initializer_list<std::pair<std::string, std::string>>{
                 {"{id}", k_id}, {"{endpoint}", "local"}, {"{worker}", "pod-1"}, {"{job}", std::string(k_id) + "-a1"}})
            for (auto p = path.find(from); p != std::string::npos; p = path.find(from)) path.replace(p, from.size(), to);
        for (auto method : r.methods) {
            if (method.empty()) continue;
            INFO(method << " " << path);
            const auto m = match_route(method, path + "?a=1#frag", "local");
            CHECK(m.kind == route_match::outcome::route);
            CHECK(m.index == i);
            CHECK(metric_of(m) == r.metric);
            CHECK(m.auth == r.auth);
            CHECK(m.query == "a=1");
            CHECK_FALSE(m.bad_id);
        }
    }
}

TEST_CASE("routes: parameters, ids, trailing slashes, scopes and 405s", "[routes]") {
    auto m = match_route("GET", std::string("/v1/exports/") + k_id + "/events/", "local");
    CHECK(metric_of(m) == "events");
    CHECK(m.job_id == k_id);

    m = match_route("DELETE", std::string("/v1/exports/") + k_id, "local");
    CHECK(metric_of(m) == "cancel");
    m = match_route("PUT", std::string("/v1/exports/") + k_id, "local");
    CHECK(m.kind == route_match::outcome::method_not_allowed);
    CHECK(m.allow == "GET, DELETE, OPTIONS");
    CHECK(metric_of(m) == "status");  // the path's first route names its 405s
    CHECK(match_route("POST", "/healthz", "local").allow == "GET, HEAD, OPTIONS");
    CHECK(match_route("HEAD", "/metrics", "local").allow == "GET, OPTIONS");

    m = match_route("GET", "/v1/exports/not-a-uuid/download", "local");
    CHECK(m.kind == route_match::outcome::route);
    CHECK(m.bad_id);
    CHECK(match_route("GET", "/v1/exports/0F8FAD5B-D9CB-469F-A165-70867728950E", "local").bad_id);  // lower case only

    m = match_route("GET", "/v1/exports/x/y/z", "local");  // under /v1: the key first, then a 404 without the path
    CHECK(m.kind == route_match::outcome::not_found);
    CHECK(m.auth == auth_kind::api_key);
    CHECK_FALSE(m.echo_target);
    CHECK(metric_of(m) == "other");

    m = match_route("GET", "/v2/local/job-take/a%20b", "local");  // a worker id that is not a token
    CHECK(m.kind == route_match::outcome::not_found);
    CHECK(m.auth == auth_kind::worker_key);
    CHECK(m.echo_target);
    m = match_route("GET", "/v2/other/job-take/w", "local");  // another endpoint: not ours at all
    CHECK(m.kind == route_match::outcome::not_found);
    CHECK(m.auth == auth_kind::none);
    CHECK(match_route("GET", "/v2/local", "local").auth == auth_kind::none);
    m = match_route("POST", "/v2/local/job-done/w/j-a1", "local");
    CHECK(metric_of(m) == "job-done");
    CHECK(m.worker_id == "w");
    CHECK(m.queue_job_id == "j-a1");
    CHECK(match_route("GET", "/v2/local/job-done/w/..", "local").kind == route_match::outcome::not_found);

    m = match_route("OPTIONS", "/anything/at/all", "local");
    CHECK(m.preflight);
    CHECK(m.auth == auth_kind::none);
    CHECK(match_route("OPTIONS", std::string("/v1/exports/") + k_id, "local").preflight);
    CHECK(match_route("GET", "http://host/healthz", "local").kind == route_match::outcome::not_found);  // origin-form only
    CHECK(match_route("GET", "/", "local").kind == route_match::outcome::not_found);
}

TEST_CASE("routes: the README's route list is the route table's", "[routes]") {
    const std::string md = routes_markdown();
    for (const auto& r : routes()) {
        std::string quoted = "`";
        quoted.append(r.pattern).append("`");
        CHECK(md.find(quoted) != std::string::npos);
    }
    const std::string readme = test::read_file(std::filesystem::path(MVX_SOURCE_DIR) / "README.md");
    INFO("README.md must contain the output of `memvid-export-api routes`:\n" << md);
    CHECK(readme.find(md) != std::string::npos);
}

TEST_CASE("router: preflight, keys, 405 and 404 come from the table", "[routes]") {
    test::temp_dir dir;
    std::vector<std::string> warnings;
    std::map<std::string, std::string> vars{{"MEMVID_EXPORT_API_KEY", "router-test-key-0123456789"},
                                            {"MEMVID_EXPORT_ROOT", dir.path.string()},
                                            {"MEMVID_EXPORT_RATE_LIMIT_PER_MINUTE", "0"}};
    const config cfg = load_config(map_env(vars), warnings);
    prepare_roots(cfg);
    metrics mx(metric_labels());
    auto store = open_sqlite_store(dir.path / "jobs.sqlite3");
    job_registry jobs(cfg, *store, mx);
    jobs.open();
    authorizer auth(cfg);
    std::atomic<bool> stopping{false};
    context ctx{cfg, jobs, nullptr, nullptr, mx, auth, stopping};
    auto call = [&](std::string method, std::string target, std::map<std::string, std::string> headers) {
        request req;
        req.method = method;
        req.target = target;
        req.route = match_route(method, target, cfg.local_endpoint_id);
        req.header = [h = std::move(headers)](std::string_view name) -> std::string_view {
            auto it = h.find(std::string(name));
            return it == h.end() ? std::string_view() : std::string_view(it->second);
        };
        auto d = dispatch(req, ctx);
        REQUIRE(std::holds_alternative<reply>(d.result));
        return std::get<reply>(std::move(d.result));
    };
    const std::map<std::string, std::string> key{{"Authorization", "Bearer router-test-key-0123456789"}};

    auto r = call("OPTIONS", "/v1/exports", {{"Access-Control-Request-Headers", "X-Thing"}});
    CHECK(r.status == 204);
    CHECK(r.headers.at(1).second == "X-Thing");
    CHECK(call("GET", std::string("/v1/exports/") + k_id, {}).status == 401);
    CHECK(call("GET", "/v1/nothing", {}).status == 401);
    r = call("GET", "/v1/nothing", key);
    CHECK(r.status == 404);
    CHECK(r.body == R"({"error":{"code":"NOT_FOUND","message":"No such route"}})");
    r = call("PUT", "/v1/exports", key);
    CHECK(r.status == 405);
    CHECK(r.headers.back() == std::pair<std::string, std::string>{"Allow", "POST, OPTIONS"});
    r = call("GET", "/v1/exports/nope", key);
    CHECK(r.status == 404);
    CHECK(r.body.find("JOB_NOT_FOUND") != std::string::npos);
    r = call("GET", "/nope", {});
    CHECK(r.body == R"({"error":{"code":"NOT_FOUND","message":"No such route: /nope"}})");
    r = call("GET", "/v2/local/job-take/w", {{"Authorization", "not-the-worker-key"}});
    CHECK(r.status == 401);
    CHECK(r.body.find("Invalid worker key") != std::string::npos);
    r = call("GET", "/v2/local/unknown/w", {{"Authorization", "not-the-worker-key"}});
    CHECK(r.status == 401);  // unknown paths under the worker scope need the key too
    r = call("GET", std::string("/v1/exports/") + k_id, key);
    CHECK(r.status == 404);
    CHECK(r.body == std::string(R"({"error":{"code":"JOB_NOT_FOUND","message":"No export job )") + k_id + "\"}}");
    CHECK(call("GET", "/healthz", {}).status == 200);
}
