#include "control-plane/jobs/registry.hpp"

#include "common/contract/job_protocol.hpp"
#include "common/core/json_text.hpp"
#include "control-plane/http/headers.hpp"
#include "control-plane/jobs/wire.hpp"
#include "control-plane/observability/log.hpp"

#include <algorithm>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace mvx::cp {

job_registry::job_registry(const config& cfg, job_store& store, metrics& m) : cfg_(cfg), store_(store), metrics_(m) {}

fs::path job_registry::part_file(const std::string& id) const {
    return fs::path(cfg_.staging_root) / "payloads" / ("." + id + ".json.part");
}
fs::path job_registry::payload_file(const std::string& id) const {
    return fs::path(cfg_.staging_root) / "payloads" / (id + ".json");
}
fs::path job_registry::output_dir(const std::string& id) const { return fs::path(cfg_.staging_root) / "outputs" / id; }

job_registry::restored job_registry::open() {
    std::lock_guard<std::mutex> lock(mu_);
    restored r;
    std::vector<std::string> mismatched;
    for (auto& j : store_.load(k_ring)) {
        if (!is_job_id(j->id)) continue;
        if (!j->ring.empty()) j->next_seq = std::max(j->next_seq, j->ring.back().seq + 1);
        if (!j->idem_key.empty()) idem_[j->idem_key] = j->id;
        if (!j->terminal()) {
            const std::string backend = j->backend();
            if (backend != cfg_.backend_name()) {
                mismatched.push_back(j->id);
            } else if (backend == "runpod_queue") {
                r.runpod.push_back(j->id);
            } else if (!j->lease_worker.empty()) {
                // The worker may still be running it: it has one lease period to
                // ping or post, else the job goes back to the queue.
                j->lease_deadline_ms = now_ms() + cfg_.lease_seconds * 1000;
            } else {
                r.queued.push_back(j->id);
            }
        }
        j->last_event_ms = now_ms();
        const std::string id = j->id;
        jobs_[id] = std::move(j);
    }
    for (const auto& id : mismatched) {
        job& j = *jobs_.at(id);
        finish_failed(j,
                      "The control plane restarted with MEMVID_EXPORT_BACKEND_MODE=" + std::string(cfg_.backend_name()) +
                          "; this " + j.backend() + " job cannot continue there: resubmit it");
    }
    r.total = jobs_.size();
    for (const auto& [id, j] : jobs_) r.active += !j->terminal();
    log_line(log_level::info,
             "job store " + store_.describe() + ": " + std::to_string(r.total) + " jobs, " + std::to_string(r.active) +
                 " to continue (" + std::to_string(r.queued.size()) + " queued, " + std::to_string(r.runpod.size()) +
                 " on Runpod)");
    return r;
}

// ---------------------------------------------------------------- locked

