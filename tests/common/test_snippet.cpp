#include "common/contract/export_request.hpp"
#include "common/transform/frames.hpp"
#include "common/transform/snippet.hpp"
#include "test_helpers.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

using namespace mvx;
namespace json = boost::json;

namespace {

// The GitNexus browser client's compaction (useAppState.tsx), written out
// independently as the oracle: ranges of the file's nodes, +-20 lines, the
// first 10, trimmed, joined with "\n\n...\n\n", cut at max(2000, 3*maxSnippetChars).
std::string client_compact(const std::string& content, const std::vector<std::pair<int, int>>& ranges,
                           std::size_t max_snippet_chars) {
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (true) {
        auto nl = content.find('\n', pos);
        lines.push_back(content.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
        if (nl == std::string::npos) break;
        pos = nl + 1;
    }
    auto trim = [](std::string s) {
        auto ws = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
        while (!s.empty() && ws(s.front())) s.erase(s.begin());
        while (!s.empty() && ws(s.back())) s.pop_back();
        return s;
    };
    std::vector<std::string> parts;
    const int len = static_cast<int>(lines.size());
    for (std::size_t i = 0; i < std::min<std::size_t>(10, ranges.size()); ++i) {
        const int start = std::max(1, ranges[i].first - 20);
        const int end = std::min(len, std::max(start, ranges[i].second + 20));
        if (start > len || end < start) continue;
        std::string chunk;
        for (int k = start - 1; k < end; ++k) {
            if (k > start - 1) chunk += '\n';
            chunk += lines[k];
        }
        chunk = trim(chunk);
        if (!chunk.empty()) parts.push_back(chunk);
    }
    std::string joined;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i) joined += "\n\n...\n\n";
        joined += parts[i];
    }
    const std::size_t limit = std::max<std::size_t>(2000, max_snippet_chars * 3);
    if (joined.size() > limit) joined = joined.substr(0, limit) + "\n...[truncated]";
    return joined;
}

}  // namespace

TEST_CASE("whole files: GitNexus line numbers are 0-based", "[snippet]") {
    auto req = contract::parse_request(test::to_text(test::sample_payload()));
    transform::snippet_builder sb(req);
    CHECK_FALSE(sb.compact_mode());
    // main: startLine 1, endLine 3 -> lines 1..3 counted from 0.
    auto s = sb.build(req.nodes[1]);
    CHECK(s.text == "fn main() {\n    println!(\"hi\");\n}");
    CHECK(s.source == transform::snippet_source::exact);
    // A File node without lines: its first lines.
    CHECK(sb.build(req.nodes[0]).text == "// header\nfn main() {\n    println!(\"hi\");\n}");
    // No content for the path.
    CHECK(sb.build(req.nodes[2]).text == "<no source content available>");
}

