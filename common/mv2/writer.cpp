#include "common/mv2/writer.hpp"

#include "common/core/error.hpp"
#include "common/core/file.hpp"
#include "common/core/utf8.hpp"
#include "common/mv2/bincode.hpp"
#include "common/mv2/format.hpp"

#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_set>

namespace mvx::mv2 {
namespace {

constexpr std::string_view k_doc_metadata_json =
    R"({"mime":"text/plain","bytes":null,"hash":null,"width":null,"height":null,"colors":null,"caption":null,"exif":null,"audio":null,"media":null})";

std::string_view strip(std::string_view s) {
    auto ws = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\v'; };
    while (!s.empty() && ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && ws(s.back())) s.remove_suffix(1);
    return s;
}

// ASCII classes by table (no locale): bit 1 = alphanumeric, bit 2 = token joiner.
constexpr auto k_ascii_class = [] {
    std::array<std::uint8_t, 128> t{};
    for (int c = '0'; c <= '9'; ++c) t[c] = 1;
    for (int c = 'a'; c <= 'z'; ++c) t[c] = 1;
    for (int c = 'A'; c <= 'Z'; ++c) t[c] = 1;
    for (char c : {'&', '@', '+', '/', '_'}) t[static_cast<unsigned char>(c)] = 2;
    return t;
}();

}  // namespace

std::string cli_search_text(std::string_view text, std::string_view title, std::string_view uri, std::string_view track,
                            const std::vector<std::string>& tags, const std::vector<std::string>& labels,
                            const std::vector<std::pair<std::string, std::string>>& sorted_extra) {
    std::string out;
    out.reserve(text.size() + 512);
    bool any = false;
    auto line = [&](std::string_view a, std::string_view b) {
        if (any) out += '\n';
        any = true;
        out += a;
        out += b;
    };
    if (auto t = strip(text); !t.empty()) line("", t);
    if (auto t = strip(title); !t.empty()) line("title: ", t);
    if (auto t = strip(uri); !t.empty()) line("uri: ", t);
    if (auto t = strip(track); !t.empty()) line("track: ", t);
    auto joined = [](const std::vector<std::string>& v) {
        std::string s;
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) s += ' ';
            s += v[i];
        }
        return s;
    };
    if (!tags.empty()) line("tags: ", joined(tags));
    if (!labels.empty()) line("labels: ", joined(labels));
    for (const auto& [k, v] : sorted_extra)
        if (!strip(v).empty()) line(k + ": ", v);
    line("metadata: ", k_doc_metadata_json);
    return out;
}

// Tokens: maximal runs of alphanumerics and & @ + / _, lower-cased, kept when
// they hold an alphanumeric. ASCII classes are exact; every non-ASCII scalar
// counts as alphanumeric and is kept as is (memvid uses Unicode classes; this
// only affects the fallback index, which Tantivy precedes).
// Token spans of an ASCII-lower-cased text (same length as the original).
template <class F>
void for_each_token(std::string_view lower, F&& f) {
    std::size_t i = 0, start = 0;
    bool in_token = false, has_alnum = false;
    while (i < lower.size()) {
        const unsigned char b = static_cast<unsigned char>(lower[i]);
        std::size_t next = i;
        bool token_char = true, alnum = true;
        if (b < 0x80) {
            const std::uint8_t cls = k_ascii_class[b];
            token_char = cls != 0;
            alnum = cls == 1;
            ++next;
        } else {
            utf8::decode(lower, next);
        }
        if (token_char) {
            if (!in_token) {
                in_token = true;
                start = i;
                has_alnum = false;
            }
            has_alnum |= alnum;
        } else if (in_token) {
            in_token = false;
            if (has_alnum) f(lower.substr(start, i - start));
        }
        i = next;
    }
    if (in_token && has_alnum) f(lower.substr(start));
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
}

// The tokens of an ASCII-lower-cased text, in order, or sorted and distinct.
void token_views(std::string_view lower, bool unique, std::vector<std::string_view>& out) {
    out.clear();
    for_each_token(lower, [&](std::string_view t) { out.push_back(t); });
    if (!unique) return;
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
}

std::vector<std::string> lex_tokens(std::string_view s, bool unique) {
    const std::string lower = ascii_lower(s);
    std::vector<std::string_view> views;
    token_views(lower, unique, views);
    return {views.begin(), views.end()};
}

