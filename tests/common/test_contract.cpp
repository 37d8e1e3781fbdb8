#include "common/contract/export_request.hpp"
#include "common/core/error.hpp"
#include "test_helpers.hpp"

#include <catch2/catch.hpp>

using namespace mvx;
using Catch::Matchers::Contains;
namespace json = boost::json;

namespace {
std::string error_of(const std::string& text, const contract::limits& lim = {}) {
    try {
        contract::parse_request(text, "payload.json", lim);
    } catch (const mvx::error& e) {
        return e.what();
    }
    return "<no error>";
}
std::string error_of_value(const json::value& v) { return error_of(test::to_text(v)); }
}  // namespace

TEST_CASE("a valid payload parses into the contract types", "[contract]") {
    auto req = contract::parse_request(test::to_text(test::sample_payload()));
    REQUIRE(req.nodes.size() == 3);
    CHECK(req.nodes[1].properties.start_line == 1u);
    CHECK(req.nodes[1].properties.is_exported == true);
    CHECK(req.nodes[2].properties.cohesion == 0.5);
    REQUIRE(req.relationships.size() == 2);
    CHECK(req.relationships[1].step == 2u);
    CHECK(req.relationships[0].confidence == 1.0);
    CHECK(req.source.url == std::nullopt);
    REQUIRE(req.file_content("a.rs") != nullptr);
    CHECK(req.options.max_snippet_chars == 1400);
}

TEST_CASE("unknown fields are ignored", "[contract]") {
    auto v = test::sample_payload();
    v.as_object()["extra"] = "x";
    v.at("nodes").at(0).at("properties").as_object()["whatever"] = json::array{1, 2};
    CHECK_NOTHROW(contract::parse_request(test::to_text(v)));
}

TEST_CASE("type errors name the JSON path", "[contract]") {
    auto v = test::sample_payload();
    v.at("nodes").at(1).at("properties").as_object()["filePath"] = 7;
    CHECK(error_of_value(v) == "nodes[1].properties.filePath: expected string, got number");

    v = test::sample_payload();
    v.at("nodes").at(2).at("properties").as_object().erase("name");
    CHECK(error_of_value(v) == "nodes[2].properties.name: expected string, got nothing (missing field)");

    v = test::sample_payload();
    v.at("relationships").at(1).as_object()["confidence"] = "high";
    CHECK(error_of_value(v) == "relationships[1].confidence: expected number, got string");

    v = test::sample_payload();
    v.at("nodes").at(1).at("properties").as_object()["startLine"] = -4;
    CHECK(error_of_value(v) == "nodes[1].properties.startLine: expected non-negative integer, got -4");

    v = test::sample_payload();
    v.at("options").as_object()["semanticEnabled"] = "yes";
    CHECK(error_of_value(v) == "options.semanticEnabled: expected boolean, got string");

    CHECK(error_of("[]") == "payload: expected object, got array");
}

TEST_CASE("malformed JSON reports where", "[contract]") {
    const auto text = test::to_text(test::sample_payload());
    CHECK_THAT(error_of(text.substr(0, text.size() / 2)), Contains("JSON ended early") && Contains("truncated"));
    CHECK_THAT(error_of(""), Contains("empty input"));
    std::string with_nul = text;
    with_nul.insert(with_nul.find("\"demo\""), 1, '\0');
    CHECK_THAT(error_of(with_nul), Contains("invalid JSON at byte") && Contains("line 1"));
    CHECK_THAT(error_of(text + " {}"), Contains("unexpected data after the JSON document"));
}