TEST_CASE("compact contents: every node whose lines were sent gets its real lines", "[snippet]") {
    // A synthetic source with blank lines and indentation where ranges start,
    // nodes at many places, some overlapping, some beyond the 10 sent ranges.
    std::mt19937 rng(1234);
    std::vector<std::string> file_lines;
    for (int i = 0; i < 600; ++i) {
        const int kind = static_cast<int>(rng() % 5);
        if (kind == 0)
            file_lines.push_back("");
        else if (kind == 1)
            file_lines.push_back("    let v" + std::to_string(i) + " = " + std::to_string(i * 7) + ";");
        else
            file_lines.push_back("fn item_" + std::to_string(i) + "() {}  // line " + std::to_string(i));
    }
    // Force blank lines just before several range starts (trim() removes them).
    for (int at : {29, 30, 31, 179, 180, 399}) file_lines[at] = "";
    std::string content;
    for (std::size_t i = 0; i < file_lines.size(); ++i) {
        if (i) content += '\n';
        content += file_lines[i];
    }
    json::array nodes, ranges_json;
    std::vector<std::pair<int, int>> ranges;
    const std::vector<std::pair<int, int>> spans = {{0, 0},     {52, 60},   {60, 75},   {200, 230}, {201, 205}, {300, 302},
                                                    {420, 440}, {500, 501}, {560, 590}, {590, 599}, {100, 120}};
    std::size_t k = 0;
    for (auto [s, e] : spans) {
        // Name each node after its first line so the anchor can be checked.
        if (file_lines[s].empty()) file_lines[s] = "fn node_" + std::to_string(k) + "() {}";
        ++k;
    }
    content.clear();
    for (std::size_t i = 0; i < file_lines.size(); ++i) {
        if (i) content += '\n';
        content += file_lines[i];
    }
    k = 0;
    for (auto [s, e] : spans) {
        const std::string& first = file_lines[s];
        std::string name;
        if (auto f = first.find("fn "); f != std::string::npos)
            name = first.substr(f + 3, first.find('(') - f - 3);
        else
            name = first.substr(first.find("let ") + 4, first.find(" =") - first.find("let ") - 4);
        nodes.push_back(
            json::object{{"id", "n" + std::to_string(k)},
                         {"label", "Function"},
                         {"properties", json::object{{"name", name}, {"filePath", "big.rs"}, {"startLine", s}, {"endLine", e}}}});
        ranges.emplace_back(s, e);
        ++k;
    }
    const std::string compact = client_compact(content, ranges, 5000);
    auto v = test::sample_payload();
    v.as_object()["nodes"] = nodes;
    v.as_object()["relationships"] = json::array{};
    v.as_object()["fileContents"] = json::object{{"big.rs", compact}};
    v.at("options").as_object()["maxSnippetChars"] = 5000;
    auto req = contract::parse_request(test::to_text(v));
    transform::snippet_builder sb(req);
    REQUIRE(sb.compact_mode());

    std::size_t exact = 0;
    for (std::size_t i = 0; i < spans.size(); ++i) {
        auto [s, e] = spans[i];
        std::string want;
        for (int l = s; l <= e; ++l) {
            if (l > s) want += '\n';
            want += file_lines[l];
        }
        const auto got = sb.build(req.nodes[i]);
        INFO("node " << i << " lines " << s << "-" << e);
        if (i < 10) {
            // Sent by the client: must be the real lines.
            CHECK(got.source == transform::snippet_source::exact);
            CHECK(got.text == want);
            exact += got.text == want;
        } else {
            // The 11th range is never sent; lines overlapping other ranges may still be known.
            CHECK((got.text == want || got.source != transform::snippet_source::exact));
        }
    }
    CHECK(exact == 10);
}

TEST_CASE("compact contents cut by the size limit keep only whole known lines", "[snippet]") {
    std::string content;
    for (int i = 0; i < 400; ++i) content += "line number " + std::to_string(i) + " with some padding text here\n";
    const std::vector<std::pair<int, int>> spans = {{10, 12}, {100, 140}, {300, 320}};
    const std::string compact = client_compact(content, spans, 850);  // 2550-char budget
    REQUIRE(compact.size() > 2000);
    json::array nodes;
    for (std::size_t i = 0; i < spans.size(); ++i)
        nodes.push_back(json::object{{"id", "n" + std::to_string(i)},
                                     {"label", "Function"},
                                     {"properties",
                                      json::object{{"name", "line number " + std::to_string(spans[i].first)},
                                                   {"filePath", "f.txt"},
                                                   {"startLine", spans[i].first},
                                                   {"endLine", spans[i].second}}}});
    auto v = test::sample_payload();
    v.as_object()["nodes"] = nodes;
    v.as_object()["relationships"] = json::array{};
    v.as_object()["fileContents"] = json::object{{"f.txt", compact}};
    v.at("options").as_object()["maxSnippetChars"] = 850;
    auto req = contract::parse_request(test::to_text(v));
    transform::snippet_builder sb(req);
    auto a = sb.build(req.nodes[0]);
    CHECK(a.source == transform::snippet_source::exact);
    CHECK(a.text.rfind("line number 10 ", 0) == 0);
    auto b = sb.build(req.nodes[1]);
    // The second range is cut: its first lines are real, the rest is marked.
    CHECK(b.source == transform::snippet_source::partial);
    CHECK(b.text.rfind("line number 100 ", 0) == 0);
    CHECK(b.text.find("not in the export payload]") != std::string::npos);
    CHECK(sb.build(req.nodes[2]).text == "<no source content available>");
}

