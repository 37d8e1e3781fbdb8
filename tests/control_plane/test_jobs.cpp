// Jobs: every transition of the state machine (illegal ones refused), and the
// registry, local queue and housekeeping against a real SQLite store in a
// temporary folder, across a restart.
#include "common/contract/job_protocol.hpp"
#include "control-plane/jobs/housekeeping.hpp"
#include "control-plane/jobs/local_queue.hpp"
#include "control-plane/jobs/registry.hpp"
#include "control-plane/jobs/sqlite_store.hpp"
#include "control-plane/jobs/state_machine.hpp"
#include "control-plane/jobs/wire.hpp"
#include "control-plane/observability/log.hpp"
#include "control-plane/routes/table.hpp"
#include "tests/common/test_helpers.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <map>

using namespace mvx;
using namespace mvx::cp;
namespace fs = std::filesystem;
namespace json = boost::json;

TEST_CASE("state machine: every transition from every status", "[jobs]") {
    using S = job_status;
    using T = transition;
    // The whole table: (from, transition) -> to; everything else is refused.
    const std::map<std::pair<S, T>, S> legal = {
        {{S::queued, T::take}, S::running},      {{S::queued, T::submit}, S::running},
        {{S::running, T::requeue}, S::queued},   {{S::running, T::complete}, S::completed},
        {{S::queued, T::fail}, S::failed},       {{S::running, T::fail}, S::failed},
        {{S::queued, T::cancel}, S::canceled},   {{S::running, T::cancel}, S::canceled},
        {{S::completed, T::expire}, S::expired},
    };
    std::size_t refused = 0;
    for (auto from : {S::queued, S::running, S::completed, S::failed, S::canceled, S::expired}) {
        for (auto t : {T::take, T::submit, T::requeue, T::complete, T::fail, T::cancel, T::expire}) {
            INFO(to_string(from) << " --" << to_string(t) << "-->");
            job j;
            j.status = from;
            auto it = legal.find({from, t});
            if (it != legal.end()) {
                CHECK(next_status(from, t) == it->second);
                CHECK(apply(j, t));
                CHECK(j.status == it->second);
            } else {
                ++refused;
                CHECK_FALSE(next_status(from, t).has_value());
                CHECK_FALSE(apply(j, t));
                CHECK(j.status == from);  // unchanged
            }
        }
    }
    CHECK(refused == 6 * 7 - legal.size());
    for (auto s : {S::completed, S::failed, S::canceled, S::expired}) CHECK(is_terminal(s));
    CHECK_FALSE(is_terminal(S::queued));
    CHECK(parse_job_status("canceled") == S::canceled);
    CHECK_FALSE(parse_job_status("cancelled").has_value());
    CHECK(stage_of_worker("upload") == job_stage::finalize);
    CHECK(stage_of_worker("frame_prep") == job_stage::frame_prep);
    CHECK_FALSE(stage_of_worker("warp").has_value());
}

namespace {

struct plane {
    test::temp_dir dir;
    std::map<std::string, std::string> vars;
    config cfg;
    metrics mx{metric_labels()};
    std::unique_ptr<job_store> store;
    std::unique_ptr<job_registry> jobs;
    std::unique_ptr<local_queue> queue;

