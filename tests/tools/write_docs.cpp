// mvx-write-docs: writes an .mv2 from a JSON array of documents with our
// writer — the test and benchmark driver for the writer alone (the same
// document shape as memvid's
// put-many: title, text, uri, track, tags, labels, extra_metadata,
// embedding, timestamp, kind).
//
//   mvx-write-docs <docs.json> <out.mv2> [--no-search-text] [--no-native-lex] [--zstd]
#include "common/core/error.hpp"
#include "common/mv2/writer.hpp"

#include <boost/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

namespace json = boost::json;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::cerr << "usage: mvx-write-docs <docs.json> <out.mv2> [--no-search-text] [--no-native-lex] [--zstd]\n";
        return 2;
    }
    mvx::mv2::writer_options opts;
    for (int i = 3; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--no-search-text")
            opts.search_text = false;
        else if (a == "--no-native-lex")
            opts.native_lex = false;
        else if (a == "--zstd")
            opts.zstd_payloads = true;
        else {
            std::cerr << "unknown option " << a << "\n";
            return 2;
        }
    }
    try {
        std::ifstream in(argv[1], std::ios::binary);
        if (!in) {
            std::cerr << "cannot open " << argv[1] << "\n";
            return 1;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        const json::value doc = json::parse(ss.str());
        mvx::mv2::writer w(argv[2], opts);
        std::size_t i = 0;
        for (const auto& v : doc.as_array()) {
            const auto& o = v.as_object();
            auto str = [&](const char* k) -> std::string {
                auto* p = o.if_contains(k);
                return p && p->is_string() ? std::string(p->get_string()) : std::string();
            };
            std::string title = str("title"), text = str("text"), uri = str("uri"), track = str("track");
            if (uri.empty()) uri = "mv2://frames/" + std::to_string(i);
            std::vector<float> emb;
            mvx::mv2::frame_input f;
            f.title = title;
            f.text = text;
            f.uri = uri;
            f.track = track;
            std::string kind = str("kind");
            if (!kind.empty()) f.kind = kind;
            if (auto* t = o.if_contains("tags"))
                for (auto& x : t->as_array()) f.tags.emplace_back(x.as_string());
            if (auto* t = o.if_contains("labels"))
                for (auto& x : t->as_array()) f.labels.emplace_back(x.as_string());
            if (auto* t = o.if_contains("extra_metadata"))
                for (auto& kv : t->as_object())
                    f.extra_metadata.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
            if (auto* t = o.if_contains("embedding"))
                for (auto& x : t->as_array()) emb.push_back(static_cast<float>(x.to_number<double>()));
            f.embedding = emb;
            if (auto* t = o.if_contains("timestamp")) f.timestamp = t->to_number<std::int64_t>();
            w.add(f);
            ++i;
        }
        const auto s = w.commit();
        std::cout << "{\"frames\":" << s.frames << ",\"vectors\":" << s.vectors << ",\"bytes\":" << s.bytes << "}\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "mvx-write-docs: " << e.what() << "\n";
        return 1;
    }
}
