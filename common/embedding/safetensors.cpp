#include "common/embedding/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>

#include "common/core/error.hpp"
#include "common/embedding/json_lite.hpp"

namespace mvx::embedding {
namespace {

[[noreturn]] void bad(const std::string& path, const std::string& msg) {
    throw error(error_kind::invalid_input, "INVALID_MODEL", "safetensors file " + path + ": " + msg);
}

struct dtype_entry {
    const char* text;
    dtype d;
    std::size_t size;
};
constexpr dtype_entry k_dtypes[] = {
    {"F32", dtype::f32, 4}, {"F16", dtype::f16, 2}, {"BF16", dtype::bf16, 2},    {"F64", dtype::f64, 8}, {"I64", dtype::i64, 8},
    {"I32", dtype::i32, 4}, {"I16", dtype::i16, 2}, {"I8", dtype::i8, 1},        {"U8", dtype::u8, 1},   {"U16", dtype::u16, 2},
    {"U32", dtype::u32, 4}, {"U64", dtype::u64, 8}, {"BOOL", dtype::boolean, 1},
};
// Newer dtypes we do not compute with but must size to validate the tiling.
struct other_entry {
    const char* text;
    std::size_t bits;
};
constexpr other_entry k_other[] = {
    {"F8_E4M3", 8}, {"F8_E5M2", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8},
    {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"C64", 64},
};

}  // namespace

const char* dtype_name(dtype d) {
    for (const auto& e : k_dtypes)
        if (e.d == d) return e.text;
    return "other";
}

std::size_t dtype_size(dtype d) {
    for (const auto& e : k_dtypes)
        if (e.d == d) return e.size;
    return 0;
}

std::size_t tensor_view::elements() const {
    std::size_t n = 1;
    for (auto s : shape) n *= static_cast<std::size_t>(s);
    return n;
}

std::string tensor_view::shape_text() const {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

float half_to_float(std::uint16_t h) {
    std::uint32_t sign = std::uint32_t(h & 0x8000) << 16;
    std::uint32_t exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0)
            bits = sign;
        else {  // subnormal
            int e = -1;
            do {
                ++e;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | (std::uint32_t(127 - 15 - e) << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::uint16_t float_to_half(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    std::uint32_t sign = (x >> 16) & 0x8000;
    std::uint32_t exp = (x >> 23) & 0xFF;
    std::uint32_t man = x & 0x7FFFFF;
    if (exp == 0xFF) return std::uint16_t(sign | 0x7C00 | (man ? 0x200 : 0));
    int e = int(exp) - 127 + 15;
    if (e >= 31) return std::uint16_t(sign | 0x7C00);
    if (e <= 0) {
        if (e < -10) return std::uint16_t(sign);
        man |= 0x800000;
        int shift = 14 - e;
        std::uint32_t half = man >> shift;
        std::uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) ++half;
        return std::uint16_t(sign | half);
    }
    std::uint32_t half = sign | (std::uint32_t(e) << 10) | (man >> 13);
    std::uint32_t rem = man & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;
    return std::uint16_t(half);
}

float bf16_to_float(std::uint16_t h) {
    std::uint32_t bits = std::uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::uint16_t float_to_bf16(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7FFFFFFF) > 0x7F800000) return std::uint16_t((x >> 16) | 0x40);
    x += 0x7FFF + ((x >> 16) & 1);
    return std::uint16_t(x >> 16);
}

void tensor_view::to_f32(float* out) const {
    std::size_t n = elements();
    switch (type) {
        case dtype::f32: std::memcpy(out, data, n * 4); break;
        case dtype::f16:
            for (std::size_t i = 0; i < n; ++i) {
                std::uint16_t h;
                std::memcpy(&h, data + 2 * i, 2);
                out[i] = half_to_float(h);
            }
            break;
        case dtype::bf16:
            for (std::size_t i = 0; i < n; ++i) {
                std::uint16_t h;
                std::memcpy(&h, data + 2 * i, 2);
                out[i] = bf16_to_float(h);
            }
            break;
        default:
            throw error(error_kind::invalid_input, "INVALID_MODEL",
                        "tensor " + name + " has dtype " + type_text + ", which is not a float type");
    }
}

safetensors_file::safetensors_file(const std::string& path) : path_(path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw error(error_kind::io, "INVALID_MODEL", "cannot open safetensors file " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        throw error(error_kind::io, "INVALID_MODEL", "cannot stat " + path + ": " + std::strerror(e));
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ < 8) {
        ::close(fd);
        bad(path, "file is " + std::to_string(size_) + " bytes, shorter than the 8-byte header length");
    }
    map_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map_ == MAP_FAILED) {
        map_ = nullptr;
        throw error(error_kind::io, "INVALID_MODEL", "cannot mmap " + path + ": " + std::strerror(errno));
    }
    try {
        const auto* base = static_cast<const std::byte*>(map_);
        std::uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = (n << 8) | std::to_integer<std::uint64_t>(base[i]);
        if (n > 100000000ull) bad(path, "header length " + std::to_string(n) + " exceeds 100,000,000 bytes");
        if (n > size_ - 8)
            bad(path,
                "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size_) + " bytes)");
        std::string_view header(reinterpret_cast<const char*>(base + 8), static_cast<std::size_t>(n));
        json::value doc = json::parse(header, "safetensors header of " + path, true);
        if (!doc.is_object()) bad(path, "header is not a JSON object");
        const std::byte* buffer = base + 8 + n;
        std::size_t buffer_size = size_ - 8 - static_cast<std::size_t>(n);
        std::vector<std::pair<std::size_t, std::size_t>> ranges;
        for (const auto& member : doc.members()) {
            const std::string& name = member.first;
            const json::value& v = member.second;
            if (name == "__metadata__") {
                if (!v.is_object()) bad(path, "__metadata__ is not an object");
                for (const auto& [k, mv] : v.members()) {
                    if (!mv.is_string()) bad(path, "__metadata__." + k + " is not a string");
                    metadata_[k] = mv.as_string();
                }
                continue;
            }
            if (!v.is_object()) bad(path, "entry " + name + " is not an object");
            const json::value* dt = v.find("dtype");
            const json::value* shape = v.find("shape");
            const json::value* offs = v.find("data_offsets");
            if (!dt || !dt->is_string()) bad(path, "tensor " + name + ": missing string \"dtype\"");
            if (!shape || !shape->is_array()) bad(path, "tensor " + name + ": missing array \"shape\"");
            if (!offs || !offs->is_array() || offs->as_array().size() != 2)
                bad(path, "tensor " + name + ": \"data_offsets\" must be [begin, end]");
            tensor_view t;
            t.name = name;
            t.type_text = dt->as_string();
            std::size_t bits = 0;
            for (const auto& e : k_dtypes)
                if (t.type_text == e.text) {
                    t.type = e.d;
                    bits = e.size * 8;
                }
            if (!bits)
                for (const auto& e : k_other)
                    if (t.type_text == e.text) bits = e.bits;
            if (!bits) bad(path, "tensor " + name + ": unknown dtype \"" + t.type_text + "\"");
            std::size_t count = 1;
            for (const auto& d : shape->as_array()) {
                if (!d.is_number() || d.as_number() < 0 || d.as_number() != std::floor(d.as_number()) || d.as_number() > 1e15)
                    bad(path, "tensor " + name + ": shape entries must be non-negative integers");
                t.shape.push_back(static_cast<std::int64_t>(d.as_number()));
                count *= static_cast<std::size_t>(d.as_number());
                if (count > (std::size_t(1) << 48)) bad(path, "tensor " + name + ": shape is too large");
            }
            auto off = [&](const json::value& o) {
                if (!o.is_number() || o.as_number() < 0 || o.as_number() != std::floor(o.as_number()))
                    bad(path, "tensor " + name + ": data_offsets must be non-negative integers");
                return static_cast<std::size_t>(std::stoull(o.number_text()));
            };
            std::size_t begin = off(offs->as_array()[0]), end = off(offs->as_array()[1]);
            if (end < begin) bad(path, "tensor " + name + ": data_offsets end < begin");
            if (end > buffer_size)
                bad(path,
                    "tensor " + name + ": data ends at " + std::to_string(end) + ", past the buffer (" +
                        std::to_string(buffer_size) + " bytes); the file is truncated");
            std::size_t want_bits = count * bits;
            if (want_bits % 8 != 0 || end - begin != want_bits / 8)
                bad(path,
                    "tensor " + name + ": " + std::to_string(end - begin) + " bytes for shape " + t.shape_text() + " of " +
                        t.type_text + " (expected " + std::to_string(want_bits / 8) + ")");
            t.data = buffer + begin;
            t.bytes = end - begin;
            ranges.emplace_back(begin, end);
            tensors_.emplace(name, std::move(t));
        }
        std::sort(ranges.begin(), ranges.end());
        std::size_t at = 0;
        for (const auto& [b, e] : ranges) {
            if (b != at)
                bad(path,
                    b > at ? "gap in the data buffer at byte " + std::to_string(at)
                           : "overlapping tensors at byte " + std::to_string(b));
            at = e;
        }
        if (at != buffer_size)
            bad(path, "data buffer is " + std::to_string(buffer_size) + " bytes but tensors cover " + std::to_string(at));
        ::madvise(map_, size_, MADV_WILLNEED);
    } catch (...) {
        ::munmap(map_, size_);
        map_ = nullptr;
        throw;
    }
}

safetensors_file::~safetensors_file() {
    if (map_) ::munmap(map_, size_);
}

const tensor_view* safetensors_file::find(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
}

void write_safetensors(const std::string& path, const std::vector<st_tensor>& tensors, dtype as) {
    if (as != dtype::f32 && as != dtype::f16 && as != dtype::bf16)
        throw error(error_kind::invalid_input, "INVALID_ARGUMENT", "write_safetensors: dtype must be F32, F16 or BF16");
    const std::size_t esz = dtype_size(as);
    std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
    std::size_t off = 0;
    for (const auto& t : tensors) {
        std::string shape;
        for (std::size_t i = 0; i < t.shape.size(); ++i) {
            if (i) shape += ',';
            shape += std::to_string(t.shape[i]);
        }
        const std::size_t bytes = t.data.size() * esz;
        header += ",\"" + t.name + "\":{\"dtype\":\"" + dtype_name(as) + "\",\"shape\":[" + shape + "],\"data_offsets\":[" +
            std::to_string(off) + "," + std::to_string(off + bytes) + "]}";
        off += bytes;
    }
    header += "}";
    while ((8 + header.size()) % 8) header += ' ';
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(std::uint64_t(header.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(header.data(), std::streamsize(header.size()));
    std::vector<char> buf;
    for (const auto& t : tensors) {
        buf.resize(t.data.size() * esz);
        for (std::size_t i = 0; i < t.data.size(); ++i) {
            if (esz == 4) {
                std::memcpy(&buf[i * 4], &t.data[i], 4);
            } else {
                std::uint16_t h = as == dtype::f16 ? float_to_half(t.data[i]) : float_to_bf16(t.data[i]);
                std::memcpy(&buf[i * 2], &h, 2);
            }
        }
        out.write(buf.data(), std::streamsize(buf.size()));
    }
    out.flush();
    if (!out) throw error(error_kind::io, "IO_ERROR", "cannot write " + path);
}

}  // namespace mvx::embedding
