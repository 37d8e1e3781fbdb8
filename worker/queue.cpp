#include "worker/queue.hpp"

#include "common/contract/job_protocol.hpp"
#include "common/core/error.hpp"
#include "common/core/hex.hpp"
#include "common/http/client.hpp"
#include "worker/embedders.hpp"
#include "worker/job.hpp"

#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace mvx::worker {
namespace json = boost::json;
namespace P = protocol;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_version = "mvx-0.1.0";

std::atomic<bool> g_stopping{false};

void on_signal(int) { g_stopping = true; }

// One log line per event, in the shape the Runpod console associates with requests.
void log(const std::string& level, const std::string& message, const std::string& job_id = "") {
    json::object o;
    o["requestId"] = job_id.empty() ? json::value(nullptr) : json::value(job_id);
    o["message"] = message;
    o["level"] = level;
    static std::mutex mu;
    std::lock_guard<std::mutex> lock(mu);
    std::cerr << json::serialize(o) << std::endl;
}

std::string replace_all(std::string s, const std::string& what, const std::string& with) {
    for (std::size_t p = 0; (p = s.find(what, p)) != std::string::npos; p += with.size()) s.replace(p, what.size(), with);
    return s;
}

std::string with_query(const std::string& url, const std::string& kv) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + kv;
}

struct service {
    std::string take_url, stop_url, done_tpl, ping_url, key, pod_id;
    long ping_ms = 10000;
};

http::request make_req(const std::string& method, const std::string& url, const service& s, std::chrono::milliseconds timeout) {
    http::request r;
    r.method = method;
    r.target = http::parse_url(url, "Runpod URL");
    r.timeout = timeout;
    r.connect_timeout = 10s;
    if (!s.key.empty()) r.headers.emplace_back("Authorization", s.key);  // raw, no scheme (the SDK's way)
    return r;
}

// POST to job-done with retries on 5xx/network; false when it could not be delivered.
bool post_done(http::client& c, const service& s, const std::string& job_id, const std::string& body) {
    std::string url = replace_all(replace_all(s.done_tpl, "$RUNPOD_POD_ID", s.pod_id), "$ID", job_id);
    url = with_query(url, "isStream=false");
    auto req = make_req("POST", url, s, 60s);
    req.headers.emplace_back("Content-Type", "application/json");
    req.headers.emplace_back("X-Request-ID", job_id);
    req.body = body;
    for (int attempt = 0; attempt < 6; ++attempt) {
        http::response res;
        http::transport_error err;
        if (c.send(req, res, err)) {
            if (res.status >= 200 && res.status < 300) return true;
            if (res.status < 500 && res.status != 429) {
                log("ERROR", "job-done answered HTTP " + std::to_string(res.status) + ": " + res.body.substr(0, 300), job_id);
                return false;
            }
            log("WARN", "job-done answered HTTP " + std::to_string(res.status) + "; retrying", job_id);
        } else {
            log("WARN", "job-done failed: " + err.message + "; retrying", job_id);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(8000, 250 << attempt)));
    }
    return false;
}

std::string error_body(const std::string& message) {
    json::object o;
    o[P::result::error] = message;  // a string, always (a dict makes Runpod report COMPLETED without output)
    return json::serialize(o);
}

}  // namespace

int run_test_input(const worker_config& cfg, const std::string& text) {
    json::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object() || !v.as_object().contains("input")) {
        std::cout << error_body("test input must be a JSON object with \"input\"") << std::endl;
        return 1;
    }
    std::string id = v.as_object().contains("id") && v.at("id").is_string() ? std::string(v.at("id").as_string()) : "local_test";
    worker_state st{cfg, nullptr};
    try {
        auto in = parse_job_input(v.at("input"));
        auto out = run_job(st, in, id, nullptr, [](std::string_view, double) {});
        json::object r;
        r[P::result::output] = std::move(out);
        std::cout << json::serialize(r) << std::endl;
        return 0;
    } catch (const std::exception& e) {
        std::cout << error_body(e.what()) << std::endl;
        return 1;
    }
}