TEST_CASE("NUL and invalid UTF-8 never reach a frame", "[contract]") {
    auto v = test::sample_payload();
    v.at("nodes").at(1).as_object()["id"] = std::string("a\0b", 3);
    CHECK(error_of_value(v) == "nodes[1].id: string contains a NUL character (U+0000), which is not allowed here");

    // Invalid UTF-8 in a name: rejected with its path.
    std::string text = test::to_text(test::sample_payload());
    std::string bad = text;
    bad.replace(bad.find("\"main\""), 6, "\"ma\xFFin\"");
    CHECK_THAT(error_of(bad), Contains("properties.name: invalid UTF-8"));

    // Invalid UTF-8 and NUL in file contents: repaired (U+FFFD) and counted.
    std::string content = text;
    content.replace(content.find("// header"), 9,
                    "// he\xC3\x28"
                    "der\\u0000");
    auto req = contract::parse_request(content);
    const std::string_view body = *req.file_content("a.rs");
    CHECK(req.repaired_file_content_chars == 2);
    CHECK(body.find("\xEF\xBF\xBD") != std::string_view::npos);
    CHECK(body.find('\0') == std::string_view::npos);
}

TEST_CASE("unpaired UTF-16 surrogate escapes read as U+FFFD, also across chunks", "[contract]") {
    std::string text = test::to_text(test::sample_payload());
    // The client cut an emoji in half; a lone low half sits in a name; a real pair stays.
    text.replace(text.find("// header"), 9, "// h\\ud83d \\\\ud83d \\ud83d\\ude00 cut\\ud83d");
    text.replace(text.find("\"main\""), 6, "\"ma\\udc00in\"");
    for (std::size_t chunk : {std::size_t(1), std::size_t(5), std::size_t(7), text.size()}) {
        contract::request_parser p;
        for (std::size_t i = 0; i < text.size(); i += chunk) p.write(text.data() + i, std::min(chunk, text.size() - i), "p");
        const auto req = p.finish("p");
        INFO("chunk " << chunk);
        CHECK(req.repaired_surrogates == 3);
        CHECK(*req.file_content("a.rs") ==
              "// h\xEF\xBF\xBD \\ud83d \xF0\x9F\x98\x80 cut\xEF\xBF\xBD\nfn main() {\n    println!(\"hi\");\n}\n");
        CHECK(req.nodes[1].properties.name == "ma\xEF\xBF\xBDin");
    }
}

TEST_CASE("graph integrity errors", "[contract]") {
    auto v = test::sample_payload();
    v.at("nodes").at(2).as_object()["id"] = "File:a.rs";
    CHECK_THAT(error_of_value(v), Contains("nodes[2].id: duplicate node id \"File:a.rs\" (first used by nodes[0])"));

    v = test::sample_payload();
    v.at("relationships").at(0).as_object()["targetId"] = "nope";
    CHECK_THAT(error_of_value(v), Contains("relationships[0].targetId: unknown node id \"nope\""));
}

TEST_CASE("upstream GitNexus payloads: what the original's lenient models accepted", "[contract]") {
    auto v = test::sample_payload();
    auto& nodes = v.at("nodes").as_array();
    auto& rels = v.at("relationships").as_array();
    nodes.at(2).at("properties").as_object().erase("filePath");  // a Community without filePath
    auto& fn = nodes.at(1).at("properties").as_object();
    fn["returnType"] = "i32";
    fn["visibility"] = "public";
    fn["parameterCount"] = 2;
    fn["isStatic"] = false;
    fn["annotations"] = boost::json::array{"#[inline]", "#[must_use]"};
    fn["middleware"] = boost::json::object{{"z", 1}, {"a", boost::json::array{nullptr, 1.5}}};
    fn["id"] = "a property that must not replace the node's id";
    auto& r0 = rels.at(0).as_object();
    r0["confidence"] = nullptr;
    r0["reason"] = nullptr;
    r0["step"] = nullptr;
    r0["evidence"] = boost::json::array{boost::json::object{{"line", 3}, {"kind", "call"}}};
    rels.push_back(rels.at(0));  // a parallel edge under the same id
    rels.at(2).as_object()["reason"] = "second";
    rels.push_back(rels.at(0));
    nodes.push_back(boost::json::object{
        {"id", "Decorator:x"}, {"label", "Decorator"}, {"properties", boost::json::object{{"name", "x"}, {"filePath", "a.rs"}}}});
    const auto req = contract::parse_request(test::to_text(v));
    CHECK(req.nodes.at(2).properties.file_path.empty());
    CHECK(req.relationships.at(0).confidence == 1.0);
    CHECK(req.relationships.at(0).reason.empty());
    CHECK_FALSE(req.relationships.at(0).step.has_value());
    CHECK(req.relationships.at(0).extra.size() == 1);
    CHECK(req.relationships.size() == 4);
    CHECK(req.relationships.at(2).id == "r1#2");
    CHECK(req.relationships.at(2).payload_id == "r1");
    CHECK(req.relationships.at(3).id == "r1#3");
    CHECK(req.nodes.at(1).extra.size() == 7);
    CHECK(req.lenient.missing_file_path == 1);
    CHECK(req.lenient.default_confidence == 3);  // r0 and its two copies
    CHECK(req.lenient.default_reason == 2);
    CHECK(req.lenient.null_step == 3);
    CHECK(req.lenient.duplicate_relationship_ids == 2);
    CHECK(req.lenient.nodes_with_extra_properties == 1);
    CHECK(req.lenient.relationships_with_extra_members == 3);

    // What is really broken is still refused, with the path: wrong types, unknown ends, bad text.
    auto bad = v;
    bad.at("relationships").at(0).as_object()["confidence"] = "high";
    CHECK(error_of_value(bad) == "relationships[0].confidence: expected number, got string");
    bad = v;
    bad.at("nodes").at(1).at("properties").as_object()["annotations"] = boost::json::array{"ok", "bad\xff"};
    CHECK_THAT(error_of_value(bad), Contains("nodes[1].properties.annotations[1]: invalid UTF-8"));
    bad = v;
    bad.at("relationships").at(3).as_object()["targetId"] = "nowhere";
    CHECK_THAT(error_of_value(bad), Contains("relationships[3].targetId: unknown node id \"nowhere\""));
}