void job_registry::locked::append(event_type type, job_stage stage, double progress, double stage_progress,
                                  const std::string& message, json::value meta) {
    if ((j.status == job_status::canceled && type != event_type::job_canceled) ||
        (j.status == job_status::expired && type != event_type::job_expired))
        return;
    const std::int64_t now = now_ms();
    if (stage != j.stage) {
        auto it = j.stage_started_ms.find(j.stage);
        if (it != j.stage_started_ms.end())
            r_.metrics_.stage_duration(std::string(to_string(j.stage)), double(now - it->second) / 1000.0);
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
    e.type = std::string(to_string(type));
    e.json = wire::event_json(j, e.seq, now, type, stage, message, meta);
    r_.store_.append(j, e);
    j.ring.push_back(std::move(e));
    while (j.ring.size() > k_ring) j.ring.pop_front();
    wake_all(j.waiters);
}

bool job_registry::locked::move(transition t) {
    if (apply(j, t)) return true;
    log_line(log_level::error, "refused transition " + std::string(to_string(t)) + " from " + std::string(to_string(j.status)),
             j.id);
    return false;
}

void job_registry::locked::save() { r_.store_.save(j); }

void job_registry::locked::fail(const std::string& message) { r_.finish_failed(j, message); }

void job_registry::locked::count_finished(job_status s) { r_.metrics_.job_finished(std::string(to_string(s))); }

void job_registry::locked::forget_events() {
    j.ring.clear();
    r_.store_.remove_events(j.id);
}

void job_registry::finish_failed(job& j, const std::string& message) {
    locked l(*this, j);
    if (!l.move(transition::fail)) return;
    j.error_code = "EXPORT_FAILED";
    j.error_message = message;
    j.lease_worker.clear();
    l.append(event_type::job_failed, job_stage::failed, 100, 100, message, json::object{{"error", message}});
    metrics_.job_finished("failed");
    log_line(log_level::warn, "export failed: " + message, j.id);
}

fs::path job_registry::within_staging(const std::string& ref, std::string& err) const {
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

void job_registry::locked::complete(const json::value& output, const std::string& runpod_status) {
    namespace R = protocol::result;
    const config& c = r_.cfg_;
    if (!output.is_object() || output.as_object().empty()) {
        fail("Runpod completed without output");
        return;
    }
    const auto& o = output.as_object();
    if (o.contains(R::error) && !o.at(R::error).is_null()) {
        // A worker that returned its error inside the output (the original Python adapter's way).
        const auto& e = o.at(R::error);
        std::string msg = e.is_string() ? std::string(e.as_string())
            : e.is_object() && e.as_object().contains("message") && e.at("message").is_string()
            ? std::string(e.at("message").as_string())
            : to_text(e);
        fail("Runpod job failed: " + msg);
        return;
    }
    std::string ref = wire::string_field(o, R::artifact_path);
    if (ref.empty()) ref = wire::string_field(o, R::artifact_ref);
    if (ref.empty()) {
        fail("Runpod completed without output: the worker's output has no artifactPath");
        return;
    }
    std::string err;
    fs::path path = r_.within_staging(ref, err);
    if (!err.empty()) {
        fail(err);
        return;
    }
    {
        // Not just anywhere under the staging root: in this job's output folder.
        std::error_code oec;
        const fs::path own = fs::weakly_canonical(j.output_dir, oec);
        const auto rel = path.lexically_relative(own);
        if (oec || rel.empty() || *rel.begin() == "..") {
            fail("artifact path is outside the job's output folder " + j.output_dir + ": " + path.string());
            return;
        }
    }
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec || !fs::is_regular_file(path, ec)) {
        fail("Failed to stat artifact: " + path.string());
        return;
    }
    if (!move(transition::complete)) return;
    std::string name = wire::string_field(o, R::file_name);
    if (name.empty() || name.find('/') != std::string::npos) name = path.filename().string();
    j.has_artifact = true;
    j.file_name = name;
    j.artifact_path = path.string();
    j.size_bytes = size;
    j.expires_ms = now_ms() + c.retention_seconds * 1000;
    j.lease_worker.clear();
    j.metadata["artifactRef"] = o.contains(R::artifact_ref) && o.at(R::artifact_ref).is_string()
        ? o.at(R::artifact_ref)
        : json::value("file://" + j.artifact_path);
    json::object wm;
    wm["backend"] = c.backend_name();
    if (o.contains(R::backend)) wm["workerBackend"] = o.at(R::backend);
    wm["runpodStatus"] = runpod_status;
    wm["embeddingMode"] = o.contains(R::embedding_mode) ? o.at(R::embedding_mode) : json::value(c.embedding_mode);
    wm["embeddingProvider"] = o.contains(R::embedding_provider) ? o.at(R::embedding_provider) : json::value(c.embedding_provider);
    wm["embeddingModel"] = o.contains(R::embedding_model) ? o.at(R::embedding_model) : json::value(c.embedding_model);
    for (std::string_view k : R::reported)
        if (o.contains(k)) wm[k] = o.at(k);
    if (o.contains(R::worker_metrics) && o.at(R::worker_metrics).is_object())
        for (const auto& kv : o.at(R::worker_metrics).as_object()) wm[kv.key()] = kv.value();
    j.metadata["workerMetrics"] = std::move(wm);
    json::object meta{{"artifact", j.file_name}, {"sizeBytes", size}};
    if (j.metadata.contains("runpodJobId")) meta["runpodJobId"] = j.metadata.at("runpodJobId");
    append(event_type::job_completed, job_stage::download_ready, 100, 100, "Export ready for download", std::move(meta));
    r_.metrics_.job_finished("completed");
    log_line(log_level::info, "export completed: " + j.artifact_path + " (" + std::to_string(size) + " bytes)", j.id);
}

// ---------------------------------------------------------------- the API

bool job_registry::has_room() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t active = 0;
    for (const auto& [id, j] : jobs_) active += !j->terminal();
    return active < cfg_.queue_capacity;
}

std::variant<admitted, api_error> job_registry::admit(const std::string& job_id, staged_body body) {
    std::lock_guard<std::mutex> lock(mu_);
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
            return admitted{old.id, true, wire::replayed_json(old)};
        }
    }
    std::size_t active = 0;
    for (const auto& [id, j] : jobs_) active += !j->terminal();
    if (active >= cfg_.queue_capacity) {
        fs::remove(body.part_file, ec);
        return api_error{503, "QUEUE_FULL",
                         "The export queue is full (" + std::to_string(active) +
                             " jobs waiting or running, "
                             "MEMVID_EXPORT_QUEUE_CAPACITY=" +
                             std::to_string(cfg_.queue_capacity) + "): retry later"};
    }
    auto j = std::make_unique<job>();
    j->id = job_id;
    j->created_ms = j->updated_ms = now_ms();
    j->payload_path = payload_file(job_id).string();
    j->output_dir = output_dir(job_id).string();
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
    locked(*this, ref)
        .append(event_type::stage_progress, job_stage::queued, 0, 0, "Queued for export",
                json::object{{"nodes", ref.nodes}, {"relationships", ref.relationships}, {"files", ref.files}});
    log_line(log_level::info,
             "export accepted: " + std::to_string(ref.nodes) + " nodes, " + std::to_string(ref.relationships) +
                 " relationships, " + std::to_string(body.bytes) + " bytes",
             job_id);
    return admitted{job_id, false, wire::accepted_json(ref)};
}

