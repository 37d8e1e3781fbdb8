#include "control-plane/jobs.hpp"
#include "control-plane/json_text.hpp"
#include "control-plane/log.hpp"

#include "common/core/error.hpp"
#include "common/core/json_out.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/rand.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace mvx::cp {

std::string new_uuid4() {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) throw error(error_kind::internal, "INTERNAL", "no randomness for a job id (RAND_bytes failed)");
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    static const char* hex = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
        s += hex[b[i] >> 4];
        s += hex[b[i] & 15];
    }
    return s;
}

namespace {

const char* emoji_for(const std::string& type, const std::string& stage) {
    if (type == "job_completed") return "\xE2\x9C\x85";
    if (type == "job_failed") return "\xF0\x9F\x94\xA5";
    if (type == "job_canceled") return "\xF0\x9F\x9B\x91";
    if (type == "job_expired" || type == "stage_heartbeat") return "\xE2\x8F\xB3";
    if (stage == "queued") return "\xF0\x9F\xA7\xBE";
    if (stage == "transform") return "\xF0\x9F\xA7\xA0";
    if (stage == "frame_prep") return "\xF0\x9F\xA7\xB1";
    if (stage == "write_capsule") return "\xF0\x9F\x92\xBE";
    if (stage == "build_sidecar") return "\xF0\x9F\x97\x82\xEF\xB8\x8F";
    if (stage == "finalize") return "\xF0\x9F\x93\xA6";
    if (stage == "download_ready") return "\xE2\x9C\x85";
    if (stage == "failed") return "\xF0\x9F\x94\xA5";
    if (stage == "canceled") return "\xF0\x9F\x9B\x91";
    return "\xE2\x8F\xB3";
}

// Worker stages (pack's own, plus the worker's transfer steps) to API stages.
std::string api_stage(const std::string& worker_stage, const std::string& current) {
    static const char* known[] = {"transform", "frame_prep", "write_capsule", "build_sidecar", "finalize"};
    for (const char* k : known)
        if (worker_stage == k) return worker_stage;
    if (worker_stage == "download") return "transform";
    if (worker_stage == "upload") return "finalize";
    return current;
}

double num_of(const json::value& v, double def) {
    if (v.is_double()) return v.as_double();
    if (v.is_int64()) return double(v.as_int64());
    if (v.is_uint64()) return double(v.as_uint64());
    return def;
}

std::string str_of(const json::object& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}


json::object job_doc(const job& j) {
    json::object d;
    d["id"] = j.id;
    d["status"] = j.status;
    d["stage"] = j.stage;
    d["progress"] = j.progress;
    d["stageProgress"] = j.stage_progress;
    if (j.message) d["message"] = *j.message;
    d["createdMs"] = j.created_ms;
    d["updatedMs"] = j.updated_ms;
    if (j.has_artifact) {
        d["artifact"] = json::object{{"fileName", j.file_name}, {"path", j.artifact_path}, {"sizeBytes", j.size_bytes},
                                     {"expiresMs", j.expires_ms}};
    }
    if (j.error_code) d["error"] = json::object{{"code", *j.error_code}, {"message", j.error_message.value_or("")}};
    d["metadata"] = j.metadata;
    d["nextSeq"] = j.next_seq;
    d["counts"] = json::object{{"nodes", j.nodes}, {"relationships", j.relationships}, {"files", j.files}, {"bytes", j.body_bytes}};
    if (!j.idem_key.empty()) d["idemKey"] = j.idem_key;
    d["bodyHash"] = j.body_hash;
    d["payloadPath"] = j.payload_path;
    d["outputDir"] = j.output_dir;
    d["attempt"] = j.attempt;
    d["leaseWorker"] = j.lease_worker;
    d["leaseDeadlineMs"] = j.lease_deadline_ms;
    d["runpodStatus"] = j.runpod_status;
    d["cancelRequested"] = j.cancel_requested;
    d["cleaned"] = j.cleaned;
    d["lastEventMs"] = j.last_event_ms;
    return d;
}

std::unique_ptr<job> job_from_doc(const json::object& d) {
    auto j = std::make_unique<job>();
    auto s = [&](const char* k) { return str_of(d, k); };
    auto n = [&](const char* k) -> double { auto it = d.find(k); return it == d.end() ? 0.0 : num_of(it->value(), 0); };
    j->id = s("id");
    j->status = s("status");
    j->stage = s("stage");
    j->progress = n("progress");
    j->stage_progress = n("stageProgress");
    if (d.contains("message") && d.at("message").is_string()) j->message = s("message");
    j->created_ms = std::int64_t(n("createdMs"));
    j->updated_ms = std::int64_t(n("updatedMs"));
    if (d.contains("artifact") && d.at("artifact").is_object()) {
        const auto& a = d.at("artifact").as_object();
        j->has_artifact = true;
        j->file_name = str_of(a, "fileName");
        j->artifact_path = str_of(a, "path");
        j->size_bytes = std::uint64_t(num_of(a.at("sizeBytes"), 0));
        j->expires_ms = std::int64_t(num_of(a.at("expiresMs"), 0));
    }
    if (d.contains("error") && d.at("error").is_object()) {
        j->error_code = str_of(d.at("error").as_object(), "code");
        j->error_message = str_of(d.at("error").as_object(), "message");
    }
    if (d.contains("metadata") && d.at("metadata").is_object()) j->metadata = d.at("metadata").as_object();
    j->next_seq = std::uint64_t(n("nextSeq"));
    if (d.contains("counts") && d.at("counts").is_object()) {
        const auto& c = d.at("counts").as_object();
        j->nodes = std::uint64_t(num_of(c.at("nodes"), 0));
        j->relationships = std::uint64_t(num_of(c.at("relationships"), 0));
        j->files = std::uint64_t(num_of(c.at("files"), 0));
        j->body_bytes = std::uint64_t(num_of(c.at("bytes"), 0));
    }
    j->idem_key = s("idemKey");
    j->body_hash = s("bodyHash");
    j->payload_path = s("payloadPath");
    j->output_dir = s("outputDir");
    j->attempt = unsigned(n("attempt"));
    j->lease_worker = s("leaseWorker");
    j->lease_deadline_ms = std::int64_t(n("leaseDeadlineMs"));
    j->runpod_status = s("runpodStatus");
    j->cancel_requested = d.contains("cancelRequested") && d.at("cancelRequested").is_bool() && d.at("cancelRequested").as_bool();
    j->cleaned = d.contains("cleaned") && d.at("cleaned").is_bool() && d.at("cleaned").as_bool();
    j->last_event_ms = std::int64_t(n("lastEventMs"));
    return j;
}

std::string queue_job_id(const job& j) { return j.id + "-a" + std::to_string(j.attempt); }

// Adds w, dropping waiters whose owner is gone.
void add_waiter(std::vector<std::weak_ptr<waiter>>& ws, const std::shared_ptr<waiter>& w) {
    ws.erase(std::remove_if(ws.begin(), ws.end(), [](const std::weak_ptr<waiter>& x) { return x.expired(); }), ws.end());
    ws.push_back(w);
}

void wake_all(std::vector<std::weak_ptr<waiter>>& ws) {
    std::vector<std::weak_ptr<waiter>> keep;
    for (auto& w : ws)
        if (auto p = w.lock()) {
            p->wake();
            keep.push_back(w);
        }
    ws.swap(keep);
}

struct stmt {
    sqlite3_stmt* s = nullptr;
    stmt(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
            throw error(error_kind::io, "STORE_FAILED", std::string("job store: ") + sqlite3_errmsg(db));
    }
    ~stmt() { sqlite3_finalize(s); }
    stmt& text(int i, const std::string& v) {
        sqlite3_bind_text(s, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
        return *this;
    }
    stmt& i64(int i, std::int64_t v) {
        sqlite3_bind_int64(s, i, v);
        return *this;
    }
    int step() { return sqlite3_step(s); }
    std::string col_text(int i) {
        auto p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
        return p ? std::string(p, std::size_t(sqlite3_column_bytes(s, i))) : std::string();
    }
};

}  // namespace

job_service::job_service(config cfg, metrics& m) : cfg_(std::move(cfg)), metrics_(m) {}

job_service::~job_service() {
    if (db_) sqlite3_close(db_);
}

void job_service::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "unknown error";
        sqlite3_free(err);
        throw error(error_kind::io, "STORE_FAILED", "job store (" + (fs::path(cfg_.export_root) / "jobs.sqlite3").string() + "): " + m);
    }
}

