#include "common/contract/export_request.hpp"

#include "common/contract/surrogates.hpp"

#include "common/core/error.hpp"
#include "common/core/utf8.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/value_stack.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <span>

namespace json = boost::json;

namespace mvx::contract {
namespace {

// A JSON path built only when an error needs it.
struct path {
    const path* parent = nullptr;
    std::string_view key;  // object member, or empty for an index
    std::size_t index = 0;
    bool is_index = false;

    path member(std::string_view k) const { return path{this, k, 0, false}; }
    path at(std::size_t i) const { return path{this, {}, i, true}; }

    std::string str() const {
        std::string head = parent ? parent->str() : std::string();
        if (is_index) return head + "[" + std::to_string(index) + "]";
        if (key.empty()) return head;
        return head.empty() ? std::string(key) : head + "." + std::string(key);
    }
};

const char* kind_name(const json::value& v) {
    switch (v.kind()) {
        case json::kind::null: return "null";
        case json::kind::bool_: return "boolean";
        case json::kind::int64:
        case json::kind::uint64:
        case json::kind::double_: return "number";
        case json::kind::string: return "string";
        case json::kind::array: return "array";
        case json::kind::object: return "object";
    }
    return "value";
}

[[noreturn]] void fail(const path& p, const std::string& what) {
    const std::string at = p.str();
    throw_invalid((at.empty() ? std::string("payload") : at) + ": " + what);
}

[[noreturn]] void expected(const path& p, const char* type, const json::value* v) {
    fail(p, std::string("expected ") + type + ", got " + (v ? kind_name(*v) : "nothing (missing field)"));
}

class validator {
public:
    explicit validator(const limits& lim, std::deque<std::string>& owned) : lim_(lim), owned_(owned) {}

    const json::object& object(const json::value* v, const path& p) {
        if (!v || !v->is_object()) expected(p, "object", v);
        return v->get_object();
    }
    const json::array& array(const json::value* v, const path& p) {
        if (!v || !v->is_array()) expected(p, "array", v);
        return v->get_array();
    }

    std::string_view text(const json::value* v, const path& p) {
        if (!v || !v->is_string()) expected(p, "string", v);
        const json::string& s = v->get_string();
        std::string_view sv(s.data(), s.size());
        if (sv.size() > lim_.max_string_bytes)
            throw_limit(p.str() + ": string of " + std::to_string(sv.size()) + " bytes exceeds the limit of " +
                        std::to_string(lim_.max_string_bytes) + " bytes");
        if (!utf8::is_valid(sv))
            fail(p, "invalid UTF-8 in string (fix the encoding of this value; only fileContents may be repaired)");
        if (std::memchr(sv.data(), 0, sv.size())) fail(p, "string contains a NUL character (U+0000), which is not allowed here");
        return sv;
    }
    std::optional<std::string_view> opt_text(const json::value* v, const path& p) {
        if (!v || v->is_null()) return std::nullopt;
        return text(v, p);
    }

    std::uint64_t uint(const json::value* v, const path& p) {
        if (v && v->is_uint64()) return v->get_uint64();
        if (v && v->is_int64()) {
            if (v->get_int64() < 0) fail(p, "expected non-negative integer, got " + std::to_string(v->get_int64()));
            return static_cast<std::uint64_t>(v->get_int64());
        }
        if (v && v->is_double()) fail(p, "expected non-negative integer, got a fractional number");
        expected(p, "non-negative integer", v);
    }
    std::optional<std::uint64_t> opt_uint(const json::value* v, const path& p) {
        if (!v || v->is_null()) return std::nullopt;
        return uint(v, p);
    }
    double number(const json::value* v, const path& p) {
        if (v && v->is_double()) return v->get_double();
        if (v && v->is_int64()) return static_cast<double>(v->get_int64());
        if (v && v->is_uint64()) return static_cast<double>(v->get_uint64());
        expected(p, "number", v);
    }
    std::optional<double> opt_number(const json::value* v, const path& p) {
        if (!v || v->is_null()) return std::nullopt;
        return number(v, p);
    }
    bool boolean(const json::value* v, const path& p) {
        if (!v || !v->is_bool()) expected(p, "boolean", v);
        return v->get_bool();
    }
    std::optional<bool> opt_boolean(const json::value* v, const path& p) {
        if (!v || v->is_null()) return std::nullopt;
        return boolean(v, p);
    }
    std::optional<std::vector<std::string_view>> opt_strings(const json::value* v, const path& p) {
        if (!v || v->is_null()) return std::nullopt;
        const auto& arr = array(v, p);
        std::vector<std::string_view> out;
        out.reserve(arr.size());
        for (std::size_t i = 0; i < arr.size(); ++i) out.push_back(text(&arr[i], p.at(i)));
        return out;
    }

