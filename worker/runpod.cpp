#include "worker/runpod.hpp"

#include <boost/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "common/core/error.hpp"
#include "common/embedding/engine.hpp"
#include "common/embedding/providers.hpp"
#include "common/http/client.hpp"
#include "common/pack/pack.hpp"

namespace mvx::worker {
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_version = "mvx-0.1.0";

std::string env(const char* name, const std::string& dflt = "") {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : dflt;
}

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

std::string url_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string o;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') o += char(c);
        else {
            o += '%';
            o += hex[c >> 4];
            o += hex[c & 15];
        }
    }
    return o;
}

// ---- the job ----

struct job_input {
    std::string job_id, payload_ref, output_prefix, embedding_mode, embedding_provider, embedding_model, ollama_host;
};

// Snake case (the handler's contract) or camelCase (what the original control plane sent).
job_input parse_input(const json::value& input) {
    if (!input.is_object()) throw error(error_kind::invalid_input, "INVALID_INPUT", "job input must be a JSON object");
    const auto& o = input.as_object();
    auto get = [&](const char* snake, const char* camel, bool required) -> std::string {
        for (const char* k : {snake, camel}) {
            auto it = o.find(k);
            if (it == o.end() || it->value().is_null()) continue;
            if (!it->value().is_string())
                throw error(error_kind::invalid_input, "INVALID_INPUT", std::string("Input field ") + k + " must be a string");
            std::string v(it->value().as_string());
            if (!v.empty()) return v;
        }
        if (required) throw error(error_kind::invalid_input, "INVALID_INPUT", std::string("Missing required input field: ") + snake);
        return "";
    };
    job_input j;
    j.job_id = get("job_id", "jobId", true);
    j.payload_ref = get("payload_ref", "payloadRef", true);
    j.output_prefix = get("output_prefix", "outputPrefix", true);
    j.embedding_mode = get("embedding_mode", "embeddingMode", false);
    j.embedding_provider = get("embedding_provider", "embeddingProvider", false);
    j.embedding_model = get("embedding_model", "embeddingModel", false);
    j.ollama_host = get("ollama_host", "ollamaHost", false);
    return j;
}

bool is_http(const std::string& s) { return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0; }

std::string redact_url(const std::string& u) { return u.substr(0, u.find('?')); }  // presigned queries are secrets

// GET a payload into a file (bounded size and time).
void download(const std::string& url, const fs::path& to, std::uint64_t max_bytes) {
    http::client c;
    http::request req;
    req.method = "GET";
    req.target = http::parse_url(url, "payload_ref");
    req.timeout = std::chrono::milliseconds(std::stoll(env("MEMVID_WORKER_DOWNLOAD_TIMEOUT_MS", "120000")));
    req.connect_timeout = 10s;
    http::response res;
    http::transport_error err;
    if (!c.send(req, res, err))
        throw error(error_kind::io, "PAYLOAD_UNREACHABLE", "cannot download payload_ref " + redact_url(url) + ": " + err.message);
    if (res.status != 200)
        throw error(error_kind::io, "PAYLOAD_UNREACHABLE",
                    "downloading payload_ref " + redact_url(url) + " answered HTTP " + std::to_string(res.status));
    if (res.body.size() > max_bytes)
        throw error(error_kind::limit, "LIMIT_EXCEEDED", "payload_ref " + redact_url(url) + " is larger than the payload limit");
    std::ofstream out(to, std::ios::binary);
    out.write(res.body.data(), std::streamsize(res.body.size()));
    if (!out) throw error(error_kind::io, "IO_ERROR", "cannot write the downloaded payload to " + to.string());
}