std::vector<std::string> job_service::open() {
    std::error_code ec;
    for (const auto& dir : {fs::path(cfg_.export_root), fs::path(cfg_.staging_root) / "payloads", fs::path(cfg_.staging_root) / "outputs"}) {
        fs::create_directories(dir, ec);
        if (ec)
            throw error(error_kind::io, "INVALID_CONFIG",
                        "cannot create " + dir.string() + " (" + ec.message() +
                            "): mount a writable volume there or set MEMVID_EXPORT_ROOT / MEMVID_EXPORT_STAGING_ROOT");
    }
    const auto db_path = fs::path(cfg_.export_root) / "jobs.sqlite3";
    if (sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK)
        throw error(error_kind::io, "INVALID_CONFIG",
                    "cannot open the job store " + db_path.string() + ": " + (db_ ? sqlite3_errmsg(db_) : "out of memory") +
                        " (MEMVID_EXPORT_ROOT must be a writable directory)");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA busy_timeout=5000");
    exec("CREATE TABLE IF NOT EXISTS jobs(id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, doc TEXT NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS events(job_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, doc TEXT NOT NULL, "
         "PRIMARY KEY(job_id, seq)) WITHOUT ROWID");
    exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    exec("INSERT OR IGNORE INTO meta(key, value) VALUES('schema', 'memvid-export.jobs.v1')");

    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> runpod_jobs, mismatched;
    stmt q(db_, "SELECT doc FROM jobs ORDER BY created_ms, id");
    while (q.step() == SQLITE_ROW) {
        json::error_code jec;
        auto v = json::parse(q.col_text(0), jec);
        if (jec || !v.is_object()) continue;
        auto j = job_from_doc(v.as_object());
        if (!is_job_id(j->id)) continue;
        stmt e(db_, "SELECT seq, type, doc FROM (SELECT seq, type, doc FROM events WHERE job_id = ? ORDER BY seq DESC LIMIT 5000) ORDER BY seq");
        e.text(1, j->id);
        while (e.step() == SQLITE_ROW)
            j->ring.push_back(event{std::uint64_t(sqlite3_column_int64(e.s, 0)), e.col_text(1), e.col_text(2)});
        if (!j->ring.empty()) j->next_seq = std::max(j->next_seq, j->ring.back().seq + 1);
        if (!j->idem_key.empty()) idem_[j->idem_key] = j->id;
        if (!j->terminal() && str_of(j->metadata, "backend") != cfg_.backend_name()) {
            mismatched.push_back(j->id);
        } else if (!j->terminal()) {
            const std::string backend = str_of(j->metadata, "backend");
            if (backend == "runpod_queue") {
                runpod_jobs.push_back(j->id);
            } else if (!j->lease_worker.empty()) {
                // The worker may still be running it: it has one lease period to
                // ping or post, else the job goes back to the queue.
                j->lease_deadline_ms = now_ms() + cfg_.lease_seconds * 1000;
            } else {
                pending_.push_back(j->id);
            }
        }
        j->last_event_ms = now_ms();
        jobs_[j->id] = std::move(j);
    }
    for (const auto& id : mismatched) {
        job& j = *jobs_.at(id);
        finish_failed_locked(j, "The control plane restarted with MEMVID_EXPORT_BACKEND_MODE=" + std::string(cfg_.backend_name()) +
                                    "; this " + str_of(j.metadata, "backend") + " job cannot continue there: resubmit it");
    }
    std::size_t active = 0;
    for (const auto& [id, j] : jobs_) active += !j->terminal();
    log_line(log_level::info, "job store " + db_path.string() + ": " + std::to_string(jobs_.size()) + " jobs, " + std::to_string(active) +
                         " to continue (" + std::to_string(pending_.size()) + " queued, " + std::to_string(runpod_jobs.size()) +
                         " on Runpod)");
    return runpod_jobs;
}

