#include "common/transform/frames.hpp"

#include "common/core/json_text.hpp"

#include "common/core/json_out.hpp"

#include <algorithm>
#include <cstdio>
#include <map>

namespace mvx::transform {
namespace {

constexpr const char* k_mv2_schema_version = "gitnexus.mv2.schema.v1";
constexpr const char* k_export_schema_version = "gitnexus.export.schema.v1";
constexpr const char* k_ai_bible_version = "gitnexus.ai-bible.v1";

std::string opt_u64(const std::optional<std::uint64_t>& v) { return v ? json_out::u64(*v) : json_out::null(); }
std::string opt_f64(const std::optional<double>& v) { return v ? json_out::f64(*v) : json_out::null(); }
std::string opt_bool(const std::optional<bool>& v) { return v ? json_out::boolean(*v) : json_out::null(); }
std::string opt_strings(const std::optional<std::vector<std::string_view>>& v) {
    return v ? json_out::array_of_strings(*v) : json_out::null();
}

// Appends "\nkey: value" for a set field.
void field(std::string& out, std::string_view key, const std::optional<std::string_view>& v) {
    if (!v || v->empty()) return;
    out += '\n';
    out += key;
    out += ": ";
    out += *v;
}
void field(std::string& out, std::string_view key, const std::optional<std::string>& v) {
    if (v) field(out, key, std::optional<std::string_view>(*v));
}
std::optional<std::string> num(const std::optional<std::uint64_t>& v) {
    return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
}
std::optional<std::string> num(const std::optional<double>& v) {
    return v ? std::optional<std::string>(json_out::f64(*v)) : std::nullopt;
}
std::optional<std::string> joined(const std::optional<std::vector<std::string_view>>& v) {
    if (!v || v->empty()) return std::nullopt;
    std::string s;
    for (std::size_t i = 0; i < v->size(); ++i) {
        if (i) s += ' ';
        s += (*v)[i];
    }
    return s;
}

// "applyAclToSearch_hits" -> "apply acl to search hits": the words of an
// identifier, so word queries find camelCase and snake_case names.
std::string symbol_words(std::string_view name) {
    std::string out;
    char prev = 0;
    for (char c : name) {
        const bool alnum = std::isalnum(static_cast<unsigned char>(c)) != 0;
        const bool upper = std::isupper(static_cast<unsigned char>(c)) != 0;
        if (!alnum) {
            if (!out.empty() && out.back() != ' ') out += ' ';
        } else {
            if (upper && prev && std::islower(static_cast<unsigned char>(prev)) && !out.empty() && out.back() != ' ') out += ' ';
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        prev = c;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

std::string node_track(std::string_view label) {
    if (label == "Community") return "communities";
    if (label == "Process") return "processes";
    if (label == "File") return "files";
    return "nodes/" + std::string(label);
}

std::string fixed3(double v) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

}  // namespace

std::string capsule_file_name(std::string_view base_name, std::string_view date_utc) {
    return std::string(base_name) + "-gitnexus-mem_capsule-" + std::string(date_utc) + ".mv2";
}

frame_builder::frame_builder(const contract::export_request& req, std::string generated_at, bool semantic)
    : req_(req),
      generated_at_(std::move(generated_at)),
      semantic_(semantic),
      node_frames_(std::min<std::uint64_t>(req.options.max_node_frames, req.nodes.size())),
      relation_frames_(std::min<std::uint64_t>(req.options.max_relation_frames, req.relationships.size())),
      snippets_(req) {
    node_index_.reserve(req.nodes.size() * 2);
    for (std::size_t i = 0; i < req.nodes.size(); ++i) node_index_.emplace(req.nodes[i].id, i);
}

void frame_builder::add_tags(frame_document& d, std::string third_key, std::string third_value) const {
    d.tags.reserve(6);
    d.tags.emplace_back("track", d.track);
    d.tags.emplace_back("label", d.label);
    d.tags.emplace_back("semantic", semantic_ ? "true" : "false");
    d.tags.emplace_back("source", "gitnexus");
    d.tags.emplace_back(std::move(third_key), std::move(third_value));
    d.tags.emplace_back("sessionId", std::string(req_.session_id));
}

frame_document frame_builder::build(std::size_t index) {
    if (index < node_frames_) return node_frame(index);
    index -= node_frames_;
    if (index < relation_frames_) return relation_frame(index);
    index -= relation_frames_;
    if (index == 0) return manifest_frame();
    return ai_bible_frame(static_cast<int>(index - 1));
}

frame_document frame_builder::node_frame(std::size_t i) {
    const auto& node = req_.nodes[i];
    const auto& p = node.properties;
    frame_document d;
    d.kind = frame_kind::node;
    d.source_index = i;
    auto snip = snippets_.build(node);
    d.snippet = snip.source;

    json_out::object md;
    // The payload's own extra properties first: a key of ours with the same
    // name wins (the object keeps the last of duplicate keys).
    for (const auto& [k, v] : node.extra) md.raw(std::string(k), to_sorted_text(*v));
    md.str("id", node.id)
        .str("label", node.label)
        .str("name", p.name)
        .str("filePath", p.file_path)
        .raw("startLine", opt_u64(p.start_line))
        .raw("endLine", opt_u64(p.end_line))
        .opt_str("language", p.language)
        .raw("isExported", opt_bool(p.is_exported))
        .opt_str("heuristicLabel", p.heuristic_label)
        .raw("cohesion", opt_f64(p.cohesion))
        .raw("symbolCount", opt_u64(p.symbol_count))
        .raw("keywords", opt_strings(p.keywords))
        .opt_str("description", p.description)
        .opt_str("enrichedBy", p.enriched_by)
        .opt_str("processType", p.process_type)
        .raw("stepCount", opt_u64(p.step_count))
        .raw("communities", opt_strings(p.communities))
        .opt_str("entryPointId", p.entry_point_id)
        .opt_str("terminalId", p.terminal_id)
        .raw("entryPointScore", opt_f64(p.entry_point_score))
        .opt_str("entryPointReason", p.entry_point_reason);
    d.metadata_json = md.str();

    if (node.label == "Community")
        d.uri = "mv2://communities/" + std::string(node.id);
    else if (node.label == "Process")
        d.uri = "mv2://processes/" + std::string(node.id);
    else
        d.uri = "mv2://nodes/" + std::string(node.id);
    d.track = node_track(node.label);
    d.label = std::string(node.label);
    d.title = std::string(node.label) + ": " + std::string(p.name);

    d.text.reserve(64 + node.id.size() + p.name.size() + p.file_path.size() + snip.text.size() + d.metadata_json.size());
    d.text += "Node ";
    d.text += node.label;
    d.text += "\nid=";
    d.text += node.id;
    d.text += "\nname=";
    d.text += p.name;
    d.text += "\nfilePath=";
    d.text += p.file_path;
    d.text += "\n\nsnippet:\n";
    d.text += snip.text;
    d.search_body.assign(d.text);
    field(d.search_body, "name", std::optional<std::string_view>(p.name));
    field(d.search_body, "symbol", std::optional<std::string>(symbol_words(p.name)));
    field(d.search_body, "startLine", num(p.start_line));
    field(d.search_body, "endLine", num(p.end_line));
    field(d.search_body, "language", p.language);
    field(d.search_body, "isExported",
          p.is_exported ? std::optional<std::string>(*p.is_exported ? "true" : "false") : std::nullopt);
    field(d.search_body, "heuristicLabel", p.heuristic_label);
    field(d.search_body, "cohesion", num(p.cohesion));
    field(d.search_body, "symbolCount", num(p.symbol_count));
    field(d.search_body, "keywords", joined(p.keywords));
    field(d.search_body, "description", p.description);
    field(d.search_body, "enrichedBy", p.enriched_by);
    field(d.search_body, "processType", p.process_type);
    field(d.search_body, "stepCount", num(p.step_count));
    field(d.search_body, "communities", joined(p.communities));
    field(d.search_body, "entryPointId", p.entry_point_id);
    field(d.search_body, "terminalId", p.terminal_id);
    field(d.search_body, "entryPointScore", num(p.entry_point_score));
    field(d.search_body, "entryPointReason", p.entry_point_reason);
    d.text += "\n\nmetadata=";
    d.text += d.metadata_json;
    add_tags(d, "nodeLabel", std::string(node.label));
    return d;
}

frame_document frame_builder::relation_frame(std::size_t i) {
    const auto& rel = req_.relationships[i];
    // The contract parser guarantees both ends exist.
    const auto& src = req_.nodes[node_index_.at(rel.source_id)];
    const auto& tgt = req_.nodes[node_index_.at(rel.target_id)];
    frame_document d;
    d.kind = frame_kind::relation;
    d.source_index = i;
    d.title = std::string(src.properties.name) + " " + std::string(rel.type) + " " + std::string(tgt.properties.name);
    d.uri = "mv2://relations/" + std::string(rel.id);
    d.track = "relations/" + std::string(rel.type);
    d.label = "relation";

    json_out::object md;
    for (const auto& [k, v] : rel.extra) md.raw(std::string(k), to_sorted_text(*v));
    if (rel.payload_id) md.str("payloadId", *rel.payload_id);
    md.str("id", rel.id)
        .str("type", rel.type)
        .str("sourceId", rel.source_id)
        .str("targetId", rel.target_id)
        .str("sourceName", src.properties.name)
        .str("targetName", tgt.properties.name)
        .str("sourceLabel", src.label)
        .str("targetLabel", tgt.label)
        .raw("confidence", json_out::f64(rel.confidence))
        .str("reason", rel.reason)
        .raw("step", opt_u64(rel.step));
    d.metadata_json = md.str();

    d.text += "Relationship ";
    d.text += rel.type;
    d.text += "\nsource=";
    d.text += src.properties.name;
    d.text += " (";
    d.text += src.label;
    d.text += ")\ntarget=";
    d.text += tgt.properties.name;
    d.text += " (";
    d.text += tgt.label;
    d.text += ")\nconfidence=";
    d.text += fixed3(rel.confidence);
    d.text += "\nreason=";
    d.text += rel.reason;
    if (rel.step) d.text += " step=" + std::to_string(*rel.step);
    d.search_body.assign(d.text);
    d.text += "\n\nmetadata=";
    d.text += d.metadata_json;
    add_tags(d, "relationType", std::string(rel.type));
    return d;
}

frame_document frame_builder::manifest_frame() {
    std::map<std::string_view, std::size_t> labels, types;
    for (const auto& n : req_.nodes) ++labels[n.label];
    for (const auto& r : req_.relationships) ++types[r.type];
    json_out::object label_counts, type_counts;
    for (auto& [k, v] : labels) label_counts.raw(std::string(k), json_out::u64(v));
    for (auto& [k, v] : types) type_counts.raw(std::string(k), json_out::u64(v));

    const auto& s = req_.source;
    json_out::object source;
    source.str("type", s.type)
        .str("baseName", s.base_name)
        .str("displayName", s.display_name)
        .opt_str("url", s.url)
        .opt_str("branch", s.branch)
        .opt_str("originalFileName", s.original_file_name)
        .opt_str("folderName", s.folder_name);
    json_out::object options;
    options.raw("semanticEnabled", json_out::boolean(req_.options.semantic_enabled))
        .raw("maxSnippetChars", json_out::u64(req_.options.max_snippet_chars))
        .raw("maxNodeFrames", json_out::u64(req_.options.max_node_frames))
        .raw("maxRelationFrames", json_out::u64(req_.options.max_relation_frames));
    json_out::object caps;
    caps.raw("strictJsonToolResponses", "true")
        .raw("cursorPagination", "true")
        .raw("semanticFallbackOnly", "true")
        .raw("defaultResponseBudgetBytes", "65536")
        .raw("supportsLegacyCapsules", "true")
        .raw("toolCount", "16")
        .str("toolSetVersion", "gitnexus.tools.v1");
    json_out::object totals;
    totals.raw("nodes", json_out::u64(req_.nodes.size()))
        .raw("relationships", json_out::u64(req_.relationships.size()))
        .raw("exportedNodeFrames", json_out::u64(node_frames_))
        .raw("exportedRelationFrames", json_out::u64(relation_frames_))
        .raw("fileCount", json_out::u64(req_.file_contents.size()));
    json_out::object md;
    md.str("generatedAt", generated_at_)
        .str("mv2SchemaVersion", k_mv2_schema_version)
        .str("exportSchemaVersion", k_export_schema_version)
        .str("aiBibleVersion", k_ai_bible_version)
        .str("sessionId", req_.session_id)
        .str("projectName", req_.project_name)
        .raw("source", source.str())
        .raw("options", options.str())
        .raw("capsuleCapabilities", caps.str())
        .raw("totals", totals.str())
        .raw("nodeLabels", label_counts.str())
        .raw("relationshipTypes", type_counts.str());

    frame_document d;
    d.kind = frame_kind::manifest;
    d.metadata_json = md.str();
    d.title = "GitNexus manifest: " + std::string(req_.project_name);
    d.label = "manifest";
    d.uri = "mv2://meta/manifest";
    d.track = "meta";
    d.text = "GitNexus export manifest\nproject=" + std::string(req_.project_name) +
        "\nsource=" + std::string(req_.source.base_name) + "\nnodes=" + std::to_string(req_.nodes.size()) +
        "\nrelationships=" + std::to_string(req_.relationships.size()) + "\n\nmetadata=" + d.metadata_json;
    add_tags(d, "kind", "manifest");
    return d;
}

frame_document frame_builder::ai_bible_frame(int which) {
    frame_document d;
    d.kind = frame_kind::ai_bible;
    d.source_index = static_cast<std::size_t>(which);
    d.label = "ai_bible";
    d.track = "meta";
    json_out::object md;
    std::string head;
    switch (which) {
        case 0:
            md.str("version", k_ai_bible_version)
                .str("schemaVersion", "gitnexus.mcp.v1")
                .str("mcpTransport", "streamable_http_jsonrpc")
                .str("primaryGoal", "deterministic_accuracy")
                .raw("responseBudgetBytes", "65536")
                .str("semanticPolicy", "fallback_only")
                .raw("toolCount", "16");
            d.title = "AI Bible Manifest";
            d.uri = "mv2://meta/ai-bible/manifest";
            head =
                std::string("AI Bible manifest\nversion=") + k_ai_bible_version + "\nproject=" + std::string(req_.project_name);
            break;
        case 1:
            md.str("toolSetVersion", "gitnexus.tools.v1")
                .raw("tools",
                     json_out::array_of_strings({"symbol_lookup", "node_get", "neighbors_get", "edge_get", "text_search",
                                                 "call_trace", "callers_of", "callees_of", "process_list", "process_get",
                                                 "impact_analysis", "file_outline", "file_snippet", "community_list",
                                                 "manifest_get", "query_explain"}));
            d.title = "AI Bible Tool Matrix";
            d.uri = "mv2://meta/ai-bible/tool-matrix";
            head = "AI Bible tool matrix\nmode=strict_json\ntransport=streamable_http_jsonrpc";
            break;
        case 2:
            md.raw("ladder",
                   json_out::array_of_strings(
                       {"graph_exact", "lexical_search", "graph_expansion_rerank", "semantic_fallback_if_low_confidence"}))
                .raw("rankingSignals",
                     json_out::array_of_strings(
                         {"graph_structural_confidence", "lexical_relevance", "hotspot_locality", "semantic_fallback"}));
            d.title = "AI Bible Retrieval Ladder";
            d.uri = "mv2://meta/ai-bible/retrieval-ladder";
            head = "AI Bible retrieval ladder\ndefault=deterministic\nsemantic=fallback_only";
            break;
        default:
            md.raw("playbooks",
                   json_out::array_of_strings({"root_cause_from_symptom", "change_impact_before_edit",
                                               "subsystem_architecture_extraction", "process_comprehension_step_in_process"}))
                .str("sessionId", req_.session_id);
            d.title = "AI Bible Playbooks";
            d.uri = "mv2://meta/ai-bible/playbooks/core";
            head =
                "AI Bible playbooks\n1=root_cause_from_symptom\n2=change_impact_before_edit\n"
                "3=subsystem_architecture_extraction\n4=process_comprehension_step_in_process";
            break;
    }
    d.metadata_json = md.str();
    d.text = head + "\n\nmetadata=" + d.metadata_json;
    add_tags(d, "kind", "ai-bible");
    return d;
}

}  // namespace mvx::transform