    explicit plane(std::map<std::string, std::string> extra = {}) {
        vars = {{"MEMVID_EXPORT_API_KEY", "jobs-test-key-0123456789"},
                {"MEMVID_EXPORT_ROOT", dir.path.string()},
                {"MEMVID_LOCAL_QUEUE_LEASE_SECONDS", "2"},
                {"MEMVID_LOCAL_QUEUE_MAX_ATTEMPTS", "2"}};
        for (auto& [k, v] : extra) vars[k] = v;
        std::vector<std::string> w;
        cfg = load_config(map_env(vars), w);
        prepare_roots(cfg);
        set_log_level(log_level::error);
        start();
    }
    job_registry::restored start() {
        queue.reset();
        jobs.reset();
        store = open_sqlite_store(dir.path / "jobs.sqlite3");
        jobs = std::make_unique<job_registry>(cfg, *store, mx);
        auto r = jobs->open();
        queue = std::make_unique<local_queue>(*jobs);
        for (auto& id : r.queued) queue->enqueue(id);
        return r;
    }
    std::string admit(const std::string& idem = "") {
        const std::string id = new_uuid4();
        const auto part = jobs->part_file(id);
        std::ofstream(part) << "{}";
        staged_body b;
        b.part_file = part;
        b.bytes = 2;
        b.nodes = 3;
        b.relationships = 4;
        b.hash = "h";
        b.idem_key = idem;
        auto res = jobs->admit(id, b);
        REQUIRE(std::holds_alternative<admitted>(res));
        queue->enqueue(id);
        return std::get<admitted>(res).job_id;
    }
    json::object status(const std::string& id) { return json::parse(*jobs->status_json(id)).as_object(); }
    std::vector<std::string> event_types(const std::string& id) {
        std::vector<event> ev;
        std::string code;
        jobs->events_since(id, 0, 1000, ev, code);
        std::vector<std::string> t;
        for (auto& e : ev) t.push_back(e.type);
        return t;
    }
};

}  // namespace

TEST_CASE("registry: admit, idempotency, cancel, and a restart continues where it stopped", "[jobs]") {
    plane p;
    const auto a = p.admit("key-1");
    CHECK(fs::exists(p.jobs->payload_file(a)));  // the staged body renamed into place
    CHECK(p.status(a).at("status") == "queued");
    // The same key and body: the same job; another body: 409.
    {
        staged_body again;
        again.part_file = p.jobs->part_file("x");
        std::ofstream(again.part_file) << "{}";
        again.hash = "h";
        again.idem_key = "key-1";
        auto res = p.jobs->admit(new_uuid4(), again);
        REQUIRE(std::holds_alternative<admitted>(res));
        CHECK(std::get<admitted>(res).existing);
        CHECK(std::get<admitted>(res).job_id == a);
        again.hash = "other";
        std::ofstream(again.part_file) << "{}";
        res = p.jobs->admit(new_uuid4(), again);
        REQUIRE(std::holds_alternative<api_error>(res));
        CHECK(std::get<api_error>(res).http == 409);
    }
    const auto b = p.admit();
    auto c = p.jobs->cancel(b);
    REQUIRE(std::holds_alternative<job_registry::canceled>(c));
    CHECK(p.status(b).at("status") == "canceled");
    CHECK(p.event_types(b) == std::vector<std::string>{"stage_progress", "job_canceled"});
    p.jobs->cancel(b);  // a second cancel changes nothing
    CHECK(p.event_types(b).size() == 2);
    CHECK(std::holds_alternative<api_error>(p.jobs->cancel(new_uuid4())));

    // Restart: the queued job is queued again, the canceled one stays canceled, events survive.
    const auto r = p.start();
    CHECK(r.total == 2);
    CHECK(r.queued == std::vector<std::string>{a});
    CHECK(p.status(b).at("status") == "canceled");
    CHECK(p.event_types(b).size() == 2);
    CHECK(p.status(a).at("lastEventSeq") == 1);
}