std::optional<std::string> job_registry::status_json(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    return wire::status_json(*it->second, now_ms());
}

std::variant<job_registry::canceled, api_error> job_registry::cancel(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return api_error{404, "JOB_NOT_FOUND", "No export job " + id};
    job& j = *it->second;
    canceled c;
    locked l(*this, j);
    if (!j.terminal() && l.move(transition::cancel)) {
        j.cancel_requested = true;
        if (!j.lease_worker.empty()) {
            c.lease_worker = j.lease_worker;
            c.queue_job_id = j.queue_job_id();
        }
        l.append(event_type::job_canceled, job_stage::canceled, 100, 100, "Export canceled", nullptr);
        metrics_.job_finished("canceled");
        log_line(log_level::info, "export canceled", id);
    }
    c.body = wire::status_json(j, now_ms());
    return c;
}

std::variant<std::string, api_error> job_registry::events_json(const std::string& id, std::uint64_t since,
                                                               std::size_t limit) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return api_error{404, "JOB_NOT_FOUND", "No export job " + id};
    const job& j = *it->second;
    if (j.status == job_status::expired)
        return api_error{410, "JOB_EXPIRED", "Export job " + id + " has expired; its events were removed"};
    std::vector<event> from_store;
    std::vector<const std::string*> page;
    std::uint64_t next = since;
    if (!j.ring.empty() && since < j.ring.front().seq - 1) {
        // Older than the in-memory window: from the store.
        from_store = store_.events_after(id, since, limit);
        for (const auto& e : from_store) {
            page.push_back(&e.json);
            next = e.seq;
        }
    } else {
        auto first =
            std::upper_bound(j.ring.begin(), j.ring.end(), since, [](std::uint64_t v, const event& e) { return v < e.seq; });
        for (auto e = first; e != j.ring.end() && page.size() < limit; ++e) {
            page.push_back(&e->json);
            next = e->seq;
        }
    }
    return wire::events_page(j, page, page.empty() ? since : next, now_ms());
}

bool job_registry::events_since(const std::string& id, std::uint64_t since, std::size_t limit, std::vector<event>& out,
                                std::string& not_found_code) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) {
        not_found_code = "JOB_NOT_FOUND";
        return false;
    }
    const job& j = *it->second;
    if (j.status == job_status::expired) {  // as the original: an expired job's event stream is gone
        not_found_code = "JOB_EXPIRED";
        return false;
    }
    if (!j.ring.empty() && since < j.ring.front().seq - 1) {
        for (auto& e : store_.events_after(id, since, limit)) out.push_back(std::move(e));
    } else {
        auto first =
            std::upper_bound(j.ring.begin(), j.ring.end(), since, [](std::uint64_t v, const event& e) { return v < e.seq; });
        for (auto e = first; e != j.ring.end() && out.size() < limit; ++e) out.push_back(*e);
    }
    return true;
}

void job_registry::subscribe(const std::string& id, const std::shared_ptr<waiter>& w) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    add_waiter(it->second->waiters, w);
}

std::optional<job_registry::artifact_info> job_registry::artifact(const std::string& id) const {
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
    return a;
}

job_registry::tally job_registry::count() const {
    tally t;
    for (auto s : {job_status::queued, job_status::running, job_status::completed, job_status::failed, job_status::canceled,
                   job_status::expired})
        t.by_status[s] = 0;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, j] : jobs_) {
        ++t.by_status[j->status];
        t.leased += !j->terminal() && !j->lease_worker.empty();
    }
    return t;
}

void job_registry::forget(const std::vector<std::string>& ids) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& id : ids) {
        auto it = jobs_.find(id);
        if (it == jobs_.end()) continue;
        wake_all(it->second->waiters);
        if (!it->second->idem_key.empty()) {
            auto k = idem_.find(it->second->idem_key);
            if (k != idem_.end() && k->second == id) idem_.erase(k);
        }
        store_.remove_job(id);
        jobs_.erase(it);
    }
}

void job_registry::shutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, j] : jobs_) wake_all(j->waiters);
}

}  // namespace mvx::cp
