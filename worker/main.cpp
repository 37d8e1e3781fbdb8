// memvid-export-worker: packs GitNexus exports into memvid capsules.
//
//   memvid-export-worker pack --payload-ref <path|file://…> --output-prefix <dir|file://…> [options]
//   memvid-export-worker runpod-execute …   (the original's spelling, same flags)
//   memvid-export-worker inspect <file.mv2> [--frames N | --all]
//
// Prints one JSON line on stdout: the result, or {"error":{"code","message"}}
// with a non-zero exit (2 = bad input or arguments, 1 = anything else).
#include "common/core/error.hpp"
#include "common/core/hex.hpp"
#include "common/core/json_out.hpp"
#include "common/mv2/reader.hpp"
#include "common/pack/pack.hpp"
#include "worker/config.hpp"
#include "worker/embedders.hpp"
#include "worker/queue.hpp"

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr const char* k_usage = R"(memvid-export-worker — GitNexus export -> memvid .mv2 capsule + SQLite sidecar

Usage:
  memvid-export-worker                      Runpod queue worker when RUNPOD_WEBHOOK_GET_JOB is set
                                            (else runs ./test_input.json if present)
  memvid-export-worker --test_input '<json>'  one Runpod job offline: {"input": {job_id, payload_ref, ...}}
  memvid-export-worker pack --payload-ref <path|file://URL> --output-prefix <dir|file://URL> [options]
  memvid-export-worker runpod-execute <same flags as pack>
  memvid-export-worker inspect <capsule.mv2> [--frames N | --all]

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

int run_pack(const mvx::worker::worker_config& cfg, const std::vector<std::string>& args) {
    mvx::pack::pack_options o;
    std::map<std::string, std::string> val;
    static const std::vector<std::string> with_value = {"--payload-ref",
                                                        "--output-prefix",
                                                        "--job-id",
                                                        "--embedding-mode",
                                                        "--embedding-provider",
                                                        "--embedding-model",
                                                        "--created-at",
                                                        "--staging-root",
                                                        "--max-payload-bytes",
                                                        "--embedding-device",
                                                        "--embedding-max-batch-tokens",
                                                        "--ollama-host"};
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--zstd") {
            o.writer.zstd_payloads = true;
            continue;
        }
        if (a == "--no-native-lex") {
            o.writer.native_lex = false;
            continue;
        }
        if (a == "--no-sidecar") {
            o.sidecar = false;
            continue;
        }
        if (a == "-h" || a == "--help") {
            std::cout << k_usage;
            return 0;
        }
        if (std::find(with_value.begin(), with_value.end(), a) != with_value.end()) {
            if (i + 1 >= args.size()) mvx::throw_argument("option " + a + " needs a value");
            val[a] = args[++i];
            continue;
        }
        mvx::throw_argument("unknown option \"" + a + "\" (see --help)");
    }
    auto flag = [&](const char* name) -> std::string {
        auto it = val.find(name);
        return it == val.end() ? "" : it->second;
    };
    if (!val.count("--payload-ref")) mvx::throw_argument("missing --payload-ref <path|file://URL>");
    if (!val.count("--output-prefix")) mvx::throw_argument("missing --output-prefix <dir|file://URL>");
    o.payload_ref = val["--payload-ref"];
    o.output_prefix = val["--output-prefix"];
    o.job_id = val.count("--job-id") ? val["--job-id"] : "local";

    // The flags override the configuration; an embedder is made only when the
    // payload asks for vectors (options.semanticEnabled).
    mvx::worker::worker_config c = cfg;
    if (val.count("--embedding-device")) c.device = val["--embedding-device"];
    if (val.count("--embedding-max-batch-tokens")) {
        const std::string budget = val["--embedding-max-batch-tokens"];
        try {
            c.max_batch_tokens = std::stoul(budget);
        } catch (...) {
            mvx::throw_argument("--embedding-max-batch-tokens needs a token count, got \"" + budget + "\"");
        }
    }
    const auto choice = mvx::worker::resolve(
        c, {flag("--embedding-mode"), flag("--embedding-provider"), flag("--embedding-model"), flag("--ollama-host")});
    if (choice.mode != "external_api" && choice.mode != "runpod_gpu")
        mvx::throw_argument("embedding mode \"" + choice.mode + "\" is invalid: use external_api or runpod_gpu");
    o.embedding_mode = choice.mode;
    o.embedding_provider = choice.provider;
    o.embedding_model = choice.model;
    if (val.count("--created-at")) {
        o.created_at = mvx::pack::parse_time(val["--created-at"]);
        if (!o.created_at)
            mvx::throw_argument("--created-at \"" + val["--created-at"] +
                                "\" is neither Unix seconds nor RFC 3339 UTC (2026-01-31T12:00:00Z)");
    } else {
        o.created_at = c.created_at;
    }
    const std::string root = val.count("--staging-root") ? val["--staging-root"] : c.staging_root;
    if (!root.empty()) o.confine_root = root;
    if (val.count("--max-payload-bytes")) {
        try {
            o.limits.max_payload_bytes = std::stoull(val["--max-payload-bytes"]);
        } catch (...) {
            mvx::throw_argument("--max-payload-bytes needs a byte count");
        }
    }
    mvx::embedding::lazy_embedder embedder(mvx::worker::embedder_factory(c, choice));
    o.embedder = &embedder;
    const auto result = mvx::pack::run(o);
    std::cout << result.to_json() << std::endl;
    return 0;
}

