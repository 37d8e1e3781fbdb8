// Names that cross processes: what the control plane puts in a job's input,
// the stages a worker reports while it packs, and the fields of the result it
// posts back. The worker, the control plane and the tests all spell them from
// here, so a rename is one edit and a typo is a compile error. The wire shapes
// around them are described in docs/runpod-protocol.md.
#pragma once

#include <array>
#include <string_view>

namespace mvx::protocol {

// ---- job input (Runpod job object "input"; snake_case is ours, camelCase the original's)
namespace input {
struct field {
    std::string_view snake, camel;
};
inline constexpr field job_id{"job_id", "jobId"};
inline constexpr field payload_ref{"payload_ref", "payloadRef"};
inline constexpr field output_prefix{"output_prefix", "outputPrefix"};
inline constexpr field embedding_mode{"embedding_mode", "embeddingMode"};
inline constexpr field embedding_provider{"embedding_provider", "embeddingProvider"};
inline constexpr field embedding_model{"embedding_model", "embeddingModel"};
inline constexpr field ollama_host{"ollama_host", "ollamaHost"};
}  // namespace input

// ---- stages a worker reports in its IN_PROGRESS posts ({"stage", "progress"})
namespace stage {
inline constexpr std::string_view download = "download";  // fetching an http(s) payload_ref
inline constexpr std::string_view transform = "transform";
inline constexpr std::string_view frame_prep = "frame_prep";
inline constexpr std::string_view write_capsule = "write_capsule";
inline constexpr std::string_view build_sidecar = "build_sidecar";
inline constexpr std::string_view finalize = "finalize";
inline constexpr std::string_view upload = "upload";  // PUT to an http(s) output_prefix
// The pack stages, in order (the control plane's API stages of the same names).
inline constexpr std::array<std::string_view, 5> pack_stages{transform, frame_prep, write_capsule, build_sidecar, finalize};
}  // namespace stage

// ---- progress post: {"status": "IN_PROGRESS", "output": {"stage", "progress"}}
namespace progress {
inline constexpr std::string_view status = "status";
inline constexpr std::string_view in_progress = "IN_PROGRESS";
inline constexpr std::string_view output = "output";
inline constexpr std::string_view stage = "stage";
inline constexpr std::string_view percent = "progress";
}  // namespace progress

// ---- the result a worker posts: {"output": {...}} or {"error": "<string>"}
namespace result {
inline constexpr std::string_view output = "output";
inline constexpr std::string_view error = "error";
// Fields of the output object (pack's result line plus the worker's own).
inline constexpr std::string_view backend = "backend";
inline constexpr std::string_view job_id = "jobId";
inline constexpr std::string_view file_name = "fileName";
inline constexpr std::string_view artifact_path = "artifactPath";
inline constexpr std::string_view artifact_ref = "artifactRef";
inline constexpr std::string_view size_bytes = "sizeBytes";
inline constexpr std::string_view frames = "frames";
inline constexpr std::string_view vectors = "vectors";
inline constexpr std::string_view embedding_mode = "embeddingMode";
inline constexpr std::string_view embedding_provider = "embeddingProvider";
inline constexpr std::string_view embedding_model = "embeddingModel";
inline constexpr std::string_view embedding = "embedding";
inline constexpr std::string_view sidecar = "sidecar";
inline constexpr std::string_view timings = "timings";
inline constexpr std::string_view runpod_job_id = "runpodJobId";
inline constexpr std::string_view adapter = "adapter";
inline constexpr std::string_view worker_metrics = "workerMetrics";
// What the control plane copies from an output into the job's metadata.workerMetrics.
inline constexpr std::array<std::string_view, 5> reported{embedding, sidecar, frames, vectors, timings};
}  // namespace result

// ---- the claim a worker writes into a local output folder before it packs:
// {"runpodJobId": "<the Runpod job id>", "jobId": "<the export's id>"}. The
// first job to claim a folder does the work; a duplicate Runpod job of the
// same export finds the claim taken and stops at once; the control plane
// reads it to learn the Runpod id of a /run whose answer it never got.
namespace claim {
inline constexpr std::string_view file = ".runpod-claim.json";
inline constexpr std::string_view runpod_job_id = "runpodJobId";
inline constexpr std::string_view job_id = "jobId";
}  // namespace claim

}  // namespace mvx::protocol
