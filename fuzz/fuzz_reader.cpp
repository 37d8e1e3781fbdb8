// The validating reader on arbitrary bytes: it accepts a file or throws
// mvx::error (CORRUPT_CAPSULE); it never crashes or reads out of bounds.
#include "common/core/error.hpp"
#include "common/mv2/reader.hpp"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        mvx::mv2::capsule_reader r(data, size, "fuzz.mv2");
        for (std::size_t i = 0; i < r.info().frames.size(); ++i) {
            (void)r.text(i);
            (void)r.vector(i);
        }
    } catch (const mvx::error&) {}
    return 0;
}