bool job_service::persist(const job& j) {
    sqlite3_stmt* st = nullptr;
    const char* sql = "INSERT INTO jobs(id, created_ms, doc) VALUES(?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc";
    const std::string doc = to_text(job_doc(j));
    bool ok = sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_text(st, 1, j.id.data(), int(j.id.size()), SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, j.created_ms);
        sqlite3_bind_text(st, 3, doc.data(), int(doc.size()), SQLITE_TRANSIENT);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (!ok) log_line(log_level::error, std::string("job store write failed: ") + sqlite3_errmsg(db_), j.id);
    return ok;
}

void job_service::append(job& j, const std::string& type, const std::string& stage, double progress, double stage_progress,
                         const std::string& message, json::value meta) {
    // After cancel/expiry only the cancel/expire event itself is recorded.
    if ((j.status == "canceled" && type != "job_canceled") || (j.status == "expired" && type != "job_expired")) return;
    const std::int64_t now = now_ms();
    if (stage != j.stage) {
        auto it = j.stage_started_ms.find(j.stage);
        if (it != j.stage_started_ms.end()) metrics_.stage_duration(j.stage, double(now - it->second) / 1000.0);
        j.stage_started_ms[stage] = now;
    } else if (!j.stage_started_ms.count(stage)) {
        j.stage_started_ms[stage] = now;
    }
    j.stage = stage;
    j.progress = std::clamp(progress, 0.0, 100.0);
    j.stage_progress = std::clamp(stage_progress, 0.0, 100.0);
    j.message = message;
    j.updated_ms = now;
    j.last_event_ms = now;
    event e;
    e.seq = j.next_seq++;
    e.type = type;
    json::object o;
    o["seq"] = e.seq;
    o["ts"] = rfc3339(now);
    o["jobId"] = j.id;
    o["type"] = type;
    o["stage"] = stage;
    o["progress"] = j.progress;
    o["stageProgress"] = j.stage_progress;
    o["emoji"] = emoji_for(type, stage);
    o["message"] = message;
    o["meta"] = std::move(meta);
    e.json = to_text(o);

    // One transaction for the event and the job; any failure rolls both back
    // (logged: the job goes on in memory, the store stays usable).
    bool ok = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
    if (ok) {
        sqlite3_stmt* st = nullptr;
        ok = sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO events(job_id, seq, type, doc) VALUES(?, ?, ?, ?)", -1, &st, nullptr) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_text(st, 1, j.id.data(), int(j.id.size()), SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, std::int64_t(e.seq));
            sqlite3_bind_text(st, 3, type.data(), int(type.size()), SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 4, e.json.data(), int(e.json.size()), SQLITE_TRANSIENT);
            ok = sqlite3_step(st) == SQLITE_DONE;
        }
        sqlite3_finalize(st);
        ok = ok && persist(j) && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
        if (!ok) {
            log_line(log_level::error, std::string("job store: event ") + std::to_string(e.seq) + " not stored: " + sqlite3_errmsg(db_), j.id);
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        }
    } else {
        log_line(log_level::error, std::string("job store: cannot begin a transaction: ") + sqlite3_errmsg(db_), j.id);
    }
    j.ring.push_back(std::move(e));
    while (j.ring.size() > k_ring) j.ring.pop_front();
    wake_all(j.waiters);
}

std::string job_service::status_json_locked(const job& j) const {
    // Written directly (the hottest path: every client polls it).
    std::string o;
    o.reserve(640 + j.metadata.size() * 96);
    auto str = [&](const char* key, std::string_view v) {
        o += key;
        json_out::append_string(o, v);
    };
    auto num = [&](const char* key, double v) {
        o += key;
        json_out::append_f64(o, v);
    };
    str("{\"jobId\":", j.id);
    str(",\"status\":", j.status);
    num(",\"progress\":", j.progress);
    str(",\"currentStage\":", j.stage);
    num(",\"stageProgress\":", j.stage_progress);
    o += ",\"elapsedMs\":" + std::to_string(std::max<std::int64_t>(0, now_ms() - j.created_ms));
    o += ",\"lastEventSeq\":" + std::to_string(j.next_seq - 1);
    if (j.message) str(",\"message\":", *j.message);
    else o += ",\"message\":null";
    str(",\"createdAt\":", rfc3339(j.created_ms));
    str(",\"updatedAt\":", rfc3339(j.updated_ms));
    if (j.has_artifact && j.status == "completed") {
        str(",\"artifact\":{\"fileName\":", j.file_name);
        str(",\"downloadUrl\":", "/v1/exports/" + j.id + "/download");
        str(",\"expiresAt\":", rfc3339(j.expires_ms));
        o += ",\"sizeBytes\":" + std::to_string(j.size_bytes) + "}";
    } else {
        o += ",\"artifact\":null";
    }
    if (j.error_code) {
        str(",\"error\":{\"code\":", *j.error_code);
        str(",\"message\":", j.error_message.value_or(""));
        o += "}";
    } else {
        o += ",\"error\":null";
    }
    o += ",\"metadata\":";
    append_text(o, j.metadata);
    o += "}";
    return o;
}

