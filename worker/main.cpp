// memvid-export-worker: packs GitNexus exports into memvid capsules.
//
//   memvid-export-worker pack --payload-ref <path|file://…> --output-prefix <dir|file://…> [options]
//   memvid-export-worker runpod-execute …   (the original's spelling, same flags)
//   memvid-export-worker inspect <file.mv2> [--frames N]
//
// Prints one JSON line on stdout: the result, or {"error":{"code","message"}}
// with a non-zero exit (2 = bad input or arguments, 1 = anything else).
#include "common/core/error.hpp"
#include "common/core/json_out.hpp"
#include "common/mv2/reader.hpp"
#include "common/embedding/engine.hpp"
#include "common/embedding/providers.hpp"
#include "common/pack/pack.hpp"
#include "worker/runpod.hpp"

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr const char* kUsage = R"(memvid-export-worker — GitNexus export -> memvid .mv2 capsule + SQLite sidecar

Usage:
  memvid-export-worker                      Runpod queue worker when RUNPOD_WEBHOOK_GET_JOB is set
                                            (else runs ./test_input.json if present)
  memvid-export-worker --test_input '<json>'  one Runpod job offline: {"input": {job_id, payload_ref, ...}}
  memvid-export-worker pack --payload-ref <path|file://URL> --output-prefix <dir|file://URL> [options]
  memvid-export-worker runpod-execute <same flags as pack>
  memvid-export-worker inspect <capsule.mv2> [--frames N]

pack options:
  --job-id ID                 job id reported back (A-Z a-z 0-9 . _ -; default "local")
  --embedding-mode MODE       external_api | runpod_gpu        (env MEMVID_EMBEDDING_MODE)
  --embedding-provider NAME   provider for semantic exports    (env MEMVID_EMBED_PROVIDER)
  --embedding-model NAME      model for semantic exports       (env MEMVID_EMBED_MODEL); for the
                              native provider a Hugging Face folder (env MEMVID_EMBED_MODEL_DIR)
  --embedding-device DEV      native engine: auto | cpu | cuda  (env MEMVID_EMBED_DEVICE; default auto)
  --embedding-max-batch-tokens N  native engine token budget per batch (default 16384)
  --ollama-host URL           Ollama base URL for provider ollama (env OLLAMA_HOST)
External providers (nvidia, openai, voyage, ollama) read the original's variables: *_API_KEY,
*_EMBED_BASE_URL, VOYAGE_INPUT_TYPE/OUTPUT_DIMENSION/OUTPUT_DTYPE/TRUNCATION, OLLAMA_HOST,
MEMVID_EMBED_REQUEST_TIMEOUT_SECONDS; and MEMVID_EMBED_BATCH_SIZE, MEMVID_EMBED_CONCURRENCY,
MEMVID_EMBED_MAX_ATTEMPTS, MEMVID_EMBED_RETRY_BASE_MS.
  --created-at TIME           Unix seconds or RFC 3339 UTC used for every timestamp in the
                              capsule and the file name (env SOURCE_DATE_EPOCH; default: now)
  --staging-root DIR          refuse payload/output paths outside DIR (env MEMVID_EXPORT_STAGING_ROOT)
  --zstd                      store frame payloads zstd-compressed
  --no-native-lex             omit the native lexical fallback index
  --no-sidecar                do not build the SQLite sidecar
  --max-payload-bytes N       payload size limit (default 524288000)

The payload is a POST /v1/exports body as JSON, plain or zstd-compressed.
)";

// Opens the native engine on first use, so a lexical-only export never loads a model.
class lazy_native final : public mvx::embedding::embedder {
public:
    mvx::embedding::engine_options options;
    mvx::embedding::identity id() const override { return get().id(); }
    void embed(std::span<const std::string> texts, std::vector<float>& out) override { get().embed(texts, out); }
    std::size_t batch_size() const override { return get().batch_size(); }
    mvx::embedding::embed_report report() const override { return get().report(); }

private:
    mvx::embedding::engine& get() const {
        if (!engine_) {
            engine_ = mvx::embedding::engine::open(options);
            // One log line on stderr (stdout carries the result): what runs where.
            const auto& e = *engine_;
            mvx::json_out::object o;
            o.str("event", "embedder_ready")
                .str("model", e.id().model)
                .str("backend", e.compute().name())
                .str("device", e.compute().device())
                .str("precision", e.compute().precision())
                .str("cudaFallbackReason", e.devices().reason)
                .raw("loadMs", mvx::json_out::f64(std::round(e.model().load_stats().load_ms)))
                .raw("warmUpMs", mvx::json_out::f64(std::round(e.warm_up_ms())));
            std::cerr << o.str() << std::endl;
        }
        return *engine_;
    }
    mutable std::unique_ptr<mvx::embedding::engine> engine_;
};

