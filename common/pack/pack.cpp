#include "common/pack/pack.hpp"

#include "common/contract/job_protocol.hpp"

#include "common/core/error.hpp"
#include "common/core/file.hpp"
#include "common/core/json_out.hpp"
#include "common/sidecar/sidecar.hpp"
#include "common/transform/frames.hpp"

#include <zstd.h>

#include <fcntl.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace mvx::pack {
namespace {

using clock_type = std::chrono::steady_clock;
double ms_since(clock_type::time_point t) { return std::chrono::duration<double, std::milli>(clock_type::now() - t).count(); }

void check_job_id(std::string_view id) {
    if (id.empty() || id.size() > 128 || id == "." || id == "..")
        throw_argument("job id \"" + std::string(id) + "\" is invalid: use 1-128 characters from A-Z a-z 0-9 . _ -");
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
            throw_argument("job id \"" + std::string(id) +
                           "\" is invalid: use 1-128 characters from A-Z a-z 0-9 . _ - (no '/' or '..')");
}

void check_base_name(std::string_view b) {
    const bool bad = b.empty() || b.size() > 200 || b == "." || b == ".." || b.find_first_of("/\\") != std::string_view::npos ||
        std::any_of(b.begin(), b.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    if (bad)
        throw_invalid("source.baseName: \"" + std::string(b) +
                      "\" cannot name a file (it must be 1-200 characters without '/', '\\' or control characters, "
                      "and not '.' or '..')");
}

// Bounded single-producer single-consumer queue of frame documents.
class doc_queue {
public:
    explicit doc_queue(std::size_t cap) : cap_(cap) {}
    void push(transform::frame_document&& d) {
        std::unique_lock lk(m_);
        not_full_.wait(lk, [&] { return q_.size() < cap_ || closed_; });
        if (closed_) return;
        q_.push_back(std::move(d));
        not_empty_.notify_one();
    }
    bool pop(transform::frame_document& d) {
        std::unique_lock lk(m_);
        not_empty_.wait(lk, [&] { return !q_.empty() || closed_; });
        if (q_.empty()) return false;
        d = std::move(q_.front());
        q_.pop_front();
        not_full_.notify_one();
        return true;
    }
    void finish() {  // no more documents; those queued are still delivered
        std::lock_guard lk(m_);
        complete_ = true;
        closed_ = true;
        not_empty_.notify_all();
        not_full_.notify_all();
    }
    bool complete() {
        std::lock_guard lk(m_);
        return complete_;
    }
    void close() {  // abandon: the consumer stops without committing
        std::lock_guard lk(m_);
        closed_ = true;
        not_empty_.notify_all();
        not_full_.notify_all();
    }

private:
    std::size_t cap_;
    std::deque<transform::frame_document> q_;
    std::mutex m_;
    std::condition_variable not_empty_, not_full_;
    bool closed_ = false, complete_ = false;
};

struct timer {
    double& acc;
    clock_type::time_point t = clock_type::now();
    ~timer() { acc += ms_since(t); }
};

}  // namespace

std::string rfc3339_utc(std::int64_t t, bool z_suffix) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return std::string(buf) + (z_suffix ? "Z" : "+00:00");
}

