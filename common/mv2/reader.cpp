#include "common/mv2/reader.hpp"

#include "common/core/error.hpp"
#include "common/core/file.hpp"
#include "common/core/utf8.hpp"
#include "common/mv2/format.hpp"

#include <zstd.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mvx::mv2 {
namespace {

[[noreturn]] void corrupt(const std::filesystem::path& p, const std::string& what) {
    throw error(error_kind::invalid_input, "CORRUPT_CAPSULE", p.string() + ": " + what);
}

std::string hex(std::uint64_t v) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
    return b;
}

// Bounds-checked bincode decoder over [base+begin, base+end).
class decoder {
public:
    decoder(const std::filesystem::path& p, const unsigned char* base, std::uint64_t begin, std::uint64_t end, std::string what)
        : path_(p), base_(base), pos_(begin), end_(end), what_(std::move(what)) {}

    std::uint64_t pos() const { return pos_; }
    bool done() const { return pos_ == end_; }
    const unsigned char* take(std::uint64_t n, const char* field) {
        if (n > end_ - pos_)
            corrupt(path_,
                    what_ + ": " + field + " needs " + std::to_string(n) + " bytes at offset " + hex(pos_) + " but only " +
                        std::to_string(end_ - pos_) + " remain");
        const unsigned char* p = base_ + pos_;
        pos_ += n;
        return p;
    }
    template <class T>
    T num(const char* field) {
        T v;
        std::memcpy(&v, take(sizeof(T), field), sizeof(T));
        return v;
    }
    std::uint8_t u8(const char* f) { return num<std::uint8_t>(f); }
    std::uint32_t u32(const char* f) { return num<std::uint32_t>(f); }
    std::uint64_t u64(const char* f) { return num<std::uint64_t>(f); }
    std::int64_t i64(const char* f) { return num<std::int64_t>(f); }
    bool boolean(const char* f) {
        const auto at = pos_;
        const auto v = u8(f);
        if (v > 1) corrupt(path_, what_ + ": " + f + " is not a bool (" + std::to_string(v) + ") at " + hex(at));
        return v == 1;
    }
    bool option(const char* f) { return boolean(f); }
    std::uint32_t variant(const char* f, std::uint32_t count) {
        const auto at = pos_;
        const auto v = u32(f);
        if (v >= count) corrupt(path_, what_ + ": " + f + " has unknown variant " + std::to_string(v) + " at " + hex(at));
        return v;
    }
    std::string str(const char* f) {
        const auto at = pos_;
        const auto n = u64(f);
        const auto* p = take(n, f);
        std::string s(reinterpret_cast<const char*>(p), n);
        if (!utf8::is_valid(s)) corrupt(path_, what_ + ": " + f + " is not valid UTF-8 at " + hex(at));
        return s;
    }
    std::optional<std::string> opt_str(const char* f) {
        if (!option(f)) return std::nullopt;
        return str(f);
    }
    std::uint64_t count(const char* f, std::uint64_t max) {
        const auto at = pos_;
        const auto n = u64(f);
        if (n > max)
            corrupt(path_,
                    what_ + ": " + f + " count " + std::to_string(n) + " exceeds " + std::to_string(max) + " at " + hex(at));
        return n;
    }
    digest bytes32(const char* f) {
        digest d;
        std::memcpy(d.data(), take(32, f), 32);
        return d;
    }
    void expect_none(const char* f) {
        if (option(f)) corrupt(path_, what_ + ": " + f + " is present; memvid-export files never carry it (unsupported)");
    }

private:
    const std::filesystem::path& path_;
    const unsigned char* base_;
    std::uint64_t pos_, end_;
    std::string what_;
};

// Index of the first non-zero byte in [p, p+n), or n.
std::uint64_t first_nonzero(const unsigned char* p, std::uint64_t n) {
    static const unsigned char zeros[4096] = {};
    std::uint64_t off = 0;
    while (off < n) {
        const std::size_t chunk = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof zeros, n - off));
        if (std::memcmp(p + off, zeros, chunk) != 0) {
            for (std::size_t i = 0; i < chunk; ++i)
                if (p[off + i]) return off + i;
        }
        off += chunk;
    }
    return n;
}

struct blob_ref {
    std::uint64_t offset = 0, length = 0, count = 0;
    digest checksum{};
    bool present = false;
};

}  // namespace

