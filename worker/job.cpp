#include "worker/job.hpp"

#include "common/contract/job_protocol.hpp"
#include "common/core/error.hpp"
#include "common/pack/pack.hpp"
#include "worker/embedders.hpp"
#include "worker/transfer.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <filesystem>
#include <optional>
#include <random>

namespace mvx::worker {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace P = protocol;

job_input parse_job_input(const json::value& input) {
    if (!input.is_object()) throw error(error_kind::invalid_input, "INVALID_INPUT", "job input must be a JSON object");
    const auto& o = input.as_object();
    auto get = [&](const P::input::field& f, bool required) -> std::string {
        for (std::string_view k : {f.snake, f.camel}) {
            auto it = o.find(k);
            if (it == o.end() || it->value().is_null()) continue;
            if (!it->value().is_string())
                throw error(error_kind::invalid_input, "INVALID_INPUT", "Input field " + std::string(k) + " must be a string");
            std::string v(it->value().as_string());
            if (!v.empty()) return v;
        }
        if (required)
            throw error(error_kind::invalid_input, "INVALID_INPUT", "Missing required input field: " + std::string(f.snake));
        return "";
    };
    job_input j;
    j.job_id = get(P::input::job_id, true);
    j.payload_ref = get(P::input::payload_ref, true);
    j.output_prefix = get(P::input::output_prefix, true);
    j.embedding_mode = get(P::input::embedding_mode, false);
    j.embedding_provider = get(P::input::embedding_provider, false);
    j.embedding_model = get(P::input::embedding_model, false);
    j.ollama_host = get(P::input::ollama_host, false);
    return j;
}

namespace {

// A scratch folder for one job (downloads, outputs before their PUT), removed
// on every exit path.
class scratch_dir {
public:
    explicit scratch_dir(std::string root) : root_(std::move(root)) {}
    ~scratch_dir() {
        if (path_) {
            std::error_code ec;
            fs::remove_all(*path_, ec);
        }
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    const fs::path& get() {
        if (!path_) {
            const fs::path base = root_.empty() ? fs::temp_directory_path() : fs::path(root_) / "tmp";
            fs::create_directories(base);
            path_ = base / ("mvx-job-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
            fs::create_directories(*path_);
        }
        return *path_;
    }

private:
    std::string root_;
    std::optional<fs::path> path_;
};

// Claims a local output folder for this Runpod job (O_EXCL): a second Runpod
// job of the same export — a duplicate submission — finds the claim taken and
// stops before doing the work. The same Runpod job again (Runpod retried it)
// may go on.
// Returns the claim's path (empty when none was made).
fs::path claim_output(const fs::path& dir, const std::string& runpod_job_id, const std::string& job_id) {
    namespace C = P::claim;
    std::error_code ec;
    fs::create_directories(dir, ec);
    const fs::path file = dir / C::file;
    json::object c{{C::runpod_job_id, runpod_job_id}, {C::job_id, job_id}};
    const std::string text = json::serialize(c);
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
        const bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
        ::close(fd);
        if (!ok) throw error(error_kind::io, "IO_ERROR", "cannot write the claim " + file.string());
        return file;
    }
    if (errno != EEXIST) return {};  // a folder we cannot write: pack reports it
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    json::error_code jec;
    const auto v = json::parse(ss.str(), jec);
    const std::string holder =
        !jec && v.is_object() && v.as_object().contains(C::runpod_job_id) && v.at(C::runpod_job_id).is_string()
        ? std::string(v.at(C::runpod_job_id).as_string())
        : std::string();
    if (holder == runpod_job_id) return file;
    throw error(error_kind::invalid_input, "DUPLICATE_SUBMISSION",
                "export " + job_id + " is already being made by Runpod job " +
                    (holder.empty() ? std::string("(unknown)") : holder) +
                    " (a duplicate submission): this one stops without doing the work");
}

}  // namespace

json::object run_job(const worker_state& st, const job_input& in, const std::string& runpod_job_id,
                     const std::atomic<bool>* cancel, const progress_fn& progress) {
    const worker_config& cfg = st.cfg;
    const embedder_choice choice = resolve(cfg, {in.embedding_mode, in.embedding_provider, in.embedding_model, in.ollama_host});
    pack::pack_options o;
    o.job_id = in.job_id;
    o.embedding_mode = choice.mode;
    o.embedding_provider = choice.provider;
    o.embedding_model = choice.model;
    if (!cfg.staging_root.empty()) o.confine_root = cfg.staging_root;
    o.cancel = cancel;
    o.on_progress = [&](const std::string& stage, double pct) { progress(stage, pct); };

    scratch_dir scratch(cfg.staging_root);
    if (is_http(in.payload_ref)) {  // remote payload: into the scratch folder first
        progress(P::stage::download, 1);
        const auto p = scratch.get() / "payload.json";
        download(in.payload_ref, p, o.limits.max_payload_bytes, std::chrono::milliseconds(cfg.download_timeout_ms));
        o.payload_ref = p.string();
    } else {
        o.payload_ref = in.payload_ref;
    }
    const bool remote_out = is_http(in.output_prefix);
    o.output_prefix = remote_out ? (scratch.get() / "out").string() : in.output_prefix;
    // A job that fails or is stopped gives its claim back (nothing of it stays).
    struct claim_guard {
        fs::path file;
        bool keep = false;
        ~claim_guard() {
            std::error_code ec;
            if (!keep && !file.empty()) fs::remove(file, ec);
        }
    } claim;
    if (!remote_out)
        claim.file =
            claim_output(pack::resolve_ref(in.output_prefix, "output prefix", o.confine_root, false), runpod_job_id, in.job_id);

    // A job that names no native model uses the worker's own (the image's baked folder).
    embedding::lazy_embedder emb(embedder_factory(cfg, choice, st.warm, cfg.model_dir), cancel, 1024);
    o.embedder = &emb;
    const auto result = pack::run(o);
    claim.keep = true;
    json::object out = json::parse(result.to_json()).as_object();
    if (remote_out) {
        progress(P::stage::upload, 97);
        upload(in.output_prefix, result.file_name, result.artifact_path);
        if (result.sidecar_status == "ready")
            upload(in.output_prefix, result.sidecar_path.filename().string(), result.sidecar_path);
        out[P::result::artifact_ref] = object_url(redact_url(in.output_prefix), result.file_name);
        out[P::result::artifact_path] = nullptr;  // nothing stays on this worker
    }
    out[P::result::runpod_job_id] = runpod_job_id;
    out[P::result::adapter] = "native-cpp-worker";
    json::object m;
    m["frames"] = result.frames;
    m["vectors"] = result.vectors;
    m["tokens"] = result.embedding ? result.embedding->tokens : 0;
    m["embedMs"] = result.embed_ms;
    m["writeMs"] = result.write_ms;
    m["backend"] = result.embedding ? result.embedding->backend : "none";
    m["device"] = result.embedding ? result.embedding->device : "";
    m["model"] = result.embedding ? result.embedding_identity_model : "";
    out[P::result::worker_metrics] = std::move(m);
    return out;
}

}  // namespace mvx::worker
