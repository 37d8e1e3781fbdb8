// The capsule's documents, exactly as the original system laid them out
// (docs/mv2-format.md §6): node frames, relation frames, the manifest and the
// four AI-bible frames, in that order. Frames are built one at a time so a
// pack never holds every frame text at once.
#pragma once

#include "common/contract/export_request.hpp"
#include "common/transform/snippet.hpp"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace mvx::transform {

enum class frame_kind : std::uint8_t { node, relation, manifest, ai_bible };

struct frame_document {
    frame_kind kind = frame_kind::node;
    std::size_t source_index = 0;  // index into nodes / relationships
    std::string title, label, text, uri, track;
    std::string metadata_json;  // the `metadata=` JSON at the end of text
    // The body memvid's search_text is built from: the text before its
    // metadata JSON, then one "key: value" line per metadata field that is set
    // and not already on the lines above. Empty: use text as is.
    std::string search_body;
    // memvid tags as (key, value), in the original's order: track, label,
    // semantic, source, nodeLabel|relationType|kind, sessionId.
    std::vector<std::pair<std::string, std::string>> tags;
    snippet_source snippet = snippet_source::absent;
};

class frame_builder {
public:
    // generated_at: RFC 3339 UTC time written into the manifest.
    frame_builder(const contract::export_request& req, std::string generated_at, bool semantic);

    std::size_t size() const { return node_frames_ + relation_frames_ + 5; }
    std::size_t node_frames() const { return node_frames_; }
    std::size_t relation_frames() const { return relation_frames_; }
    bool compact_contents() const { return snippets_.compact_mode(); }

    frame_document build(std::size_t index);

private:
    frame_document node_frame(std::size_t i);
    frame_document relation_frame(std::size_t i);
    frame_document manifest_frame();
    frame_document ai_bible_frame(int which);
    void add_tags(frame_document& d, std::string third_key, std::string third_value) const;

    const contract::export_request& req_;
    std::string generated_at_;
    bool semantic_;
    std::size_t node_frames_, relation_frames_;
    snippet_builder snippets_;
    std::unordered_map<std::string_view, std::size_t> node_index_;
};

// "<baseName>-gitnexus-mem_capsule-<YYYY-MM-DD>.mv2"
std::string capsule_file_name(std::string_view base_name, std::string_view date_utc);

}  // namespace mvx::transform
