#include "common/sidecar/sidecar.hpp"

#include "common/core/error.hpp"
#include "common/core/file.hpp"
#include "common/core/json_out.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace mvx::sidecar {
namespace {

constexpr const char* k_schema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes_by_id (node_id TEXT PRIMARY KEY, node_label TEXT NOT NULL, node_name TEXT NOT NULL,
  file_path TEXT NOT NULL, start_line INTEGER, end_line INTEGER, language TEXT, uri TEXT NOT NULL, title TEXT NOT NULL,
  search_text TEXT NOT NULL, metadata_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes_by_label (node_label TEXT NOT NULL, node_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS nodes_by_file (file_path TEXT NOT NULL, node_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS symbols_by_name_normalized (symbol_norm TEXT NOT NULL, symbol TEXT NOT NULL,
  node_id TEXT NOT NULL, file_path TEXT NOT NULL, node_label TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edges (edge_id TEXT PRIMARY KEY, relation_type TEXT NOT NULL, source_id TEXT NOT NULL,
  target_id TEXT NOT NULL, confidence REAL NOT NULL, reason TEXT NOT NULL, step INTEGER, uri TEXT NOT NULL,
  search_text TEXT NOT NULL, metadata_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edges_by_source_type (source_id TEXT NOT NULL, relation_type TEXT NOT NULL,
  edge_id TEXT NOT NULL, target_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edges_by_target_type (target_id TEXT NOT NULL, relation_type TEXT NOT NULL,
  edge_id TEXT NOT NULL, source_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS process_steps_by_process_id (process_id TEXT NOT NULL, step INTEGER NOT NULL,
  function_id TEXT NOT NULL, relation_uri TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fulltext_lexical_index (ref_kind TEXT NOT NULL, ref_id TEXT NOT NULL, uri TEXT NOT NULL,
  track TEXT NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hotspots (file_path TEXT PRIMARY KEY, calls_count INTEGER NOT NULL,
  node_count INTEGER NOT NULL, score REAL NOT NULL);
CREATE TABLE IF NOT EXISTS community_membership (community_id TEXT NOT NULL, node_id TEXT NOT NULL,
  node_label TEXT NOT NULL, node_name TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_nodes_label ON nodes_by_label(node_label);
CREATE INDEX IF NOT EXISTS idx_nodes_file ON nodes_by_file(file_path);
CREATE INDEX IF NOT EXISTS idx_symbols_norm ON symbols_by_name_normalized(symbol_norm);
CREATE INDEX IF NOT EXISTS idx_edges_source_type ON edges_by_source_type(source_id, relation_type);
CREATE INDEX IF NOT EXISTS idx_edges_target_type ON edges_by_target_type(target_id, relation_type);
CREATE INDEX IF NOT EXISTS idx_process_steps ON process_steps_by_process_id(process_id, step);
CREATE INDEX IF NOT EXISTS idx_fulltext_kind ON fulltext_lexical_index(ref_kind);
CREATE INDEX IF NOT EXISTS idx_fulltext_uri ON fulltext_lexical_index(uri);
CREATE INDEX IF NOT EXISTS idx_community_id ON community_membership(community_id);
)sql";

// SQLite's message, with the operating system's reason when there is one.
// SQLite does not always keep the errno of a failed write (at COMMIT it is 0),
// so a failed write is also checked against the usual causes.
std::string describe(sqlite3* db, const std::filesystem::path& file) {
    std::string m = sqlite3_errmsg(db);
    const int err = sqlite3_system_errno(db);
    const int code = sqlite3_errcode(db) & 0xFF;
    if (code != SQLITE_IOERR && code != SQLITE_FULL && code != SQLITE_CANTOPEN) return m;
    if (err) return m + ": " + describe_errno(err);
    struct rlimit rl {};
    if (::getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        return m + ": " + describe_errno(EFBIG) + " (limit " + std::to_string(rl.rlim_cur) + " bytes)";
    auto dir = file.parent_path();
    if (dir.empty()) dir = ".";
    struct statvfs vfs {};
    if (::statvfs(dir.c_str(), &vfs) == 0 && vfs.f_bavail * vfs.f_frsize < (16u << 20)) return m + ": " + describe_errno(ENOSPC);
    return m;
}

class statement {
public:
    statement(sqlite3* db, const char* sql, const std::filesystem::path& p) : db_(db), path_(p) {
        if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) fail("prepare");
    }
    ~statement() { sqlite3_finalize(st_); }
    statement& text(int i, std::string_view s) {
        sqlite3_bind_text64(st_, i, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8);  // stepped before s changes
        return *this;
    }
    statement& integer(int i, std::optional<std::uint64_t> v) {
        if (v)
            sqlite3_bind_int64(st_, i, static_cast<sqlite3_int64>(*v));
        else
            sqlite3_bind_null(st_, i);
        return *this;
    }
    statement& real(int i, double v) {
        sqlite3_bind_double(st_, i, v);
        return *this;
    }
    statement& opt_text(int i, const std::optional<std::string_view>& s) {
        if (s)
            text(i, *s);
        else
            sqlite3_bind_null(st_, i);
        return *this;
    }
    void run() {
        if (sqlite3_step(st_) != SQLITE_DONE) fail("insert");
        sqlite3_reset(st_);
        sqlite3_clear_bindings(st_);
    }

private:
    [[noreturn]] void fail(const char* what) {
        throw_io(std::string("sidecar ") + path_.string() + ": " + what + " failed: " + describe(db_, path_));
    }
    sqlite3* db_;
    sqlite3_stmt* st_ = nullptr;
    const std::filesystem::path& path_;
};

void exec(sqlite3* db, const char* sql, const std::filesystem::path& p) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
        sqlite3_free(msg);
        throw_io("sidecar " + p.string() + ": " + describe(db, p));
    }
}

}  // namespace

std::string normalize_symbol(std::string_view name) {
    std::string out;
    bool pending_space = false;
    for (unsigned char c : name) {
        if (std::isalnum(c) || c == '_') {
            if (pending_space && !out.empty()) out += ' ';
            pending_space = false;
            out += static_cast<char>(std::tolower(c));
        } else if ((c & 0xC0) != 0x80) {
            pending_space = true;  // one space per non-matching character (a UTF-8 scalar)
        }
    }
    return out;
}

std::filesystem::path path_for_capsule(const std::filesystem::path& capsule) {
    auto p = capsule;
    p += ".index.v1.sqlite";
    return p;
}

struct builder::impl {
    const contract::export_request& req;
    std::filesystem::path target, temp;
    std::string generated_at;
    sqlite3* db = nullptr;
    bool committed = false;
    std::unique_ptr<statement> ins_node, ins_by_label, ins_by_file, ins_edge, ins_by_src, ins_by_tgt, ins_fulltext;
    std::vector<std::size_t> node_rows, edge_rows;
    std::string manifest_json;
    bool has_ai_bible = false, has_manifest = false;
    std::size_t fulltext = 0;

    impl(std::filesystem::path capsule, const contract::export_request& r, std::string gen)
        : req(r), target(path_for_capsule(capsule)), generated_at(std::move(gen)) {
        auto dir = target.parent_path();
        if (dir.empty()) dir = ".";
        std::string tmpl = temp_template(dir, target);
        const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
        if (fd < 0) throw_errno("cannot create a file in", dir, errno);
        ::fchmod(fd, 0644);
        ::close(fd);
        temp = tmpl;
        if (sqlite3_open_v2(temp.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
            std::string m = db ? sqlite3_errmsg(db) : "out of memory";
            cleanup();
            throw_io("sidecar " + temp.string() + ": " + m);
        }
        try {
            // Built in one transaction without a journal (the file is renamed in only when
            // complete); switched to WAL at the end like the original's sidecars.
            exec(db,
                 "PRAGMA page_size=16384; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; "
                 "PRAGMA locking_mode=EXCLUSIVE; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-2000;",
                 target);
            exec(db, k_schema, target);
            exec(db, "BEGIN", target);
            ins_node = std::make_unique<statement>(
                db,
                "INSERT INTO nodes_by_id(node_id,node_label,node_name,file_path,start_line,end_line,language,uri,title,"
                "search_text,metadata_json) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                target);
            ins_by_label =
                std::make_unique<statement>(db, "INSERT INTO nodes_by_label(node_label,node_id) VALUES(?1,?2)", target);
            ins_by_file = std::make_unique<statement>(db, "INSERT INTO nodes_by_file(file_path,node_id) VALUES(?1,?2)", target);
            ins_edge = std::make_unique<statement>(
                db,
                "INSERT INTO edges(edge_id,relation_type,source_id,target_id,confidence,reason,step,uri,search_text,"
                "metadata_json) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                target);
            ins_by_src = std::make_unique<statement>(
                db, "INSERT INTO edges_by_source_type(source_id,relation_type,edge_id,target_id) VALUES(?1,?2,?3,?4)", target);
            ins_by_tgt = std::make_unique<statement>(
                db, "INSERT INTO edges_by_target_type(target_id,relation_type,edge_id,source_id) VALUES(?1,?2,?3,?4)", target);
            ins_fulltext = std::make_unique<statement>(
                db, "INSERT INTO fulltext_lexical_index(ref_kind,ref_id,uri,track,text) VALUES(?1,?2,?3,?4,?5)", target);
        } catch (...) {
            cleanup();
            throw;
        }
    }
    void cleanup() {
        ins_node.reset();
        ins_by_label.reset();
        ins_by_file.reset();
        ins_edge.reset();
        ins_by_src.reset();
        ins_by_tgt.reset();
        ins_fulltext.reset();
        if (db) sqlite3_close(db);
        db = nullptr;
        if (!committed && !temp.empty()) {
            ::unlink(temp.c_str());
            ::unlink((temp.string() + "-wal").c_str());
            ::unlink((temp.string() + "-shm").c_str());
        }
    }
    ~impl() { cleanup(); }
};

builder::builder(std::filesystem::path capsule_path, const contract::export_request& req, std::string generated_at)
    : impl_(std::make_unique<impl>(std::move(capsule_path), req, std::move(generated_at))) {}
builder::~builder() = default;

void builder::add(const transform::frame_document& d) {
    auto& m = *impl_;
    const char* kind = "node";
    switch (d.kind) {
        case transform::frame_kind::relation: kind = "relation"; break;
        case transform::frame_kind::manifest: kind = "manifest"; break;
        case transform::frame_kind::ai_bible:
            kind = "ai_bible";
            m.has_ai_bible = true;
            break;
        default: break;
    }
    m.ins_fulltext->text(1, kind).text(2, d.uri).text(3, d.uri).text(4, d.track).text(5, d.text).run();
    ++m.fulltext;
    if (d.kind == transform::frame_kind::manifest) {
        m.manifest_json = d.metadata_json;
        m.has_manifest = true;
    } else if (d.kind == transform::frame_kind::node) {
        const auto& n = m.req.nodes[d.source_index];
        m.ins_node->text(1, n.id)
            .text(2, n.label)
            .text(3, n.properties.name)
            .text(4, n.properties.file_path)
            .integer(5, n.properties.start_line)
            .integer(6, n.properties.end_line)
            .opt_text(7, n.properties.language)
            .text(8, d.uri)
            .text(9, d.title)
            .text(10, d.text)
            .text(11, d.metadata_json)
            .run();
        m.ins_by_label->text(1, n.label).text(2, n.id).run();
        m.ins_by_file->text(1, n.properties.file_path).text(2, n.id).run();
        m.node_rows.push_back(d.source_index);
    } else if (d.kind == transform::frame_kind::relation) {
        const auto& r = m.req.relationships[d.source_index];
        m.ins_edge->text(1, r.id)
            .text(2, r.type)
            .text(3, r.source_id)
            .text(4, r.target_id)
            .real(5, r.confidence)
            .text(6, r.reason)
            .integer(7, r.step)
            .text(8, d.uri)
            .text(9, d.text)
            .text(10, d.metadata_json)
            .run();
        m.ins_by_src->text(1, r.source_id).text(2, r.type).text(3, r.id).text(4, r.target_id).run();
        m.ins_by_tgt->text(1, r.target_id).text(2, r.type).text(3, r.id).text(4, r.source_id).run();
        m.edge_rows.push_back(d.source_index);
    }
}

sidecar_summary builder::commit() {
    auto& m = *impl_;
    const auto& req = m.req;
    sqlite3* db = m.db;

    // meta
    {
        json_out::object caps;
        caps.str("schemaVersion", "gitnexus.mcp.v1")
            .str("indexSchemaVersion", "gitnexus.mcp.index.v1")
            .raw("supportsSemanticFallback", json_out::boolean(req.options.semantic_enabled))
            .raw("hasAiBible", json_out::boolean(m.has_ai_bible))
            .raw("hasManifest", json_out::boolean(m.has_manifest))
            .raw("nodeCount", json_out::u64(m.node_rows.size()))
            .raw("edgeCount", json_out::u64(m.edge_rows.size()))
            .raw("fulltextCount", json_out::u64(m.fulltext));
        statement meta(db, "INSERT INTO meta(key,value) VALUES(?1,?2)", m.target);
        meta.text(1, "index_schema_version").text(2, "gitnexus.mcp.index.v1").run();
        meta.text(1, "generated_at").text(2, m.generated_at).run();
        meta.text(1, "manifest_json").text(2, m.has_manifest ? m.manifest_json : "null").run();
        meta.text(1, "capabilities_json").text(2, caps.str()).run();
    }

    // symbols_by_name_normalized
    {
        statement ins(db,
                      "INSERT INTO symbols_by_name_normalized(symbol_norm,symbol,node_id,file_path,node_label) "
                      "VALUES(?1,?2,?3,?4,?5)",
                      m.target);
        std::unordered_set<std::string> seen;
        for (std::size_t i : m.node_rows) {
            const auto& n = req.nodes[i];
            const auto norm = normalize_symbol(n.properties.name);
            if (norm.empty()) continue;
            if (!seen.insert(norm + "|" + std::string(n.id)).second) continue;
            ins.text(1, norm).text(2, n.properties.name).text(3, n.id).text(4, n.properties.file_path).text(5, n.label).run();
        }
    }

    // process_steps_by_process_id
    {
        struct step {
            std::string process_id;
            std::uint64_t step;
            std::string function_id, uri;
        };
        std::vector<step> steps;
        for (std::size_t i : m.edge_rows) {
            const auto& r = req.relationships[i];
            if (r.type != "STEP_IN_PROCESS") continue;
            const std::string uri = "mv2://relations/" + std::string(r.id);
            std::string process_id;
            if (r.target_id.find("proc_") != std::string_view::npos)
                process_id = r.target_id;
            else if (r.source_id.find("proc_") != std::string_view::npos)
                process_id = r.source_id;
            else if (auto pos = uri.find("_proc_"); pos != std::string::npos)
                process_id = uri.substr(pos + 1);
            else
                continue;
            std::string function_id(r.source_id.find("proc_") != std::string_view::npos ? r.target_id : r.source_id);
            steps.push_back({std::move(process_id), r.step.value_or(0), std::move(function_id), uri});
        }
        std::stable_sort(steps.begin(), steps.end(), [](const step& a, const step& b) {
            return std::tie(a.process_id, a.step, a.function_id) < std::tie(b.process_id, b.step, b.function_id);
        });
        statement ins(db,
                      "INSERT INTO process_steps_by_process_id(process_id,step,function_id,relation_uri) "
                      "VALUES(?1,?2,?3,?4)",
                      m.target);
        for (const auto& s : steps) ins.text(1, s.process_id).integer(2, s.step).text(3, s.function_id).text(4, s.uri).run();
    }

    // hotspots: score = 10 * CALLS edges from the file's nodes + nodes in the file.
    {
        std::unordered_map<std::string_view, std::string_view> node_file;
        for (std::size_t i : m.node_rows) node_file.emplace(req.nodes[i].id, req.nodes[i].properties.file_path);
        std::map<std::string_view, std::pair<std::uint64_t, std::uint64_t>> by_file;  // calls, nodes
        for (std::size_t i : m.edge_rows) {
            const auto& r = req.relationships[i];
            if (r.type != "CALLS") continue;
            if (auto it = node_file.find(r.source_id); it != node_file.end()) ++by_file[it->second].first;
        }
        for (std::size_t i : m.node_rows)
            if (!req.nodes[i].properties.file_path.empty()) ++by_file[req.nodes[i].properties.file_path].second;
        struct hot {
            std::string_view file;
            std::uint64_t calls, nodes;
            double score;
        };
        std::vector<hot> hots;
        for (auto& [f, cn] : by_file) hots.push_back({f, cn.first, cn.second, cn.first * 10.0 + cn.second});
        std::stable_sort(hots.begin(), hots.end(), [](const hot& a, const hot& b) {
            if (a.score != b.score) return a.score > b.score;
            return a.file < b.file;
        });
        statement ins(db, "INSERT INTO hotspots(file_path,calls_count,node_count,score) VALUES(?1,?2,?3,?4)", m.target);
        for (const auto& h : hots) ins.text(1, h.file).integer(2, h.calls).integer(3, h.nodes).real(4, h.score).run();
    }

    // community_membership
    {
        statement ins(db, "INSERT INTO community_membership(community_id,node_id,node_label,node_name) VALUES(?1,?2,?3,?4)",
                      m.target);
        for (std::size_t i : m.node_rows) {
            const auto& n = req.nodes[i];
            if (!n.properties.communities) continue;
            for (auto c : *n.properties.communities)
                ins.text(1, c).text(2, n.id).text(3, n.label).text(4, n.properties.name).run();
        }
    }

    m.ins_node.reset();
    m.ins_by_label.reset();
    m.ins_by_file.reset();
    m.ins_edge.reset();
    m.ins_by_src.reset();
    m.ins_by_tgt.reset();
    m.ins_fulltext.reset();
    exec(db, "COMMIT", m.target);
    exec(db, "PRAGMA journal_mode=WAL", m.target);
    if (sqlite3_close(db) != SQLITE_OK) throw_io("sidecar " + m.target.string() + ": close failed: " + describe(db, m.target));
    m.db = nullptr;
    {
        const int fd = ::open(m.temp.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || ::fsync(fd) != 0) {
            const int err = errno;
            if (fd >= 0) ::close(fd);
            throw_errno("cannot sync", m.temp, err);
        }
        ::close(fd);
    }
    if (::rename(m.temp.c_str(), m.target.c_str()) != 0) throw_errno("cannot rename into", m.target, errno);
    m.committed = true;
    sidecar_summary s;
    s.path = m.target;
    s.nodes = m.node_rows.size();
    s.edges = m.edge_rows.size();
    s.fulltext = m.fulltext;
    return s;
}

}  // namespace mvx::sidecar
