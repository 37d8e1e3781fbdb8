// The README's reference is complete: every environment variable the code
// reads is documented there (the control plane's, the worker's, the
// providers', the engine's).
#include "tests/common/test_helpers.hpp"

#include <catch2/catch.hpp>

#include <regex>
#include <set>

TEST_CASE("docs: every variable the code reads is in the README", "[docs]") {
    const std::filesystem::path root(MVX_SOURCE_DIR);
    const std::string readme = mvx::test::read_file(root / "README.md");
    std::set<std::string> vars;
    const std::regex name("\"((?:MEMVID|RUNPOD|OPENAI|NVIDIA|VOYAGE|OLLAMA|SOURCE_DATE)_?[A-Z0-9_]*)\"");
    for (const char* file : {"control-plane/config/config.cpp", "worker/config.cpp", "common/providers/providers.cpp",
                             "common/providers/catalog.hpp"}) {
        const std::string text = mvx::test::read_file(root / file);
        REQUIRE_FALSE(text.empty());
        for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) vars.insert((*it)[1]);
    }
    CHECK(vars.size() > 40);
    for (const auto& v : vars) {
        INFO(v << " is read by the code but not documented in README.md");
        CHECK(readme.find("`" + v + "`") != std::string::npos);
    }
}

namespace {

// Every `#include "..."` of the files under `folder` (relative to the source root).
std::vector<std::pair<std::string, std::string>> includes_under(const std::string& folder) {
    const std::filesystem::path root(MVX_SOURCE_DIR);
    std::vector<std::pair<std::string, std::string>> out;
    const std::regex inc("#include [\"<]([^\">]+)[\">]");
    for (const auto& e : std::filesystem::recursive_directory_iterator(root / folder)) {
        const auto ext = e.path().extension().string();
        if (!e.is_regular_file() || (ext != ".cpp" && ext != ".hpp" && ext != ".cu" && ext != ".cuh")) continue;
        const std::string text = mvx::test::read_file(e.path());
        for (std::sregex_iterator it(text.begin(), text.end(), inc), end; it != end; ++it)
            out.emplace_back(std::filesystem::relative(e.path(), root).string(), (*it)[1]);
    }
    return out;
}

}  // namespace

TEST_CASE("layout: includes go downwards only (CONTRIBUTING.md)", "[docs]") {
    auto starts = [](const std::string& s, const char* p) { return s.rfind(p, 0) == 0; };
    for (const auto& [file, inc] : includes_under("kernels")) {
        INFO(file << " includes " << inc);
        CHECK((!starts(inc, "common/") || inc == "common/core/error.hpp"));  // ops only: no engine
    }
    for (const auto& [file, inc] : includes_under("common/embedding")) {
        INFO(file << " includes " << inc);
        CHECK_FALSE(starts(inc, "boost/"));  // the engine builds without Boost
        const bool own = starts(inc, "common/embedding/") || inc == "common/core/error.hpp";
        const bool ops = inc == "kernels/ops.hpp" || inc == "kernels/cuda_check.hpp";
        CHECK((!starts(inc, "common/") || own));
        CHECK((!starts(inc, "kernels/") || (ops && file == "common/embedding/cuda_backend.cpp")));
    }
    for (const auto& [file, inc] : includes_under("control-plane")) {
        INFO(file << " includes " << inc);
        CHECK_FALSE(starts(inc, "common/embedding/"));  // the API links no engine
        CHECK((!starts(inc, "common/providers/") || inc == "common/providers/catalog.hpp"));
        CHECK_FALSE(starts(inc, "worker/"));
        if (file != "control-plane/http/server.cpp") CHECK_FALSE(starts(inc, "boost/beast"));
        if (file != "control-plane/http/server.cpp") CHECK_FALSE(starts(inc, "boost/asio"));
    }
    for (const auto& [file, inc] : includes_under("common/core")) {
        INFO(file << " includes " << inc);
        CHECK((!starts(inc, "common/") || starts(inc, "common/core/")));
    }
}