    // Source text: repaired rather than rejected.
    std::string_view content(const json::value* v, const path& p, std::size_t& repaired) {
        if (!v || !v->is_string()) expected(p, "string", v);
        const json::string& s = v->get_string();
        std::string_view sv(s.data(), s.size());
        if (sv.size() > lim_.max_file_content_bytes)
            throw_limit(p.str() + ": file content of " + std::to_string(sv.size()) + " bytes exceeds the limit of " +
                        std::to_string(lim_.max_file_content_bytes) + " bytes");
        if (utf8::is_valid(sv) && !std::memchr(sv.data(), 0, sv.size())) return sv;
        owned_.push_back(utf8::repair(sv, true, &repaired));
        return owned_.back();
    }

    // Any JSON value kept as it is (an extra member): its strings must be text
    // like every other string of the payload.
    void any(const json::value& v, const path& p, std::size_t depth = 0) {
        if (depth > lim_.max_depth) fail(p, "nested deeper than " + std::to_string(lim_.max_depth) + " levels");
        if (v.is_string()) {
            text(&v, p);
        } else if (v.is_array()) {
            const auto& a = v.get_array();
            for (std::size_t i = 0; i < a.size(); ++i) any(a[i], p.at(i), depth + 1);
        } else if (v.is_object()) {
            for (const auto& kv : v.get_object()) {
                const std::string_view k(kv.key().data(), kv.key().size());
                if (!utf8::is_valid(k) || std::memchr(k.data(), 0, k.size()))
                    fail(p, "a member name is not valid UTF-8 or contains NUL");
                any(kv.value(), p.member(k), depth + 1);
            }
        }
    }
    // The members of o not in `known`, checked, in payload order.
    extra_members extras(const json::object& o, const path& p, std::span<const std::string_view> known) {
        extra_members out;
        for (const auto& kv : o) {
            const std::string_view k(kv.key().data(), kv.key().size());
            if (std::find(known.begin(), known.end(), k) != known.end()) continue;
            if (!utf8::is_valid(k) || std::memchr(k.data(), 0, k.size()))
                fail(p, "a member name is not valid UTF-8 or contains NUL");
            any(kv.value(), p.member(k));
            out.emplace_back(k, &kv.value());
        }
        return out;
    }

private:
    const limits& lim_;
    std::deque<std::string>& owned_;
};

constexpr std::string_view k_node_properties[] = {
    "name",        "filePath",     "startLine",  "endLine",         "language",        "isExported",  "heuristicLabel",
    "cohesion",    "symbolCount",  "keywords",   "description",     "enrichedBy",      "processType", "stepCount",
    "communities", "entryPointId", "terminalId", "entryPointScore", "entryPointReason"};
constexpr std::string_view k_relationship_members[] = {"id", "sourceId", "targetId", "type", "confidence", "reason", "step"};

const json::value* get(const json::object& o, std::string_view key) { return o.if_contains(key); }

}  // namespace

export_request build_request(std::shared_ptr<json::value> doc, const limits& lim) {
    export_request req;
    req.document = std::move(doc);
    req.owned = std::make_shared<std::deque<std::string>>();
    validator v(lim, *req.owned);
    const path root;

    const auto& top = v.object(req.document.get(), root);
    req.session_id = v.text(get(top, "sessionId"), root.member("sessionId"));
    req.project_name = v.text(get(top, "projectName"), root.member("projectName"));

    {
        const path p = root.member("source");
        const auto& s = v.object(get(top, "source"), p);
        req.source.type = v.text(get(s, "type"), p.member("type"));
        req.source.base_name = v.text(get(s, "baseName"), p.member("baseName"));
        req.source.display_name = v.text(get(s, "displayName"), p.member("displayName"));
        req.source.url = v.opt_text(get(s, "url"), p.member("url"));
        req.source.branch = v.opt_text(get(s, "branch"), p.member("branch"));
        req.source.original_file_name = v.opt_text(get(s, "originalFileName"), p.member("originalFileName"));
        req.source.folder_name = v.opt_text(get(s, "folderName"), p.member("folderName"));
    }

    {
        const path p = root.member("options");
        const auto& o = v.object(get(top, "options"), p);
        req.options.semantic_enabled = v.boolean(get(o, "semanticEnabled"), p.member("semanticEnabled"));
        req.options.max_snippet_chars = v.uint(get(o, "maxSnippetChars"), p.member("maxSnippetChars"));
        req.options.max_node_frames = v.uint(get(o, "maxNodeFrames"), p.member("maxNodeFrames"));
        req.options.max_relation_frames = v.uint(get(o, "maxRelationFrames"), p.member("maxRelationFrames"));
        if (req.options.max_snippet_chars > lim.max_snippet_chars)
            throw_limit("options.maxSnippetChars: " + std::to_string(req.options.max_snippet_chars) + " exceeds the limit of " +
                        std::to_string(lim.max_snippet_chars));
    }

    {
        const path p = root.member("nodes");
        const auto& arr = v.array(get(top, "nodes"), p);
        if (arr.size() > lim.max_nodes)
            throw_limit("nodes: " + std::to_string(arr.size()) + " nodes exceed the limit of " + std::to_string(lim.max_nodes));
        req.nodes.reserve(arr.size());
        for (std::size_t i = 0; i < arr.size(); ++i) {
            const path pn = p.at(i);
            const auto& n = v.object(&arr[i], pn);
            graph_node node;
            node.id = v.text(get(n, "id"), pn.member("id"));
            node.label = v.text(get(n, "label"), pn.member("label"));
            const path pp = pn.member("properties");
            const auto& pr = v.object(get(n, "properties"), pp);
            auto& q = node.properties;
            q.name = v.text(get(pr, "name"), pp.member("name"));
            // Community and Process nodes of upstream GitNexus have no filePath.
            const auto fp = v.opt_text(get(pr, "filePath"), pp.member("filePath"));
            q.file_path = fp.value_or(std::string_view(""));  // not a null view: SQLite binds that as NULL
            req.lenient.missing_file_path += !fp;
            q.start_line = v.opt_uint(get(pr, "startLine"), pp.member("startLine"));
            q.end_line = v.opt_uint(get(pr, "endLine"), pp.member("endLine"));
            q.language = v.opt_text(get(pr, "language"), pp.member("language"));
            q.is_exported = v.opt_boolean(get(pr, "isExported"), pp.member("isExported"));
            q.heuristic_label = v.opt_text(get(pr, "heuristicLabel"), pp.member("heuristicLabel"));
            q.cohesion = v.opt_number(get(pr, "cohesion"), pp.member("cohesion"));
            q.symbol_count = v.opt_uint(get(pr, "symbolCount"), pp.member("symbolCount"));
            q.keywords = v.opt_strings(get(pr, "keywords"), pp.member("keywords"));
            q.description = v.opt_text(get(pr, "description"), pp.member("description"));
            q.enriched_by = v.opt_text(get(pr, "enrichedBy"), pp.member("enrichedBy"));
            q.process_type = v.opt_text(get(pr, "processType"), pp.member("processType"));
            q.step_count = v.opt_uint(get(pr, "stepCount"), pp.member("stepCount"));
            q.communities = v.opt_strings(get(pr, "communities"), pp.member("communities"));
            q.entry_point_id = v.opt_text(get(pr, "entryPointId"), pp.member("entryPointId"));
            q.terminal_id = v.opt_text(get(pr, "terminalId"), pp.member("terminalId"));
            q.entry_point_score = v.opt_number(get(pr, "entryPointScore"), pp.member("entryPointScore"));
            q.entry_point_reason = v.opt_text(get(pr, "entryPointReason"), pp.member("entryPointReason"));
            node.extra = v.extras(pr, pp, k_node_properties);
            req.lenient.nodes_with_extra_properties += !node.extra.empty();
            req.nodes.push_back(std::move(node));
        }
    }

    std::unordered_map<std::string_view, std::size_t> node_index;
    node_index.reserve(req.nodes.size() * 2);
    for (std::size_t i = 0; i < req.nodes.size(); ++i) {
        auto [it, fresh] = node_index.emplace(req.nodes[i].id, i);
        if (!fresh)
            throw_invalid("nodes[" + std::to_string(i) + "].id: duplicate node id \"" + std::string(req.nodes[i].id) +
                          "\" (first used by nodes[" + std::to_string(it->second) + "]); node ids must be unique");
    }

    {
        const path p = root.member("relationships");
        const auto& arr = v.array(get(top, "relationships"), p);
        if (arr.size() > lim.max_relationships)
            throw_limit("relationships: " + std::to_string(arr.size()) + " relationships exceed the limit of " +
                        std::to_string(lim.max_relationships));
        req.relationships.reserve(arr.size());
        std::unordered_map<std::string_view, std::size_t> rel_index;
        rel_index.reserve(arr.size() * 2);
        for (std::size_t i = 0; i < arr.size(); ++i) {
            const path pr = p.at(i);
            const auto& r = v.object(&arr[i], pr);
            graph_relationship rel;
            rel.id = v.text(get(r, "id"), pr.member("id"));
            rel.source_id = v.text(get(r, "sourceId"), pr.member("sourceId"));
            rel.target_id = v.text(get(r, "targetId"), pr.member("targetId"));
            rel.type = v.text(get(r, "type"), pr.member("type"));
            const auto confidence = v.opt_number(get(r, "confidence"), pr.member("confidence"));
            rel.confidence = confidence.value_or(1.0);
            req.lenient.default_confidence += !confidence;
            const auto reason = v.opt_text(get(r, "reason"), pr.member("reason"));
            rel.reason = reason.value_or(std::string_view(""));
            req.lenient.default_reason += !reason;
            rel.step = v.opt_uint(get(r, "step"), pr.member("step"));
            req.lenient.null_step += r.contains("step") && r.at("step").is_null();
            rel.extra = v.extras(r, pr, k_relationship_members);
            req.lenient.relationships_with_extra_members += !rel.extra.empty();
            if (!node_index.count(rel.source_id))
                fail(pr.member("sourceId"),
                     "unknown node id \"" + std::string(rel.source_id) +
                         "\" (every relationship must connect nodes of this payload)");
            if (!node_index.count(rel.target_id))
                fail(pr.member("targetId"),
                     "unknown node id \"" + std::string(rel.target_id) +
                         "\" (every relationship must connect nodes of this payload)");
            if (!rel_index.emplace(rel.id, i).second) {
                // A parallel edge under the same id: both are kept, the later
                // one under the first free "<id>#<n>".
                rel.payload_id = rel.id;
                for (std::size_t n = 2;; ++n) {
                    std::string uid = std::string(rel.id) + "#" + std::to_string(n);
                    if (rel_index.count(uid)) continue;
                    req.owned->push_back(std::move(uid));
                    rel.id = req.owned->back();
                    break;
                }
                rel_index.emplace(rel.id, i);
                ++req.lenient.duplicate_relationship_ids;
            }
            req.relationships.push_back(rel);
        }
    }

    {
        const path p = root.member("fileContents");
        const auto& fc = v.object(get(top, "fileContents"), p);
        req.file_contents.reserve(fc.size());
        req.file_index.reserve(fc.size() * 2);
        for (const auto& kv : fc) {
            const std::string_view key(kv.key().data(), kv.key().size());
            const path pk = p.member(key);
            if (!utf8::is_valid(key) || std::memchr(key.data(), 0, key.size()))
                fail(p, "a file path key is not valid UTF-8 or contains NUL");
            const std::string_view body = v.content(&kv.value(), pk, req.repaired_file_content_chars);
            req.file_index[key] = req.file_contents.size();
            req.file_contents.emplace_back(key, body);
        }
    }

    const std::uint64_t frames = std::min<std::uint64_t>(req.options.max_node_frames, req.nodes.size()) +
        std::min<std::uint64_t>(req.options.max_relation_frames, req.relationships.size()) + 5;
    if (frames > lim.max_frames)
        throw_limit("the export would hold " + std::to_string(frames) + " frames, more than the " +
                    std::to_string(lim.max_frames) +
                    " a memvid capsule can take; lower options.maxNodeFrames / options.maxRelationFrames");
    return req;
}

// The DOM builder behind request_parser: what boost::json's own parser does
// (a value_stack fed by basic_parser), plus one option: with
// limits::keep_file_contents false, the bodies of fileContents are checked
// (size limit) but not kept — the control plane validates a payload without
// holding its bulk in memory; pack keeps them.
class dom_handler {
public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    dom_handler(const limits& lim) : keep_(lim.keep_file_contents), max_content_(lim.max_file_content_bytes) {}

