#include "control-plane/runpod/driver.hpp"

#include "common/contract/job_protocol.hpp"
#include "common/http/client.hpp"
#include "control-plane/http/headers.hpp"
#include "control-plane/jobs/registry.hpp"
#include "control-plane/jobs/wire.hpp"
#include "control-plane/observability/log.hpp"
#include "control-plane/observability/metrics.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace json = boost::json;

namespace mvx::cp {
namespace {

enum class outcome { ok, transient, permanent };

struct call_result {
    outcome kind = outcome::ok;
    int status = 0;
    json::value body;
    std::string message;  // for failures
    std::chrono::milliseconds retry_after{0};
    // The request may have been acted on (an answer lost or unreadable): a
    // /run that fails so is never sent again blindly.
    bool maybe_accepted = false;
};

std::string snippet(const std::string& s) {
    std::string t = s.substr(0, 300);
    for (char& c : t)
        if (static_cast<unsigned char>(c) < 0x20) c = ' ';
    return t;
}

}  // namespace

runpod_driver::runpod_driver(const config& cfg, job_registry& jobs, metrics& m) : cfg_(cfg), jobs_(jobs), metrics_(m) {}

// ---------------------------------------------------------------- the job's side

std::optional<runpod_driver::view> runpod_driver::state(const std::string& id) {
    std::optional<view> v;
    jobs_.with_job(id, [&](job_registry::locked& l) {
        const auto* n = l.j.metadata.if_contains("runpodSubmissions");
        v = view{l.j.status, wire::string_field(l.j.metadata, "runpodJobId"), l.j.cancel_requested,
                 n ? unsigned(wire::number_or(*n, 0)) : 0u, l.j.output_dir};
    });
    return v;
}

void runpod_driver::record_submission(const std::string& id, unsigned n) {
    jobs_.with_job(id, [&](job_registry::locked& l) {
        l.j.metadata["runpodSubmissions"] = n;
        l.save();  // before the /run: a restart knows one may be out there
    });
}

std::string runpod_driver::claimed(const std::string& id) {
    namespace C = protocol::claim;
    std::string dir;
    jobs_.with_job(id, [&](job_registry::locked& l) { dir = l.j.output_dir; });
    if (dir.empty()) return "";
    std::ifstream in(std::filesystem::path(dir) / C::file);
    if (!in) return "";
    std::stringstream ss;
    ss << in.rdbuf();
    json::error_code ec;
    const auto v = json::parse(ss.str(), ec);
    if (ec || !v.is_object()) return "";
    const auto& o = v.as_object();
    if (wire::string_field(o, C::job_id) != id) return "";
    return wire::string_field(o, C::runpod_job_id).substr(0, 200);
}

void runpod_driver::fail(const std::string& id, const std::string& message) {
    jobs_.with_job(id, [&](job_registry::locked& l) {
        if (!l.j.terminal()) l.fail(message);
    });
}

void runpod_driver::progress(const std::string& id, job_stage stage, double pct, double stage_pct, const std::string& message) {
    jobs_.with_job(id, [&](job_registry::locked& l) {
        if (!l.j.terminal()) l.append(event_type::stage_progress, stage, pct, stage_pct, message, json::object{});
    });
}

void runpod_driver::submitted(const std::string& id, const std::string& rp) {
    jobs_.with_job(id, [&](job_registry::locked& l) {
        job& j = l.j;
        if (j.terminal()) return;
        const bool first = j.status == job_status::queued;
        j.metadata["runpodJobId"] = rp;
        if (first && !l.move(transition::submit)) return;
        l.append(event_type::stage_progress, job_stage::write_capsule, first ? 12 : j.progress, 10,
                 first ? "Runpod job " + rp + " submitted" : "Following Runpod job " + rp + ", which holds the export",
                 json::object{{"runpodJobId", rp}});
    });
}

void runpod_driver::waiting(const std::string& id, const std::string& rs, const json::value* output) {
    jobs_.with_job(id, [&](job_registry::locked& l) {
        job& j = l.j;
        if (j.terminal()) return;
        const std::string rp = wire::string_field(j.metadata, "runpodJobId");
        const bool changed = rs != j.runpod_status;
        j.runpod_status = rs;
        double pct = j.progress, sp = j.stage_progress;
        job_stage stage = j.stage;
        std::string msg;
        if (rs == "IN_QUEUE") {
            pct = std::max(pct, 15.0);
            sp = 10;
            msg = "Waiting for a Runpod worker (IN_QUEUE)";
        } else if (rs == "IN_PROGRESS" || rs == "RUNNING") {
            pct = std::max(pct, 45.0);
            sp = 55;
            msg = "Runpod worker is exporting (" + rs + ")";
            if (output && output->is_object() && output->as_object().contains("stage")) {
                const auto& out = output->as_object();
                const std::string worker_stage = wire::string_field(out, "stage").substr(0, 64);
                stage = stage_of_worker(worker_stage).value_or(stage);
                const double p = out.contains("progress") ? wire::percent_or(out.at("progress"), 0) : 0;
                sp = p;
                pct = std::max(pct, std::min(95.0, 45.0 + p / 2));
                msg = "Runpod worker: " + worker_stage + " " + std::to_string(int(p)) + "%";
            }
        } else {
            msg = "Runpod reports status " + rs + "; still waiting";
        }
        const bool moved = pct != j.progress || stage != j.stage;
        if (changed || moved || now_ms() - j.last_event_ms >= cfg_.heartbeat_seconds * 1000)
            l.append(event_type::stage_heartbeat, stage, pct, sp, msg, json::object{{"runpodStatus", rs}, {"runpodJobId", rp}});
    });
}

void runpod_driver::completed(const std::string& id, const json::value& output, const std::string& rs) {
    jobs_.with_job(id, [&](job_registry::locked& l) {
        if (l.j.terminal()) return;
        l.j.runpod_status = rs;
        l.complete(output, rs);
    });
}

// ---------------------------------------------------------------- the driver

runpod_driver::~runpod_driver() { stop(); }

void runpod_driver::start(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    // Reap drivers that ended (their threads are done; join returns at once).
    for (auto f = finished_.begin(); f != finished_.end();) {
        auto t = threads_.find(*f);
        if (t != threads_.end()) {
            if (t->second.joinable()) t->second.join();
            threads_.erase(t);
        }
        woken_.erase(*f);
        f = finished_.erase(f);
    }
    if (threads_.count(id)) return;  // already driven
    threads_[id] = std::thread([this, id] {
        try {
            drive(id);
        } catch (const std::exception& e) {
            fail(id, std::string("Runpod driver failed: ") + e.what());
        }
        std::lock_guard<std::mutex> done_lock(mu_);
        finished_.insert(id);
    });
}

void runpod_driver::wake(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!threads_.count(id) || finished_.count(id)) return;
    woken_.insert(id);
    cv_.notify_all();
}