std::string date_utc(std::int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

std::optional<std::int64_t> parse_time(std::string_view s) {
    if (s.empty()) return std::nullopt;
    if (std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        if (s.size() > 12) return std::nullopt;
        return std::stoll(std::string(s));
    }
    std::tm tm{};
    const std::string str(s);
    const char* end = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return std::nullopt;
    std::string_view rest(end);
    if (!rest.empty() && rest.front() == '.') {
        rest.remove_prefix(1);
        while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
    }
    if (rest != "Z" && rest != "+00:00" && rest != "z") return std::nullopt;
    return static_cast<std::int64_t>(timegm(&tm));
}

std::filesystem::path resolve_ref(std::string_view ref, std::string_view what, const std::optional<std::filesystem::path>& root,
                                  bool allow_dotdot) {
    std::string_view p = ref;
    if (p.rfind("http://", 0) == 0 || p.rfind("https://", 0) == 0)
        throw error(error_kind::unsupported, "UNSUPPORTED_REF",
                    std::string(what) + " \"" + std::string(ref) +
                        "\": HTTP(S) refs are not read by pack; give a local path or file:// URL");
    if (p.rfind("file://", 0) == 0) {
        p.remove_prefix(7);
        if (p.rfind("localhost/", 0) == 0) p.remove_prefix(9);
        if (p.empty() || p.front() != '/')
            throw_argument(std::string(what) + " \"" + std::string(ref) +
                           "\": a file:// URL needs an absolute path (file:///...)");
    } else if (auto colon = p.find("://"); colon != std::string_view::npos) {
        throw_argument(std::string(what) + " \"" + std::string(ref) + "\": unsupported scheme (use a path or file://)");
    }
    if (p.empty()) throw_argument(std::string(what) + " is empty");
    std::filesystem::path path{std::string(p)};
    for (const auto& part : path)
        if (part == ".." && !allow_dotdot)
            throw_argument(std::string(what) + " \"" + std::string(ref) + "\": '..' components are not allowed");
    if (std::string(p).find('\0') != std::string::npos) throw_argument(std::string(what) + " contains NUL");
    if (root) {
        std::error_code ec;
        const auto abs_root = std::filesystem::weakly_canonical(std::filesystem::absolute(*root), ec);
        const auto abs = std::filesystem::weakly_canonical(std::filesystem::absolute(path), ec);
        const auto rel = abs.lexically_relative(abs_root);
        if (rel.empty() || *rel.begin() == "..")
            throw_argument(std::string(what) + " \"" + std::string(ref) + "\" resolves outside the allowed root " +
                           abs_root.string());
        return abs;
    }
    return path;
}

contract::export_request load_payload(const std::filesystem::path& path, const contract::limits& lim) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open payload", path, errno);
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    const std::string where = path.string();
    contract::request_parser parser(lim);
    std::string in(1 << 20, '\0');
    auto read_some = [&](char* dst, std::size_t n) -> std::size_t {
        while (true) {
            const ssize_t r = ::read(fd, dst, n);
            if (r >= 0) return static_cast<std::size_t>(r);
            if (errno != EINTR) throw_errno("cannot read payload", path, errno);
        }
    };
    std::size_t n = read_some(in.data(), in.size());
    const bool zstd = n >= 4 && static_cast<unsigned char>(in[0]) == 0x28 && static_cast<unsigned char>(in[1]) == 0xB5 &&
        static_cast<unsigned char>(in[2]) == 0x2F && static_cast<unsigned char>(in[3]) == 0xFD;
    if (!zstd) {
        while (n > 0) {
            parser.write(in.data(), n, where);
            n = read_some(in.data(), in.size());
        }
        return parser.finish(where);
    }
    std::unique_ptr<ZSTD_DStream, decltype(&ZSTD_freeDStream)> ds(ZSTD_createDStream(), &ZSTD_freeDStream);
    ZSTD_initDStream(ds.get());
    std::string out(ZSTD_DStreamOutSize(), '\0');
    std::size_t last = 1;
    while (n > 0) {
        ZSTD_inBuffer ib{in.data(), n, 0};
        while (ib.pos < ib.size) {
            ZSTD_outBuffer ob{out.data(), out.size(), 0};
            last = ZSTD_decompressStream(ds.get(), &ob, &ib);
            if (ZSTD_isError(last)) throw_invalid(where + ": the zstd stream is corrupt (" + ZSTD_getErrorName(last) + ")");
            parser.write(out.data(), ob.pos, where);
        }
        n = read_some(in.data(), in.size());
    }
    while (last != 0) {  // flush what the decoder still holds
        ZSTD_inBuffer ib{nullptr, 0, 0};
        ZSTD_outBuffer ob{out.data(), out.size(), 0};
        last = ZSTD_decompressStream(ds.get(), &ob, &ib);
        if (ZSTD_isError(last)) throw_invalid(where + ": the zstd stream is corrupt (" + ZSTD_getErrorName(last) + ")");
        if (ob.pos == 0) {
            if (last != 0) throw_invalid(where + ": the zstd stream is truncated");
            break;
        }
        parser.write(out.data(), ob.pos, where);
    }
    return parser.finish(where);
}