// An external provider (issue 4), made on first use from the flags and the
// original's environment variables; its configuration errors surface then.
class lazy_provider final : public mvx::embedding::embedder {
public:
    std::string mode, provider, model, ollama_host;
    mvx::embedding::identity id() const override { return get().id(); }
    void embed(std::span<const std::string> texts, std::vector<float>& out) override { get().embed(texts, out); }
    std::size_t batch_size() const override { return get().batch_size(); }
    mvx::embedding::embed_report report() const override { return get().report(); }

private:
    mvx::embedding::provider_embedder& get() const {
        if (!p_)
            p_ = std::make_unique<mvx::embedding::provider_embedder>(
                mvx::embedding::provider_config::from_env(mode, provider, model, ollama_host));
        return *p_;
    }
    mutable std::unique_ptr<mvx::embedding::provider_embedder> p_;
};

int exit_code_for(const mvx::error& e) {
    return e.kind() == mvx::error_kind::invalid_input || e.kind() == mvx::error_kind::limit ? 2 : 1;
}

void print_error(const std::string& code, const std::string& message) {
    mvx::json_out::object inner;
    inner.str("code", code).str("message", message);
    mvx::json_out::object o;
    o.raw("error", inner.str());
    std::cout << o.str() << std::endl;
}

std::string env_or(const char* name, std::string fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
}

std::string default_model(const std::string& provider) {
    if (provider == "openai") return "text-embedding-3-large";
    if (provider == "voyage" || provider == "voyageai") return "voyage-code-3";
    if (provider == "ollama" || provider == "local") return "nomic-embed-text";
    return "nvidia/nv-embed-v1";
}

int run_pack(const std::vector<std::string>& args) {
    mvx::pack::pack_options o;
    std::map<std::string, std::string> val;
    static const std::vector<std::string> with_value = {
        "--payload-ref", "--output-prefix", "--job-id", "--embedding-mode", "--embedding-provider",
        "--embedding-model", "--created-at", "--staging-root", "--max-payload-bytes", "--embedding-device",
        "--embedding-max-batch-tokens", "--ollama-host"};
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--zstd") { o.writer.zstd_payloads = true; continue; }
        if (a == "--no-native-lex") { o.writer.native_lex = false; continue; }
        if (a == "--no-sidecar") { o.sidecar = false; continue; }
        if (a == "-h" || a == "--help") { std::cout << kUsage; return 0; }
        if (std::find(with_value.begin(), with_value.end(), a) != with_value.end()) {
            if (i + 1 >= args.size()) mvx::throw_argument("option " + a + " needs a value");
            val[a] = args[++i];
            continue;
        }
        mvx::throw_argument("unknown option \"" + a + "\" (see --help)");
    }
    if (!val.count("--payload-ref")) mvx::throw_argument("missing --payload-ref <path|file://URL>");
    if (!val.count("--output-prefix")) mvx::throw_argument("missing --output-prefix <dir|file://URL>");
    o.payload_ref = val["--payload-ref"];
    o.output_prefix = val["--output-prefix"];
    o.job_id = val.count("--job-id") ? val["--job-id"] : "local";
    o.embedding_mode = val.count("--embedding-mode") ? val["--embedding-mode"] : env_or("MEMVID_EMBEDDING_MODE", "external_api");
    o.embedding_provider =
        val.count("--embedding-provider") ? val["--embedding-provider"] : env_or("MEMVID_EMBED_PROVIDER", "nvidia");
    if (o.embedding_provider == "native")
        o.embedding_model = val.count("--embedding-model") ? val["--embedding-model"] : env_or("MEMVID_EMBED_MODEL_DIR", "");
    else
        o.embedding_model = val.count("--embedding-model") ? val["--embedding-model"]
                                                          : env_or("MEMVID_EMBED_MODEL", default_model(o.embedding_provider));
    if (o.embedding_mode != "external_api" && o.embedding_mode != "runpod_gpu")
        mvx::throw_argument("embedding mode \"" + o.embedding_mode + "\" is invalid: use external_api or runpod_gpu");
    std::string when = val.count("--created-at") ? val["--created-at"] : env_or("SOURCE_DATE_EPOCH", "");
    if (!when.empty()) {
        o.created_at = mvx::pack::parse_time(when);
        if (!o.created_at)
            mvx::throw_argument("--created-at \"" + when + "\" is neither Unix seconds nor RFC 3339 UTC (2026-01-31T12:00:00Z)");
    }
    std::string root = val.count("--staging-root") ? val["--staging-root"] : env_or("MEMVID_EXPORT_STAGING_ROOT", "");
    if (!root.empty()) o.confine_root = root;
    if (val.count("--max-payload-bytes")) {
        try {
            o.limits.max_payload_bytes = std::stoull(val["--max-payload-bytes"]);
        } catch (...) {
            mvx::throw_argument("--max-payload-bytes needs a byte count");
        }
    }
    // Embedders are made only when the payload asks for vectors
    // (options.semanticEnabled): a lexical export needs no model and no key.
    lazy_native native;
    lazy_provider provider;
    if (o.embedding_provider == "native") {
        native.options.model_dir = o.embedding_model;
        native.options.device = val.count("--embedding-device") ? val["--embedding-device"] : env_or("MEMVID_EMBED_DEVICE", "auto");
        std::string budget = val.count("--embedding-max-batch-tokens") ? val["--embedding-max-batch-tokens"]
                                                                       : env_or("MEMVID_EMBED_MAX_BATCH_TOKENS", "16384");
        try {
            native.options.max_batch_tokens = std::stoul(budget);
        } catch (...) {
            mvx::throw_argument("--embedding-max-batch-tokens needs a token count, got \"" + budget + "\"");
        }
        o.embedder = &native;
    } else {
        if (mvx::embedding::provider_config::normalize_provider(o.embedding_provider).empty())
            throw mvx::error(mvx::error_kind::invalid_input, "EMBEDDER_NOT_CONFIGURED",
                             "Unsupported MEMVID_EMBED_PROVIDER `" + o.embedding_provider +
                                 "`. Supported: nvidia, openai, voyage/voyageai, ollama/local, native.");
        provider.mode = o.embedding_mode;
        provider.provider = o.embedding_provider;
        provider.model = o.embedding_model;
        provider.ollama_host = val.count("--ollama-host") ? val["--ollama-host"] : "";
        o.embedder = &provider;
    }
    const auto result = mvx::pack::run(o);
    std::cout << result.to_json() << std::endl;
    return 0;
}