bool job_service::queue_has_room() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t active = 0;
    for (const auto& [id, j] : jobs_) active += !j->terminal();
    return active < cfg_.queue_capacity;
}

std::size_t job_service::queue_depth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_.size();
}

fs::path job_service::new_part_file(const std::string& job_id) const {
    return fs::path(cfg_.staging_root) / "payloads" / ("." + job_id + ".json.part");
}

std::variant<admitted, api_error> job_service::admit(const std::string& job_id, staged_body body) {
    std::unique_lock<std::mutex> lock(mu_);
    std::error_code ec;
    if (!body.idem_key.empty()) {
        auto it = idem_.find(body.idem_key);
        if (it != idem_.end()) {
            fs::remove(body.part_file, ec);
            const job& old = *jobs_.at(it->second);
            if (old.body_hash != body.hash)
                return api_error{409, "IDEMPOTENCY_KEY_REUSED",
                                 "Idempotency-Key \"" + body.idem_key + "\" was used for job " + old.id +
                                     " with a different body: use a new key for a different export"};
            json::object a;
            a["jobId"] = old.id;
            a["status"] = old.status;
            a["progress"] = old.progress;
            a["currentStage"] = old.stage;
            a["stageProgress"] = old.stage_progress;
            a["message"] = old.message ? json::value(*old.message) : json::value(nullptr);
            a["createdAt"] = rfc3339(old.created_ms);
            return admitted{old.id, true, to_text(a)};
        }
    }
    std::size_t active = 0;
    for (const auto& [id, j] : jobs_) active += !j->terminal();
    if (active >= cfg_.queue_capacity) {
        fs::remove(body.part_file, ec);
        return api_error{503, "QUEUE_FULL",
                         "The export queue is full (" + std::to_string(active) + " jobs waiting or running, "
                         "MEMVID_EXPORT_QUEUE_CAPACITY=" + std::to_string(cfg_.queue_capacity) + "): retry later"};
    }
    auto j = std::make_unique<job>();
    j->id = job_id;
    j->created_ms = j->updated_ms = now_ms();
    j->payload_path = (fs::path(cfg_.staging_root) / "payloads" / (job_id + ".json")).string();
    j->output_dir = (fs::path(cfg_.staging_root) / "outputs" / job_id).string();
    fs::rename(body.part_file, j->payload_path, ec);
    if (ec) {
        fs::remove(body.part_file, ec);
        return api_error{500, "STAGING_FAILED", "Could not stage the payload at " + j->payload_path + ": " + ec.message()};
    }
    j->nodes = body.nodes;
    j->relationships = body.relationships;
    j->files = body.files;
    j->body_bytes = body.bytes;
    j->body_hash = body.hash;
    j->idem_key = body.idem_key;
    j->metadata["backend"] = cfg_.backend_name();
    j->metadata["payloadRef"] = "file://" + j->payload_path;
    job& ref = *j;
    jobs_[job_id] = std::move(j);
    if (!ref.idem_key.empty()) idem_[ref.idem_key] = job_id;
    append(ref, "stage_progress", "queued", 0, 0, "Queued for export",
           json::object{{"nodes", ref.nodes}, {"relationships", ref.relationships}, {"files", ref.files}});
    if (cfg_.backend == backend_mode::local_queue) {
        pending_.push_back(job_id);
        wake_take_locked();
    }
    json::object a;
    a["jobId"] = job_id;
    a["status"] = "queued";
    a["progress"] = 0;
    a["currentStage"] = "queued";
    a["stageProgress"] = 0;
    a["message"] = "Queued for export";
    a["createdAt"] = rfc3339(ref.created_ms);
    log_line(log_level::info, "export accepted: " + std::to_string(ref.nodes) + " nodes, " + std::to_string(ref.relationships) +
                         " relationships, " + std::to_string(body.bytes) + " bytes", job_id);
    return admitted{job_id, false, to_text(a)};
}

std::optional<std::string> job_service::status_json(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    return status_json_locked(*it->second);
}

std::variant<std::string, api_error> job_service::cancel(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return api_error{404, "JOB_NOT_FOUND", "No export job " + id};
    job& j = *it->second;
    if (!j.terminal()) {
        j.status = "canceled";
        j.cancel_requested = true;
        pending_.erase(std::remove(pending_.begin(), pending_.end(), id), pending_.end());
        if (!j.lease_worker.empty()) {
            to_stop_[j.lease_worker].insert(queue_job_id(j));
            auto w = stop_waiters_.find(j.lease_worker);
            if (w != stop_waiters_.end()) wake_all(w->second);
        }
        append(j, "job_canceled", "canceled", 100, 100, "Export canceled", nullptr);
        metrics_.job_finished("canceled");
        log_line(log_level::info, "export canceled", id);
    }
    return status_json_locked(j);
}