// Sections of at most ~1400 bytes, preferring to end after a sentence or line.
std::vector<std::pair<std::uint64_t, std::string_view>> lex_sections(std::string_view content) {
    constexpr std::uint64_t soft = 900, hard = 1400;
    std::vector<std::pair<std::uint64_t, std::string_view>> out;
    if (content.empty()) return out;
    if (content.size() <= hard) {
        out.emplace_back(0, content);
        return out;
    }
    std::uint64_t start = 0, last_soft = 0;
    bool have_soft = false;
    std::size_t i = 0;
    while (i < content.size()) {
        const char c = content[i];
        std::size_t next = i;
        utf8::decode(content, next);
        const std::uint64_t end = next;
        const std::uint64_t cur_len = end - start;
        const bool sentence = c == '\n' ||
            ((c == '.' || c == '!' || c == '?') &&
             (next >= content.size() || content[next] == ' ' || content[next] == '\n' || content[next] == '\t' ||
              content[next] == '\r'));
        if (sentence) {
            last_soft = end;
            have_soft = true;
            if (cur_len < soft) {
                i = next;
                continue;
            }
        }
        if (cur_len >= hard) {
            const std::uint64_t split = (have_soft && last_soft > start) ? last_soft : end;
            out.emplace_back(start, content.substr(start, split - start));
            start = split;
            have_soft = false;
        }
        i = next;
    }
    if (start < content.size()) out.emplace_back(start, content.substr(start));
    return out;
}

struct writer::impl {
    writer_options opts;
    output_file file;
    spill_file toc_frames, vec_docs, lex_docs;
    std::vector<std::pair<std::int64_t, std::uint64_t>> time_entries;
    std::uint64_t frames = 0, vectors = 0, dimension = 0, payload_bytes = 0;
    std::string scratch, zbuf;
    std::vector<std::string_view> tokens;
    ZSTD_CCtx* zctx = nullptr;

    impl(std::filesystem::path path, writer_options o)
        : opts(std::move(o)),
          file(path),
          toc_frames(path.parent_path()),
          vec_docs(path.parent_path()),
          lex_docs(path.parent_path()) {
        // Header placeholder + an all-zero WAL (no pending records).
        std::string zeros(k_header_size + opts.wal_size, '\0');
        file.write(zeros);
        if (opts.zstd_payloads) zctx = ZSTD_createCCtx();
    }
    ~impl() {
        if (zctx) ZSTD_freeCCtx(zctx);
    }
};

writer::writer(std::filesystem::path final_path, writer_options opts) {
    if (opts.wal_size == 0) throw error(error_kind::internal, "INTERNAL", "wal_size must be > 0");
    impl_ = std::make_unique<impl>(std::move(final_path), std::move(opts));
}
writer::~writer() = default;
std::uint64_t writer::frames() const { return impl_->frames; }
void writer::publish() { impl_->file.publish(); }