// PUT a file to <base>/<name> (the name goes before any query string).
void upload(const std::string& base, const std::string& name, const fs::path& file) {
    auto q = base.find('?');
    std::string path = q == std::string::npos ? base : base.substr(0, q);
    std::string query = q == std::string::npos ? "" : base.substr(q);
    if (path.empty() || path.back() != '/') path += '/';
    const std::string url = path + url_encode(name) + query;
    std::ifstream in(file, std::ios::binary);
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    http::client c;
    http::request req;
    req.method = "PUT";
    req.target = http::parse_url(url, "output_prefix");
    req.body = std::move(body);
    req.headers.emplace_back("Content-Type", "application/octet-stream");
    req.timeout = 600s;
    for (int attempt = 0;; ++attempt) {
        http::response res;
        http::transport_error err;
        bool ok = c.send(req, res, err);
        if (ok && res.status >= 200 && res.status < 300) return;
        const bool transient = !ok || res.status >= 500 || res.status == 429;
        if (!transient || attempt == 3)
            throw error(error_kind::io, "UPLOAD_FAILED",
                        "uploading " + name + " to " + redact_url(url) + " failed: " +
                            (ok ? "HTTP " + std::to_string(res.status) : err.message));
        std::this_thread::sleep_for(std::chrono::milliseconds(500 << attempt));
    }
}

// Embedders for one job, made lazily: a payload without semanticEnabled never
// loads a model or reads a provider key.
class job_embedder final : public embedding::embedder {
public:
    job_embedder(std::function<embedding::embedder*()> native, const job_input& in, const std::atomic<bool>* cancel)
        : native_factory_(std::move(native)), in_(in), cancel_(cancel) {}
    embedding::identity id() const override { return get().id(); }
    void embed(std::span<const std::string> texts, std::vector<float>& out) override {
        if (cancel_ && cancel_->load()) throw error(error_kind::internal, "JOB_CANCELED", "job canceled");
        get().embed(texts, out);
    }
    std::size_t batch_size() const override { return std::min<std::size_t>(get().batch_size(), 1024); }
    embedding::embed_report report() const override { return get().report(); }

private:
    embedding::embedder& get() const {
        if (native_factory_) {
            if (!native_) native_ = native_factory_();
            return *native_;
        }
        if (!provider_)
            provider_ = std::make_unique<embedding::provider_embedder>(embedding::provider_config::from_env(
                in_.embedding_mode, in_.embedding_provider, in_.embedding_model, in_.ollama_host));
        return *provider_;
    }
    std::function<embedding::embedder*()> native_factory_;
    mutable embedding::embedder* native_ = nullptr;
    job_input in_;
    const std::atomic<bool>* cancel_;
    mutable std::unique_ptr<embedding::provider_embedder> provider_;
};

struct worker_state {
    std::unique_ptr<embedding::engine> native;  // loaded at warm-up when configured
    std::string native_dir;
};

