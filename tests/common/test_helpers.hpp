#pragma once

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace mvx::test {

// A small valid export request.
inline boost::json::value sample_payload() {
    return boost::json::parse(R"({
      "sessionId": "s-1", "projectName": "demo",
      "source": {"type": "zip", "baseName": "demo", "displayName": "Demo"},
      "nodes": [
        {"id": "File:a.rs", "label": "File", "properties": {"name": "a.rs", "filePath": "a.rs"}},
        {"id": "Function:a.rs:main", "label": "Function",
         "properties": {"name": "main", "filePath": "a.rs", "startLine": 1, "endLine": 3, "language": "rust", "isExported": true}},
        {"id": "comm_0", "label": "Community",
         "properties": {"name": "Cluster_0", "filePath": "", "cohesion": 0.5, "symbolCount": 2, "communities": ["x"]}}
      ],
      "relationships": [
        {"id": "r1", "sourceId": "File:a.rs", "targetId": "Function:a.rs:main", "type": "DEFINES", "confidence": 1, "reason": ""},
        {"id": "r2", "sourceId": "Function:a.rs:main", "targetId": "comm_0", "type": "MEMBER_OF", "confidence": 0.8125, "reason": "leiden", "step": 2}
      ],
      "fileContents": {"a.rs": "// header\nfn main() {\n    println!(\"hi\");\n}\n"},
      "options": {"semanticEnabled": false, "maxSnippetChars": 1400, "maxNodeFrames": 50000, "maxRelationFrames": 120000}
    })");
}

inline std::string to_text(const boost::json::value& v) { return boost::json::serialize(v); }

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        std::random_device rd;
        path = std::filesystem::temp_directory_path() / ("mvx-test-" + std::to_string(rd()) + std::to_string(rd()));
        std::filesystem::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::filesystem::path write(const std::string& name, const std::string& content) const {
        auto p = path / name;
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }
};

inline std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace mvx::test