void writer::add(const frame_input& f) {
    auto& m = *impl_;
    if (m.frames >= k_max_frames) throw_limit("a memvid capsule holds at most " + std::to_string(k_max_frames) + " frames");
    if (f.text.size() > k_max_payload)
        throw_limit("frame " + std::string(f.uri) + ": text of " + std::to_string(f.text.size()) +
                    " bytes exceeds memvid's 256 MiB payload limit");
    if (f.tags.size() > k_max_tags || f.labels.size() > k_max_tags || f.extra_metadata.size() > k_max_extra)
        throw_limit("frame " + std::string(f.uri) + ": too many tags, labels or metadata keys");
    const std::uint64_t id = m.frames;
    // TOC strings must be UTF-8 (bincode String); a payload may hold any bytes,
    // but what is derived from it for search is repaired first.
    auto check_text = [&](std::string_view v, const char* what) {
        if (!utf8::is_valid(v)) throw_argument("frame " + std::to_string(id) + ": " + what + " is not valid UTF-8");
    };
    check_text(f.title, "title");
    check_text(f.uri, "uri");
    check_text(f.track, "track");
    if (f.kind) check_text(*f.kind, "kind");
    for (const auto& t : f.tags) check_text(t, "a tag");
    for (const auto& t : f.labels) check_text(t, "a label");
    for (const auto& [k, v] : f.extra_metadata) {
        check_text(k, "a metadata key");
        check_text(v, "a metadata value");
    }
    if (f.search_body) check_text(*f.search_body, "search body");
    std::string repaired;
    std::string_view text_utf8 = f.text;
    if (!utf8::is_valid(f.text)) {
        repaired = utf8::repair(f.text, false, nullptr);
        text_utf8 = repaired;
    }
    const std::string_view search_src = f.search_body ? *f.search_body : text_utf8;
    const std::string_view lex_src = text_utf8;

    // Payload.
    std::string_view stored = f.text;
    encoding enc = encoding::plain;
    if (m.opts.zstd_payloads) {
        m.zbuf.resize(ZSTD_compressBound(f.text.size()));
        const std::size_t n =
            ZSTD_compressCCtx(m.zctx, m.zbuf.data(), m.zbuf.size(), f.text.data(), f.text.size(), m.opts.zstd_level);
        if (ZSTD_isError(n)) throw error(error_kind::internal, "INTERNAL", std::string("zstd: ") + ZSTD_getErrorName(n));
        stored = std::string_view(m.zbuf.data(), n);
        enc = encoding::zstd;
    }
    const std::uint64_t payload_offset = m.file.position();
    m.file.write(stored);
    m.payload_bytes += stored.size();
    const digest checksum = blake3(stored);

    auto extra = f.extra_metadata;
    if (!f.embedding.empty()) {
        if (m.dimension == 0) m.dimension = f.embedding.size();
        if (f.embedding.size() != m.dimension)
            throw_argument("frame " + std::string(f.uri) + ": embedding has " + std::to_string(f.embedding.size()) +
                           " dimensions, earlier frames had " + std::to_string(m.dimension));
        if (std::none_of(extra.begin(), extra.end(), [](auto& kv) { return kv.first == "memvid.embedding.dimension"; }))
            extra.emplace_back("memvid.embedding.dimension", std::to_string(f.embedding.size()));
    }
    std::sort(extra.begin(), extra.end());
    for (std::size_t i = 1; i < extra.size(); ++i)
        if (extra[i].first == extra[i - 1].first)
            throw error(error_kind::internal, "INTERNAL", "duplicate extra_metadata key " + extra[i].first);

    // TOC Frame record (docs/mv2-format.md §3).
    std::string& b = m.scratch;
    b.clear();
    bincode::encoder e(b);
    e.u64(id);
    e.i64(f.timestamp);
    e.some();
    e.i64(f.timestamp);  // anchor_ts
    e.some();
    e.variant(static_cast<std::uint32_t>(anchor_source::frame_timestamp));
    e.opt_str(f.kind);
    e.opt_str(f.track.empty() ? std::nullopt : std::optional<std::string_view>(f.track));
    e.u64(payload_offset);
    e.u64(stored.size());
    e.bytes32(checksum);
    e.some();
    e.str(f.uri);
    e.some();
    e.str(f.title);
    e.u32(static_cast<std::uint32_t>(enc));
    e.some();
    e.u64(f.text.size());  // canonical_length
    // DocMetadata: mime = text/plain, the 9 other fields None.
    e.some();
    e.some();
    e.str("text/plain");
    for (int k = 0; k < 9; ++k) e.none();
    if (m.opts.search_text) {
        e.some();
        e.str(cli_search_text(search_src, f.title, f.search_uri ? f.uri : std::string_view(), f.track, f.tags, f.labels, extra));
    } else {
        e.none();
    }
    e.strings(f.tags);
    e.strings(f.labels);
    e.string_map(extra);
    e.u64(0);  // content_dates
    e.none();  // chunk_manifest
    e.variant(0);  // role: Document
    e.none();
    e.none();
    e.none();  // parent_id, chunk_index, chunk_count
    e.variant(0);  // status: Active
    e.none();
    e.none();  // supersedes, superseded_by
    e.none();  // source_sha256
    e.none();  // source_path
    e.variant(static_cast<std::uint32_t>(enrichment::enriched));
    m.toc_frames.append(b);

    if (!f.embedding.empty()) {
        b.clear();
        e.u64(id);
        e.u64(f.embedding.size());
        e.raw(f.embedding.data(), f.embedding.size() * sizeof(float));
        m.vec_docs.append(b);
        ++m.vectors;
    }

    if (m.opts.native_lex) {
        b.clear();
        e.u64(id);
        const std::string lower = ascii_lower(lex_src);
        token_views(lower, m.opts.lex_unique_tokens, m.tokens);
        e.u64(m.tokens.size());
        for (auto t : m.tokens) e.str(t);
        e.u64(0);  // tags: empty map
        const auto sections = lex_sections(lex_src);
        e.str("");
        e.str("");  // content / content_lower (sections carry the text)
        if (sections.empty()) {
            // Empty text: no sections, and the (empty) content fields above stand.
        }
        e.some();
        e.str(f.uri);
        e.some();
        e.str(f.title);
        e.u64(sections.size());
        for (const auto& [off, txt] : sections) {
            e.u64(off);
            e.str(txt);
            e.str(std::string_view(lower).substr(off, txt.size()));
        }
        m.lex_docs.append(b);
    }

    m.time_entries.emplace_back(f.timestamp, id);
    ++m.frames;
}

