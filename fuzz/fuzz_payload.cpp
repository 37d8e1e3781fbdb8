// Payload parser + frame building: any bytes either parse into a request whose
// frames build, or fail with mvx::error; nothing else (no crash, no other
// exception, no sanitizer report).
#include "common/contract/export_request.hpp"
#include "common/core/error.hpp"
#include "common/transform/frames.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    mvx::contract::limits lim;
    lim.max_payload_bytes = 1 << 20;
    try {
        const auto req = mvx::contract::parse_request(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz", lim);
        mvx::transform::frame_builder frames(req, "2026-01-01T00:00:00Z", false);
        std::size_t total = 0;
        for (std::size_t i = 0; i < frames.size() && i < 4096; ++i) total += frames.build(i).text.size();
        if (total == 0) __builtin_trap();  // every frame has text
    } catch (const mvx::error&) {}
    return 0;
}