TEST_CASE("truncate_chars counts characters, not bytes", "[snippet]") {
    CHECK(transform::truncate_chars("héllo", 2) == "hé\n...[truncated]");
    CHECK(transform::truncate_chars("abc", 3) == "abc");
}

TEST_CASE("frame layout matches the original system", "[frames]") {
    auto req = contract::parse_request(test::to_text(test::sample_payload()));
    transform::frame_builder fb(req, "2026-01-02T03:04:05Z", false);
    REQUIRE(fb.size() == 3 + 2 + 5);
    auto f0 = fb.build(0);
    CHECK(f0.title == "File: a.rs");
    CHECK(f0.uri == "mv2://nodes/File:a.rs");
    CHECK(f0.track == "files");
    auto f1 = fb.build(1);
    CHECK(f1.track == "nodes/Function");
    CHECK(f1.text ==
          "Node Function\nid=Function:a.rs:main\nname=main\nfilePath=a.rs\n\nsnippet:\nfn main() {\n    println!(\"hi\");\n}"
          "\n\nmetadata={\"cohesion\":null,\"communities\":null,\"description\":null,\"endLine\":3,\"enrichedBy\":null,"
          "\"entryPointId\":null,\"entryPointReason\":null,\"entryPointScore\":null,\"filePath\":\"a.rs\","
          "\"heuristicLabel\":null,\"id\":\"Function:a.rs:main\",\"isExported\":true,\"keywords\":null,\"label\":\"Function\","
          "\"language\":\"rust\",\"name\":\"main\",\"processType\":null,\"startLine\":1,\"stepCount\":null,"
          "\"symbolCount\":null,\"terminalId\":null}");
    auto f2 = fb.build(2);
    CHECK(f2.uri == "mv2://communities/comm_0");
    CHECK(f2.track == "communities");
    auto r1 = fb.build(4);
    CHECK(r1.title == "main MEMBER_OF Cluster_0");
    CHECK(r1.uri == "mv2://relations/r2");
    CHECK(r1.track == "relations/MEMBER_OF");
    CHECK(r1.text.rfind("Relationship MEMBER_OF\nsource=main (Function)\ntarget=Cluster_0 (Community)\n"
                        "confidence=0.812\nreason=leiden step=2\n\nmetadata={\"confidence\":0.8125,",
                        0) == 0);
    auto m = fb.build(5);
    CHECK(m.uri == "mv2://meta/manifest");
    CHECK(m.text.rfind("GitNexus export manifest\nproject=demo\nsource=demo\nnodes=3\nrelationships=2\n\nmetadata={", 0) == 0);
    CHECK(m.metadata_json.find("\"generatedAt\":\"2026-01-02T03:04:05Z\"") != std::string::npos);
    CHECK(m.metadata_json.find("\"nodeLabels\":{\"Community\":1,\"File\":1,\"Function\":1}") != std::string::npos);
    const std::vector<std::string> bible = {"mv2://meta/ai-bible/manifest", "mv2://meta/ai-bible/tool-matrix",
                                            "mv2://meta/ai-bible/retrieval-ladder", "mv2://meta/ai-bible/playbooks/core"};
    for (std::size_t i = 0; i < 4; ++i) CHECK(fb.build(6 + i).uri == bible[i]);
    CHECK(fb.build(9).tags[4] == std::pair<std::string, std::string>("kind", "ai-bible"));
    CHECK(transform::capsule_file_name("demo", "2026-01-02") == "demo-gitnexus-mem_capsule-2026-01-02.mv2");
}

TEST_CASE("option limits cut node and relation frames", "[frames]") {
    auto v = test::sample_payload();
    v.at("options").as_object()["maxNodeFrames"] = 1;
    v.at("options").as_object()["maxRelationFrames"] = 0;
    auto req = contract::parse_request(test::to_text(v));
    transform::frame_builder fb(req, "2026-01-02T03:04:05Z", false);
    CHECK(fb.size() == 1 + 0 + 5);
    CHECK(fb.build(1).uri == "mv2://meta/manifest");
}
