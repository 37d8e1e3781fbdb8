// Handlers called directly, without a socket: what the download handler
// decides from Range, If-Range and If-None-Match, and the long polls of the
// worker protocol.
#include "control-plane/handlers/handlers.hpp"
#include "control-plane/http/auth.hpp"
#include "control-plane/jobs/local_queue.hpp"
#include "control-plane/jobs/registry.hpp"
#include "control-plane/jobs/sqlite_store.hpp"
#include "control-plane/observability/log.hpp"
#include "control-plane/observability/metrics.hpp"
#include "tests/common/test_helpers.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <map>

using namespace mvx;
using namespace mvx::cp;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

struct counting_waiter : waiter {
    int woken = 0;
    void wake() override { ++woken; }
};

struct fixture {
    test::temp_dir dir;
    std::map<std::string, std::string> vars;
    config cfg;
    metrics mx{metric_labels()};
    std::unique_ptr<job_store> store;
    std::unique_ptr<job_registry> jobs;
    std::unique_ptr<local_queue> queue;
    std::unique_ptr<authorizer> auth;
    std::atomic<bool> stopping{false};
    std::unique_ptr<context> ctx;
    std::shared_ptr<counting_waiter> last_waiter;

    fixture() {
        vars = {{"MEMVID_EXPORT_API_KEY", "handlers-test-key-0123456789"}, {"MEMVID_EXPORT_ROOT", dir.path.string()}};
        std::vector<std::string> w;
        cfg = load_config(map_env(vars), w);
        prepare_roots(cfg);
        set_log_level(log_level::error);
        store = open_sqlite_store(dir.path / "jobs.sqlite3");
        jobs = std::make_unique<job_registry>(cfg, *store, mx);
        jobs->open();
        queue = std::make_unique<local_queue>(*jobs);
        auth = std::make_unique<authorizer>(cfg);
        ctx = std::make_unique<context>(context{cfg, *jobs, queue.get(), nullptr, mx, *auth, stopping});
    }
    request make(const std::string& method, const std::string& target, std::map<std::string, std::string> headers = {}) {
        request r;
        r.method = method;
        r.target = target;
        r.head = method == "HEAD";
        r.route = match_route(method, target, cfg.local_endpoint_id);
        r.header = [h = std::move(headers)](std::string_view name) -> std::string_view {
            auto it = h.find(std::string(name));
            return it == h.end() ? std::string_view() : std::string_view(it->second);
        };
        r.make_waiter = [this] {
            last_waiter = std::make_shared<counting_waiter>();
            return last_waiter;
        };
        return r;
    }
    // A completed job whose capsule holds 1000 bytes.
    std::string completed_job() {
        const std::string id = new_uuid4();
        const auto part = jobs->part_file(id);
        std::ofstream(part) << "{}";
        staged_body b;
        b.part_file = part;
        b.nodes = b.relationships = 1;
        REQUIRE(std::holds_alternative<admitted>(jobs->admit(id, b)));
        queue->enqueue(id);
        const auto qid = std::string(json::parse(*queue->take("w")).at("id").as_string());
        const fs::path out = jobs->output_dir(id) / "a1";
        fs::create_directories(out);
        std::ofstream(out / "c.mv2") << std::string(1000, 'x');
        json::object done{{"output", json::object{{"artifactPath", (out / "c.mv2").string()}, {"fileName", "c \xC3\xA9.mv2"}}}};
        REQUIRE(queue->job_done("w", qid, done) == local_queue::done_result::ok);
        return id;
    }
};

}  // namespace

