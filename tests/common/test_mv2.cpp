#include "common/core/error.hpp"
#include "common/mv2/reader.hpp"
#include "common/mv2/writer.hpp"
#include "test_helpers.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace mvx;
using Catch::Matchers::Contains;

namespace {

struct doc {
    std::string title, uri, track, text;
    std::vector<std::string> tags, labels;
    std::vector<float> vec;
};

std::vector<doc> make_docs(std::size_t n, std::size_t dim, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g;
    std::vector<doc> docs;
    for (std::size_t i = 0; i < n; ++i) {
        doc d;
        d.title = "Doc " + std::to_string(i);
        d.uri = "mv2://t/" + std::to_string(i);
        d.track = "t/" + std::to_string(i % 7);
        d.text = "body of document " + std::to_string(i) + " ünïcode " + std::string(i % 3000, 'x') + ".\nNext line.";
        d.tags = {"k=v" + std::to_string(i % 5), "source=test"};
        d.labels = {"L" + std::to_string(i % 3)};
        for (std::size_t k = 0; k < dim; ++k) d.vec.push_back(g(rng));
        docs.push_back(std::move(d));
    }
    return docs;
}

mv2::writer_summary write_docs(const std::filesystem::path& p, const std::vector<doc>& docs, mv2::writer_options o = {}) {
    mv2::writer w(p, o);
    for (const auto& d : docs) {
        mv2::frame_input f;
        f.title = d.title;
        f.uri = d.uri;
        f.track = d.track;
        f.text = d.text;
        f.tags = d.tags;
        f.labels = d.labels;
        f.extra_metadata = {{"source", "test"}, {"memvid.embedding.provider", "fastembed"}};
        f.timestamp = 1'700'000'000 + static_cast<std::int64_t>(d.title.size());
        f.embedding = d.vec;
        w.add(f);
    }
    return w.commit();
}

}  // namespace

TEST_CASE("writer -> validating reader round trip, 1,000 frames with 384-d vectors", "[mv2]") {
    test::temp_dir dir;
    const auto docs = make_docs(1000, 384, 7);
    for (bool zstd : {false, true}) {
        mv2::writer_options o;
        o.zstd_payloads = zstd;
        const auto p = dir.path / (zstd ? "z.mv2" : "p.mv2");
        const auto s = write_docs(p, docs, o);
        CHECK(s.frames == 1000);
        CHECK(s.vectors == 1000);
        mv2::capsule_reader r(p);
        const auto& I = r.info();
        REQUIRE(I.frames.size() == 1000);
        CHECK(I.vector_count == 1000);
        CHECK(I.dimension == 384);
        CHECK(I.lex_documents == 1000);
        CHECK(I.time_entries == 1000);
        CHECK(I.file_size == std::filesystem::file_size(p));
        for (std::size_t i : {0u, 1u, 499u, 999u}) {
            const auto& f = I.frames[i];
            CHECK(*f.title == docs[i].title);
            CHECK(*f.uri == docs[i].uri);
            CHECK(*f.track == docs[i].track);
            CHECK(f.tags == docs[i].tags);
            CHECK(f.labels == docs[i].labels);
            CHECK(r.text(i) == docs[i].text);
            CHECK(r.vector(i) == docs[i].vec);
            CHECK(*f.mime == "text/plain");
            CHECK(f.encoding == (zstd ? 1u : 0u));
            // extra metadata sorted, with the dimension key added.
            REQUIRE(f.extra_metadata.size() == 3);
            CHECK(f.extra_metadata[0] == std::pair<std::string, std::string>("memvid.embedding.dimension", "384"));
            CHECK(f.search_text->rfind(docs[i].text.substr(0, 10), 0) == 0);
            CHECK(f.search_text->find("\ntitle: " + docs[i].title + "\nuri: " + docs[i].uri) != std::string::npos);
        }
    }
}

TEST_CASE("same frames -> same bytes", "[mv2]") {
    test::temp_dir dir;
    const auto docs = make_docs(50, 8, 3);
    write_docs(dir.path / "a.mv2", docs);
    write_docs(dir.path / "b.mv2", docs);
    CHECK(test::read_file(dir.path / "a.mv2") == test::read_file(dir.path / "b.mv2"));
}

TEST_CASE("an uncommitted writer leaves nothing behind", "[mv2]") {
    test::temp_dir dir;
    {
        mv2::writer w(dir.path / "x.mv2");
        mv2::frame_input f;
        f.title = "t";
        f.uri = "u";
        f.text = "hello";
        w.add(f);
    }
    CHECK(std::filesystem::is_empty(dir.path));
}

TEST_CASE("mixed vector dimensions are refused", "[mv2]") {
    test::temp_dir dir;
    mv2::writer w(dir.path / "x.mv2");
    std::vector<float> a(4, 1.0f), b(5, 1.0f);
    mv2::frame_input f;
    f.uri = "u";
    f.embedding = a;
    w.add(f);
    f.embedding = b;
    CHECK_THROWS_WITH(w.add(f), Contains("embedding has 5 dimensions, earlier frames had 4"));
}