// Runs one job: returns the output object or throws mvx::error.
json::object run_job(worker_state& st, const job_input& in, const std::string& runpod_job_id, const std::atomic<bool>* cancel,
                     const std::function<void(const std::string&, double)>& progress) {
    pack::pack_options o;
    o.job_id = in.job_id;
    o.embedding_mode = in.embedding_mode.empty() ? env("MEMVID_EMBEDDING_MODE", "external_api") : in.embedding_mode;
    o.embedding_provider = in.embedding_provider.empty() ? env("MEMVID_EMBED_PROVIDER", "nvidia") : in.embedding_provider;
    o.embedding_model = in.embedding_model.empty()
                            ? (o.embedding_provider == "native" ? st.native_dir
                                                                : env("MEMVID_EMBED_MODEL", embedding::provider_config::default_model(
                                                                                                embedding::provider_config::normalize_provider(o.embedding_provider))))
                            : in.embedding_model;
    const std::string root = env("MEMVID_EXPORT_STAGING_ROOT");
    if (!root.empty()) o.confine_root = root;
    o.cancel = cancel;
    o.on_progress = progress;

    // Remote payload: download into a scratch folder first.
    std::optional<fs::path> scratch;
    auto cleanup = [&] {
        if (scratch) {
            std::error_code ec;
            fs::remove_all(*scratch, ec);
        }
    };
    try {
        auto make_scratch = [&] {
            if (!scratch) {
                fs::path base = root.empty() ? fs::temp_directory_path() : fs::path(root) / "tmp";
                fs::create_directories(base);
                scratch = base / ("mvx-job-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
                fs::create_directories(*scratch);
            }
            return *scratch;
        };
        if (is_http(in.payload_ref)) {
            progress("download", 1);
            auto p = make_scratch() / "payload.json";
            download(in.payload_ref, p, o.limits.max_payload_bytes);
            o.payload_ref = p.string();
        } else {
            o.payload_ref = in.payload_ref;
        }
        const bool remote_out = is_http(in.output_prefix);
        o.output_prefix = remote_out ? (make_scratch() / "out").string() : in.output_prefix;

        std::unique_ptr<embedding::engine> per_job_native;
        std::function<embedding::embedder*()> native;
        if (o.embedding_provider == "native") {
            native = [&]() -> embedding::embedder* {
                if (st.native && (in.embedding_model.empty() || in.embedding_model == st.native_dir)) return st.native.get();
                embedding::engine_options eo;
                // A job that names no model uses the worker's own (the image's baked folder).
                eo.model_dir = o.embedding_model.empty() ? env("MEMVID_EMBED_MODEL_DIR", env("MEMVID_EMBED_MODEL")) : o.embedding_model;
                eo.device = env("MEMVID_EMBED_DEVICE", "auto");
                per_job_native = embedding::engine::open(eo);
                return per_job_native.get();
            };
        }
        job_embedder emb(native, in, cancel);
        o.embedder = &emb;
        auto result = pack::run(o);
        json::object out = json::parse(result.to_json()).as_object();
        if (remote_out) {
            progress("upload", 97);
            upload(in.output_prefix, result.file_name, result.artifact_path);
            if (result.sidecar_status == "ready") upload(in.output_prefix, result.sidecar_path.filename().string(), result.sidecar_path);
            std::string base = in.output_prefix.substr(0, in.output_prefix.find('?'));
            if (base.empty() || base.back() != '/') base += '/';
            out["artifactRef"] = base + url_encode(result.file_name);
            out["artifactPath"] = nullptr;  // nothing stays on this worker
        }
        out["runpodJobId"] = runpod_job_id;
        out["adapter"] = "native-cpp-worker";
        json::object m;
        m["frames"] = result.frames;
        m["vectors"] = result.vectors;
        m["tokens"] = result.embedding ? result.embedding->tokens : 0;
        m["embedMs"] = result.embed_ms;
        m["writeMs"] = result.write_ms;
        m["backend"] = result.embedding ? result.embedding->backend : "none";
        m["device"] = result.embedding ? result.embedding->device : "";
        m["model"] = result.embedding ? result.embedding_identity_model : "";
        out["workerMetrics"] = std::move(m);
        cleanup();
        return out;
    } catch (...) {
        cleanup();
        throw;
    }
}

// ---- the job service ----

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
    o["error"] = message;  // a string, always (a dict makes Runpod report COMPLETED without output)
    return json::serialize(o);
}

}  // namespace

int run_test_input(const std::string& text) {
    json::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object() || !v.as_object().contains("input")) {
        std::cout << error_body("test input must be a JSON object with \"input\"") << std::endl;
        return 1;
    }
    std::string id = v.as_object().contains("id") && v.at("id").is_string() ? std::string(v.at("id").as_string()) : "local_test";
    worker_state st;
    try {
        auto in = parse_input(v.at("input"));
        auto out = run_job(st, in, id, nullptr, [](const std::string&, double) {});
        json::object r;
        r["output"] = std::move(out);
        std::cout << json::serialize(r) << std::endl;
        return 0;
    } catch (const std::exception& e) {
        std::cout << error_body(e.what()) << std::endl;
        return 1;
    }
}