    json::value_stack st;
    std::string oversize;  // the limit message when a dropped body was too large

    bool on_document_begin(boost::system::error_code&) { return true; }
    bool on_document_end(boost::system::error_code&) { return true; }
    bool on_object_begin(boost::system::error_code&) {
        ++depth_;
        if (depth_ == 2 && top_key_ == "fileContents") in_files_ = true;
        return true;
    }
    bool on_object_end(std::size_t n, boost::system::error_code&) {
        st.push_object(n);
        if (depth_ == 2) in_files_ = false;
        --depth_;
        return true;
    }
    bool on_array_begin(boost::system::error_code&) {
        ++depth_;
        return true;
    }
    bool on_array_end(std::size_t n, boost::system::error_code&) {
        st.push_array(n);
        --depth_;
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
        st.push_chars(s);
        if (depth_ <= 2) key_.append(s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t, boost::system::error_code&) {
        st.push_key(s);
        if (depth_ <= 2) {
            key_.append(s.data(), s.size());
            if (depth_ == 1)
                top_key_ = key_;
            else
                file_key_ = key_;
            key_.clear();
        }
        return true;
    }
    bool on_string_part(json::string_view s, std::size_t, boost::system::error_code&) {
        if (dropping()) {
            dropped_ += s.size();
            return true;
        }
        st.push_chars(s);
        return true;
    }
    bool on_string(json::string_view s, std::size_t, boost::system::error_code& ec) {
        if (dropping()) {
            const std::size_t size = dropped_ + s.size();
            dropped_ = 0;
            if (size > max_content_) {
                oversize = "fileContents." + file_key_ + ": file content of " + std::to_string(size) +
                    " bytes exceeds the limit of " + std::to_string(max_content_) + " bytes";
                ec = json::error::exception;
                return false;
            }
            st.push_string({});
            return true;
        }
        st.push_string(s);
        return true;
    }
    bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
    bool on_int64(std::int64_t v, json::string_view, boost::system::error_code&) {
        st.push_int64(v);
        return true;
    }
    bool on_uint64(std::uint64_t v, json::string_view, boost::system::error_code&) {
        st.push_uint64(v);
        return true;
    }
    bool on_double(double v, json::string_view, boost::system::error_code&) {
        st.push_double(v);
        return true;
    }
    bool on_bool(bool v, boost::system::error_code&) {
        st.push_bool(v);
        return true;
    }
    bool on_null(boost::system::error_code&) {
        st.push_null();
        return true;
    }
    bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
    bool on_comment(json::string_view, boost::system::error_code&) { return true; }

private:
    bool dropping() const { return !keep_ && in_files_ && depth_ == 2; }
    bool keep_;
    std::size_t max_content_;
    int depth_ = 0;
    bool in_files_ = false;
    std::string key_, top_key_, file_key_;
    std::size_t dropped_ = 0;
};

struct request_parser::impl {
    limits lim;
    json::basic_parser<dom_handler> parser;
    surrogate_fixer fixer;
    std::string pending;  // bytes held back by the fixer
    std::uint64_t consumed = 0;
    std::uint64_t line = 1;
    std::uint64_t column = 1;