TEST_CASE("the reader detects corruption", "[mv2]") {
    test::temp_dir dir;
    const auto p = dir.path / "c.mv2";
    write_docs(p, make_docs(20, 4, 1));
    const std::string good = test::read_file(p);
    auto corrupt_at = [&](std::size_t off) {
        std::string bad = good;
        bad[off] = static_cast<char>(bad[off] ^ 0x5A);
        dir.write("bad.mv2", bad);
        try {
            mv2::capsule_reader r(dir.path / "bad.mv2");
        } catch (const mvx::error& e) {
            CHECK(e.code() == "CORRUPT_CAPSULE");
            return std::string(e.what());
        }
        return std::string("<accepted>");
    };
    CHECK_THAT(corrupt_at(0), Contains("bad magic"));
    CHECK_THAT(corrupt_at(4096 + 65536 + 3), Contains("payload checksum mismatch"));
    CHECK_THAT(corrupt_at(good.size() - 100), Contains("footer hash does not match"));
    CHECK_THAT(corrupt_at(good.size() - 20), Contains("footer hash does not match"));
    CHECK_THAT(corrupt_at(50), Contains("header toc_checksum differs"));
    CHECK_THAT(corrupt_at(5000), Contains("WAL region is not all zero"));
    dir.write("short.mv2", good.substr(0, good.size() - 1));
    CHECK_THROWS_WITH(mv2::capsule_reader(dir.path / "short.mv2"), Contains("MV2FOOT"));
}

TEST_CASE("golden: golden1.json is written byte for byte like the reference files", "[mv2][golden]") {
    const std::filesystem::path g = std::filesystem::path(MVX_FIXTURES_DIR) / "mv2-golden";
    REQUIRE(std::filesystem::exists(g / "golden1.json"));
    const auto doc = boost::json::parse(test::read_file(g / "golden1.json")).as_array().at(0).as_object();
    test::temp_dir dir;
    for (bool minimal : {true, false}) {
        mv2::writer_options o;
        o.search_text = !minimal;
        o.native_lex = !minimal;
        const auto out = dir.path / "g.mv2";
        {
            mv2::writer w(out, o);
            std::vector<float> emb;
            for (auto& x : doc.at("embedding").as_array()) emb.push_back(static_cast<float>(x.to_number<double>()));
            const std::string title(doc.at("title").as_string()), text(doc.at("text").as_string()),
                uri(doc.at("uri").as_string()), track(doc.at("track").as_string());
            mv2::frame_input f;
            f.title = title;
            f.text = text;
            f.uri = uri;
            f.track = track;
            for (auto& x : doc.at("tags").as_array()) f.tags.emplace_back(x.as_string());
            for (auto& x : doc.at("labels").as_array()) f.labels.emplace_back(x.as_string());
            for (auto& kv : doc.at("extra_metadata").as_object())
                f.extra_metadata.emplace_back(std::string(kv.key()), std::string(kv.value().as_string()));
            f.embedding = emb;
            f.timestamp = doc.at("timestamp").to_number<std::int64_t>();
            w.add(f);
            w.commit();
        }
        const auto want = test::read_file(g / (minimal ? "golden1_min.mv2" : "golden1_default.mv2"));
        const auto got = test::read_file(out);
        INFO((minimal ? "golden1_min.mv2" : "golden1_default.mv2"));
        CHECK(got.size() == want.size());
        CHECK(got == want);
        CHECK_NOTHROW(mv2::capsule_reader(out));
    }
}

TEST_CASE("search_text uses the reader's augmented layout", "[mv2]") {
    const auto s = mv2::cli_search_text("  body text \n", "T", "mv2://x", "tr", {"a", "b"}, {"L"}, {{"k", "v"}, {"empty", " "}});
    CHECK(s ==
          "body text\ntitle: T\nuri: mv2://x\ntrack: tr\ntags: a b\nlabels: L\nk: v\nmetadata: "
          "{\"mime\":\"text/plain\",\"bytes\":null,\"hash\":null,\"width\":null,\"height\":null,"
          "\"colors\":null,\"caption\":null,\"exif\":null,\"audio\":null,\"media\":null}");
}

TEST_CASE("native lexical tokens and sections follow memvid's rules", "[mv2]") {
    CHECK(mv2::lex_tokens("Hello, Rust-lang!") == std::vector<std::string>{"hello", "rust", "lang"});
    CHECK(mv2::lex_tokens("N&M EXPRESS LLC @ 2024") == std::vector<std::string>{"n&m", "express", "llc", "2024"});
    CHECK(mv2::lex_tokens("a B a b_c ÄÖ a", true) == std::vector<std::string>{"a", "b", "b_c", "ÄÖ"});
    CHECK(mv2::lex_tokens("x++ @@ __ 9", false) == std::vector<std::string>{"x++", "9"});
    std::string longtext;
    for (int i = 0; i < 200; ++i) longtext += "Sentence number " + std::to_string(i) + " ends here. ";
    const auto secs = mv2::lex_sections(longtext);
    REQUIRE(secs.size() > 1);
    std::string joined;
    for (const auto& [off, t] : secs) {
        CHECK(off == joined.size());
        CHECK(t.size() <= 1400 + 4);
        joined += t;
    }
    CHECK(joined == longtext);
}
