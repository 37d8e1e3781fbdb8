// Writer -> validating reader round trip: frames derived from the input are
// written, read back, and must compare equal field by field.
#include "common/core/error.hpp"
#include "common/mv2/reader.hpp"
#include "common/mv2/writer.hpp"

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace {
struct cursor {
    const std::uint8_t* p;
    std::size_t n;
    std::uint8_t byte() {
        if (!n) return 0;
        --n;
        return *p++;
    }
    std::string str() {
        const std::size_t len = std::min<std::size_t>(byte(), n);
        std::string s(reinterpret_cast<const char*>(p), len);
        p += len;
        n -= len;
        return s;
    }
};
std::string valid_utf8(std::string s) {
    for (auto& c : s) c = static_cast<char>(static_cast<unsigned char>(c) & 0x7F);  // strings must be UTF-8
    return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::filesystem::path dir = [] {
        auto d = std::filesystem::path(std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp") /
            ("mvx-fuzz-" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d;
    }();
    const auto path = dir / "rt.mv2";
    cursor c{data, size};
    mvx::mv2::writer_options o;
    o.durable = false;
    const std::uint8_t flags = c.byte();
    o.zstd_payloads = flags & 1;
    o.native_lex = flags & 2;
    o.search_text = flags & 4;
    const std::size_t nframes = c.byte() % 16;
    const std::size_t dim = (flags >> 3) % 5;
    struct rec {
        std::string title, uri, track, text;
        std::vector<std::string> tags, labels;
        std::vector<float> vec;
        std::int64_t ts;
    };
    std::vector<rec> recs;
    for (std::size_t i = 0; i < nframes; ++i) {
        rec r;
        r.title = valid_utf8(c.str());
        r.uri = valid_utf8(c.str());
        r.track = valid_utf8(c.str());
        r.text = c.str();  // payload bytes may be anything
        const std::size_t nt = c.byte() % 4;
        for (std::size_t k = 0; k < nt; ++k) r.tags.push_back(valid_utf8(c.str()));
        r.labels.push_back(valid_utf8(c.str()));
        for (std::size_t k = 0; k < dim; ++k) r.vec.push_back(static_cast<float>(c.byte()) / 7.0f);
        r.ts = static_cast<std::int64_t>(c.byte()) * 1000 - 50000;
        recs.push_back(std::move(r));
    }
    {
        mvx::mv2::writer w(path, o);
        for (const auto& r : recs) {
            mvx::mv2::frame_input f;
            f.title = r.title;
            f.uri = r.uri;
            f.track = r.track;
            f.text = r.text;
            f.tags = r.tags;
            f.labels = r.labels;
            f.embedding = r.vec;
            f.timestamp = r.ts;
            w.add(f);
        }
        w.commit();
    }
    mvx::mv2::capsule_reader rd(path);
    const auto& I = rd.info();
    if (I.frames.size() != recs.size()) __builtin_trap();
    for (std::size_t i = 0; i < recs.size(); ++i) {
        const auto& f = I.frames[i];
        const auto& r = recs[i];
        if (*f.title != r.title || *f.uri != r.uri || f.tags != r.tags || f.labels != r.labels) __builtin_trap();
        if ((r.track.empty() ? std::string() : *f.track) != r.track) __builtin_trap();
        if (rd.text(i) != r.text || rd.vector(i) != r.vec || f.timestamp != r.ts) __builtin_trap();
    }
    return 0;
}
