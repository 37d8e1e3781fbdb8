#include "common/core/file.hpp"

#include "common/core/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mvx {

namespace {
constexpr std::size_t k_buffer = 1 << 20;

std::string advice(int err) {
    switch (err) {
        case ENOSPC: return " (the disk is full: free space or choose another output folder)";
        case EFBIG: return " (the file size limit was reached: raise the limit or choose another output folder)";
        case EACCES:
        case EPERM: return " (permission denied: make the folder writable or choose another output folder)";
        case EROFS: return " (read-only file system: choose another output folder)";
        case EDQUOT: return " (disk quota exceeded)";
        default: return "";
    }
}
}  // namespace

std::string temp_template(const std::filesystem::path& dir, const std::filesystem::path& target) {
    std::string name(".");
    name += target.filename().string();
    name += ".tmp-XXXXXX";
    return (dir / name).string();
}

std::string describe_errno(int err) { return std::string(std::strerror(err)) + advice(err); }

void throw_errno(std::string_view what, const std::filesystem::path& path, int err) {
    throw_io(std::string(what) + " " + path.string() + ": " + describe_errno(err));
}

output_file::output_file(std::filesystem::path target) : target_(std::move(target)) {
    auto dir = target_.parent_path();
    if (dir.empty()) dir = ".";
    std::string tmpl = temp_template(dir, target_);
    fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd_ < 0) throw_errno("cannot create a file in", dir, errno);
    temp_ = tmpl;
    ::fchmod(fd_, 0644);
}

output_file::~output_file() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

namespace {
// write(2) until done; EINTR retried, anything else thrown with `what` and the path.
void write_fully(int fd, const char* p, std::size_t n, const char* what, const std::filesystem::path& path) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_errno(what, path, errno);
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}
}  // namespace

void output_file::write_all(const char* p, std::size_t n) { write_fully(fd_, p, n, "cannot write", target_); }

void output_file::write(const void* data, std::size_t n) {
    const char* p = static_cast<const char*>(data);
    pos_ += n;
    if (buf_.size() + n > k_buffer) {
        write_all(buf_.data(), buf_.size());
        buf_.clear();
        if (n >= k_buffer) {
            write_all(p, n);
            return;
        }
    }
    buf_.append(p, n);
}

void output_file::flush() {
    if (!buf_.empty()) {
        write_all(buf_.data(), buf_.size());
        buf_.clear();
    }
}

void output_file::pwrite_at(std::uint64_t offset, const void* data, std::size_t n) {
    flush();
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        const ssize_t w = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_errno("cannot write", target_, errno);
        }
        p += w;
        n -= static_cast<std::size_t>(w);
        offset += static_cast<std::uint64_t>(w);
    }
}

void output_file::append_from(int src, std::uint64_t size, void (*observe)(void*, const char*, std::size_t), void* ctx) {
    flush();
    std::string chunk(static_cast<std::size_t>(std::min<std::uint64_t>(k_buffer, size)), '\0');
    std::uint64_t off = 0;
    while (off < size) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size - off));
        const ssize_t r = ::pread(src, chunk.data(), want, static_cast<off_t>(off));
        if (r < 0) {
            if (errno == EINTR) continue;
            throw_errno("cannot read back scratch data for", target_, errno);
        }
        if (r == 0) throw_io("scratch data for " + target_.string() + " ended early");
        if (observe) observe(ctx, chunk.data(), static_cast<std::size_t>(r));
        write_all(chunk.data(), static_cast<std::size_t>(r));
        pos_ += static_cast<std::uint64_t>(r);
        off += static_cast<std::uint64_t>(r);
    }
}

void output_file::finish(bool durable) {
    flush();
    durable_ = durable;
    if (durable && ::fsync(fd_) != 0) throw_errno("cannot sync", target_, errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw_errno("cannot close", target_, errno);
}

void output_file::publish() {
    if (::rename(temp_.c_str(), target_.c_str()) != 0) throw_errno("cannot rename into", target_, errno);
    committed_ = true;
    auto dir = target_.parent_path();
    if (dir.empty()) dir = ".";
    const int dfd = durable_ ? ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

spill_file::spill_file(const std::filesystem::path& dir) : dir_(dir.empty() ? "." : dir) {
    fd_ = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) {
        std::string tmpl = (dir_ / ".mvx-spill-XXXXXX").string();
        fd_ = ::mkostemp(tmpl.data(), O_CLOEXEC);
        if (fd_ < 0) throw_errno("cannot create a scratch file in", dir_, errno);
        ::unlink(tmpl.c_str());
    }
}

spill_file::~spill_file() {
    if (fd_ >= 0) ::close(fd_);
}

void spill_file::append(std::string_view s) {
    size_ += s.size();
    buf_.append(s);
    if (buf_.size() >= k_buffer) flush();
}

void spill_file::flush() {
    write_fully(fd_, buf_.data(), buf_.size(), "cannot write scratch data in", dir_);
    buf_.clear();
}

}  // namespace mvx