// Our validating reader on a capsule: a summary and the first frames, or with
// --all every field of the header, TOC and every frame (the golden test
// compares these dumps of our file and memvid's).
int run_inspect(const std::vector<std::string>& args) {
    std::string path;
    std::size_t show = 3;
    bool all = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--frames" && i + 1 < args.size()) {
            const std::string n = args[++i];
            if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 9)
                mvx::throw_argument("--frames needs a frame count, got \"" + n + "\"");
            show = std::stoul(n);
        } else if (args[i] == "--all") {
            all = true;
        } else if (path.empty()) {
            path = args[i];
        } else {
            mvx::throw_argument("unexpected argument \"" + args[i] + "\"");
        }
    }
    if (path.empty()) mvx::throw_argument("inspect needs a capsule path");
    mvx::mv2::capsule_reader r(path);
    const auto& I = r.info();
    namespace J = mvx::json_out;
    auto opt_str = [](const std::optional<std::string>& v) { return v ? J::string(*v) : J::null(); };
    if (all) show = I.frames.size();
    std::string frames = "[";
    for (std::size_t i = 0; i < std::min(show, I.frames.size()); ++i) {
        const auto& f = I.frames[i];
        std::vector<std::string_view> tags(f.tags.begin(), f.tags.end()), labels(f.labels.begin(), f.labels.end());
        J::object fo;
        fo.raw("id", J::u64(f.id))
            .raw("title", opt_str(f.title))
            .raw("uri", opt_str(f.uri))
            .raw("track", opt_str(f.track))
            .raw("tags", J::array_of_strings(tags))
            .raw("labels", J::array_of_strings(labels))
            .raw("payloadBytes", J::u64(f.payload_length))
            .raw("hasVector", J::boolean(!r.vector(i).empty()));
        if (all) {
            std::string meta = "[";
            for (const auto& [k, v] : f.extra_metadata) {
                if (meta.size() > 1) meta += ',';
                meta += '[';
                meta += J::string(k);
                meta += ',';
                meta += J::string(v);
                meta += ']';
            }
            meta += "]";
            fo.raw("timestamp", J::i64(f.timestamp))
                .raw("anchorTs", f.anchor_ts ? J::i64(*f.anchor_ts) : J::null())
                .raw("anchorSource", f.anchor_source ? J::u64(*f.anchor_source) : J::null())
                .raw("kind", opt_str(f.kind))
                .raw("payloadOffset", J::u64(f.payload_offset))
                .str("checksum", mvx::to_hex(f.checksum))
                .raw("encoding", J::u64(f.encoding))
                .raw("canonicalLength", f.canonical_length ? J::u64(*f.canonical_length) : J::null())
                .raw("mime", opt_str(f.mime))
                .raw("searchText", opt_str(f.search_text))
                .raw("extraMetadata", meta)
                .raw("role", J::u64(f.role))
                .raw("status", J::u64(f.status))
                .raw("enrichmentState", J::u64(f.enrichment_state))
                .str("text", r.text(i));
        }
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
        .raw("tocBytes", J::u64(I.toc_length));
    if (all)
        o.raw("walSize", J::u64(I.wal_size))
            .raw("tocOffset", J::u64(I.toc_offset))
            .raw("generation", J::u64(I.generation))
            .str("tocChecksum", mvx::to_hex(I.toc_checksum))
            .raw("lexEnabled", J::boolean(I.lex_enabled))
            .raw("vectorModel", opt_str(I.vector_model))
            .raw("capacityBytes", J::u64(I.capacity_bytes));
    o.raw(all ? "framesDetail" : "sample", frames);
    std::cout << o.str() << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // A file size limit must surface as EFBIG from write(), not kill the process.
    std::signal(SIGXFSZ, SIG_IGN);
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && (args[0] == "-h" || args[0] == "--help" || args[0] == "help")) {
        std::cout << k_usage;
        return 0;
    }
    if (!args.empty() && args[0] == "--version") {
        std::cout << "memvid-export-worker 0.1.0" << std::endl;
        return 0;
    }
    try {
        if (!args.empty() && args[0] == "inspect") return run_inspect({args.begin() + 1, args.end()});  // needs no configuration
        const auto cfg = mvx::worker::load_worker_config(mvx::process_env());
        // Runpod modes, as the official SDK decides them: --test_input runs one
        // job offline; RUNPOD_WEBHOOK_GET_JOB means production; else ./test_input.json.
        if (!args.empty() && (args[0] == "--test_input" || args[0].rfind("--test_input=", 0) == 0)) {
            std::string text = args[0] == "--test_input" ? (args.size() > 1 ? args[1] : "") : args[0].substr(13);
            return mvx::worker::run_test_input(cfg, text);
        }
        if (args.empty() || args[0] == "serve") {
            if (cfg.serverless()) return mvx::worker::run_serverless(cfg);
            std::ifstream local("test_input.json");
            if (local) {
                std::stringstream ss;
                ss << local.rdbuf();
                return mvx::worker::run_test_input(cfg, ss.str());
            }
            if (!args.empty()) {
                std::cerr << "serve: RUNPOD_WEBHOOK_GET_JOB is not set and there is no ./test_input.json" << std::endl;
                return 1;
            }
            std::cout << k_usage;
            return 2;
        }
        const std::string cmd = args[0];
        args.erase(args.begin());
        if (cmd == "pack" || cmd == "runpod-execute") return run_pack(cfg, args);
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
