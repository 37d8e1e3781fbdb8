// GET/HEAD /v1/exports/{id}/download: the capsule from disk, with a strong
// ETag, If-None-Match (304), a single Range (206/416) honoured when If-Range
// matches, and Content-Disposition carrying the UTF-8 file name (RFC 6266/5987).
#include "control-plane/handlers/handlers.hpp"

#include "common/core/beneath.hpp"
#include "control-plane/http/headers.hpp"
#include "control-plane/jobs/registry.hpp"
#include "control-plane/observability/log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mvx::cp::handlers {

handler_result download(const request& req, context& ctx) {
    const std::string& id = req.route.job_id;
    auto a = ctx.jobs.artifact(id);
    if (!a) return error_reply(404, "JOB_NOT_FOUND", "No export job " + id);
    if (a->status != job_status::completed || a->path.empty())
        return error_reply(
            409, "ARTIFACT_NOT_READY",
            "Export " + id + " is " + std::string(to_string(a->status)) + "; the capsule can be downloaded once it is completed");
    // Opened beneath the staging root with no link followed on the way: the
    // path was checked when the job completed, and a folder of it swapped for
    // a link since then must not redirect the download.
    const auto opened = open_regular_beneath(ctx.cfg.staging_root, a->path);
    unique_fd fd(opened.fd);
    if (opened.error == beneath_error::not_found)
        return error_reply(410, "ARTIFACT_MISSING", "The capsule of export " + id + " is no longer on disk");
    if (opened.error != beneath_error::none) {
        log_line(log_level::error, "download refused: " + opened.message, id);
        return error_reply(500, "ARTIFACT_READ_FAILED",
                           "The capsule of export " + id + " cannot be served: its path under the staging root changed (" +
                               (opened.error == beneath_error::symlink ? "a symbolic link" : "not a regular file") + ")");
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return error_reply(500, "ARTIFACT_READ_FAILED", "Could not stat the capsule");
    const std::uint64_t size = std::uint64_t(st.st_size);
    char etag[96];
    std::snprintf(etag, sizeof etag, "\"%llx-%llx-%.8s\"", (unsigned long long)size,
                  (unsigned long long)(st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec), id.c_str());
    const auto inm = req.header("If-None-Match");
    if (!inm.empty() && etag_matches(inm, etag)) {
        reply nm{304, ""};
        nm.content_type = "application/octet-stream";
        nm.headers = {{"ETag", etag}};
        return nm;
    }
    byte_range range;
    range_result rr = range_result::whole;
    const auto rh = req.header("Range");
    if (!rh.empty()) {
        const auto ir = req.header("If-Range");
        if (ir.empty() || ir == etag) rr = parse_range(rh, size, range);
    }
    if (rr == range_result::unsatisfiable) {
        reply e = error_reply(416, "RANGE_NOT_SATISFIABLE",
                              "The requested range is outside the capsule (" + std::to_string(size) + " bytes)");
        e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
        return e;
    }
    file_reply f;
    f.head.status = rr == range_result::partial ? 206 : 200;
    f.head.content_type = "application/octet-stream";
    f.head.headers = {{"Content-Disposition", content_disposition(a->file_name)},
                      {"ETag", etag},
                      {"Accept-Ranges", "bytes"},
                      {"Cache-Control", "private, no-transform"}};
    f.offset = 0;
    f.length = size;
    if (rr == range_result::partial) {
        f.offset = range.first;
        f.length = range.last - range.first + 1;
        f.head.headers.emplace_back(
            "Content-Range",
            "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" + std::to_string(size));
    }
    f.fd = std::move(fd);
    return f;
}

}  // namespace mvx::cp::handlers
