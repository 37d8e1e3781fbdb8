// Unpaired UTF-16 surrogate escapes in JSON text, repaired as they stream
// by: the pre-parse step of the export request parser (export_request.cpp).
#pragma once

#include <cstddef>
#include <string>

namespace mvx::contract {

// Rewrites unpaired UTF-16 surrogate escapes (\uD83D without its low half,
// or a lone \uDE00) inside JSON strings to \uFFFD, in place: the browser
// client cuts file contents at a UTF-16 length and JSON.stringify writes the
// orphaned half as an escape, which a strict parser refuses. Same length, so
// byte offsets in later error messages stay true. Streams across chunks by
// holding back an escape that may continue in the next one.
class surrogate_fixer {
public:
    // Processes buf (carry from the last call first); returns how many bytes of
    // buf are final; the rest must be passed again with the next chunk.
    std::size_t run(std::string& buf, bool last);
    std::size_t replaced() const { return replaced_; }

private:
    static int hex4(const std::string& b, std::size_t at);
    void replace(std::string& b, std::size_t at) {
        b.replace(at + 2, 4, "FFFD");
        ++replaced_;
    }
    bool in_string_ = false;
    std::size_t replaced_ = 0;
};

}  // namespace mvx::contract
