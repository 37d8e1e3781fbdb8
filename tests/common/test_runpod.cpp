// The real worker binary against a local Beast server playing the Runpod job
// service as docs/runpod-protocol.md describes it: take / done / ping / stop
// URLs with placeholders and query strings, raw Authorization, faults.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "common/mv2/reader.hpp"
#include "tests/common/fake_http_server.hpp"
#include "tests/common/test_helpers.hpp"

using namespace mvx;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct job_service {
    std::mutex mu;
    std::deque<std::string> queue;  // job JSON bodies to hand out
    std::vector<std::pair<std::string, std::string>> done;  // (job id, body) of every done post, in order
    std::vector<std::string> pings;  // ping targets
    std::vector<std::string> takes;
    std::set<std::string> to_stop;
    int done_failures = 0;  // answer 500 to this many done posts (final ones)
    int take_429 = 0;  // answer 429 to this many takes
    int delivered = 0;  // final posts answered 200

    std::string slow_payload;  // served at /payload/slow after 1.5 s

    test::fake_response handle(const test::fake_request& r) {
        if (r.target == "/payload/slow") {
            auto res = test::reply(200, slow_payload);
            res.delay = 1500ms;
            return res;
        }
        std::lock_guard<std::mutex> lock(mu);
        if (r.header("Authorization") != "rp-secret") return test::reply(401, "bad key");
        const std::string& t = r.target;
        if (t.rfind("/v2/ep/job-take/pod-7?gpu=H200&job_in_progress=", 0) == 0) {
            takes.push_back(t);
            if (take_429 > 0) {
                --take_429;
                return test::reply(429, "slow down");
            }
            if (queue.empty()) {
                auto res = test::reply(204, "");
                res.delay = 20ms;
                return res;
            }
            auto j = queue.front();
            queue.pop_front();
            return test::reply(200, j);
        }
        if (t.rfind("/v2/ep/job-stop/pod-7?gpu=H200", 0) == 0) {
            if (!to_stop.empty()) {
                json::array a;
                for (const auto& id : to_stop) a.push_back(json::value(id));
                to_stop.clear();
                json::object o;
                o["jobsToStop"] = std::move(a);
                return test::reply(200, json::serialize(o));
            }
            auto res = test::reply(204, "");
            res.delay = 50ms;
            return res;
        }
        if (t.rfind("/v2/ep/ping/pod-7?gpu=H200", 0) == 0) {
            pings.push_back(t);
            return test::reply(200, "");
        }
        const std::string done_prefix = "/v2/ep/job-done/pod-7/";
        if (t.rfind(done_prefix, 0) == 0 && r.method == "POST") {
            std::string rest = t.substr(done_prefix.size());
            std::string id = rest.substr(0, rest.find('?'));
            if (rest.find("gpu=H200") == std::string::npos || rest.find("isStream=false") == std::string::npos)
                return test::reply(400, "bad done url");
            const bool final_post = r.body.find("\"IN_PROGRESS\"") == std::string::npos;
            done.emplace_back(id, r.body);
            if (final_post && done_failures > 0) {
                --done_failures;
                return test::reply(500, "try again");
            }
            if (final_post) ++delivered;
            return test::reply(200, "");
        }
        return test::reply(404, "unknown " + t);
    }

    std::vector<std::string> finals(const std::string& id) {
        std::lock_guard<std::mutex> lock(mu);
        std::vector<std::string> out;
        for (const auto& [j, b] : done)
            if (j == id && b.find("\"IN_PROGRESS\"") == std::string::npos) out.push_back(b);
        return out;
    }
};

std::string job_json(const std::string& id, json::object input) {
    json::object o;
    o["id"] = id;
    o["input"] = std::move(input);
    return json::serialize(o);
}

pid_t spawn_worker(const std::string& base, const fs::path& staging, const std::vector<std::string>& extra_env = {}) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setenv("RUNPOD_WEBHOOK_GET_JOB", (base + "/v2/ep/job-take/$ID?gpu=H200").c_str(), 1);
        ::setenv("RUNPOD_WEBHOOK_POST_OUTPUT", (base + "/v2/ep/job-done/$RUNPOD_POD_ID/$ID?gpu=H200").c_str(), 1);
        ::setenv("RUNPOD_WEBHOOK_PING", (base + "/v2/ep/ping/$RUNPOD_POD_ID?gpu=H200").c_str(), 1);
        ::setenv("RUNPOD_AI_API_KEY", "rp-secret", 1);
        ::setenv("RUNPOD_POD_ID", "pod-7", 1);
        ::setenv("RUNPOD_PING_INTERVAL", "50", 1);
        ::setenv("MEMVID_WORKER_429_WAIT_MS", "100", 1);
        ::setenv("MEMVID_EXPORT_STAGING_ROOT", staging.c_str(), 1);
        for (const auto& kv : extra_env) ::putenv(const_cast<char*>(kv.c_str()));
        ::freopen("/dev/null", "w", stderr);
        std::string bin = MVX_WORKER_BIN;
        ::execl(bin.c_str(), bin.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    return pid;
}