int run_serverless() {
    service s;
    s.take_url = env("RUNPOD_WEBHOOK_GET_JOB");
    s.done_tpl = env("RUNPOD_WEBHOOK_POST_OUTPUT", "JOB_DONE_URL");
    s.ping_url = env("RUNPOD_WEBHOOK_PING");
    s.key = env("RUNPOD_AI_API_KEY");
    s.pod_id = env("RUNPOD_POD_ID");
    if (s.pod_id.empty()) {
        std::random_device rd;
        s.pod_id = "mvx-" + std::to_string(rd()) + std::to_string(rd());
    }
    try {
        s.ping_ms = std::max(100L, std::stol(env("RUNPOD_PING_INTERVAL", "10000")));
    } catch (...) {
        s.ping_ms = 10000;
    }
    s.take_url = replace_all(s.take_url, "$RUNPOD_POD_ID", s.pod_id);
    s.take_url = replace_all(s.take_url, "$ID", s.pod_id);
    s.stop_url = replace_all(s.take_url, "/job-take/", "/job-stop/");
    if (!s.ping_url.empty()) s.ping_url = replace_all(s.ping_url, "$RUNPOD_POD_ID", s.pod_id);

    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);

    // Warm-up: the configured native model loads (and runs once) before the first take.
    worker_state st;
    if (env("MEMVID_EMBED_PROVIDER") == "native") {
        st.native_dir = env("MEMVID_EMBED_MODEL_DIR", env("MEMVID_EMBED_MODEL"));
        try {
            embedding::engine_options eo;
            eo.model_dir = st.native_dir;
            eo.device = env("MEMVID_EMBED_DEVICE", "auto");
            auto t0 = std::chrono::steady_clock::now();
            st.native = embedding::engine::open(eo);
            log("INFO", "embedder ready: " + st.native->id().model + " on " + st.native->compute().name() + " (" +
                            st.native->compute().device() + ") in " +
                            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()) +
                            " ms");
        } catch (const std::exception& e) {
            log("ERROR", std::string("warm-up failed, not taking jobs: ") + e.what());
            return 1;
        }
    }

    std::mutex mu;
    std::condition_variable cv;
    std::set<std::string> held;                       // job ids this worker holds
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
            if (!ids.empty()) url = with_query(url, "job_id=" + url_encode(ids));
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

    const int concurrency = std::max(1, std::atoi(env("MEMVID_WORKER_CONCURRENCY", "1").c_str()));
    std::vector<std::thread> runners;
    int failures_in_row = 0;
    while (!g_stopping) {
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
        } else if (res.status == 204 || res.status == 400 || (res.status == 200 && res.body.find_first_not_of(" \r\n\t") == std::string::npos)) {
            failures_in_row = 0;
            std::this_thread::sleep_for(50ms);
            continue;
        } else if (res.status == 429) {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(env("MEMVID_WORKER_429_WAIT_MS", "5000").c_str())));
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
            runners.emplace_back([&, job, id, cancel] {
                http::client c;
                std::string body;
                bool canceled = false;
                try {
                    if (!job.as_object().contains("input")) throw error(error_kind::invalid_input, "INVALID_INPUT", "Job has missing field(s): input");
                    auto in = parse_input(job.at("input"));
                    log("INFO", "job started: " + in.job_id, id);
                    auto progress = [&](const std::string& stage, double pct) {
                        json::object p;
                        p["status"] = "IN_PROGRESS";
                        json::object o;
                        o["stage"] = stage;
                        o["progress"] = pct;
                        p["output"] = std::move(o);
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
                    r["output"] = std::move(out);
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
                } else if (!post_done(c, s, id, body)) {
                    log("ERROR", "result could not be delivered", id);
                } else {
                    log("INFO", "result posted", id);
                }
                {
                    std::lock_guard<std::mutex> lock(mu);
                    held.erase(id);
                    cancels.erase(id);
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
    const auto grace = std::chrono::milliseconds(std::atol(env("MEMVID_WORKER_GRACE_MS", "20000").c_str()));
    const auto deadline = std::chrono::steady_clock::now() + grace;
    {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait_until(lock, deadline, [&] { return held.empty(); });
        shutdown_cancel = true;
        for (auto& [id, c] : cancels) *c = true;  // what is left stops at its next checkpoint and posts an error
    }
    for (auto& t : runners)
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