TEST_CASE("local queue: take, progress, a late post from a lost lease, re-queue and give up", "[jobs]") {
    plane p;
    const auto id = p.admit();
    auto taken = p.queue->take("w1");
    REQUIRE(taken);
    const auto job = json::parse(*taken).as_object();
    const std::string qid(job.at("id").as_string());
    CHECK(qid == id + "-a1");
    CHECK(job.at("input").at("output_prefix").as_string().ends_with("/a1"));
    CHECK_FALSE(p.queue->take("w2"));  // nothing else queued
    CHECK(p.status(id).at("status") == "running");

    CHECK(
        p.queue->job_done("w1", qid, json::parse(R"({"status":"IN_PROGRESS","output":{"stage":"frame_prep","progress":40}})")) ==
        local_queue::done_result::ok);
    CHECK(p.status(id).at("currentStage") == "frame_prep");
    CHECK(p.queue->job_done("w2", qid, json::parse("{}")) == local_queue::done_result::lease_lost);
    CHECK(p.queue->job_done("w1", "nothing", json::parse("{}")) == local_queue::done_result::unknown_job);

    // The lease runs out: queued again (attempt 2 of 2), the lost worker is told to stop.
    p.queue->expire_leases(now_ms() + 10'000);
    CHECK(p.status(id).at("status") == "queued");
    CHECK(p.queue->jobs_to_stop("w1") == std::vector<std::string>{qid});
    auto second = p.queue->take("w2");
    REQUIRE(second);
    CHECK(json::parse(*second).at("id").as_string() == id + "-a2");
    CHECK(p.queue->job_done("w1", qid, json::parse("{}")) == local_queue::done_result::lease_lost);
    p.queue->expire_leases(now_ms() + 10'000);  // attempts used up
    const auto st = p.status(id);
    CHECK(st.at("status") == "failed");
    CHECK(std::string(st.at("error").at("message").as_string()).find("gave up after 2 attempts") != std::string::npos);
}

TEST_CASE("local queue and housekeeping: an output completes the job; retention expires it", "[jobs]") {
    plane p(std::map<std::string, std::string>{{"MEMVID_EXPORT_RETENTION_SECONDS", "1"}});
    const auto id = p.admit();
    const auto qid = std::string(json::parse(*p.queue->take("w1")).at("id").as_string());
    const fs::path out = p.jobs->output_dir(id) / "a1";
    fs::create_directories(out);
    std::ofstream(out / "c.mv2") << "capsule";
    // An artifact outside the job's own folder is refused.
    const auto other = p.admit();
    const auto oqid = std::string(json::parse(*p.queue->take("w1")).at("id").as_string());
    json::object bad_out{{"output", json::object{{"artifactPath", (out / "c.mv2").string()}}}};
    CHECK(p.queue->job_done("w1", oqid, bad_out) == local_queue::done_result::ok);
    CHECK(std::string(p.status(other).at("error").at("message").as_string()).find("outside the job's output folder") !=
          std::string::npos);

    namespace R = protocol::result;  // the worker's field names, from the one header both sides use
    json::object good{
        {R::output,
         json::object{
             {R::artifact_path, (out / "c.mv2").string()}, {R::file_name, "c.mv2"}, {R::timings, json::object{{"parseMs", 1}}}}}};
    CHECK(p.queue->job_done("w1", qid, good) == local_queue::done_result::ok);
    auto st = p.status(id);
    CHECK(st.at("status") == "completed");
    CHECK(st.at("artifact").at("sizeBytes") == 7);
    CHECK(st.at("metadata").at("workerMetrics").as_object().contains(R::timings));  // reported on (it was dropped before)
    CHECK(p.jobs->artifact(id)->path == (out / "c.mv2").string());

    housekeeping hk(*p.jobs, p.queue.get());
    hk.tick(now_ms() + 5'000);
    st = p.status(id);
    CHECK(st.at("status") == "expired");
    CHECK_FALSE(fs::exists(out / "c.mv2"));
    CHECK_FALSE(fs::exists(p.jobs->payload_file(id)));
    std::vector<event> ev;
    std::string code;
    CHECK_FALSE(p.jobs->events_since(id, 0, 10, ev, code));
    CHECK(code == "JOB_EXPIRED");
    CHECK(p.store->events_after(id, 0, 100).empty());  // gone from the store too
    CHECK(p.jobs->status_json(id).has_value());  // the record stays, as a tombstone: GET says "expired"

    // One tombstone period later the record goes too, from memory and from the store; so do failed ones.
    const auto failed = other;
    CHECK(p.status(failed).at("status") == "failed");
    hk.tick(now_ms() + 5'000 + 2 * 86'400'000LL);  // files of the failed job removed (retention)...
    hk.tick(now_ms() + 5'000 + 4 * 86'400'000LL);  // ...and its record a tombstone period after that
    CHECK_FALSE(p.jobs->status_json(id).has_value());
    CHECK_FALSE(p.jobs->status_json(failed).has_value());
    const auto r = p.start();
    CHECK(r.total == 0);
}

TEST_CASE("housekeeping: quiet jobs get heartbeats that say where they wait", "[jobs]") {
    plane p;
    const auto a = p.admit();
    const auto b = p.admit();
    housekeeping hk(*p.jobs, p.queue.get());
    hk.heartbeats(now_ms() + 60'000);
    CHECK(p.event_types(a) == std::vector<std::string>{"stage_progress", "stage_heartbeat"});
    CHECK(p.status(b).at("message") == "Waiting for a worker (1 ahead)");
}

TEST_CASE("wire: a store document round-trips every field", "[jobs]") {
    job j;
    j.id = new_uuid4();
    j.status = job_status::completed;
    j.stage = job_stage::download_ready;
    j.progress = 100;
    j.message = "done";
    j.has_artifact = true;
    j.file_name = "f.mv2";
    j.artifact_path = "/x/f.mv2";
    j.size_bytes = 9;
    j.error_code = "E";
    j.metadata["backend"] = "local_queue";
    j.attempt = 3;
    j.lease_worker = "w";
    j.idem_key = "k";
    j.cleaned = true;
    const auto back = wire::from_doc(wire::to_doc(j));
    CHECK(json::serialize(wire::to_doc(*back)) == json::serialize(wire::to_doc(j)));
    CHECK(back->status == job_status::completed);
    CHECK(back->stage == job_stage::download_ready);
    json::object odd = wire::to_doc(j);
    odd["status"] = "weird";
    CHECK(wire::from_doc(odd)->status == job_status::failed);  // an unknown status reads as failed, not as running
}

TEST_CASE("hostile numbers: progress of 1e308 and sinceSeq of 2^64-1", "[jobs]") {
    plane p;
    const auto id = p.admit();
    const auto qid = std::string(json::parse(*p.queue->take("w1")).at("id").as_string());
    for (const char* pct : {"1e308", "-5", "NaN", "\"x\""}) {
        const std::string body =
            std::string(R"({"status":"IN_PROGRESS","output":{"stage":"frame_prep","progress":)") + pct + "}}";
        json::error_code ec;
        const auto v = json::parse(body, ec);
        if (ec) continue;  // NaN is not JSON
        CHECK(p.queue->job_done("w1", qid, v) == local_queue::done_result::ok);
    }
    const auto st = p.status(id);
    const double progress = st.at("progress").to_number<double>();
    CHECK((progress >= 0 && progress <= 100));
    CHECK(std::string(st.at("message").as_string()).find("-2147483648") == std::string::npos);
    // A sinceSeq past the end replays nothing (it used to wrap around and replay from seq 1).
    std::vector<event> ev;
    std::string code;
    CHECK(p.jobs->events_since(id, UINT64_MAX, 100, ev, code));
    CHECK(ev.empty());
    auto page = p.jobs->events_json(id, UINT64_MAX, 100);
    REQUIRE(std::holds_alternative<std::string>(page));
    CHECK(json::parse(std::get<std::string>(page)).at("events").as_array().empty());
}

TEST_CASE("local queue: a take that could not be delivered goes back without using an attempt", "[jobs]") {
    plane p;
    const auto id = p.admit();
    const auto qid = std::string(json::parse(*p.queue->take("gone")).at("id").as_string());
    p.queue->untake("gone", qid);
    CHECK(p.status(id).at("status") == "queued");
    p.queue->untake("gone", qid);  // twice changes nothing
    const auto again = json::parse(*p.queue->take("w2"));
    CHECK(again.at("id").as_string() == qid);  // still attempt 1
    CHECK(p.status(id).at("metadata").at("worker") == "w2");
    p.queue->untake("gone", qid);  // not gone's lease any more
    CHECK(p.status(id).at("status") == "running");
}
