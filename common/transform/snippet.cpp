#include "common/transform/snippet.hpp"

#include "common/core/utf8.hpp"

#include <algorithm>

namespace mvx::transform {
namespace {

constexpr std::string_view k_separator = "\n\n...\n\n";
constexpr std::string_view k_truncated = "\n...[truncated]";
constexpr std::size_t k_client_max_ranges = 10;

std::vector<std::string_view> split_lines(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (true) {
        const auto nl = s.find('\n', pos);
        if (nl == std::string_view::npos) {
            out.push_back(s.substr(pos));
            break;
        }
        out.push_back(s.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return out;
}

// Rust's str::lines(): split on '\n', drop one trailing '\r' per line, no
// final empty line after a trailing '\n'.
std::vector<std::string_view> rust_lines(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (pos < s.size()) {
        auto nl = s.find('\n', pos);
        std::string_view line = s.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        out.push_back(line);
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    return out;
}

std::string_view ltrim_ws(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
    return s;
}

std::vector<std::string_view> split_pieces(std::string_view body) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (true) {
        const auto at = body.find(k_separator, pos);
        if (at == std::string_view::npos) {
            out.push_back(body.substr(pos));
            break;
        }
        out.push_back(body.substr(pos, at - pos));
        pos = at + k_separator.size();
    }
    return out;
}

bool looks_compact(std::string_view content) {
    return content.find(k_separator) != std::string_view::npos ||
        (content.size() >= k_truncated.size() && content.substr(content.size() - k_truncated.size()) == k_truncated);
}

}  // namespace

std::string truncate_chars(std::string_view s, std::size_t n) {
    const std::size_t cut = utf8::byte_offset_of_char(s, n);
    if (cut >= s.size()) return std::string(s);
    std::string out(s.substr(0, cut));
    out += k_truncated;
    return out;
}

source_file source_file::whole(std::string_view content) {
    source_file f;
    f.whole_ = true;
    f.lines_ = rust_lines(content);
    return f;
}

const std::string_view* source_file::line(std::uint64_t one_based) const {
    if (whole_) {
        if (one_based == 0 || one_based > lines_.size()) return nullptr;
        return &lines_[one_based - 1];
    }
    auto it = sparse_.find(one_based);
    return it == sparse_.end() ? nullptr : &it->second;
}

source_file source_file::compact(std::string_view content, const std::vector<range>& ranges) {
    source_file f;
    f.whole_ = false;
    std::string_view body = content;
    const bool truncated = body.size() >= k_truncated.size() && body.substr(body.size() - k_truncated.size()) == k_truncated;
    if (truncated) body.remove_suffix(k_truncated.size());
    auto pieces = split_pieces(body);
    const std::size_t nranges = std::min(ranges.size(), k_client_max_ranges);
    if (pieces.size() > nranges) return f;  // a literal separator inside the text: ambiguous, map nothing

    std::map<std::uint64_t, bool> first_line_trimmed;  // line -> its text lost leading whitespace
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        const auto& r = ranges[i];
        const std::uint64_t start_in = r.start.value_or(1);
        const std::uint64_t s = start_in > 21 ? start_in - 20 : 1;
        const std::uint64_t end_base = r.end ? *r.end : (r.start ? *r.start : 120);
        const std::uint64_t e = std::max(s, end_base + 20);
        auto lines = split_lines(pieces[i]);
        const bool cut = truncated && i + 1 == pieces.size();
        if (cut && lines.size() > 1)
            lines.pop_back();  // the cut line may be partial
        else if (cut)
            continue;
        const std::uint64_t expected = e - s + 1;
        if (!cut && lines.size() > expected) continue;  // inconsistent with the client's rule
        const std::uint64_t slack = cut ? 40 : expected - lines.size();

        auto anchored = [&](std::uint64_t d) {
            if (!r.start || r.name.size() < 2) return false;
            const std::uint64_t node_line = *r.start + 1;  // 0-based -> 1-based
            if (node_line < s + d) return false;
            const std::uint64_t k = node_line - s - d;
            return k < lines.size() && lines[k].find(r.name) != std::string_view::npos;
        };
        std::uint64_t d = 0;
        if (slack > 0) {
            bool found = false;
            for (std::uint64_t c = 0; c <= slack && !found; ++c)
                if (anchored(c)) {
                    d = c;
                    found = true;
                }
            if (!found) {
                std::size_t best = 0;
                for (std::uint64_t c = 0; c <= slack; ++c) {
                    std::size_t agree = 0;
                    for (std::size_t k = 0; k < lines.size(); ++k) {
                        auto it = f.sparse_.find(s + c + k);
                        if (it != f.sparse_.end() && ltrim_ws(it->second) == ltrim_ws(lines[k]) && !ltrim_ws(lines[k]).empty())
                            ++agree;
                    }
                    if (agree > best) {
                        best = agree;
                        d = c;
                    }
                }
            }
        }
        for (std::size_t k = 0; k < lines.size(); ++k) {
            const std::uint64_t ln = s + d + k;
            auto it = f.sparse_.find(ln);
            if (it == f.sparse_.end()) {
                f.sparse_.emplace(ln, lines[k]);
                if (k == 0) first_line_trimmed[ln] = true;
            } else if (k != 0 && first_line_trimmed.count(ln)) {
                it->second = lines[k];  // an untrimmed copy of a line we only had trimmed
                first_line_trimmed.erase(ln);
            }
        }
    }
    return f;
}

snippet_builder::snippet_builder(const contract::export_request& req) : req_(req) {
    for (const auto& [path, body] : req.file_contents)
        if (looks_compact(body)) {
            compact_ = true;
            break;
        }
    if (compact_) {
        for (const auto& n : req.nodes) {
            std::string_view p = n.properties.file_path;
            while (!p.empty() && (p.front() == ' ' || p.front() == '\t' || p.front() == '\n' || p.front() == '\r'))
                p.remove_prefix(1);
            while (!p.empty() && (p.back() == ' ' || p.back() == '\t' || p.back() == '\n' || p.back() == '\r'))
                p.remove_suffix(1);
            if (p.empty()) continue;
            ranges_[p].push_back({n.properties.start_line, n.properties.end_line, n.properties.name});
        }
    }
}

const source_file* snippet_builder::file_for(std::string_view path) {
    auto it = files_.find(path);
    if (it != files_.end()) return it->second.get();
    const std::string_view* body = req_.file_content(path);
    std::unique_ptr<source_file> f;
    if (body) {
        if (compact_) {
            static const std::vector<source_file::range> none;
            auto r = ranges_.find(path);
            f = std::make_unique<source_file>(source_file::compact(*body, r == ranges_.end() ? none : r->second));
        } else {
            f = std::make_unique<source_file>(source_file::whole(*body));
        }
    }
    auto* raw = f.get();
    files_.emplace(path, std::move(f));
    return raw;
}

snippet_result snippet_builder::build(const contract::graph_node& node) {
    snippet_result out;
    const std::size_t max_chars = std::max<std::uint64_t>(req_.options.max_snippet_chars, 80);
    const source_file* file = file_for(node.properties.file_path);
    if (!file) {
        out.text = "<no source content available>";
        return out;
    }
    const bool is_file = node.label == "File";
    const std::uint64_t default_count = is_file ? 80 : 40;
    // 1-based inclusive line range wanted.
    std::uint64_t first = node.properties.start_line ? *node.properties.start_line + 1 : 1;
    std::uint64_t last =
        node.properties.end_line ? *node.properties.end_line + 1 : (node.properties.start_line ? first : default_count);
    if (!node.properties.start_line && !node.properties.end_line) last = default_count;
    last = std::max(last, first);
    if (file->is_whole()) {
        const std::uint64_t n = file->line_count();
        if (n == 0) {
            out.source = snippet_source::exact;
            return out;
        }
        first = std::min<std::uint64_t>(first, n);
        last = std::min<std::uint64_t>(last, n);
    } else if (!node.properties.start_line) {
        // Without line numbers the snippet is the file's head, as far as it is known.
        std::uint64_t k = 1;
        while (k <= last && file->line(k)) ++k;
        last = k > 1 ? k - 1 : 0;
        if (last < first) {
            out.text = "<no source content available>";
            return out;
        }
    }
    std::string text;
    std::uint64_t ln = first;
    for (; ln <= last; ++ln) {
        const std::string_view* l = file->line(ln);
        if (!l) break;
        if (ln != first) text += '\n';
        text.append(l->data(), l->size());
    }
    if (ln == first) {
        out.text = "<no source content available>";
        return out;
    }
    out.source = ln <= last ? snippet_source::partial : snippet_source::exact;
    if (out.source == snippet_source::partial && utf8::char_count(text) <= max_chars) {
        text +=
            "\n...[lines " + std::to_string(ln - 1) + "-" + std::to_string(last - 1) + " (0-based) not in the export payload]";
        out.text = std::move(text);
    } else {
        out.text = truncate_chars(text, max_chars);
    }
    return out;
}

}  // namespace mvx::transform