TEST_CASE("limits give clear errors", "[contract]") {
    const auto text = test::to_text(test::sample_payload());
    contract::limits lim;
    lim.max_nodes = 2;
    CHECK_THAT(error_of(text, lim), Contains("nodes: 3 nodes exceed the limit of 2"));
    lim = {};
    lim.max_payload_bytes = 100;
    CHECK_THAT(error_of(text, lim), Contains("payload exceeds the limit of 100 bytes"));
    lim = {};
    lim.max_frames = 9;
    CHECK_THAT(error_of(text, lim), Contains("10 frames") && Contains("maxNodeFrames"));
    lim = {};
    lim.max_string_bytes = 3;
    CHECK_THAT(error_of(text, lim), Contains("projectName: string of 4 bytes exceeds the limit of 3 bytes"));
    lim = {};
    lim.max_depth = 3;
    CHECK_THAT(error_of(text, lim), Contains("invalid JSON"));
}

TEST_CASE("admission mode checks file contents without keeping them, with the same errors", "[contract]") {
    contract::limits drop;
    drop.keep_file_contents = false;
    const std::string text = test::to_text(test::sample_payload());
    auto kept = contract::parse_request(text);
    // Chunked as the control plane feeds it: one byte at a time crosses every boundary.
    contract::request_parser p(drop);
    for (char c : text) p.write(&c, 1, "body");
    auto dropped = p.finish("body");
    CHECK(dropped.nodes.size() == kept.nodes.size());
    CHECK(dropped.relationships.size() == kept.relationships.size());
    REQUIRE(dropped.file_contents.size() == kept.file_contents.size());
    REQUIRE(dropped.file_content("a.rs") != nullptr);
    CHECK(dropped.file_content("a.rs")->empty());
    CHECK_FALSE(kept.file_content("a.rs")->empty());

    auto v = test::sample_payload();
    v.at("fileContents").as_object()["b.rs"] = 5;
    const std::string wrong_type = test::to_text(v);
    CHECK(error_of(wrong_type, drop) == error_of(wrong_type));
    CHECK_THAT(error_of(wrong_type, drop), Contains("fileContents.b.rs"));

    contract::limits small_kept;
    small_kept.max_file_content_bytes = 3;
    contract::limits small_drop = small_kept;
    small_drop.keep_file_contents = false;
    CHECK(error_of(text, small_drop) == error_of(text, small_kept));
    CHECK_THAT(error_of(text, small_drop), Contains("exceeds the limit of 3 bytes"));
}