capsule_reader::capsule_reader(const std::filesystem::path& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("cannot open", path, errno);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw_errno("cannot stat", path, err);
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ < k_header_size + k_footer_size) {
        ::close(fd);
        corrupt(path, "file of " + std::to_string(size_) + " bytes is too small to be a capsule");
    }
    void* m = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (m == MAP_FAILED) throw_errno("cannot map", path, errno);
    data_ = static_cast<const unsigned char*>(m);
    mapped_ = true;
    try {
        validate();
    } catch (...) {
        ::munmap(const_cast<unsigned char*>(data_), size_);
        data_ = nullptr;
        throw;
    }
}

capsule_reader::capsule_reader(const unsigned char* data, std::size_t size, std::filesystem::path name)
    : path_(std::move(name)), data_(data), size_(size) {
    if (size_ < k_header_size + k_footer_size)
        corrupt(path_, "file of " + std::to_string(size_) + " bytes is too small to be a capsule");
    validate();
}

capsule_reader::~capsule_reader() {
    if (data_ && mapped_) ::munmap(const_cast<unsigned char*>(data_), size_);
}

void capsule_reader::validate() {
    auto& I = info_;
    I.file_size = size_;
    // Header.
    if (std::memcmp(data_, k_magic, 4) != 0) corrupt(path_, "bad magic: not an .mv2 file");
    decoder h(path_, data_, 4, k_header_size, "header");
    if (h.num<std::uint16_t>("version") != k_version) corrupt(path_, "unsupported header version (expected 0x0201)");
    if (h.u8("spec major") != k_spec_major || h.u8("spec minor") != k_spec_minor) corrupt(path_, "unsupported spec version");
    const auto footer_offset = h.u64("footer_offset");
    const auto wal_offset = h.u64("wal_offset");
    const auto wal_size = h.u64("wal_size");
    const auto wal_checkpoint = h.u64("wal_checkpoint_pos");
    const auto wal_sequence = h.u64("wal_sequence");
    const digest header_checksum = h.bytes32("toc_checksum");
    if (wal_offset != k_header_size) corrupt(path_, "wal_offset is " + std::to_string(wal_offset) + ", expected 4096");
    if (wal_size == 0 || wal_size > size_ - k_header_size) corrupt(path_, "wal_size out of range");
    if (wal_checkpoint != 0 || wal_sequence != 0) corrupt(path_, "WAL checkpoint/sequence not zero");
    if (const auto nz = first_nonzero(data_ + 80, k_header_size - 80); nz != k_header_size - 80)
        corrupt(path_, "header byte " + std::to_string(80 + nz) + " is not zero (lock/reserved area)");
    if (const auto nz = first_nonzero(data_ + k_header_size, wal_size); nz != wal_size)
        corrupt(path_,
                "WAL region is not all zero at offset " + hex(k_header_size + nz) + " (pending records are not supported)");
    I.wal_size = wal_size;
    const std::uint64_t data_start = k_header_size + wal_size;

    // Footer.
    const unsigned char* foot = data_ + size_ - k_footer_size;
    if (std::memcmp(foot, k_footer_magic.data(), 8) != 0) corrupt(path_, "no MV2FOOT! footer at the end of the file");
    decoder fd(path_, data_, size_ - k_footer_size + 8, size_, "footer");
    const auto toc_len = fd.u64("toc_len");
    const digest toc_hash = fd.bytes32("toc_hash");
    I.generation = fd.u64("generation");
    if (toc_len > size_ - k_footer_size - data_start)
        corrupt(path_, "footer toc_len " + std::to_string(toc_len) + " is out of range");
    const std::uint64_t toc_off = size_ - k_footer_size - toc_len;
    if (footer_offset != toc_off) corrupt(path_, "header footer_offset " + hex(footer_offset) + " != TOC start " + hex(toc_off));
    if (blake3(data_ + toc_off, toc_len) != toc_hash) corrupt(path_, "footer hash does not match the TOC bytes");
    if (toc_len < 32) corrupt(path_, "TOC too short");
    {
        hasher z;
        z.update(data_ + toc_off, toc_len - 32);
        const digest zero{};
        z.update(zero.data(), 32);
        const digest want = z.finish();
        digest stored;
        std::memcpy(stored.data(), data_ + toc_off + toc_len - 32, 32);
        if (want != stored) corrupt(path_, "toc_checksum mismatch");
        if (header_checksum != stored) corrupt(path_, "header toc_checksum differs from the TOC's");
        I.toc_checksum = stored;
    }
    I.toc_offset = toc_off;
    I.toc_length = toc_len;

    // TOC.
    decoder t(path_, data_, toc_off, toc_off + toc_len, "TOC");
    if (t.u64("toc_version") > 32) corrupt(path_, "toc_version > 32");
    if (t.u64("segments") != 0) corrupt(path_, "TOC has segments (unsupported)");
    const auto nframes = t.count("frames", 10'000'000);
    I.frames.reserve(nframes);
    for (std::uint64_t i = 0; i < nframes; ++i) {
        frame_record f;
        f.id = t.u64("frame.id");
        if (f.id != i) corrupt(path_, "frame " + std::to_string(i) + " has id " + std::to_string(f.id) + " (ids must be dense)");
        f.timestamp = t.i64("frame.timestamp");
        if (t.option("frame.anchor_ts")) f.anchor_ts = t.i64("frame.anchor_ts");
        if (t.option("frame.anchor_source")) f.anchor_source = t.variant("frame.anchor_source", 4);
        f.kind = t.opt_str("frame.kind");
        f.track = t.opt_str("frame.track");
        f.payload_offset = t.u64("frame.payload_offset");
        f.payload_length = t.u64("frame.payload_length");
        f.checksum = t.bytes32("frame.checksum");
        f.uri = t.opt_str("frame.uri");
        f.title = t.opt_str("frame.title");
        f.encoding = t.u32("frame.canonical_encoding");
        if (f.encoding > 1) corrupt(path_, "frame " + std::to_string(i) + ": canonical_encoding " + std::to_string(f.encoding));
        if (t.option("frame.canonical_length")) f.canonical_length = t.u64("frame.canonical_length");
        if (t.option("frame.metadata")) {
            f.mime = t.opt_str("metadata.mime");
            if (t.option("metadata.bytes")) t.u64("metadata.bytes");
            t.opt_str("metadata.hash");
            if (t.option("metadata.width")) t.u32("metadata.width");
            if (t.option("metadata.height")) t.u32("metadata.height");
            if (t.option("metadata.colors")) {
                const auto n = t.count("metadata.colors", 1 << 20);
                for (std::uint64_t k = 0; k < n; ++k) t.str("metadata.colors[]");
            }
            t.opt_str("metadata.caption");
            t.expect_none("metadata.exif");
            t.expect_none("metadata.audio");
            t.expect_none("metadata.media");
        }
        f.search_text = t.opt_str("frame.search_text");
        const auto ntags = t.count("frame.tags", k_max_tags);
        for (std::uint64_t k = 0; k < ntags; ++k) f.tags.push_back(t.str("frame.tags[]"));
        const auto nlabels = t.count("frame.labels", k_max_tags);
        for (std::uint64_t k = 0; k < nlabels; ++k) f.labels.push_back(t.str("frame.labels[]"));
        const auto nextra = t.count("frame.extra_metadata", k_max_extra);
        for (std::uint64_t k = 0; k < nextra; ++k) {
            auto key = t.str("extra_metadata key");
            auto val = t.str("extra_metadata value");
            if (!f.extra_metadata.empty() && !(f.extra_metadata.back().first < key))
                corrupt(path_, "frame " + std::to_string(i) + ": extra_metadata keys not sorted/unique at \"" + key + "\"");
            f.extra_metadata.emplace_back(std::move(key), std::move(val));
        }
        const auto ndates = t.count("frame.content_dates", k_max_tags);
        for (std::uint64_t k = 0; k < ndates; ++k) t.str("frame.content_dates[]");
        t.expect_none("frame.chunk_manifest");
        f.role = t.variant("frame.role", 3);
        if (t.option("frame.parent_id")) t.u64("frame.parent_id");
        if (t.option("frame.chunk_index")) t.u32("frame.chunk_index");
        if (t.option("frame.chunk_count")) t.u32("frame.chunk_count");
        f.status = t.variant("frame.status", 3);
        if (t.option("frame.supersedes")) t.u64("frame.supersedes");
        if (t.option("frame.superseded_by")) t.u64("frame.superseded_by");
        if (t.option("frame.source_sha256")) t.bytes32("frame.source_sha256");
        t.opt_str("frame.source_path");
        f.enrichment_state = t.variant("frame.enrichment_state", 2);
        I.frames.push_back(std::move(f));
    }
    // IndexManifests.
    blob_ref lex, vec, time;
    if (t.option("indexes.lex")) {
        lex.present = true;
        lex.count = t.u64("lex.doc_count");
        t.u64("lex.generation");
        lex.offset = t.u64("lex.bytes_offset");
        lex.length = t.u64("lex.bytes_length");
        lex.checksum = t.bytes32("lex.checksum");
    }
    if (t.u64("indexes.lex_segments") != 0) corrupt(path_, "TOC lists Tantivy lex segments (unsupported)");
    if (t.option("indexes.vec")) {
        vec.present = true;
        vec.count = t.u64("vec.vector_count");
        I.dimension = t.u32("vec.dimension");
        vec.offset = t.u64("vec.bytes_offset");
        vec.length = t.u64("vec.bytes_length");
        vec.checksum = t.bytes32("vec.checksum");
        if (t.variant("vec.compression_mode", 2) != 0) corrupt(path_, "product-quantised vectors (unsupported)");
        I.vector_model = t.opt_str("vec.model");
    }
    t.expect_none("indexes.clip");
    if (t.option("time_index")) {
        time.present = true;
        time.offset = t.u64("time.bytes_offset");
        time.length = t.u64("time.bytes_length");
        time.count = t.u64("time.entry_count");
        time.checksum = t.bytes32("time.checksum");
    }
    t.expect_none("temporal_track");
    t.expect_none("memories_track");
    t.expect_none("logic_mesh");
    t.expect_none("sketch_track");
    t.u64("segment_catalog.next_segment_id");
    t.u32("segment_catalog.version");
    I.lex_enabled = t.boolean("segment_catalog.lex_enabled");
    for (const char* n :
         {"lex_segments", "vec_segments", "time_segments", "temporal_segments", "tantivy_segments", "index_segments"})
        if (t.u64(n) != 0) corrupt(path_, std::string("segment_catalog.") + n + " is not empty (unsupported)");
    t.str("ticket.issuer");
    t.i64("ticket.seq_no");
    t.u64("ticket.expires_in_secs");
    I.capacity_bytes = t.u64("ticket.capacity_bytes");
    t.boolean("ticket.verified");
    t.expect_none("memory_binding");
    t.expect_none("replay_manifest");
    if (t.u64("enrichment_queue.tasks") != 0) corrupt(path_, "enrichment tasks present (unsupported)");
    t.u64("enrichment_queue.updated_at");
    t.bytes32("merkle_root");
    t.bytes32("toc_checksum");
    if (!t.done()) corrupt(path_, "TOC has " + std::to_string(toc_off + toc_len - t.pos()) + " trailing bytes");

    // Regions: payloads and blobs inside [data_start, toc_off), no overlaps.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> regions;
    auto region = [&](std::uint64_t off, std::uint64_t len, const std::string& what) {
        if (off < data_start || off > toc_off || len > toc_off - off)
            corrupt(path_, what + " [" + hex(off) + ", +" + std::to_string(len) + ") lies outside the data area");
        if (len) regions.emplace_back(off, off + len);
    };
    for (const auto& f : I.frames) {
        const std::string name = "frame " + std::to_string(f.id);
        if (f.payload_length > k_max_payload) corrupt(path_, name + ": payload larger than 256 MiB");
        region(f.payload_offset, f.payload_length, name + " payload");
        if (blake3(data_ + f.payload_offset, f.payload_length) != f.checksum)
            corrupt(path_, name + ": payload checksum mismatch");
        if (!f.canonical_length) corrupt(path_, name + ": canonical_length missing");
        if (f.encoding == 0 && *f.canonical_length != f.payload_length) corrupt(path_, name + ": canonical length mismatch");
        if (f.encoding == 1) {
            const auto n = ZSTD_getFrameContentSize(data_ + f.payload_offset, f.payload_length);
            if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n != *f.canonical_length)
                corrupt(path_, name + ": zstd payload size does not match canonical_length");
        }
    }
    auto check_blob = [&](const blob_ref& b, const char* what) {
        if (!b.present) return;
        if (b.length > k_max_index_blob) corrupt(path_, std::string(what) + " index larger than 512 MiB");
        region(b.offset, b.length, std::string(what) + " index");
        if (blake3(data_ + b.offset, b.length) != b.checksum) corrupt(path_, std::string(what) + " index checksum mismatch");
    };
    check_blob(time, "time");
    check_blob(vec, "vector");
    check_blob(lex, "lexical");
    std::sort(regions.begin(), regions.end());
    for (std::size_t k = 1; k < regions.size(); ++k)
        if (regions[k].first < regions[k - 1].second) corrupt(path_, "regions overlap at " + hex(regions[k].first));

    if (time.present) {
        decoder d(path_, data_, time.offset, time.offset + time.length, "time index");
        if (std::memcmp(d.take(4, "magic"), k_time_magic.data(), 4) != 0) corrupt(path_, "time index: bad magic");
        const auto n = d.u64("count");
        if (n != time.count) corrupt(path_, "time index: count differs from its manifest");
        std::pair<std::int64_t, std::uint64_t> prev{INT64_MIN, 0};
        for (std::uint64_t k = 0; k < n; ++k) {
            std::pair<std::int64_t, std::uint64_t> e{d.i64("timestamp"), d.u64("frame_id")};
            if (e.second >= nframes) corrupt(path_, "time index: frame id out of range");
            if (k && e < prev) corrupt(path_, "time index: entries not sorted");
            prev = e;
        }
        if (!d.done()) corrupt(path_, "time index: trailing bytes");
        I.time_entries = n;
    }
    vec_offset_.assign(nframes, 0);
    if (vec.present) {
        decoder d(path_, data_, vec.offset, vec.offset + vec.length, "vector index");
        const auto n = d.u64("count");
        if (n != vec.count) corrupt(path_, "vector index: count differs from its manifest");
        for (std::uint64_t k = 0; k < n; ++k) {
            const auto id = d.u64("frame_id");
            const auto dim = d.u64("dim");
            if (id >= nframes) corrupt(path_, "vector index: frame id out of range");
            if (dim != I.dimension)
                corrupt(path_,
                        "vector index: a vector has " + std::to_string(dim) + " dimensions, manifest says " +
                            std::to_string(I.dimension));
            if (vec_offset_[id]) corrupt(path_, "vector index: frame " + std::to_string(id) + " has two vectors");
            vec_offset_[id] = d.pos();
            d.take(dim * 4, "vector");
        }
        if (!d.done()) corrupt(path_, "vector index: trailing bytes");
        I.vector_count = n;
    }
    if (lex.present) {
        decoder d(path_, data_, lex.offset, lex.offset + lex.length, "lexical index");
        const auto n = d.u64("count");
        if (n != lex.count) corrupt(path_, "lexical index: count differs from its manifest");
        for (std::uint64_t k = 0; k < n; ++k) {
            if (d.u64("frame_id") >= nframes) corrupt(path_, "lexical index: frame id out of range");
            const auto nt = d.u64("tokens");
            for (std::uint64_t j = 0; j < nt; ++j) d.str("token");
            const auto ntags = d.u64("tags");
            for (std::uint64_t j = 0; j < ntags; ++j) {
                d.str("tag key");
                d.str("tag value");
            }
            d.str("content");
            d.str("content_lower");
            d.opt_str("uri");
            d.opt_str("title");
            const auto ns = d.u64("sections");
            for (std::uint64_t j = 0; j < ns; ++j) {
                d.u64("offset");
                d.str("section");
                d.str("section lower");
            }
        }
        if (!d.done()) corrupt(path_, "lexical index: trailing bytes");
        I.lex_documents = n;
    }
}

std::string capsule_reader::text(std::size_t i) const {
    const auto& f = info_.frames.at(i);
    const auto* p = data_ + f.payload_offset;
    if (f.encoding == 0) return std::string(reinterpret_cast<const char*>(p), f.payload_length);
    std::string out(*f.canonical_length, '\0');
    const auto n = ZSTD_decompress(out.data(), out.size(), p, f.payload_length);
    if (ZSTD_isError(n) || n != out.size()) corrupt(path_, "frame " + std::to_string(i) + ": zstd payload does not decode");
    return out;
}

std::vector<float> capsule_reader::vector(std::size_t i) const {
    if (i >= vec_offset_.size() || !vec_offset_[i]) return {};
    std::vector<float> v(info_.dimension);
    std::memcpy(v.data(), data_ + vec_offset_[i], v.size() * 4);
    return v;
}

}  // namespace mvx::mv2
