// mvx::error — the project's one exception type for failures that end an
// operation (a pack, a request). It carries a stable machine code (used in the
// CLI's {"error":{"code","message"}} line) and a message that says what went
// wrong, where, and how to fix it. Expected, local failures use return values.
#pragma once

#include <stdexcept>
#include <string>

namespace mvx {

enum class error_kind {
    invalid_input,  // the payload or an argument is malformed
    limit,  // a documented size/count limit was exceeded
    io,  // reading or writing a file failed
    unsupported,  // valid request the build/config cannot serve
    internal,  // a bug: an invariant did not hold
};

class error : public std::runtime_error {
public:
    error(error_kind kind, std::string code, const std::string& message)
        : std::runtime_error(message), kind_(kind), code_(std::move(code)) {}

    error_kind kind() const noexcept { return kind_; }
    const std::string& code() const noexcept { return code_; }

private:
    error_kind kind_;
    std::string code_;
};

[[noreturn]] inline void throw_invalid(const std::string& message) {
    throw error(error_kind::invalid_input, "INVALID_PAYLOAD", message);
}
[[noreturn]] inline void throw_limit(const std::string& message) { throw error(error_kind::limit, "LIMIT_EXCEEDED", message); }
[[noreturn]] inline void throw_io(const std::string& message) { throw error(error_kind::io, "IO_ERROR", message); }
[[noreturn]] inline void throw_argument(const std::string& message) {
    throw error(error_kind::invalid_input, "INVALID_ARGUMENT", message);
}

}  // namespace mvx
