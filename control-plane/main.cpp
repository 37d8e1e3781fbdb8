// memvid-export-api: the /v1/exports control plane (Boost.Beast).
//
// This build carries the shared contract and packing library; the HTTP
// server, job store and queue backends are the control-plane issue. Until
// then the binary offers `validate`, which checks a POST /v1/exports body
// with the same parser the API will use.
#include "common/core/error.hpp"
#include "common/core/json_out.hpp"
#include "common/pack/pack.hpp"

#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        std::cout << "memvid-export-api 0.1.0\n\nUsage:\n"
                     "  memvid-export-api validate <payload.json|payload.json.zst>\n"
                     "      check an export request body; prints its counts or the error with its JSON path\n"
                     "\nThe HTTP server (/v1/exports) is not part of this build yet.\n";
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
        std::cout << "memvid-export-api 0.1.0" << std::endl;
        return 0;
    }
    namespace J = mvx::json_out;
    try {
        if (args[0] != "validate" || args.size() != 2)
            mvx::throw_argument("usage: memvid-export-api validate <payload>");
        const auto req = mvx::pack::load_payload(args[1], {});
        J::object o;
        o.raw("valid", "true")
            .raw("nodes", J::u64(req.nodes.size()))
            .raw("relationships", J::u64(req.relationships.size()))
            .raw("files", J::u64(req.file_contents.size()))
            .raw("payloadBytes", J::u64(req.payload_bytes))
            .raw("repairedFileContentChars", J::u64(req.repaired_file_content_chars));
        std::cout << o.str() << std::endl;
        return 0;
    } catch (const mvx::error& e) {
        J::object inner;
        inner.str("code", e.code()).str("message", e.what());
        J::object o;
        o.raw("error", inner.str());
        std::cout << o.str() << std::endl;
        return 2;
    } catch (const std::exception& e) {
        std::cout << "{\"error\":{\"code\":\"INTERNAL\",\"message\":" << J::string(e.what()) << "}}" << std::endl;
        return 1;
    }
}