std::variant<std::string, api_error> job_service::events_json(const std::string& id, std::uint64_t since, std::size_t limit) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return api_error{404, "JOB_NOT_FOUND", "No export job " + id};
    const job& j = *it->second;
    if (j.status == "expired") return api_error{410, "JOB_EXPIRED", "Export job " + id + " has expired; its events were removed"};
    std::string out = "{\"jobId\":\"" + j.id + "\",\"events\":[";
    std::uint64_t next = since;
    std::size_t n = 0;
    auto add = [&](std::uint64_t seq, const std::string& ev) {
        if (n) out += ',';
        out += ev;
        next = seq;
        ++n;
    };
    if (!j.ring.empty() && since + 1 < j.ring.front().seq) {
        // Older than the in-memory window: from the store.
        stmt s(db_, "SELECT seq, doc FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?");
        s.text(1, id).i64(2, std::int64_t(since)).i64(3, std::int64_t(limit));
        while (s.step() == SQLITE_ROW) add(std::uint64_t(sqlite3_column_int64(s.s, 0)), s.col_text(1));
    } else {
        auto first = std::upper_bound(j.ring.begin(), j.ring.end(), since, [](std::uint64_t v, const event& e) { return v < e.seq; });
        for (auto e = first; e != j.ring.end() && n < limit; ++e) add(e->seq, e->json);
    }
    out += "],\"nextSeq\":" + std::to_string(n ? next : since) + ",\"statusSnapshot\":" + status_json_locked(j) + "}";
    return out;
}

bool job_service::events_since(const std::string& id, std::uint64_t since, std::size_t limit, std::vector<event>& out,
                               std::string& not_found_code) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
        not_found_code = "JOB_NOT_FOUND";
        return false;
    }
    const job& j = *it->second;
    if (j.status == "expired") {  // as the original: an expired job's event stream is gone
        not_found_code = "JOB_EXPIRED";
        return false;
    }
    if (!j.ring.empty() && since + 1 < j.ring.front().seq) {
        stmt s(db_, "SELECT seq, type, doc FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?");
        s.text(1, id).i64(2, std::int64_t(since)).i64(3, std::int64_t(limit));
        while (s.step() == SQLITE_ROW) out.push_back(event{std::uint64_t(sqlite3_column_int64(s.s, 0)), s.col_text(1), s.col_text(2)});
    } else {
        auto first = std::upper_bound(j.ring.begin(), j.ring.end(), since, [](std::uint64_t v, const event& e) { return v < e.seq; });
        for (auto e = first; e != j.ring.end() && out.size() < limit; ++e) out.push_back(*e);
    }
    if (j.status == "expired" && out.empty()) {
        not_found_code = "JOB_EXPIRED";
        return false;
    }
    return true;
}

void job_service::subscribe(const std::string& id, const std::shared_ptr<waiter>& w) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    add_waiter(it->second->waiters, w);
}

std::optional<job_service::artifact_info> job_service::artifact(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    const job& j = *it->second;
    artifact_info a;
    a.status = j.status;
    if (j.has_artifact) {
        a.path = j.artifact_path;
        a.file_name = j.file_name;
        a.size = j.size_bytes;
    }
    a.updated_ms = j.updated_ms;
    return a;
}

std::string job_service::metrics_text() const {
    std::map<std::string, std::size_t> by_status{{"queued", 0}, {"running", 0}, {"completed", 0}, {"failed", 0}, {"canceled", 0}, {"expired", 0}};
    std::size_t depth = 0, leased = 0, workers = 0;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& [id, j] : jobs_) {
            ++by_status[j->status];
            leased += !j->terminal() && !j->lease_worker.empty();
        }
        depth = pending_.size();
        const std::int64_t now = now_ms();
        for (const auto& [w, t] : worker_seen_) workers += now - t < 3 * cfg_.lease_seconds * 1000;
    }
    std::string o = "# HELP memvid_export_jobs Jobs in the store, by state.\n# TYPE memvid_export_jobs gauge\n";
    for (const auto& [s, n] : by_status) o += "memvid_export_jobs{status=\"" + s + "\"} " + std::to_string(n) + "\n";
    o += "# HELP memvid_export_queue_depth Jobs waiting for a worker (local queue).\n# TYPE memvid_export_queue_depth gauge\n"
         "memvid_export_queue_depth " + std::to_string(depth) + "\n";
    o += "# HELP memvid_export_leased_jobs Jobs a worker holds (local queue).\n# TYPE memvid_export_leased_jobs gauge\n"
         "memvid_export_leased_jobs " + std::to_string(leased) + "\n";
    o += "# HELP memvid_export_workers Workers seen in the last three lease periods (local queue).\n# TYPE memvid_export_workers gauge\n"
         "memvid_export_workers " + std::to_string(workers) + "\n";
    return o + metrics_.text();
}

// ---------------------------------------------------------------- local queue

json::object job_service::job_input(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    return job_input_locked(id);
}

json::object job_service::job_input_locked(const std::string& id) const {
    const job* j = nullptr;
    auto it = jobs_.find(id);
    if (it != jobs_.end()) j = it->second.get();
    json::object in;
    if (!j) return in;
    in["job_id"] = j->id;
    in["payload_ref"] = "file://" + j->payload_path;
    // Each local-queue attempt writes its own folder: a lost worker that is still
    // running cannot overwrite the files of the attempt that replaced it.
    in["output_prefix"] = j->attempt > 0 ? j->output_dir + "/a" + std::to_string(j->attempt) : j->output_dir;
    in["embedding_mode"] = cfg_.embedding_mode;
    in["embedding_provider"] = cfg_.embedding_provider;
    if (!cfg_.embedding_model.empty()) in["embedding_model"] = cfg_.embedding_model;
    if (!cfg_.ollama_host.empty()) in["ollama_host"] = cfg_.ollama_host;
    return in;
}

void job_service::wake_take_locked() { wake_all(take_waiters_); }

