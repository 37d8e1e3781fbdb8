// safetensors reader: our own header parser over an mmapped file.
// Format: u64 LE header length N (<= 100,000,000), N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the byte buffer. Offsets are relative to the buffer; sorted by offset the
// tensors must tile it exactly; end - begin = product(shape) * dtype size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace mvx::embedding {

enum class dtype { f32, f16, bf16, f64, i64, i32, i16, i8, u8, u16, u32, u64, boolean, other };

const char* dtype_name(dtype d);
std::size_t dtype_size(dtype d);  // 0 for `other`

struct tensor_view {
    std::string name;
    dtype type = dtype::other;
    std::string type_text;  // as written in the header, e.g. "F8_E4M3"
    std::vector<std::int64_t> shape;
    const std::byte* data = nullptr;
    std::size_t bytes = 0;

    std::size_t elements() const;
    bool is_float() const { return type == dtype::f32 || type == dtype::f16 || type == dtype::bf16; }
    // Converts to fp32 (F32, F16, BF16 only).
    void to_f32(float* out) const;
    std::string shape_text() const;  // "[384, 1536]"
};

class safetensors_file {
public:
    // Maps the file read-only and validates the header; throws mvx::error
    // naming the file and the problem.
    explicit safetensors_file(const std::string& path);
    ~safetensors_file();
    safetensors_file(const safetensors_file&) = delete;
    safetensors_file& operator=(const safetensors_file&) = delete;

    const tensor_view* find(const std::string& name) const;
    const std::map<std::string, tensor_view>& tensors() const { return tensors_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const std::string& path() const { return path_; }
    std::size_t file_size() const { return size_; }

private:
    std::string path_;
    void* map_ = nullptr;
    std::size_t size_ = 0;
    std::map<std::string, tensor_view> tensors_;
    std::map<std::string, std::string> metadata_;
};

// Writes tensors given in fp32 as one safetensors file of dtype f32, f16 or
// bf16 (header padded to 8 bytes). For tests, tools and conversions.
struct st_tensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> data;
};
void write_safetensors(const std::string& path, const std::vector<st_tensor>& tensors, dtype as);

// fp16/bf16 <-> fp32, round-to-nearest-even.
float half_to_float(std::uint16_t h);
std::uint16_t float_to_half(float f);
float bf16_to_float(std::uint16_t h);
std::uint16_t float_to_bf16(float f);

}  // namespace mvx::embedding