int run_inspect(const std::vector<std::string>& args) {
    std::string path;
    std::size_t show = 3;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--frames" && i + 1 < args.size()) show = std::stoul(args[++i]);
        else if (path.empty()) path = args[i];
        else mvx::throw_argument("unexpected argument \"" + args[i] + "\"");
    }
    if (path.empty()) mvx::throw_argument("inspect needs a capsule path");
    mvx::mv2::capsule_reader r(path);
    const auto& I = r.info();
    namespace J = mvx::json_out;
    std::string frames = "[";
    for (std::size_t i = 0; i < std::min(show, I.frames.size()); ++i) {
        const auto& f = I.frames[i];
        std::vector<std::string_view> tags(f.tags.begin(), f.tags.end()), labels(f.labels.begin(), f.labels.end());
        J::object fo;
        fo.raw("id", J::u64(f.id))
            .raw("title", f.title ? J::string(*f.title) : J::null())
            .raw("uri", f.uri ? J::string(*f.uri) : J::null())
            .raw("track", f.track ? J::string(*f.track) : J::null())
            .raw("tags", J::array_of_strings(tags))
            .raw("labels", J::array_of_strings(labels))
            .raw("payloadBytes", J::u64(f.payload_length))
            .raw("hasVector", J::boolean(!r.vector(i).empty()));
        if (i) frames += ',';
        frames += fo.str();
    }
    frames += ']';
    J::object o;
    o.str("path", path)
        .str("status", "valid")
        .raw("sizeBytes", J::u64(I.file_size))
        .raw("frames", J::u64(I.frames.size()))
        .raw("vectors", J::u64(I.vector_count))
        .raw("dimension", J::u64(I.dimension))
        .raw("lexDocuments", J::u64(I.lex_documents))
        .raw("timeEntries", J::u64(I.time_entries))
        .raw("tocBytes", J::u64(I.toc_length))
        .raw("sample", frames);
    std::cout << o.str() << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // A file size limit must surface as EFBIG from write(), not kill the process.
    std::signal(SIGXFSZ, SIG_IGN);
    std::vector<std::string> args(argv + 1, argv + argc);
    // Runpod modes, as the official SDK decides them: --test_input runs one job
    // offline; RUNPOD_WEBHOOK_GET_JOB means production; else ./test_input.json.
    if (!args.empty() && (args[0] == "--test_input" || args[0].rfind("--test_input=", 0) == 0)) {
        std::string text = args[0] == "--test_input" ? (args.size() > 1 ? args[1] : "") : args[0].substr(13);
        return mvx::worker::run_test_input(text);
    }
    if (args.empty() || args[0] == "serve") {
        const char* take = std::getenv("RUNPOD_WEBHOOK_GET_JOB");
        if (take && *take) return mvx::worker::run_serverless();
        std::ifstream local("test_input.json");
        if (local) {
            std::stringstream ss;
            ss << local.rdbuf();
            return mvx::worker::run_test_input(ss.str());
        }
        if (!args.empty()) {
            std::cerr << "serve: RUNPOD_WEBHOOK_GET_JOB is not set and there is no ./test_input.json" << std::endl;
            return 1;
        }
    }
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        std::cout << kUsage;
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
        std::cout << "memvid-export-worker 0.1.0" << std::endl;
        return 0;
    }
    const std::string cmd = args[0];
    args.erase(args.begin());
    try {
        if (cmd == "pack" || cmd == "runpod-execute") return run_pack(args);
        if (cmd == "inspect") return run_inspect(args);
        mvx::throw_argument("unknown command \"" + cmd + "\" (use pack, runpod-execute or inspect; see --help)");
    } catch (const mvx::error& e) {
        print_error(e.code(), e.what());
        return exit_code_for(e);
    } catch (const std::bad_alloc&) {
        print_error("OUT_OF_MEMORY", "out of memory while processing the job");
        return 1;
    } catch (const std::exception& e) {
        print_error("INTERNAL", e.what());
        return 1;
    }
}