std::optional<std::string> job_service::take(const std::string& worker) {
    std::lock_guard<std::mutex> lock(mu_);
    worker_seen_[worker] = now_ms();
    while (!pending_.empty()) {
        std::string id = pending_.front();
        pending_.pop_front();
        auto it = jobs_.find(id);
        if (it == jobs_.end() || it->second->terminal()) continue;
        job& j = *it->second;
        ++j.attempt;
        j.lease_worker = worker;
        j.lease_deadline_ms = now_ms() + cfg_.lease_seconds * 1000;
        j.status = "running";
        j.metadata["worker"] = worker;
        j.metadata["attempt"] = j.attempt;
        append(j, "job_started", "transform", 2, 0,
               "Worker " + worker + " took the job" + (j.attempt > 1 ? " (attempt " + std::to_string(j.attempt) + ")" : ""),
               json::object{{"worker", worker}, {"attempt", j.attempt}});
        json::object o;
        o["id"] = queue_job_id(j);
        o["input"] = job_input_locked(id);
        log_line(log_level::info, "taken by " + worker + " as " + queue_job_id(j), id);
        return to_text(o);
    }
    return std::nullopt;
}

void job_service::subscribe_take(const std::shared_ptr<waiter>& w) {
    std::lock_guard<std::mutex> lock(mu_);
    add_waiter(take_waiters_, w);
}

void job_service::subscribe_stop(const std::string& worker, const std::shared_ptr<waiter>& w) {
    std::lock_guard<std::mutex> lock(mu_);
    add_waiter(stop_waiters_[worker], w);
}

std::vector<std::string> job_service::jobs_to_stop(const std::string& worker) {
    std::lock_guard<std::mutex> lock(mu_);
    worker_seen_[worker] = now_ms();
    auto it = to_stop_.find(worker);
    if (it == to_stop_.end()) return {};
    std::vector<std::string> out(it->second.begin(), it->second.end());
    to_stop_.erase(it);
    return out;
}

void job_service::ping(const std::string& worker, const std::vector<std::string>& ids) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::int64_t now = now_ms();
    worker_seen_[worker] = now;
    for (const auto& qid : ids) {
        auto p = qid.rfind("-a");
        if (p == std::string::npos) continue;
        auto it = jobs_.find(qid.substr(0, p));
        if (it == jobs_.end()) continue;
        job& j = *it->second;
        if (!j.terminal() && j.lease_worker == worker && queue_job_id(j) == qid) j.lease_deadline_ms = now + cfg_.lease_seconds * 1000;
    }
}

std::size_t job_service::workers_seen(std::int64_t within_ms) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t n = 0;
    const std::int64_t now = now_ms();
    for (const auto& [w, t] : worker_seen_) n += now - t <= within_ms;
    return n;
}

int job_service::job_done(const std::string& worker, const std::string& qid, const json::value& body) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::int64_t now = now_ms();
    worker_seen_[worker] = now;
    auto p = qid.rfind("-a");
    auto it = p == std::string::npos ? jobs_.end() : jobs_.find(qid.substr(0, p));
    if (it == jobs_.end()) return 404;
    job& j = *it->second;
    if (j.terminal()) return 200;  // canceled meanwhile: the result is not wanted
    if (j.lease_worker != worker || queue_job_id(j) != qid) {
        log_line(log_level::warn, "job-done from " + worker + " for " + qid + " ignored: the lease is " + queue_job_id(j) + " on " + j.lease_worker, j.id);
        return 409;
    }
    j.lease_deadline_ms = now + cfg_.lease_seconds * 1000;
    if (!body.is_object()) {
        finish_failed_locked(j, "Worker posted a result that is not a JSON object");
        return 200;
    }
    const auto& o = body.as_object();
    if (str_of(o, "status") == "IN_PROGRESS") {
        if (o.contains("output") && o.at("output").is_object()) {
            const auto& out = o.at("output").as_object();
            std::string stage = api_stage(str_of(out, "stage"), j.stage);
            double pct = out.contains("progress") ? num_of(out.at("progress"), j.progress) : j.progress;
            append(j, stage == j.stage ? "stage_heartbeat" : "stage_progress", stage, std::max(j.progress, std::min(pct, 99.0)), pct,
                   "Worker " + worker + ": " + str_of(out, "stage") + " " + std::to_string(int(pct)) + "%",
                   json::object{{"worker", worker}, {"workerStage", str_of(out, "stage")}});
        }
        return 200;
    }
    if (o.contains("stopPod") && !o.contains("output") && !o.contains("error")) return 200;
    if (o.contains("error") && !o.at("error").is_null()) {
        const auto& e = o.at("error");
        finish_failed_locked(j, e.is_string() ? std::string(e.as_string()) : to_text(e));
        return 200;
    }
    if (!o.contains("output") || o.at("output").is_null()) {
        finish_failed_locked(j, "Runpod completed without output");
        return 200;
    }
    complete_locked(j, o.at("output"), "COMPLETED");
    return 200;
}

void job_service::finish_failed_locked(job& j, const std::string& message) {
    j.status = "failed";
    j.error_code = "EXPORT_FAILED";
    j.error_message = message;
    j.lease_worker.clear();
    append(j, "job_failed", "failed", 100, 100, message, json::object{{"error", message}});
    metrics_.job_finished("failed");
    log_line(log_level::warn, "export failed: " + message, j.id);
}

fs::path job_service::within_staging(const std::string& ref, std::string& err) const {
    std::string p = ref;
    if (p.rfind("file://", 0) == 0) p = p.substr(7);
    fs::path path(p);
    if (p.empty() || !path.is_absolute()) {
        err = "Failed to stat artifact: " + ref;
        return {};
    }
    std::error_code ec;
    fs::path root = fs::weakly_canonical(cfg_.staging_root, ec);
    fs::path full = fs::weakly_canonical(path, ec);
    if (ec) {
        err = "Failed to stat artifact: " + p;
        return {};
    }
    auto r = root.begin();
    auto f = full.begin();
    for (; r != root.end(); ++r, ++f) {
        if (r->empty()) continue;  // trailing separator
        if (f == full.end() || *r != *f) {
            err = "artifact path is outside the staging root: " + p;
            return {};
        }
    }
    return full;
}

