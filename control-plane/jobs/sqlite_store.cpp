#include "control-plane/jobs/sqlite_store.hpp"

#include "common/core/error.hpp"
#include "common/core/json_text.hpp"
#include "control-plane/jobs/wire.hpp"
#include "control-plane/observability/log.hpp"

#include <sqlite3.h>
#include <boost/json/parse.hpp>

namespace json = boost::json;
namespace fs = std::filesystem;

namespace mvx::cp {
namespace {

// A prepared statement; a failed prepare throws (a bug or a broken database).
struct stmt {
    sqlite3_stmt* s = nullptr;
    stmt(sqlite3* db, const char* sql) {
        if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK)
            throw error(error_kind::io, "STORE_FAILED", std::string("job store: ") + sqlite3_errmsg(db));
    }
    ~stmt() { sqlite3_finalize(s); }
    stmt(const stmt&) = delete;
    stmt& operator=(const stmt&) = delete;
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
    std::int64_t col_i64(int i) { return sqlite3_column_int64(s, i); }
};

class sqlite_store final : public job_store {
public:
    explicit sqlite_store(fs::path file) : file_(std::move(file)) {
        if (sqlite3_open_v2(file_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
            SQLITE_OK) {
            const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            db_ = nullptr;
            throw error(error_kind::io, "INVALID_CONFIG",
                        "cannot open the job store " + file_.string() + ": " + why +
                            " (MEMVID_EXPORT_ROOT must be a writable directory)");
        }
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA synchronous=NORMAL");
        exec("PRAGMA busy_timeout=5000");
        exec("CREATE TABLE IF NOT EXISTS jobs(id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, doc TEXT NOT NULL)");
        exec(
            "CREATE TABLE IF NOT EXISTS events(job_id TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, doc TEXT NOT "
            "NULL, "
            "PRIMARY KEY(job_id, seq)) WITHOUT ROWID");
        exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)");
        exec("INSERT OR IGNORE INTO meta(key, value) VALUES('schema', 'memvid-export.jobs.v1')");
    }
    ~sqlite_store() override {
        if (db_) sqlite3_close(db_);
    }

    std::string describe() const override { return file_.string(); }

    std::vector<std::unique_ptr<job>> load(std::size_t ring) override {
        std::vector<std::unique_ptr<job>> out;
        stmt q(db_, "SELECT doc FROM jobs ORDER BY created_ms, id");
        while (q.step() == SQLITE_ROW) {
            json::error_code jec;
            auto v = json::parse(q.col_text(0), jec);
            if (jec || !v.is_object()) continue;
            auto j = wire::from_doc(v.as_object());
            stmt e(db_,
                   "SELECT seq, type, doc FROM (SELECT seq, type, doc FROM events WHERE job_id = ? ORDER BY seq DESC LIMIT ?) "
                   "ORDER BY seq");
            e.text(1, j->id).i64(2, std::int64_t(ring));
            while (e.step() == SQLITE_ROW) j->ring.push_back(event{std::uint64_t(e.col_i64(0)), e.col_text(1), e.col_text(2)});
            out.push_back(std::move(j));
        }
        return out;
    }

    bool save(const job& j) override {
        sqlite3_stmt* st = nullptr;
        const char* sql =
            "INSERT INTO jobs(id, created_ms, doc) VALUES(?, ?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc";
        const std::string doc = to_text(wire::to_doc(j));
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

    bool append(const job& j, const event& e) override {
        // One transaction for the event and the job; any failure rolls both back
        // (logged: the job goes on in memory, the store stays usable).
        if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
            log_line(log_level::error, std::string("job store: cannot begin a transaction: ") + sqlite3_errmsg(db_), j.id);
            return false;
        }
        sqlite3_stmt* st = nullptr;
        bool ok = sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO events(job_id, seq, type, doc) VALUES(?, ?, ?, ?)", -1, &st,
                                     nullptr) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_text(st, 1, j.id.data(), int(j.id.size()), SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, std::int64_t(e.seq));
            sqlite3_bind_text(st, 3, e.type.data(), int(e.type.size()), SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 4, e.json.data(), int(e.json.size()), SQLITE_TRANSIENT);
            ok = sqlite3_step(st) == SQLITE_DONE;
        }
        sqlite3_finalize(st);
        ok = ok && save(j) && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
        if (!ok) {
            log_line(log_level::error,
                     std::string("job store: event ") + std::to_string(e.seq) + " not stored: " + sqlite3_errmsg(db_), j.id);
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        }
        return ok;
    }

    std::vector<event> events_after(const std::string& id, std::uint64_t since, std::size_t limit) override {
        std::vector<event> out;
        stmt s(db_, "SELECT seq, type, doc FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?");
        s.text(1, id).i64(2, std::int64_t(since)).i64(3, std::int64_t(limit));
        while (s.step() == SQLITE_ROW) out.push_back(event{std::uint64_t(s.col_i64(0)), s.col_text(1), s.col_text(2)});
        return out;
    }

    void remove_events(const std::string& id) override {
        stmt d(db_, "DELETE FROM events WHERE job_id = ?");
        d.text(1, id);
        d.step();
    }

    void remove_job(const std::string& id) override {
        if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) return;
        stmt e(db_, "DELETE FROM events WHERE job_id = ?");
        e.text(1, id);
        const bool ok_events = e.step() == SQLITE_DONE;
        stmt d(db_, "DELETE FROM jobs WHERE id = ?");
        d.text(1, id);
        const bool ok_job = d.step() == SQLITE_DONE;
        if (ok_events && ok_job && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK) return;
        log_line(log_level::error, std::string("job store: could not remove the job: ") + sqlite3_errmsg(db_), id);
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }

private:
    void exec(const char* sql) {
        char* err = nullptr;
        if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
            std::string m = err ? err : "unknown error";
            sqlite3_free(err);
            throw error(error_kind::io, "STORE_FAILED", "job store (" + file_.string() + "): " + m);
        }
    }

    fs::path file_;
    sqlite3* db_ = nullptr;
};

}  // namespace

std::unique_ptr<job_store> open_sqlite_store(const fs::path& file) { return std::make_unique<sqlite_store>(file); }

}  // namespace mvx::cp
