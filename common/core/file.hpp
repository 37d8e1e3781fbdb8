// Files written atomically: a temporary file in the target's folder, written
// with checked writes, fsync'ed, then renamed over the target (and the folder
// fsync'ed). Destroying an uncommitted atomic_file removes the temporary.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mvx {

class output_file {
public:
    // Creates "<dir>/.<name>.tmp-XXXXXX" for the target path.
    explicit output_file(std::filesystem::path target);
    ~output_file();
    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;

    void write(const void* data, std::size_t n);  // buffered
    void write(std::string_view s) { write(s.data(), s.size()); }
    void pwrite_at(std::uint64_t offset, const void* data, std::size_t n);  // unbuffered, after flush
    void flush();
    std::uint64_t position() const { return pos_; }
    // Appends the whole content of another descriptor (from its offset 0).
    void append_from(int fd, std::uint64_t size, void (*observe)(void*, const char*, std::size_t), void* ctx);
    void commit(bool durable = true) {
        finish(durable);
        publish();
    }
    void finish(bool durable = true);  // flush, fsync, close: complete but not yet visible
    void publish();  // rename into place, fsync the folder
    const std::filesystem::path& target() const { return target_; }
    const std::filesystem::path& temp_path() const { return temp_; }

private:
    void write_all(const char* p, std::size_t n);
    std::filesystem::path target_, temp_;
    int fd_ = -1;
    std::uint64_t pos_ = 0;
    std::string buf_;
    bool committed_ = false;
    bool durable_ = true;
};

// An unnamed scratch file (deleted on close) in `dir`, with buffered appends.
class spill_file {
public:
    explicit spill_file(const std::filesystem::path& dir);
    ~spill_file();
    spill_file(const spill_file&) = delete;
    spill_file& operator=(const spill_file&) = delete;
    void append(std::string_view s);
    void flush();
    std::uint64_t size() const { return size_; }
    int fd() const { return fd_; }

private:
    std::filesystem::path dir_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::string buf_;
};

// "<dir>/.<name of target>.tmp-XXXXXX", a template for mkstemp.
std::string temp_template(const std::filesystem::path& dir, const std::filesystem::path& target);

// strerror(err) plus what to do about the common cases (disk full, ...).
std::string describe_errno(int err);

// "<what> <path>: <strerror>" as an IO_ERROR.
[[noreturn]] void throw_errno(std::string_view what, const std::filesystem::path& path, int err);

}  // namespace mvx