void job_service::complete_locked(job& j, const json::value& output, const std::string& runpod_status) {
    if (!output.is_object() || output.as_object().empty()) {
        finish_failed_locked(j, "Runpod completed without output");
        return;
    }
    const auto& o = output.as_object();
    if (o.contains("error") && !o.at("error").is_null()) {
        // A worker that returned its error inside the output (the original Python adapter's way).
        const auto& e = o.at("error");
        std::string msg = e.is_string() ? std::string(e.as_string())
                          : e.is_object() && e.as_object().contains("message") && e.at("message").is_string()
                              ? std::string(e.at("message").as_string())
                              : to_text(e);
        finish_failed_locked(j, "Runpod job failed: " + msg);
        return;
    }
    std::string ref = str_of(o, "artifactPath");
    if (ref.empty()) ref = str_of(o, "artifactRef");
    if (ref.empty()) {
        finish_failed_locked(j, "Runpod completed without output: the worker's output has no artifactPath");
        return;
    }
    std::string err;
    fs::path path = within_staging(ref, err);
    if (!err.empty()) {
        finish_failed_locked(j, err);
        return;
    }
    {
        // Not just anywhere under the staging root: in this job's output folder.
        std::error_code oec;
        const fs::path own = fs::weakly_canonical(j.output_dir, oec);
        const auto rel = path.lexically_relative(own);
        if (oec || rel.empty() || *rel.begin() == "..") {
            finish_failed_locked(j, "artifact path is outside the job's output folder " + j.output_dir + ": " + path.string());
            return;
        }
    }
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec || !fs::is_regular_file(path, ec)) {
        finish_failed_locked(j, "Failed to stat artifact: " + path.string());
        return;
    }
    std::string name = str_of(o, "fileName");
    if (name.empty() || name.find('/') != std::string::npos) name = path.filename().string();
    j.status = "completed";
    j.has_artifact = true;
    j.file_name = name;
    j.artifact_path = path.string();
    j.size_bytes = size;
    j.expires_ms = now_ms() + cfg_.retention_seconds * 1000;
    j.lease_worker.clear();
    j.metadata["artifactRef"] = o.contains("artifactRef") && o.at("artifactRef").is_string() ? o.at("artifactRef") : json::value("file://" + j.artifact_path);
    json::object wm;
    wm["backend"] = cfg_.backend_name();
    if (o.contains("backend")) wm["workerBackend"] = o.at("backend");
    wm["runpodStatus"] = runpod_status;
    wm["embeddingMode"] = o.contains("embeddingMode") ? o.at("embeddingMode") : json::value(cfg_.embedding_mode);
    wm["embeddingProvider"] = o.contains("embeddingProvider") ? o.at("embeddingProvider") : json::value(cfg_.embedding_provider);
    wm["embeddingModel"] = o.contains("embeddingModel") ? o.at("embeddingModel") : json::value(cfg_.embedding_model);
    for (const char* k : {"embedding", "sidecar", "frames", "vectors", "timingsMs"})
        if (o.contains(k)) wm[k] = o.at(k);
    if (o.contains("workerMetrics") && o.at("workerMetrics").is_object())
        for (const auto& kv : o.at("workerMetrics").as_object()) wm[kv.key()] = kv.value();
    j.metadata["workerMetrics"] = std::move(wm);
    json::object meta{{"artifact", j.file_name}, {"sizeBytes", size}};
    if (j.metadata.contains("runpodJobId")) meta["runpodJobId"] = j.metadata.at("runpodJobId");
    append(j, "job_completed", "download_ready", 100, 100, "Export ready for download", std::move(meta));
    metrics_.job_finished("completed");
    log_line(log_level::info, "export completed: " + j.artifact_path + " (" + std::to_string(size) + " bytes)", j.id);
}

void job_service::requeue_or_fail_locked(job& j, const std::string& why) {
    const std::string worker = j.lease_worker;
    // If the worker is alive after all, it stops this attempt at its next job-stop poll.
    to_stop_[worker].insert(queue_job_id(j));
    if (auto w = stop_waiters_.find(worker); w != stop_waiters_.end()) wake_all(w->second);
    j.lease_worker.clear();
    if (j.attempt >= cfg_.max_attempts) {
        finish_failed_locked(j, why + "; gave up after " + std::to_string(j.attempt) + " attempts (MEMVID_LOCAL_QUEUE_MAX_ATTEMPTS)");
        return;
    }
    j.status = "queued";
    append(j, "stage_heartbeat", "queued", j.progress, 0, why + "; queued again (attempt " + std::to_string(j.attempt + 1) + " of " +
                                                         std::to_string(cfg_.max_attempts) + ")",
           json::object{{"lostWorker", worker}, {"attempt", j.attempt}});
    pending_.push_front(j.id);
    wake_take_locked();
    log_line(log_level::warn, why + "; re-queued", j.id);
}

// ---------------------------------------------------------------- runpod side

std::optional<job_service::runpod_view> job_service::runpod_state(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    const job& j = *it->second;
    runpod_view v;
    v.status = j.status;
    v.runpod_job_id = str_of(j.metadata, "runpodJobId");
    v.payload_path = j.payload_path;
    v.output_dir = j.output_dir;
    v.cancel_requested = j.cancel_requested;
    v.last_event_ms = j.last_event_ms;
    return v;
}

void job_service::runpod_submitted(const std::string& id, const std::string& rp) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->terminal()) return;
    job& j = *it->second;
    j.metadata["runpodJobId"] = rp;
    j.status = "running";
    append(j, "stage_progress", "write_capsule", 12, 10, "Runpod job " + rp + " submitted", json::object{{"runpodJobId", rp}});
}

