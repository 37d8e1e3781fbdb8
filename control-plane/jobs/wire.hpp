// Every JSON shape of a job, in one place: what clients read (the status
// body, ExportAccepted, events and event pages: docs/export-api.md), what a
// worker receives as its job input, and the document the store keeps.
// Numbers are written as serde_json writes them (common/core/json_text.hpp).
#pragma once

#include "control-plane/config/config.hpp"
#include "control-plane/jobs/job.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mvx::cp::wire {

// GET /v1/exports/{id} (and the events page's statusSnapshot).
std::string status_json(const job& j, std::int64_t now_ms);

// ExportAccepted for a new job (progress written as integers, as the original).
std::string accepted_json(const job& j);
// ExportAccepted replayed for an Idempotency-Key (the job as it is now).
std::string replayed_json(const job& j);

// One ExportLogEvent.
std::string event_json(const job& j, std::uint64_t seq, std::int64_t ts_ms, event_type type, job_stage stage,
                       const std::string& message, const boost::json::value& meta);
const char* emoji_for(event_type type, job_stage stage);

// GET /v1/exports/{id}/events: the events (already JSON) and the snapshot.
std::string events_page(const job& j, const std::vector<const std::string*>& events, std::uint64_t next_seq, std::int64_t now_ms);

// The snake_case input a worker receives (local queue job-take, Runpod /run).
boost::json::object worker_input(const job& j, const config& cfg);

// The store's document of a job, and back (tolerant of missing fields).
boost::json::object to_doc(const job& j);
std::unique_ptr<job> from_doc(const boost::json::object& d);

// Helpers for JSON read from workers and Runpod.
double number_or(const boost::json::value& v, double def);
// A percentage a peer reported: clamped to 0..100; not a finite number: def.
double percent_or(const boost::json::value& v, double def);
std::string string_field(const boost::json::object& o, std::string_view key);

}  // namespace mvx::cp::wire
