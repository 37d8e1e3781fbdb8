#include "common/core/beneath.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace fs = std::filesystem;

namespace mvx {
namespace {

beneath_result fail(beneath_error e, int err, std::string message) {
    beneath_result r;
    r.error = e;
    r.sys_errno = err;
    r.message = std::move(message);
    return r;
}

struct fd_guard {
    int fd;
    ~fd_guard() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

beneath_result open_regular_beneath(const fs::path& root, const fs::path& path) {
    std::error_code ec;
    const fs::path real_root = fs::canonical(root, ec);
    if (ec) return fail(beneath_error::other, ec.value(), "the root " + root.string() + " cannot be resolved: " + ec.message());
    const fs::path rel = path.is_absolute() ? path.lexically_normal().lexically_relative(real_root) : path.lexically_normal();
    std::vector<std::string> parts;
    for (const auto& c : rel) {
        const std::string s = c.string();
        if (s.empty() || s == ".") continue;
        if (s == "..") return fail(beneath_error::outside, 0, path.string() + " is not inside " + root.string());
        parts.push_back(s);
    }
    if (parts.empty()) return fail(beneath_error::outside, 0, path.string() + " is not inside " + root.string());
    fd_guard dir{::open(real_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dir.fd < 0) return fail(beneath_error::other, errno, "cannot open " + real_root.string() + ": " + std::strerror(errno));
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
        const int next = ::openat(dir.fd, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            const int e = errno;
            if (e == ENOENT) return fail(beneath_error::not_found, e, path.string() + " does not exist");
            if (e == ELOOP || e == ENOTDIR)
                return fail(beneath_error::symlink, e,
                            "a component of " + path.string() + " (" + parts[i] + ") is a symbolic link or not a folder");
            return fail(beneath_error::other, e, "cannot open " + parts[i] + ": " + std::strerror(e));
        }
        ::close(dir.fd);
        dir.fd = next;
    }
    // O_NONBLOCK: a FIFO put in the file's place must not block the open.
    const int fd = ::openat(dir.fd, parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        if (e == ENOENT) return fail(beneath_error::not_found, e, path.string() + " does not exist");
        if (e == ELOOP) return fail(beneath_error::symlink, e, path.string() + " is a symbolic link");
        return fail(beneath_error::other, e, "cannot open " + path.string() + ": " + std::strerror(e));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return fail(beneath_error::not_regular, 0, path.string() + " is not a regular file");
    }
    // Reads from here on block as usual.
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    beneath_result r;
    r.fd = fd;
    return r;
}

}  // namespace mvx