void job_service::runpod_waiting(const std::string& id, const std::string& rs, const json::value* output) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->terminal()) return;
    job& j = *it->second;
    const std::string rp = str_of(j.metadata, "runpodJobId");
    const bool changed = rs != j.runpod_status;
    j.runpod_status = rs;
    double progress = j.progress, sp = j.stage_progress;
    std::string stage = j.stage, msg;
    if (rs == "IN_QUEUE") {
        progress = std::max(progress, 15.0);
        sp = 10;
        msg = "Waiting for a Runpod worker (IN_QUEUE)";
    } else if (rs == "IN_PROGRESS" || rs == "RUNNING") {
        progress = std::max(progress, 45.0);
        sp = 55;
        msg = "Runpod worker is exporting (" + rs + ")";
        if (output && output->is_object() && output->as_object().contains("stage")) {
            const auto& out = output->as_object();
            stage = api_stage(str_of(out, "stage"), stage);
            double pct = out.contains("progress") ? num_of(out.at("progress"), 0) : 0;
            sp = pct;
            progress = std::max(progress, std::min(95.0, 45.0 + pct / 2));
            msg = "Runpod worker: " + str_of(out, "stage") + " " + std::to_string(int(pct)) + "%";
        }
    } else {
        msg = "Runpod reports status " + rs + "; still waiting";
    }
    const bool moved = progress != j.progress || stage != j.stage;
    if (changed || moved || now_ms() - j.last_event_ms >= cfg_.heartbeat_seconds * 1000)
        append(j, "stage_heartbeat", stage, progress, sp, msg, json::object{{"runpodStatus", rs}, {"runpodJobId", rp}});
}

void job_service::complete_from_output(const std::string& id, const json::value& output, const std::string& rs) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->terminal()) return;
    it->second->runpod_status = rs;
    complete_locked(*it->second, output, rs);
}

void job_service::fail(const std::string& id, const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->terminal()) return;
    finish_failed_locked(*it->second, message);
}

void job_service::progress_event(const std::string& id, const std::string& type, const std::string& stage, double progress,
                                 double stage_progress, const std::string& message, json::object meta) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second->terminal()) return;
    append(*it->second, type, stage, progress, stage_progress, message, std::move(meta));
}

// ---------------------------------------------------------------- housekeeping

void job_service::tick() {
    std::lock_guard<std::mutex> lock(mu_);
    const std::int64_t now = now_ms();
    std::size_t ahead = 0;
    std::map<std::string, std::size_t> position;
    for (const auto& id : pending_) position[id] = ahead++;
    for (auto& [id, jp] : jobs_) {
        job& j = *jp;
        if (j.terminal()) continue;
        if (!j.lease_worker.empty() && j.lease_deadline_ms < now) {
            requeue_or_fail_locked(j, "Worker " + j.lease_worker + " stopped responding (no ping for " +
                                          std::to_string(cfg_.lease_seconds) + " s)");
            continue;
        }
        if (now - j.last_event_ms >= cfg_.heartbeat_seconds * 1000) {
            std::string msg;
            json::object meta;
            if (str_of(j.metadata, "backend") == "runpod_queue") {
                msg = j.runpod_status.empty() ? "Submitting to Runpod" : "Waiting for Runpod (" + j.runpod_status + ")";
                meta["runpodStatus"] = j.runpod_status;
            } else if (!j.lease_worker.empty()) {
                msg = "Running on worker " + j.lease_worker;
                meta["worker"] = j.lease_worker;
            } else {
                auto p = position.find(j.id);
                std::size_t n = p == position.end() ? 0 : p->second;
                msg = "Waiting for a worker (" + std::to_string(n) + " ahead)";
                meta["ahead"] = n;
            }
            append(j, "stage_heartbeat", j.stage, j.progress, j.stage_progress, msg, std::move(meta));
        }
    }
    if (now - last_sweep_ms_ >= cfg_.sweep_interval_seconds * 1000) {
        last_sweep_ms_ = now;
        sweep_locked(now);
    }
}

void job_service::sweep_locked(std::int64_t now) {
    for (auto& [id, jp] : jobs_) {
        job& j = *jp;
        std::error_code ec;
        auto remove_files = [&] {
            fs::remove(j.payload_path, ec);
            fs::remove_all(j.output_dir, ec);
            if (j.has_artifact) {
                fs::remove(j.artifact_path, ec);
                fs::remove(j.artifact_path + ".index.v1.sqlite", ec);
                fs::remove(j.artifact_path + ".index.v1.sqlite-wal", ec);
                fs::remove(j.artifact_path + ".index.v1.sqlite-shm", ec);
            }
            j.cleaned = true;
        };
        if (j.status == "completed" && j.expires_ms <= now) {
            remove_files();
            j.status = "expired";
            j.has_artifact = false;
            append(j, "job_expired", "expired", 100, 100, "Artifact expired and removed", nullptr);
            wake_all(j.waiters);  // open streams end
            j.ring.clear();
            {
                stmt d(db_, "DELETE FROM events WHERE job_id = ?");
                d.text(1, j.id);
                d.step();
            }
            metrics_.job_finished("expired");
            log_line(log_level::info, "expired: capsule, sidecar, payload and outputs removed", j.id);
        } else if ((j.status == "failed" || j.status == "canceled") && !j.cleaned &&
                   j.updated_ms + cfg_.retention_seconds * 1000 <= now) {
            remove_files();
            persist(j);
            log_line(log_level::info, "retention: staged payload and outputs removed", j.id);
        }
    }
}

void job_service::shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    wake_all(take_waiters_);
    for (auto& [w, ws] : stop_waiters_) wake_all(ws);
    for (auto& [id, j] : jobs_) wake_all(j->waiters);
}

}  // namespace mvx::cp