int wait_exit(pid_t pid, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        std::this_thread::sleep_for(20ms);
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
}

template <typename F>
bool wait_for(F cond, std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (cond()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

json::object input_for(const fs::path& payload, const fs::path& out, const std::string& job) {
    json::object i;
    i["job_id"] = job;
    i["payload_ref"] = "file://" + payload.string();
    i["output_prefix"] = out.string();
    return i;
}

}  // namespace

TEST_CASE("runpod worker: jobs from both fixtures, faults, and the service's own channels", "[runpod]") {
    test::temp_dir staging;
    for (const char* fx : {"hexyl.json.zst", "memvid.json.zst"})
        fs::copy_file(fs::path(MVX_FIXTURES_DIR) / fx, staging.path / fx);
    job_service svc;
    test::fake_http_server server([&](const test::fake_request& r, std::size_t) { return svc.handle(r); });
    svc.take_429 = 2;
    svc.done_failures = 2;  // the first job's result meets two 500s
    svc.queue.push_back(
        job_json("rp-hexyl", input_for(staging.path / "hexyl.json.zst", staging.path / "out-hexyl", "job-hexyl")));
    {  // camelCase spelling, as the original control plane sent it
        json::object i;
        i["jobId"] = "job-memvid";
        i["payloadRef"] = (staging.path / "memvid.json.zst").string();
        i["outputPrefix"] = "file://" + (staging.path / "out-memvid").string();
        svc.queue.push_back(job_json("rp-memvid", i));
    }
    svc.queue.push_back(R"({"id":"rp-malformed","nothing":true})");
    {
        json::object i = input_for(staging.path / "hexyl.json.zst", staging.path / "o", "job-missing");
        i.erase("payload_ref");
        svc.queue.push_back(job_json("rp-missing", i));
    }
    svc.queue.push_back(job_json("rp-escape", input_for("/etc/passwd", staging.path / "o", "job-escape")));
    {
        json::object i = input_for(staging.path / "x", staging.path / "o", "job-unreachable");
        i["payload_ref"] = "http://127.0.0.1:9/payload.json";
        svc.queue.push_back(job_json("rp-unreachable", i));
    }
    const pid_t pid = spawn_worker(server.base_url(), staging.path);
    REQUIRE(wait_for([&] { return svc.finals("rp-unreachable").size() == 1; }, 120s));

    // Both fixtures: one delivered output each, naming a capsule our reader validates.
    for (const char* id : {"rp-hexyl", "rp-memvid"}) {
        auto finals = svc.finals(id);
        REQUIRE(!finals.empty());
        json::object body = json::parse(finals.back()).as_object();
        REQUIRE(body.contains("output"));
        const auto& out = body.at("output").as_object();
        CHECK(out.at("runpodJobId") == id);
        CHECK(out.at("adapter") == "native-cpp-worker");
        CHECK(out.at("workerMetrics").as_object().at("frames").as_int64() > 0);
        const std::string path(out.at("artifactPath").as_string());
        mv2::capsule_reader cap(path);
        CHECK(cap.info().frames.size() == std::size_t(out.at("frames").as_int64()));
        // memvid's own reader opens it and its deep verification passes.
        if (fs::exists(MVX_PYTHON_BIN)) {
            const std::string cmd = std::string("MEMVID_TELEMETRY=0 ") + MVX_PYTHON_BIN +
                " -c \"import memvid_sdk,sys; m=memvid_sdk.use('basic', sys.argv[1], read_only=True); "
                "sys.exit(0 if m.verify(sys.argv[1], deep=True)['overall_status']=='passed' "
                "and m.stats()['frame_count']>0 else 1)\" " +
                path + " >/dev/null 2>&1";
            CHECK(std::system(cmd.c_str()) == 0);
        }
    }
    // 500 twice on done, then OK: three attempts, delivered exactly once.
    CHECK(svc.finals("rp-hexyl").size() == 3);
    // Progress posts came before the final post of the same job.
    {
        std::lock_guard<std::mutex> lock(svc.mu);
        bool seen_final = false, progress_after_final = false;
        int progress = 0;
        for (const auto& [j, b] : svc.done) {
            if (j != "rp-memvid") continue;
            const bool is_progress = b.find("\"IN_PROGRESS\"") != std::string::npos;
            progress += is_progress;
            if (!is_progress)
                seen_final = true;
            else if (seen_final)
                progress_after_final = true;
        }
        CHECK(progress >= 3);
        CHECK(!progress_after_final);
        // Ping carried the held job id while it ran.
        bool ping_with_job = false;
        for (const auto& p : svc.pings) ping_with_job |= p.find("job_id=rp-") != std::string::npos;
        CHECK(ping_with_job);
        CHECK(svc.takes.size() >= 8);
        CHECK(svc.takes[0].find("job_in_progress=0") != std::string::npos);
    }
    auto err = [&](const char* id) {
        auto f = svc.finals(id);
        REQUIRE(f.size() == 1);
        json::object o = json::parse(f[0]).as_object();
        REQUIRE(o.at("error").is_string());  // a string, always
        return std::string(o.at("error").as_string());
    };
    CHECK_THAT(err("rp-malformed"), Catch::Contains("missing field(s): input"));
    CHECK(err("rp-missing") == "Missing required input field: payload_ref");
    CHECK_THAT(err("rp-escape"), Catch::Contains("outside"));
    CHECK_THAT(err("rp-unreachable"), Catch::Contains("cannot download payload_ref"));

    // A job-stop for the held job (its payload arrives slowly over HTTP): no
    // result, no files, and the worker keeps serving.
    {
        std::lock_guard<std::mutex> lock(svc.mu);
        svc.slow_payload = test::read_file(staging.path / "hexyl.json.zst");
        json::object i = input_for(staging.path / "x", staging.path / "out-s", "job-s");
        i["payload_ref"] = server.base_url() + "/payload/slow";
        svc.queue.push_back(job_json("rp-stopped", i));
        svc.queue.push_back(job_json("rp-after", input_for(staging.path / "hexyl.json.zst", staging.path / "out-a", "job-a")));
    }
    REQUIRE(wait_for(
        [&] {
            std::lock_guard<std::mutex> lock(svc.mu);
            for (const auto& [j, b] : svc.done)
                if (j == "rp-stopped") return true;  // its first progress post: it is running
            return false;
        },
        60s));
    {
        std::lock_guard<std::mutex> lock(svc.mu);
        svc.to_stop.insert("rp-stopped");
    }
    REQUIRE(wait_for([&] { return svc.finals("rp-after").size() == 1; }, 60s));
    CHECK(svc.finals("rp-stopped").empty());
    CHECK((!fs::exists(staging.path / "out-s") || fs::is_empty(staging.path / "out-s")));

    // SIGTERM when idle: exit 0.
    ::kill(pid, SIGTERM);
    CHECK(wait_exit(pid, 30s) == 0);
}

TEST_CASE("runpod worker: SIGTERM mid-job finishes or cancels it, posts, and exits 0", "[runpod]") {
    test::temp_dir staging;
    fs::copy_file(fs::path(MVX_FIXTURES_DIR) / "memvid.json.zst", staging.path / "memvid.json.zst");
    job_service svc;
    test::fake_http_server server([&](const test::fake_request& r, std::size_t) { return svc.handle(r); });
    svc.queue.push_back(job_json("rp-term", input_for(staging.path / "memvid.json.zst", staging.path / "out", "job-term")));
    const pid_t pid = spawn_worker(server.base_url(), staging.path, {"MEMVID_WORKER_GRACE_MS=10000"});
    REQUIRE(wait_for(
        [&] {
            std::lock_guard<std::mutex> lock(svc.mu);
            return !svc.done.empty();  // a progress post: the job runs
        },
        60s));
    ::kill(pid, SIGTERM);
    CHECK(wait_exit(pid, 40s) == 0);
    auto f = svc.finals("rp-term");
    REQUIRE(f.size() == 1);  // finished within the grace period (or canceled with an error)
    json::object o = json::parse(f[0]).as_object();
    CHECK((o.contains("output") || o.at("error").is_string()));
}

TEST_CASE("runpod worker: output to a presigned HTTP prefix is uploaded with PUT", "[runpod]") {
    test::temp_dir staging;
    fs::copy_file(fs::path(MVX_FIXTURES_DIR) / "hexyl.json.zst", staging.path / "hexyl.json.zst");
    std::mutex mu;
    std::map<std::string, std::string> puts;
    test::fake_http_server store([&](const test::fake_request& r, std::size_t) {
        if (r.method != "PUT") return test::reply(405, "");
        std::lock_guard<std::mutex> lock(mu);
        puts[r.target] = r.body;
        return test::reply(200, "");
    });
    json::object in = input_for(staging.path / "hexyl.json.zst", staging.path, "job-put");
    in["output_prefix"] = store.base_url() + "/bucket/exports/?X-Amz-Signature=secret";
    json::object job;
    job["input"] = std::move(in);
    const pid_t pid = ::fork();
    int fds[2];
    if (pid == 0) {
        ::setenv("MEMVID_EXPORT_STAGING_ROOT", staging.path.c_str(), 1);
        ::freopen((staging.path / "stdout.txt").c_str(), "w", stdout);
        ::freopen("/dev/null", "w", stderr);
        std::string bin = MVX_WORKER_BIN, arg = json::serialize(job);
        ::execl(bin.c_str(), bin.c_str(), "--test_input", arg.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    (void)fds;
    CHECK(wait_exit(pid, 60s) == 0);
    json::object out = json::parse(test::read_file(staging.path / "stdout.txt")).as_object().at("output").as_object();
    const std::string name(out.at("fileName").as_string());
    CHECK(std::string(out.at("artifactRef").as_string()) == store.base_url() + "/bucket/exports/" + name);
    CHECK(out.at("artifactPath").is_null());
    std::lock_guard<std::mutex> lock(mu);
    REQUIRE(puts.count("/bucket/exports/" + name + "?X-Amz-Signature=secret"));
    REQUIRE(puts.count("/bucket/exports/" + name + ".index.v1.sqlite?X-Amz-Signature=secret"));
    const auto capsule = staging.path / "uploaded.mv2";
    std::ofstream(capsule, std::ios::binary) << puts["/bucket/exports/" + name + "?X-Amz-Signature=secret"];
    mv2::capsule_reader cap(capsule);
    CHECK(cap.info().frames.size() == std::size_t(out.at("frames").as_int64()));
    CHECK(test::read_file(staging.path / "stdout.txt").find("secret") == std::string::npos);
}

TEST_CASE("runpod worker: local modes (--test_input, ./test_input.json) and bad input exit codes", "[runpod]") {
    test::temp_dir dir;
    fs::copy_file(fs::path(MVX_FIXTURES_DIR) / "hexyl.json.zst", dir.path / "hexyl.json.zst");
    auto run_in = [&](const std::vector<std::string>& args) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::chdir(dir.path.c_str());
            ::unsetenv("RUNPOD_WEBHOOK_GET_JOB");
            ::freopen((dir.path / "stdout.txt").c_str(), "w", stdout);
            ::freopen("/dev/null", "w", stderr);
            std::string bin = MVX_WORKER_BIN;
            std::vector<char*> argv{bin.data()};
            std::vector<std::string> copy = args;
            for (auto& a : copy) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(bin.c_str(), argv.data());
            ::_exit(127);
        }
        int code = wait_exit(pid, 60s);
        return std::make_pair(code, test::read_file(dir.path / "stdout.txt"));
    };
    json::object job;
    job["input"] = input_for(dir.path / "hexyl.json.zst", dir.path / "out", "job-local");
    auto [code, out] = run_in({"--test_input", json::serialize(job)});
    CHECK(code == 0);
    CHECK(json::parse(out).at("output").at("jobId") == "job-local");
    std::ofstream(dir.path / "test_input.json") << json::serialize(job);
    std::tie(code, out) = run_in({});
    CHECK(code == 0);
    CHECK(json::parse(out).at("output").at("runpodJobId") == "local_test");
    std::tie(code, out) = run_in({"--test_input", R"({"input": {"job_id": "x"}})"});
    CHECK(code == 1);
    CHECK(json::parse(out).at("error") == "Missing required input field: payload_ref");
}

TEST_CASE("runpod worker: a model that fails to warm up stops the worker before any take", "[runpod]") {
    test::temp_dir staging;
    job_service svc;
    test::fake_http_server server([&](const test::fake_request& r, std::size_t) { return svc.handle(r); });
    const pid_t pid = spawn_worker(server.base_url(), staging.path,
                                   {"MEMVID_EMBED_PROVIDER=native", "MEMVID_EMBED_MODEL_DIR=/nonexistent/model"});
    CHECK(wait_exit(pid, 30s) == 1);
    std::lock_guard<std::mutex> lock(svc.mu);
    CHECK(svc.takes.empty());
}
