// mvx-dump-frames <capsule.mv2> [limit]: the frames of a capsule as a JSON array
// in memvid-sdk's put_many shape (title, label, text, uri, tags, labels, track,
// metadata), so the benchmark can have memvid write the very same frames.
#include "common/core/json_out.hpp"
#include "common/mv2/reader.hpp"

#include <iostream>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: mvx-dump-frames <capsule.mv2> [limit]\n";
        return 2;
    }
    try {
        mvx::mv2::capsule_reader r(argv[1]);
        const auto& frames = r.info().frames;
        const std::size_t limit = argc > 2 ? std::stoul(argv[2]) : frames.size();
        namespace J = mvx::json_out;
        std::cout << '[';
        for (std::size_t i = 0; i < std::min(limit, frames.size()); ++i) {
            const auto& f = frames[i];
            std::vector<std::string_view> tags(f.tags.begin(), f.tags.end()), labels(f.labels.begin(), f.labels.end());
            J::object md;
            for (const auto& [k, v] : f.extra_metadata) md.str(k, v);
            J::object o;
            o.str("title", f.title.value_or(""))
                .str("label", labels.empty() ? std::string_view("frame") : labels[0])
                .str("text", r.text(i))
                .str("uri", f.uri.value_or(""))
                .str("track", f.track.value_or(""))
                .raw("tags", J::array_of_strings(tags))
                .raw("labels", J::array_of_strings(labels))
                .raw("metadata", md.str())
                .raw("timestamp", J::i64(f.timestamp));
            if (i) std::cout << ',';
            std::cout << o.str() << '\n';
        }
        std::cout << "]\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "mvx-dump-frames: " << e.what() << "\n";
        return 1;
    }
}
