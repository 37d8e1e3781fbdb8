// Fuzzes the safetensors header parser and validator with arbitrary files:
// every input either parses into tensors that lie inside the buffer or throws
// mvx::error; nothing else.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/core/error.hpp"
#include "common/embedding/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto path = (std::filesystem::temp_directory_path() / ("mvx-fuzz-st-" + std::to_string(::getpid()))).string();
    {
        std::ofstream f(path, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(data), std::streamsize(size));
    }
    try {
        mvx::embedding::safetensors_file st(path);
        for (const auto& [name, t] : st.tensors()) {
            const auto* base = t.data;
            if (t.bytes && (base == nullptr)) std::abort();
            if (t.is_float() && t.elements() < 4096) {
                std::vector<float> out(t.elements());
                t.to_f32(out.data());
            }
        }
    } catch (const mvx::error&) {}
    return 0;
}