    static json::parse_options options(const limits& l) {
        json::parse_options o;
        o.allow_invalid_utf8 = true;  // checked per field above, with the field's path
        o.max_depth = l.max_depth;
        return o;
    }
    explicit impl(limits l) : lim(l), parser(options(l), lim) {
        parser.handler().st.reset(json::make_shared_resource<json::monotonic_resource>());
    }

    // Line and column (in code points) of the next byte, for error messages;
    // branch-free counting so that it runs at memory speed.
    void advance(const char* data, std::size_t n) {
        consumed += n;
        const char* nl = static_cast<const char*>(memrchr(data, '\n', n));
        std::size_t from = 0;
        if (nl) {
            std::size_t lines = 0;
            for (std::size_t i = 0; i < n; ++i) lines += data[i] == '\n';
            line += lines;
            column = 1;
            from = std::size_t(nl - data) + 1;
        }
        std::size_t cps = 0;
        for (std::size_t i = from; i < n; ++i) cps += (static_cast<unsigned char>(data[i]) & 0xC0) != 0x80;
        column += cps;
    }
    [[noreturn]] void syntax_error(std::string_view where, const boost::system::error_code& ec) {
        throw_invalid(std::string(where) + ": invalid JSON at byte " + std::to_string(consumed) + " (line " +
                      std::to_string(line) + ", column " + std::to_string(column) + "): " + ec.message());
    }
};

request_parser::request_parser(limits lim) : impl_(std::make_unique<impl>(lim)) {}
request_parser::~request_parser() = default;

void request_parser::write(const char* data, std::size_t size, std::string_view where) {
    if (impl_->consumed + impl_->pending.size() + size > impl_->lim.max_payload_bytes)
        throw_limit(std::string(where) + ": payload exceeds the limit of " + std::to_string(impl_->lim.max_payload_bytes) +
                    " bytes (raise --max-payload-bytes, or lower the export size in the client)");
    std::string& buf = impl_->pending;
    buf.append(data, size);
    const std::size_t ready = impl_->fixer.run(buf, false);
    feed(buf.data(), ready, where);
    buf.erase(0, ready);
}

void request_parser::feed(const char* data, std::size_t size, std::string_view where) {
    if (size == 0) return;
    boost::system::error_code ec;
    // After a complete value only whitespace may follow (checked below).
    const std::size_t n = impl_->parser.done() ? 0 : impl_->parser.write_some(true, data, size, ec);
    impl_->advance(data, n);
    if (!impl_->parser.handler().oversize.empty()) throw_limit(impl_->parser.handler().oversize);
    if (ec) impl_->syntax_error(where, ec);
    if (n < size) {
        // write_some stops after a complete value; anything but whitespace after it is an error.
        for (std::size_t i = n; i < size; ++i) {
            const char c = data[i];
            if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
                impl_->advance(data + n, i - n);
                throw_invalid(std::string(where) + ": unexpected data after the JSON document at byte " +
                              std::to_string(impl_->consumed));
            }
        }
        impl_->advance(data + n, size - n);
    }
}

export_request request_parser::finish(std::string_view where) {
    std::string& buf = impl_->pending;
    feed(buf.data(), impl_->fixer.run(buf, true), where);
    buf.clear();
    boost::system::error_code ec;
    if (!impl_->parser.done()) impl_->parser.write_some(false, nullptr, 0, ec);
    if (!impl_->parser.handler().oversize.empty()) throw_limit(impl_->parser.handler().oversize);
    if (!ec && !impl_->parser.done()) ec = json::error::incomplete;
    if (ec) {
        if (impl_->consumed == 0) throw_invalid(std::string(where) + ": empty input (expected a JSON object)");
        throw_invalid(std::string(where) + ": JSON ended early after " + std::to_string(impl_->consumed) + " bytes (line " +
                      std::to_string(impl_->line) + "): the payload is truncated or incomplete (" + ec.message() + ")");
    }
    auto doc = std::make_shared<json::value>(impl_->parser.handler().st.release());
    auto req = build_request(std::move(doc), impl_->lim);
    req.payload_bytes = impl_->consumed;
    req.repaired_surrogates = impl_->fixer.replaced();
    return req;
}

export_request parse_request(std::string_view text, std::string_view where, const limits& lim) {
    request_parser p(lim);
    p.write(text.data(), text.size(), where);
    return p.finish(where);
}

}  // namespace mvx::contract