pack_result run(const pack_options& opts) {
    pack_result res;
    res.job_id = opts.job_id.empty() ? "local" : opts.job_id;
    check_job_id(res.job_id);
    res.embedding_mode = opts.embedding_mode;
    res.embedding_provider = opts.embedding_provider;
    res.embedding_model = opts.embedding_model;
    const std::int64_t created_at = opts.created_at ? *opts.created_at : static_cast<std::int64_t>(std::time(nullptr));

    const auto payload_path = resolve_ref(opts.payload_ref, "payload ref", opts.confine_root, true);
    const auto out_dir = resolve_ref(opts.output_prefix, "output prefix", opts.confine_root, false);

    const auto check_cancel = [&] {
        if (opts.cancel && opts.cancel->load()) throw error(error_kind::internal, "JOB_CANCELED", "the job was canceled");
    };
    namespace stage = protocol::stage;
    const auto progress = [&](std::string_view name, double pct) {
        if (opts.on_progress) opts.on_progress(std::string(name), pct);
    };
    check_cancel();
    progress(stage::transform, 2);
    auto t = clock_type::now();
    const contract::export_request req = load_payload(payload_path, opts.limits);
    check_cancel();
    res.parse_ms = ms_since(t);
    res.payload_bytes = req.payload_bytes;
    res.repaired_chars = req.repaired_file_content_chars;
    res.repaired_surrogates = req.repaired_surrogates;
    res.lenient = req.lenient;
    check_base_name(req.source.base_name);
    if (req.options.semantic_enabled && !opts.embedder)
        throw error(error_kind::unsupported, "EMBEDDER_NOT_CONFIGURED",
                    "options.semanticEnabled is true but no embedder is configured: choose one with "
                    "--embedding-provider/--embedding-model (or MEMVID_EMBED_PROVIDER), or export with "
                    "semanticEnabled=false; no capsule was written");

    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) throw_errno("cannot create output folder", out_dir, ec.value());
    if (!std::filesystem::is_directory(out_dir)) throw_argument("output prefix " + out_dir.string() + " is not a folder");

    res.file_name = transform::capsule_file_name(req.source.base_name, date_utc(created_at));
    const auto capsule_path = out_dir / res.file_name;

    transform::frame_builder frames(req, rfc3339_utc(created_at, true), req.options.semantic_enabled);
    res.node_frames = frames.node_frames();
    res.relation_frames = frames.relation_frames();
    res.compact_contents = frames.compact_contents();
    const std::size_t total = frames.size();

    // Embeddings first (batched over frame texts), so the write pass streams.
    std::vector<float> vectors;
    embedding::identity ident;
    if (opts.embedder && req.options.semantic_enabled) {
        // External providers learn the dimension from their first answer.
        ident = opts.embedder->id();
        if (ident.dimension) vectors.reserve(total * ident.dimension);
        const std::size_t batch = std::max<std::size_t>(1, opts.embedder->batch_size());
        std::vector<std::string> texts;
        for (std::size_t i = 0; i < total; i += batch) {
            check_cancel();
            progress(stage::frame_prep, 5.0 + 60.0 * double(i) / double(total));
            texts.clear();
            {
                timer tm{res.transform_ms};
                for (std::size_t j = i; j < std::min(total, i + batch); ++j) texts.push_back(frames.build(j).text);
            }
            timer tm{res.embed_ms};
            const std::size_t before = vectors.size();
            opts.embedder->embed(texts, vectors);
            if (i == 0) {
                ident = opts.embedder->id();
                if (ident.dimension == 0)
                    throw error(error_kind::internal, "EMBEDDING_FAILED", "the embedder reported no vector dimension");
            }
            if (vectors.size() - before != texts.size() * ident.dimension)
                throw error(error_kind::internal, "EMBEDDING_FAILED",
                            "the embedder returned " + std::to_string(vectors.size() - before) + " floats for " +
                                std::to_string(texts.size()) + " texts of dimension " + std::to_string(ident.dimension));
        }
        res.embedding = opts.embedder->report();
        res.embedding_identity_provider = ident.provider;
        res.embedding_identity_model = ident.model;
        res.embedding_dimension = ident.dimension;
    }

    mv2::writer writer(capsule_path, opts.writer);
    // The sidecar is filled on a second thread while this one builds frames and
    // writes the capsule; documents pass through a bounded queue.
    std::optional<sidecar::builder> side;
    doc_queue queue(512);
    std::exception_ptr side_error;
    double side_busy_ms = 0;
    std::thread side_thread;
    std::optional<sidecar::sidecar_summary> side_summary;
    if (opts.sidecar) {
        side.emplace(capsule_path, req, rfc3339_utc(created_at, false));
        side_thread = std::thread([&] {
            transform::frame_document d;
            while (queue.pop(d)) {
                if (side_error) continue;  // drain so the producer never blocks
                try {
                    const auto t0 = clock_type::now();
                    side->add(d);
                    side_busy_ms += ms_since(t0);
                } catch (...) {
                    side_error = std::current_exception();
                }
            }
            if (side_error || !queue.complete()) return;
            try {
                const auto t0 = clock_type::now();
                side_summary = side->commit();  // renamed into place before the capsule is
                side_busy_ms += ms_since(t0);
            } catch (...) {
                side_error = std::current_exception();
            }
        });
    }
    struct joiner {
        doc_queue& q;
        std::thread& t;
        ~joiner() {
            q.close();
            if (t.joinable()) t.join();
        }
    } join_on_exit{queue, side_thread};

    progress(stage::write_capsule, 65);
    for (std::size_t i = 0; i < total; ++i) {
        if (i % 256 == 0) check_cancel();
        if (i && i % 8192 == 0) progress(stage::write_capsule, 65.0 + 25.0 * double(i) / double(total));
        transform::frame_document doc;
        {
            timer tm{res.transform_ms};
            doc = frames.build(i);
        }
        if (doc.kind == transform::frame_kind::node) {
            switch (doc.snippet) {
                case transform::snippet_source::exact: ++res.snippets_exact; break;
                case transform::snippet_source::partial: ++res.snippets_partial; break;
                default: ++res.snippets_absent; break;
            }
        }
        {
            timer tm{res.write_ms};
            mv2::frame_input in;
            in.title = doc.title;
            in.uri = doc.uri;
            in.track = doc.track;
            in.text = doc.text;
            if (!doc.search_body.empty()) in.search_body = doc.search_body;
            // A relation's URI is built from both node ids; in search_text it would
            // repeat the node names and outrank the nodes themselves.
            in.search_uri = doc.kind != transform::frame_kind::relation;
            in.timestamp = created_at;
            in.labels.push_back(doc.label);
            in.tags.reserve(doc.tags.size());
            for (const auto& [k, v] : doc.tags) {
                in.tags.push_back(k + "=" + v);
                in.extra_metadata.emplace_back(k, v);
            }
            if (!vectors.empty()) {
                in.embedding = std::span<const float>(vectors.data() + i * ident.dimension, ident.dimension);
                in.extra_metadata.emplace_back("memvid.embedding.provider", ident.provider);
                in.extra_metadata.emplace_back("memvid.embedding.model", ident.model);
                in.extra_metadata.emplace_back("memvid.embedding.dimension", std::to_string(ident.dimension));
                in.extra_metadata.emplace_back("memvid.embedding.normalized", ident.normalized ? "true" : "false");
            }
            writer.add(in);
        }
        if (side) queue.push(std::move(doc));
    }
    queue.finish();  // every frame is queued: the sidecar thread may commit
    mv2::writer_summary summary;
    try {
        timer tm{res.write_ms};
        summary = writer.finish();  // runs while the sidecar commits
    } catch (...) {
        if (side_thread.joinable()) side_thread.join();
        if (side_summary) ::unlink(side_summary->path.c_str());  // no sidecar without its capsule
        throw;
    }
    if (side_thread.joinable()) side_thread.join();
    if (side_error) std::rethrow_exception(side_error);
    res.sidecar_ms = side_busy_ms;
    if (side_summary) {
        res.sidecar_path = side_summary->path;
        res.sidecar_nodes = side_summary->nodes;
        res.sidecar_edges = side_summary->edges;
    } else {
        res.sidecar_status = "skipped";
        res.sidecar_reason = "disabled by --no-sidecar";
    }
    try {
        check_cancel();
        progress(stage::finalize, 95);
        timer tm{res.write_ms};
        writer.publish();
    } catch (...) {
        if (side_summary) ::unlink(side_summary->path.c_str());
        throw;
    }
    res.size_bytes = summary.bytes;
    res.frames = summary.frames;
    res.vectors = summary.vectors;
    if (!opts.writer.native_lex)
        res.native_lex = "disabled";
    else if (summary.native_lex_stub)
        res.native_lex = "empty: the full index would exceed memvid's 512 MiB blob limit";
    res.artifact_path = std::filesystem::absolute(capsule_path);
    if (!res.sidecar_path.empty()) res.sidecar_path = std::filesystem::absolute(res.sidecar_path);
    return res;
}

