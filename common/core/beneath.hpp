// Opening a file beneath a root directory without following a symbolic link
// anywhere below the root: each component is opened relative to its parent
// with O_NOFOLLOW, so swapping a folder for a link after a path was checked
// cannot redirect the open (what a later check of the path itself would
// miss). The root itself may be (or lie behind) a link: it is the operator's
// choice, resolved once.
#pragma once

#include <filesystem>
#include <string>

namespace mvx {

enum class beneath_error { none, outside, symlink, not_found, not_regular, other };

struct beneath_result {
    int fd = -1;  // owned by the caller when >= 0
    beneath_error error = beneath_error::none;
    int sys_errno = 0;
    std::string message;  // what went wrong, for an error answer
};

// Opens root/relative for reading (`path` absolute and inside `root`, or
// relative to it). A regular file only: a FIFO or device is refused without
// blocking.
beneath_result open_regular_beneath(const std::filesystem::path& root, const std::filesystem::path& path);

}  // namespace mvx