TEST_CASE("download handler: whole file, ranges, If-Range and If-None-Match", "[handlers]") {
    fixture f;
    const std::string id = f.completed_job();
    const std::string path = "/v1/exports/" + id + "/download";
    auto file = [&](std::map<std::string, std::string> h) {
        auto res = handlers::download(f.make("GET", path, std::move(h)), *f.ctx);
        REQUIRE(std::holds_alternative<file_reply>(res));
        return std::get<file_reply>(std::move(res));
    };
    auto whole = file({});
    CHECK(whole.head.status == 200);
    CHECK(whole.offset == 0);
    CHECK(whole.length == 1000);
    CHECK(whole.fd.get() >= 0);
    std::map<std::string, std::string> hdr(whole.head.headers.begin(), whole.head.headers.end());
    CHECK(hdr.at("Content-Disposition") == "attachment; filename=\"c __.mv2\"; filename*=UTF-8''c%20%C3%A9.mv2");
    CHECK(hdr.at("Accept-Ranges") == "bytes");
    const std::string etag = hdr.at("ETag");

    auto part = file({{"Range", "bytes=10-19"}});
    CHECK(part.head.status == 206);
    CHECK((part.offset == 10 && part.length == 10));
    CHECK(part.head.headers.back() == std::pair<std::string, std::string>{"Content-Range", "bytes 10-19/1000"});
    CHECK(file({{"Range", "bytes=10-19"}, {"If-Range", etag}}).head.status == 206);
    CHECK(file({{"Range", "bytes=10-19"}, {"If-Range", "\"stale\""}}).head.status == 200);  // changed: the whole file
    CHECK(file({{"Range", "bytes=0-1,4-5"}}).head.status == 200);  // several ranges: the whole file

    auto res = handlers::download(f.make("GET", path, {{"Range", "bytes=1000-"}}), *f.ctx);
    REQUIRE(std::holds_alternative<reply>(res));
    CHECK(std::get<reply>(res).status == 416);
    CHECK(std::get<reply>(res).headers.back().second == "bytes */1000");
    res = handlers::download(f.make("GET", path, {{"If-None-Match", etag}}), *f.ctx);
    REQUIRE(std::holds_alternative<reply>(res));
    CHECK(std::get<reply>(res).status == 304);

    // Not completed: 409; the capsule gone: 410.
    const std::string other = new_uuid4();
    {
        staged_body b;
        b.part_file = f.jobs->part_file(other);
        std::ofstream(b.part_file) << "{}";
        f.jobs->admit(other, b);
    }
    res = handlers::download(f.make("GET", "/v1/exports/" + other + "/download"), *f.ctx);
    CHECK(std::get<reply>(res).status == 409);
    fs::remove(f.jobs->output_dir(id) / "a1" / "c.mv2");
    res = handlers::download(f.make("GET", path), *f.ctx);
    CHECK(std::get<reply>(res).status == 410);
}

TEST_CASE("download handler: a folder of the artifact's path swapped for a link is not followed", "[handlers]") {
    fixture f;
    const std::string id = f.completed_job();
    const fs::path attempt = f.jobs->output_dir(id) / "a1";
    // Elsewhere, a file of the same name (the job store, another export, /etc/...).
    const fs::path elsewhere = f.dir.path / "elsewhere";
    fs::create_directories(elsewhere);
    std::ofstream(elsewhere / "c.mv2") << "secret";
    fs::rename(attempt, f.jobs->output_dir(id) / "a1-moved");
    fs::create_directory_symlink(elsewhere, attempt);
    auto res = handlers::download(f.make("GET", "/v1/exports/" + id + "/download"), *f.ctx);
    REQUIRE(std::holds_alternative<reply>(res));
    CHECK(std::get<reply>(res).status == 500);
    CHECK_THAT(std::get<reply>(res).body, Catch::Contains("symbolic link"));
    // The file itself replaced by a link, or by a FIFO: refused too, without blocking.
    fs::remove(attempt);
    fs::create_directories(attempt);
    fs::create_symlink(elsewhere / "c.mv2", attempt / "c.mv2");
    res = handlers::download(f.make("GET", "/v1/exports/" + id + "/download"), *f.ctx);
    CHECK(std::get<reply>(res).status == 500);
    fs::remove(attempt / "c.mv2");
    REQUIRE(::mkfifo((attempt / "c.mv2").c_str(), 0600) == 0);
    res = handlers::download(f.make("GET", "/v1/exports/" + id + "/download"), *f.ctx);
    CHECK(std::get<reply>(res).status == 500);
    CHECK_THAT(std::get<reply>(res).body, Catch::Contains("not a regular file"));
}

TEST_CASE("worker protocol handlers: a take waits, is woken by a new job, and answers it", "[handlers]") {
    fixture f;
    auto res = handlers::job_take(f.make("GET", "/v2/local/job-take/w1"), *f.ctx);
    REQUIRE(std::holds_alternative<long_poll>(res));
    auto& lp = std::get<long_poll>(res);
    CHECK(lp.wait == std::chrono::milliseconds(f.cfg.take_wait_ms));
    CHECK(lp.on_timeout.status == 204);
    CHECK_FALSE(lp.poll());  // nothing queued yet
    const std::string id = new_uuid4();
    {
        staged_body b;
        b.part_file = f.jobs->part_file(id);
        std::ofstream(b.part_file) << "{}";
        f.jobs->admit(id, b);
    }
    f.queue->enqueue(id);
    CHECK(f.last_waiter->woken == 1);  // the waiting take hears of it
    auto answer = lp.poll();
    REQUIRE(answer);
    CHECK(answer->status == 200);
    CHECK(json::parse(answer->body).at("id").as_string() == id + "-a1");

    res = handlers::job_stop(f.make("GET", "/v2/local/job-stop/w1"), *f.ctx);
    auto& stop = std::get<long_poll>(res);
    CHECK_FALSE(stop.poll());
    auto c = f.jobs->cancel(id);
    const auto& canceled = std::get<job_registry::canceled>(c);
    f.queue->cancel(id, canceled.lease_worker, canceled.queue_job_id);
    auto stop_answer = stop.poll();
    REQUIRE(stop_answer);
    CHECK(stop_answer->body == "{\"jobsToStop\":[\"" + id + "-a1\"]}");
}