std::string pack_result::to_json() const {
    json_out::object side;
    side.str("status", sidecar_status);
    if (sidecar_status == "ready") {
        side.str("sidecarPath", sidecar_path.string())
            .raw("nodes", json_out::u64(sidecar_nodes))
            .raw("edges", json_out::u64(sidecar_edges));
    } else {
        side.str("reason", sidecar_reason);
    }
    auto r3 = [](double v) { return json_out::f64(std::round(v * 1000.0) / 1000.0); };
    json_out::object timings;
    timings.raw("parseMs", r3(parse_ms))
        .raw("transformMs", r3(transform_ms))
        .raw("embedMs", r3(embed_ms))
        .raw("writeMs", r3(write_ms))
        .raw("sidecarMs", r3(sidecar_ms));
    json_out::object snippets;
    snippets.raw("exact", json_out::u64(snippets_exact))
        .raw("partial", json_out::u64(snippets_partial))
        .raw("absent", json_out::u64(snippets_absent))
        .raw("compactFileContents", json_out::boolean(compact_contents));
    json_out::object o;
    o.str("backend", "native-cpp")
        .str("jobId", job_id)
        .str("fileName", file_name)
        .str("artifactPath", artifact_path.string())
        .str("artifactRef", "file://" + artifact_path.string())
        .raw("sizeBytes", json_out::u64(size_bytes))
        .raw("frames", json_out::u64(frames))
        .raw("nodeFrames", json_out::u64(node_frames))
        .raw("relationFrames", json_out::u64(relation_frames))
        .raw("vectors", json_out::u64(vectors))
        .str("embeddingMode", embedding_mode)
        .str("embeddingProvider", embedding_provider)
        .str("embeddingModel", embedding_model)
        .raw("sidecar", side.str())
        .raw("timings", timings.str())
        .raw("snippets", snippets.str())
        .raw("repairedFileContentChars", json_out::u64(repaired_chars))
        .raw("repairedLoneSurrogates", json_out::u64(repaired_surrogates))
        .raw("lenient",
             [&] {
                 json_out::object l;
                 l.raw("missingFilePath", json_out::u64(lenient.missing_file_path))
                     .raw("defaultConfidence", json_out::u64(lenient.default_confidence))
                     .raw("defaultReason", json_out::u64(lenient.default_reason))
                     .raw("nullStep", json_out::u64(lenient.null_step))
                     .raw("duplicateRelationshipIds", json_out::u64(lenient.duplicate_relationship_ids))
                     .raw("nodesWithExtraProperties", json_out::u64(lenient.nodes_with_extra_properties))
                     .raw("relationshipsWithExtraMembers", json_out::u64(lenient.relationships_with_extra_members));
                 return l.str();
             }())
        .raw("payloadBytes", json_out::u64(payload_bytes))
        .str("nativeLexicalIndex", native_lex);
    if (embedding) {
        json_out::object e;
        e.str("provider", embedding_identity_provider)
            .str("model", embedding_identity_model)
            .raw("dimension", json_out::u64(embedding_dimension))
            .str("backend", embedding->backend)
            .str("device", embedding->device)
            .str("precision", embedding->precision)
            .raw("texts", json_out::u64(embedding->texts))
            .raw("tokens", json_out::u64(embedding->tokens))
            .raw("truncatedTexts", json_out::u64(embedding->truncated_texts))
            .raw("truncatedTokens", json_out::u64(embedding->truncated_tokens));
        o.raw("embedding", e.str());
    }
    return o.str();
}

}  // namespace mvx::pack