void runpod_driver::stop() {
    std::map<std::string, std::thread> threads;
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
        threads.swap(threads_);
    }
    cv_.notify_all();
    for (auto& [id, t] : threads)
        if (t.joinable()) t.join();
}

bool runpod_driver::sleep(const std::string& id, std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, d, [&] { return stopping_ || woken_.count(id) > 0; });
    woken_.erase(id);
    return !stopping_;
}

void runpod_driver::drive(const std::string& id) {
    http::client client;
    const std::string base = cfg_.runpod_api_base + "/" + cfg_.runpod_endpoint_id;
    auto call = [&](const std::string& method, const std::string& path, const std::string& body, const char* op) {
        http::request req;
        req.method = method;
        call_result r;
        try {
            req.target = http::parse_url(base + path, "RUNPOD_API_BASE");
        } catch (const std::exception& e) {
            r.kind = outcome::permanent;
            r.message = e.what();
            return r;
        }
        req.headers.emplace_back("Authorization", "Bearer " + cfg_.runpod_api_key);
        req.headers.emplace_back("Accept", "application/json");
        if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
        req.body = body;
        req.connect_timeout = std::chrono::milliseconds(std::min<std::int64_t>(10000, cfg_.runpod_request_timeout_ms));
        req.timeout = std::chrono::milliseconds(cfg_.runpod_request_timeout_ms);
        req.resend_on_stale_connection = method != "POST";
        http::response res;
        http::transport_error err;
        auto t0 = std::chrono::steady_clock::now();
        bool sent = client.send(req, res, err);
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (!sent) {
            metrics_.backend_call(op, secs, err.kind == http::failure::timeout ? "timeout" : "transport");
            r.kind = outcome::transient;
            r.message = std::string(op) + ": " + err.message;
            r.maybe_accepted = err.kind != http::failure::connect;  // it may have reached the server
            return r;
        }
        r.status = res.status;
        if (res.status == 429 || res.status >= 500) {
            metrics_.backend_call(op, secs, res.status == 429 ? "429" : "5xx");
            r.kind = outcome::transient;
            // 429 and 503 refuse the request; another 5xx may come after it was taken.
            r.maybe_accepted = res.status != 429 && res.status != 503;
            r.message = std::string(op) + " answered HTTP " + std::to_string(res.status) + ": " + snippet(res.body);
            auto ra = res.header("retry-after");
            if (!ra.empty()) {
                if (auto v = parse_u64(ra)) r.retry_after = std::chrono::milliseconds(std::min<std::uint64_t>(*v, 300) * 1000);
            }
            return r;
        }
        if (res.status < 200 || res.status >= 300) {
            metrics_.backend_call(op, secs, std::to_string(res.status));
            r.kind = outcome::permanent;
            r.message = std::string(op) + " answered HTTP " + std::to_string(res.status) + ": " + snippet(res.body);
            return r;
        }
        json::error_code ec;
        r.body = json::parse(res.body, ec);
        if (ec || !r.body.is_object()) {
            metrics_.backend_call(op, secs, "invalid_json");
            r.kind = outcome::transient;
            r.maybe_accepted = true;
            r.message = std::string(op) + " answered something that is not a JSON object: " + snippet(res.body);
            return r;
        }
        metrics_.backend_call(op, secs, "");
        return r;
    };
    auto backoff = [&](unsigned failures, std::chrono::milliseconds hint) {
        std::int64_t ms = std::min<std::int64_t>(60000, 1000LL << std::min(failures, 6u));
        return std::max(std::chrono::milliseconds(ms), hint);
    };
    auto send_cancel = [&](const std::string& rp) {
        for (unsigned attempt = 0; attempt < 3; ++attempt) {
            auto r = call("POST", "/cancel/" + rp, "", "cancel");
            if (r.kind != outcome::transient) {
                if (r.kind == outcome::permanent) log_line(log_level::warn, "Runpod cancel of " + rp + ": " + r.message, id);
                return;
            }
            if (!sleep(id, backoff(attempt, r.retry_after))) return;
        }
    };

    auto st = state(id);
    if (!st || is_terminal(st->status)) return;
    std::string rp = st->runpod_job_id;
    if (rp.empty()) {
        progress(id, job_stage::transform, 2, 100, "Preparing staged payload for Runpod");
        json::object input;
        jobs_.with_job(id, [&](job_registry::locked& l) { input = wire::worker_input(l.j, cfg_); });
        json::object body{
            {"input", std::move(input)},
            {"policy", json::object{{"executionTimeout", cfg_.runpod_execution_timeout_ms}, {"ttl", cfg_.runpod_ttl_ms}}}};
        const std::string text = json::serialize(body);
        progress(id, job_stage::write_capsule, 8, 0, "Submitting to Runpod endpoint " + cfg_.runpod_endpoint_id);
        // /run has no idempotency key. A /run whose answer was lost may have
        // created a Runpod job: it is never sent again until the claim its
        // worker writes into the job's output folder had time to appear (then
        // that job is adopted); a duplicate that runs anyway finds the claim
        // taken and stops at once. A submission recorded before a restart is
        // treated the same way.
        unsigned submissions = st->submissions;
        bool uncertain = submissions > 0;
        std::string last = "no answer";
        for (unsigned failures = 0;;) {
            st = state(id);
            if (!st || st->cancel_requested || st->status == job_status::canceled) return;
            if (uncertain) {
                const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(cfg_.runpod_submit_confirm_seconds);
                while (std::chrono::steady_clock::now() < deadline) {
                    rp = claimed(id);
                    if (!rp.empty()) break;
                    if (!sleep(id, std::chrono::milliseconds(500))) return;
                    st = state(id);
                    if (!st || st->cancel_requested || st->status == job_status::canceled) return;
                }
                if (!rp.empty()) {
                    log_line(log_level::info, "the Runpod job of the unanswered /run is " + rp + " (its worker's claim)", id);
                    break;
                }
                log_line(log_level::warn,
                         "no Runpod job claimed the export within " + std::to_string(cfg_.runpod_submit_confirm_seconds) +
                             " s (RUNPOD_SUBMIT_CONFIRM_SECONDS): submitting again",
                         id);
                uncertain = false;
            }
            if (submissions >= 6) {
                fail(id, "Runpod submission failed after " + std::to_string(submissions) + " submissions: " + last);
                return;
            }
            record_submission(id, ++submissions);
            auto r = call("POST", "/run", text, "run");
            if (r.kind == outcome::ok) {
                const auto& o = r.body.as_object();
                if (o.contains("id") && o.at("id").is_string() && !o.at("id").as_string().empty()) {
                    rp = std::string(o.at("id").as_string());
                    break;
                }
                r.kind = outcome::transient;
                r.maybe_accepted = true;
                r.message = "run answered without a job id: " + snippet(json::serialize(r.body));
            }
            last = r.message;
            if (r.kind == outcome::permanent) {
                fail(id, "Runpod submission failed: " + r.message);
                return;
            }
            if (r.maybe_accepted) {
                log_line(log_level::warn, "Runpod submit: " + r.message + "; it may have been accepted: waiting for its claim",
                         id);
                uncertain = true;
                continue;
            }
            log_line(log_level::warn, "Runpod submit: " + r.message + "; not accepted, retrying", id);
            if (!sleep(id, backoff(failures++, r.retry_after))) return;
        }
        submitted(id, rp);
        log_line(log_level::info, "submitted to Runpod as " + rp, id);
    } else {
        log_line(log_level::info, "re-attached to Runpod job " + rp, id);
    }

    unsigned failures = 0;
    std::chrono::milliseconds wait(cfg_.runpod_poll_seconds * 1000);
    for (;;) {
        if (!sleep(id, wait)) return;  // shutting down: the next start re-attaches
        st = state(id);
        if (!st) return;
        if (st->cancel_requested || st->status == job_status::canceled) {
            send_cancel(rp);
            return;
        }
        if (is_terminal(st->status)) return;
        if (const std::string holder = claimed(id); !holder.empty() && holder != rp) {
            // Another Runpod job of this export holds its folder (ours was a
            // duplicate): follow that one, stop ours.
            log_line(log_level::warn, "Runpod job " + holder + " holds the export's folder; following it instead of " + rp, id);
            send_cancel(rp);
            rp = holder;
            submitted(id, rp);
        }
        auto r = call("GET", "/status/" + rp, "", "status");
        if (r.kind != outcome::ok) {
            if (r.kind == outcome::permanent && r.status == 404) {
                fail(id,
                     "Runpod job " + rp +
                         " not found: it expired or was removed (RUNPOD_TTL_MS=" + std::to_string(cfg_.runpod_ttl_ms) + ")");
                return;
            }
            ++failures;
            if (r.kind == outcome::permanent || failures >= cfg_.runpod_max_status_failures) {
                fail(id, "Runpod status unavailable after " + std::to_string(failures) + " attempts: " + r.message);
                return;
            }
            log_line(log_level::warn, "Runpod status: " + r.message + "; retrying", id);
            wait = backoff(failures - 1, r.retry_after);
            continue;
        }
        failures = 0;
        wait = std::chrono::milliseconds(cfg_.runpod_poll_seconds * 1000);
        const auto& o = r.body.as_object();
        std::string status = o.contains("status") && o.at("status").is_string() ? std::string(o.at("status").as_string()) : "";
        const json::value* output = o.contains("output") ? &o.at("output") : nullptr;
        if (status == "COMPLETED") {
            if (!output || output->is_null() || (output->is_object() && output->as_object().empty()) ||
                (output->is_string() && output->as_string().empty())) {
                fail(id, "Runpod completed without output");
            } else {
                completed(id, *output, status);
            }
            return;
        }
        if (status == "FAILED") {
            std::string err = "unknown error";
            if (o.contains("error"))
                err = o.at("error").is_string() ? std::string(o.at("error").as_string()) : json::serialize(o.at("error"));
            fail(id, "Runpod job failed: " + err);
            return;
        }
        if (status == "TIMED_OUT") {
            fail(id, "Runpod job timed out");
            return;
        }
        if (status == "CANCELLED") {
            st = state(id);
            if (st && !st->cancel_requested) fail(id, "Runpod job was cancelled");
            return;
        }
        // IN_QUEUE, IN_PROGRESS, RUNNING, and statuses we do not know (treated as not final).
        waiting(id, status.empty() ? "UNKNOWN" : status, output);
    }
}

}  // namespace mvx::cp