writer_summary writer::finish() {
    auto& m = *impl_;
    m.toc_frames.flush();
    m.vec_docs.flush();
    m.lex_docs.flush();

    struct blob {
        std::uint64_t offset = 0, length = 0;
        digest checksum{};
    };
    auto copy_blob = [&](std::string_view head, spill_file* body) {
        blob r;
        r.offset = m.file.position();
        hasher h;
        h.update(head);
        m.file.write(head);
        if (body)
            m.file.append_from(
                body->fd(), body->size(),
                [](void* ctx, const char* p, std::size_t n) { static_cast<hasher*>(ctx)->update(p, n); }, &h);
        r.length = m.file.position() - r.offset;
        r.checksum = h.finish();
        if (r.length > k_max_index_blob) throw_limit("an index blob exceeds memvid's 512 MiB limit; export fewer frames");
        return r;
    };

    // Time index.
    std::sort(m.time_entries.begin(), m.time_entries.end());
    std::string t;
    {
        bincode::encoder e(t);
        e.raw(k_time_magic.data(), k_time_magic.size());
        e.u64(m.time_entries.size());
        for (auto [ts, id] : m.time_entries) {
            e.i64(ts);
            e.u64(id);
        }
    }
    const blob time_blob = copy_blob(t, nullptr);

    std::optional<blob> vec_blob, lex_blob;
    std::string count;
    if (m.vectors > 0) {
        count.clear();
        bincode::encoder(count).u64(m.vectors);
        vec_blob = copy_blob(count, &m.vec_docs);
    }
    // The native lexical index is only memvid's fallback (Tantivy is rebuilt from
    // search_text at open): past the reader's 512 MiB blob limit it is left out.
    // Past the 512 MiB blob limit an empty index (8 bytes) still keeps the
    // fallback path answering "no hits" instead of an error.
    const bool lex_fits = 8 + m.lex_docs.size() <= k_max_index_blob;
    std::uint64_t lex_count = 0;
    if (m.opts.native_lex) {
        count.clear();
        lex_count = lex_fits ? m.frames : 0;
        bincode::encoder(count).u64(lex_count);
        lex_blob = copy_blob(count, lex_fits ? &m.lex_docs : nullptr);
    }

    // TOC: prefix | frames (spilled) | suffix (ends with the 32-byte checksum).
    const std::uint64_t toc_offset = m.file.position();
    std::string prefix;
    {
        bincode::encoder e(prefix);
        e.u64(0);  // toc_version
        e.u64(0);  // segments
        e.u64(m.frames);
    }
    std::string suffix;
    {
        bincode::encoder e(suffix);
        // IndexManifests
        if (lex_blob) {
            e.some();
            e.u64(lex_count);
            e.u64(0);
            e.u64(lex_blob->offset);
            e.u64(lex_blob->length);
            e.bytes32(lex_blob->checksum);
        } else {
            e.none();
        }
        e.u64(0);  // lex_segments
        if (vec_blob) {
            e.some();
            e.u64(m.vectors);
            e.u32(static_cast<std::uint32_t>(m.dimension));
            e.u64(vec_blob->offset);
            e.u64(vec_blob->length);
            e.bytes32(vec_blob->checksum);
            e.variant(0);  // compression: None
            if (m.opts.vector_model) {
                e.some();
                e.str(*m.opts.vector_model);
            } else
                e.none();
        } else {
            e.none();
        }
        e.none();  // clip
        e.some();  // time_index
        e.u64(time_blob.offset);
        e.u64(time_blob.length);
        e.u64(m.time_entries.size());
        e.bytes32(time_blob.checksum);
        e.none();  // temporal_track
        e.none();  // memories_track
        e.none();  // logic_mesh
        e.none();  // sketch_track (never: it makes find lossy)
        // SegmentCatalog
        e.u64(0);
        e.u32(1);
        e.boolean(true);
        for (int k = 0; k < 6; ++k) e.u64(0);
        // TicketRef: capacity only matters when memvid appends; leave room.
        const std::uint64_t estimate = toc_offset + prefix.size() + m.toc_frames.size() + 4096;
        // memvid's free-tier default, or twice the file rounded up to 64 MiB for larger capsules.
        constexpr std::uint64_t step = 64ull << 20;
        const std::uint64_t capacity =
            estimate * 2 <= k_default_capacity ? k_default_capacity : (estimate * 2 + step - 1) / step * step;
        e.str("free-tier");
        e.i64(1);
        e.u64(0);
        e.u64(capacity);
        e.boolean(false);
        e.none();  // memory_binding
        e.none();  // replay_manifest
        e.u64(0);
        e.u64(0);  // enrichment_queue {tasks: [], updated_at: 0}
        digest zero{};
        e.bytes32(zero);  // merkle_root
    }
    hasher zeroed, final_hash;
    zeroed.update(prefix);
    final_hash.update(prefix);
    m.file.write(prefix);
    struct two {
        hasher* a;
        hasher* b;
    } both{&zeroed, &final_hash};
    m.file.append_from(
        m.toc_frames.fd(), m.toc_frames.size(),
        [](void* ctx, const char* p, std::size_t n) {
            auto* h = static_cast<two*>(ctx);
            h->a->update(p, n);
            h->b->update(p, n);
        },
        &both);
    zeroed.update(suffix);
    final_hash.update(suffix);
    m.file.write(suffix);
    const digest zero{};
    zeroed.update(zero.data(), zero.size());
    const digest toc_checksum = zeroed.finish();
    final_hash.update(toc_checksum.data(), toc_checksum.size());
    m.file.write(toc_checksum.data(), toc_checksum.size());
    const std::uint64_t toc_len = m.file.position() - toc_offset;
    if (toc_len + k_footer_size > k_max_index_blob)
        throw_limit("the capsule's table of contents would be " + std::to_string(toc_len >> 20) +
                    " MiB, over memvid's 512 MiB limit: export fewer frames (options.maxNodeFrames / "
                    "maxRelationFrames) or shorter snippets (options.maxSnippetChars)");
    const digest toc_hash = final_hash.finish();

    std::string footer;
    {
        bincode::encoder e(footer);
        e.raw(k_footer_magic.data(), k_footer_magic.size());
        e.u64(toc_len);
        e.bytes32(toc_hash);
        e.u64(1);  // generation
    }
    m.file.write(footer);

    std::string header(k_header_size, '\0');
    {
        std::string h;
        bincode::encoder e(h);
        e.raw(k_magic, 4);
        e.u16(k_version);
        e.u8(k_spec_major);
        e.u8(k_spec_minor);
        e.u64(toc_offset);
        e.u64(k_header_size);
        e.u64(m.opts.wal_size);
        e.u64(0);
        e.u64(0);
        e.bytes32(toc_checksum);
        std::memcpy(header.data(), h.data(), h.size());
    }
    const std::uint64_t total = m.file.position();
    m.file.pwrite_at(0, header.data(), header.size());
    m.file.finish(m.opts.durable);

    writer_summary s;
    s.path = m.file.target();
    s.frames = m.frames;
    s.vectors = m.vectors;
    s.dimension = m.dimension;
    s.bytes = total;
    s.payload_bytes = m.payload_bytes;
    s.toc_bytes = toc_len;
    s.native_lex_stub = m.opts.native_lex && !lex_fits;
    return s;
}

}  // namespace mvx::mv2
