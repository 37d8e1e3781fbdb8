#include "control-plane/jobs/wire.hpp"

#include "common/contract/job_protocol.hpp"
#include "common/core/json_out.hpp"
#include "common/core/json_text.hpp"
#include "control-plane/observability/log.hpp"

#include <algorithm>
#include <cmath>

namespace json = boost::json;

namespace mvx::cp::wire {

double number_or(const json::value& v, double def) {
    if (v.is_double()) return v.as_double();
    if (v.is_int64()) return double(v.as_int64());
    if (v.is_uint64()) return double(v.as_uint64());
    return def;
}

double percent_or(const json::value& v, double def) {
    const double p = number_or(v, def);
    return std::isfinite(p) ? std::clamp(p, 0.0, 100.0) : def;
}

std::string string_field(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}

const char* emoji_for(event_type type, job_stage stage) {
    switch (type) {
        case event_type::job_completed: return "\xE2\x9C\x85";
        case event_type::job_failed: return "\xF0\x9F\x94\xA5";
        case event_type::job_canceled: return "\xF0\x9F\x9B\x91";
        case event_type::job_expired:
        case event_type::stage_heartbeat: return "\xE2\x8F\xB3";
        default: break;
    }
    switch (stage) {
        case job_stage::queued: return "\xF0\x9F\xA7\xBE";
        case job_stage::transform: return "\xF0\x9F\xA7\xA0";
        case job_stage::frame_prep: return "\xF0\x9F\xA7\xB1";
        case job_stage::write_capsule: return "\xF0\x9F\x92\xBE";
        case job_stage::build_sidecar: return "\xF0\x9F\x97\x82\xEF\xB8\x8F";
        case job_stage::finalize: return "\xF0\x9F\x93\xA6";
        case job_stage::download_ready: return "\xE2\x9C\x85";
        case job_stage::failed: return "\xF0\x9F\x94\xA5";
        case job_stage::canceled: return "\xF0\x9F\x9B\x91";
        default: return "\xE2\x8F\xB3";
    }
}

std::string status_json(const job& j, std::int64_t now) {
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
    str(",\"status\":", to_string(j.status));
    num(",\"progress\":", j.progress);
    str(",\"currentStage\":", to_string(j.stage));
    num(",\"stageProgress\":", j.stage_progress);
    o += ",\"elapsedMs\":" + std::to_string(std::max<std::int64_t>(0, now - j.created_ms));
    o += ",\"lastEventSeq\":" + std::to_string(j.next_seq - 1);
    if (j.message)
        str(",\"message\":", *j.message);
    else
        o += ",\"message\":null";
    str(",\"createdAt\":", rfc3339(j.created_ms));
    str(",\"updatedAt\":", rfc3339(j.updated_ms));
    if (j.has_artifact && j.status == job_status::completed) {
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

std::string accepted_json(const job& j) {
    json::object a;
    a["jobId"] = j.id;
    a["status"] = to_string(job_status::queued);
    a["progress"] = 0;
    a["currentStage"] = to_string(job_stage::queued);
    a["stageProgress"] = 0;
    a["message"] = j.message ? json::value(*j.message) : json::value(nullptr);
    a["createdAt"] = rfc3339(j.created_ms);
    return to_text(a);
}

std::string replayed_json(const job& j) {
    json::object a;
    a["jobId"] = j.id;
    a["status"] = to_string(j.status);
    a["progress"] = j.progress;
    a["currentStage"] = to_string(j.stage);
    a["stageProgress"] = j.stage_progress;
    a["message"] = j.message ? json::value(*j.message) : json::value(nullptr);
    a["createdAt"] = rfc3339(j.created_ms);
    return to_text(a);
}

std::string event_json(const job& j, std::uint64_t seq, std::int64_t ts, event_type type, job_stage stage,
                       const std::string& message, const json::value& meta) {
    json::object o;
    o["seq"] = seq;
    o["ts"] = rfc3339(ts);
    o["jobId"] = j.id;
    o["type"] = to_string(type);
    o["stage"] = to_string(stage);
    o["progress"] = j.progress;
    o["stageProgress"] = j.stage_progress;
    o["emoji"] = emoji_for(type, stage);
    o["message"] = message;
    o["meta"] = meta;
    return to_text(o);
}

std::string events_page(const job& j, const std::vector<const std::string*>& events, std::uint64_t next_seq, std::int64_t now) {
    std::string out = "{\"jobId\":\"" + j.id + "\",\"events\":[";
    for (std::size_t i = 0; i < events.size(); ++i) {
        if (i) out += ',';
        out += *events[i];
    }
    out += "],\"nextSeq\":" + std::to_string(next_seq) + ",\"statusSnapshot\":" + status_json(j, now) + "}";
    return out;
}

json::object worker_input(const job& j, const config& cfg) {
    namespace in = protocol::input;
    json::object o;
    o[in::job_id.snake] = j.id;
    o[in::payload_ref.snake] = "file://" + j.payload_path;
    // Each local-queue attempt writes its own folder: a lost worker that is still
    // running cannot overwrite the files of the attempt that replaced it.
    o[in::output_prefix.snake] = j.attempt > 0 ? j.output_dir + "/a" + std::to_string(j.attempt) : j.output_dir;
    o[in::embedding_mode.snake] = cfg.embedding_mode;
    o[in::embedding_provider.snake] = cfg.embedding_provider;
    if (!cfg.embedding_model.empty()) o[in::embedding_model.snake] = cfg.embedding_model;
    if (!cfg.ollama_host.empty()) o[in::ollama_host.snake] = cfg.ollama_host;
    return o;
}

json::object to_doc(const job& j) {
    json::object d;
    d["id"] = j.id;
    d["status"] = to_string(j.status);
    d["stage"] = to_string(j.stage);
    d["progress"] = j.progress;
    d["stageProgress"] = j.stage_progress;
    if (j.message) d["message"] = *j.message;
    d["createdMs"] = j.created_ms;
    d["updatedMs"] = j.updated_ms;
    if (j.has_artifact) {
        d["artifact"] = json::object{
            {"fileName", j.file_name}, {"path", j.artifact_path}, {"sizeBytes", j.size_bytes}, {"expiresMs", j.expires_ms}};
    }
    if (j.error_code) d["error"] = json::object{{"code", *j.error_code}, {"message", j.error_message.value_or("")}};
    d["metadata"] = j.metadata;
    d["nextSeq"] = j.next_seq;
    d["counts"] =
        json::object{{"nodes", j.nodes}, {"relationships", j.relationships}, {"files", j.files}, {"bytes", j.body_bytes}};
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
    d["cleanedMs"] = j.cleaned_ms;
    d["lastEventMs"] = j.last_event_ms;
    return d;
}

std::unique_ptr<job> from_doc(const json::object& d) {
    auto j = std::make_unique<job>();
    auto s = [&](const char* k) { return string_field(d, k); };
    auto n = [&](const char* k) -> double {
        auto it = d.find(k);
        return it == d.end() ? 0.0 : number_or(it->value(), 0);
    };
    auto flag = [&](const char* k) { return d.contains(k) && d.at(k).is_bool() && d.at(k).as_bool(); };
    j->id = s("id");
    // A document with a status or stage we do not know is read as failed.
    j->status = parse_job_status(s("status")).value_or(job_status::failed);
    j->stage = parse_job_stage(s("stage")).value_or(job_stage::failed);
    j->progress = n("progress");
    j->stage_progress = n("stageProgress");
    if (d.contains("message") && d.at("message").is_string()) j->message = s("message");
    j->created_ms = std::int64_t(n("createdMs"));
    j->updated_ms = std::int64_t(n("updatedMs"));
    if (d.contains("artifact") && d.at("artifact").is_object()) {
        const auto& a = d.at("artifact").as_object();
        j->has_artifact = true;
        j->file_name = string_field(a, "fileName");
        j->artifact_path = string_field(a, "path");
        j->size_bytes = a.contains("sizeBytes") ? std::uint64_t(number_or(a.at("sizeBytes"), 0)) : 0;
        j->expires_ms = a.contains("expiresMs") ? std::int64_t(number_or(a.at("expiresMs"), 0)) : 0;
    }
    if (d.contains("error") && d.at("error").is_object()) {
        j->error_code = string_field(d.at("error").as_object(), "code");
        j->error_message = string_field(d.at("error").as_object(), "message");
    }
    if (d.contains("metadata") && d.at("metadata").is_object()) j->metadata = d.at("metadata").as_object();
    j->next_seq = std::uint64_t(n("nextSeq"));
    if (d.contains("counts") && d.at("counts").is_object()) {
        const auto& c = d.at("counts").as_object();
        auto cn = [&](const char* k) { return c.contains(k) ? std::uint64_t(number_or(c.at(k), 0)) : 0; };
        j->nodes = cn("nodes");
        j->relationships = cn("relationships");
        j->files = cn("files");
        j->body_bytes = cn("bytes");
    }
    j->idem_key = s("idemKey");
    j->body_hash = s("bodyHash");
    j->payload_path = s("payloadPath");
    j->output_dir = s("outputDir");
    j->attempt = unsigned(n("attempt"));
    j->lease_worker = s("leaseWorker");
    j->lease_deadline_ms = std::int64_t(n("leaseDeadlineMs"));
    j->runpod_status = s("runpodStatus");
    j->cancel_requested = flag("cancelRequested");
    j->cleaned = flag("cleaned");
    j->cleaned_ms = std::int64_t(n("cleanedMs"));
    j->last_event_ms = std::int64_t(n("lastEventMs"));
    return j;
}

}  // namespace mvx::cp::wire