int run_serverless(const worker_config& cfg) {
    service s;
    s.take_url = cfg.take_url;
    s.done_tpl = cfg.done_url;
    s.ping_url = cfg.ping_url;
    s.key = cfg.api_key;
    s.pod_id = cfg.pod_id;
    if (s.pod_id.empty()) {
        std::random_device rd;
        s.pod_id = "mvx-" + std::to_string(rd()) + std::to_string(rd());
    }
    s.ping_ms = cfg.ping_ms;
    s.take_url = replace_all(s.take_url, "$RUNPOD_POD_ID", s.pod_id);
    s.take_url = replace_all(s.take_url, "$ID", s.pod_id);
    s.stop_url = replace_all(s.take_url, "/job-take/", "/job-stop/");
    if (!s.ping_url.empty()) s.ping_url = replace_all(s.ping_url, "$RUNPOD_POD_ID", s.pod_id);

    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);

    // Warm-up: the configured native model loads (and runs once) before the first take.
    worker_state st{cfg, nullptr};
    if (cfg.native()) {
        try {
            auto t0 = std::chrono::steady_clock::now();
            st.warm = open_native(cfg, cfg.model_dir);
            log("INFO",
                "embedder ready: " + st.warm->id().model + " on " + st.warm->compute().name() + " (" +
                    st.warm->compute().device() + ") in " +
                    std::to_string(
                        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()) +
                    " ms");
        } catch (const std::exception& e) {
            log("ERROR", std::string("warm-up failed, not taking jobs: ") + e.what());
            return 1;
        }
    }

    std::mutex mu;
    std::condition_variable cv;
    std::set<std::string> held;  // job ids this worker holds
    std::map<std::string, std::shared_ptr<std::atomic<bool>>> cancels;
    std::atomic<bool> done_all{false};
    std::atomic<bool> shutdown_cancel{false};
    http::client take_client, stop_client;
    // SIGTERM must not wait for a long poll: interrupt the take and stop calls.
    std::thread watcher([&] {
        while (!g_stopping && !done_all) std::this_thread::sleep_for(50ms);
        take_client.interrupt();
        stop_client.interrupt();
    });

    // Heartbeat: its own thread and client; never waits on job work.
    std::thread heartbeat([&] {
        if (s.ping_url.empty()) return;
        http::client c;
        while (!done_all) {
            std::string ids;
            {
                std::lock_guard<std::mutex> lock(mu);
                for (const auto& id : held) ids += (ids.empty() ? "" : ",") + id;
            }
            std::string url = s.ping_url;
            if (!ids.empty()) url = with_query(url, "job_id=" + percent_encode(ids));
            url = with_query(url, std::string("runpod_version=") + k_version);
            http::response res;
            http::transport_error err;
            if (!c.send(make_req("GET", url, s, std::chrono::milliseconds(2 * s.ping_ms)), res, err))
                log("WARN", "ping failed: " + err.message);
            std::unique_lock<std::mutex> lock(mu);
            cv.wait_for(lock, std::chrono::milliseconds(s.ping_ms), [&] { return done_all.load(); });
        }
    });

    // Stop channel: cancels held jobs the service names.
    std::thread stopper([&] {
        http::client& c = stop_client;
        while (!done_all) {
            http::response res;
            http::transport_error err;
            bool ok = c.send(make_req("GET", s.stop_url, s, 30s), res, err);
            if (ok && res.status == 200) {
                json::error_code ec;
                json::value v = json::parse(res.body, ec);
                if (!ec && v.is_object() && v.as_object().contains("jobsToStop") && v.at("jobsToStop").is_array()) {
                    std::lock_guard<std::mutex> lock(mu);
                    for (const auto& id : v.at("jobsToStop").as_array()) {
                        if (!id.is_string()) continue;
                        auto it = cancels.find(std::string(id.as_string()));
                        if (it != cancels.end()) {
                            *it->second = true;
                            log("INFO", "stop requested by the job service", it->first);
                        }
                    }
                }
                continue;
            }
            std::unique_lock<std::mutex> lock(mu);
            cv.wait_for(lock, ok && res.status == 429 ? 5s : 1s, [&] { return done_all.load(); });
        }
    });

    const int concurrency = int(cfg.concurrency);
    // Job threads by serial; a thread that finished puts its serial in
    // `finished` and the loop joins it, so threads do not pile up.
    std::map<std::uint64_t, std::thread> runners;
    std::vector<std::uint64_t> finished;
    std::uint64_t next_runner = 0;
    auto reap = [&] {
        std::vector<std::uint64_t> done;
        {
            std::lock_guard<std::mutex> lock(mu);
            done.swap(finished);
        }
        for (auto n : done) {
            auto it = runners.find(n);
            if (it == runners.end()) continue;
            if (it->second.joinable()) it->second.join();
            runners.erase(it);
        }
    };
    int failures_in_row = 0;
    while (!g_stopping) {
        reap();
        {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait_for(lock, 200ms, [&] { return int(held.size()) < concurrency || g_stopping.load(); });
            if (int(held.size()) >= concurrency || g_stopping) continue;
        }
        bool in_progress;
        {
            std::lock_guard<std::mutex> lock(mu);
            in_progress = !held.empty();
        }
        http::response res;
        http::transport_error err;
        auto req = make_req("GET", with_query(s.take_url, std::string("job_in_progress=") + (in_progress ? "1" : "0")), s, 90s);
        if (!take_client.send(req, res, err)) {
            ++failures_in_row;
            log("WARN", "job-take failed: " + err.message);
        } else if (res.status == 204 || res.status == 400 ||
                   (res.status == 200 && res.body.find_first_not_of(" \r\n\t") == std::string::npos)) {
            failures_in_row = 0;
            std::this_thread::sleep_for(50ms);
            continue;
        } else if (res.status == 429) {
            std::this_thread::sleep_for(std::chrono::milliseconds(cfg.wait_429_ms));
            continue;
        } else if (res.status != 200) {
            ++failures_in_row;
            log("WARN", "job-take answered HTTP " + std::to_string(res.status));
        } else {
            failures_in_row = 0;
            json::error_code ec;
            json::value job = json::parse(res.body, ec);
            if (ec || !job.is_object() || !job.as_object().contains("id") || !job.at("id").is_string()) {
                log("ERROR", "job-take returned something that is not a job: " + res.body.substr(0, 200));
                continue;
            }
            const std::string id(job.at("id").as_string());
            auto cancel = std::make_shared<std::atomic<bool>>(false);
            {
                std::lock_guard<std::mutex> lock(mu);
                if (held.count(id)) continue;  // at-least-once delivery: never run a job twice at once
                held.insert(id);
                cancels[id] = cancel;
            }
            const std::uint64_t serial = next_runner++;
            runners[serial] = std::thread([&, job, id, cancel, serial] {
                http::client c;
                std::string body;
                bool canceled = false;
                try {
                    if (!job.as_object().contains("input"))
                        throw error(error_kind::invalid_input, "INVALID_INPUT", "Job has missing field(s): input");
                    auto in = parse_job_input(job.at("input"));
                    log("INFO", "job started: " + in.job_id, id);
                    auto progress = [&](std::string_view stage, double pct) {
                        json::object p;
                        p[P::progress::status] = P::progress::in_progress;
                        json::object o;
                        o[P::progress::stage] = stage;
                        o[P::progress::percent] = pct;
                        p[P::progress::output] = std::move(o);
                        std::string u = replace_all(replace_all(s.done_tpl, "$RUNPOD_POD_ID", s.pod_id), "$ID", id);
                        auto r = make_req("POST", with_query(u, "isStream=false"), s, 10s);
                        r.headers.emplace_back("Content-Type", "application/json");
                        r.body = json::serialize(p);
                        http::response pres;
                        http::transport_error perr;
                        c.send(r, pres, perr);  // best effort; ordered: same thread as the final post
                    };
                    auto out = run_job(st, in, id, cancel.get(), progress);
                    json::object r;
                    r[P::result::output] = std::move(out);
                    body = json::serialize(r);
                } catch (const error& e) {
                    canceled = e.code() == "JOB_CANCELED" && cancel->load() && !shutdown_cancel;
                    body = e.code() == "JOB_CANCELED" && shutdown_cancel
                        ? error_body("the worker was shut down (SIGTERM) before the job finished; resubmit it")
                        : error_body(e.what());
                } catch (const std::exception& e) {
                    body = error_body(e.what());
                }
                if (canceled) {
                    log("INFO", "job stopped; no result posted", id);
                } else {
                    bool delivered = false;
                    try {
                        delivered = post_done(c, s, id, body);
                    } catch (const std::exception& e) {  // a job-done URL this id makes unusable
                        log("ERROR", std::string("job-done failed: ") + e.what(), id);
                    }
                    log(delivered ? "INFO" : "ERROR", delivered ? "result posted" : "result could not be delivered", id);
                }
                {
                    std::lock_guard<std::mutex> lock(mu);
                    held.erase(id);
                    cancels.erase(id);
                    finished.push_back(serial);
                }
                cv.notify_all();
            });
            continue;
        }
        // Capped exponential backoff on failures.
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10000, 100 << std::min(failures_in_row, 7))));
    }

    // SIGTERM: no more takes; held jobs get a grace period, then are canceled with an error posted.
    log("INFO", "shutting down: finishing held jobs");
    const auto grace = std::chrono::milliseconds(cfg.grace_ms);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_until(lock, deadline, [&] { return held.empty(); });
        shutdown_cancel = true;
        for (auto& [id, c] : cancels) *c = true;  // what is left stops at its next checkpoint and posts an error
    }
    for (auto& [n, t] : runners)
        if (t.joinable()) t.join();
    done_all = true;
    cv.notify_all();
    stop_client.interrupt();
    watcher.join();
    heartbeat.join();
    stopper.join();
    log("INFO", "worker stopped");
    return 0;
}

}  // namespace mvx::worker
