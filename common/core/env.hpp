// The environment as configuration. Every process reads its variables once, at
// start, through an env_lookup (std::getenv in production, a map in tests) and
// an env_reader that validates each value: a bad one throws mvx::error naming
// the variable, what it holds (never for secrets) and what to set instead.
#pragma once

#include "common/core/error.hpp"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

namespace mvx {

// Returns the value of a variable, or nullptr when it is unset.
using env_lookup = std::function<const char*(const char*)>;

inline env_lookup process_env() {
    return [](const char* name) -> const char* { return std::getenv(name); };
}

// A lookup over a map the caller keeps alive (tests, --env files).
inline env_lookup map_env(const std::map<std::string, std::string>& vars) {
    return [&vars](const char* name) -> const char* {
        auto it = vars.find(name);
        return it == vars.end() ? nullptr : it->second.c_str();
    };
}

class env_reader {
public:
    // code: the error code of a bad value (INVALID_CONFIG, EMBEDDER_NOT_CONFIGURED).
    explicit env_reader(env_lookup env, std::string code = "INVALID_CONFIG") : env_(std::move(env)), code_(std::move(code)) {}

    // Trimmed, with one pair of surrounding quotes dropped (a common .env
    // mistake); unset or empty gives def.
    std::string str(const char* name, const std::string& def = "") const {
        const char* v = env_ ? env_(name) : nullptr;
        if (!v) return def;
        std::string t = trim(v);
        return t.empty() ? def : t;
    }

    bool has(const char* name) const { return !str(name).empty(); }

    // A whole number in [min, max]; unit says what it counts ("seconds").
    std::int64_t integer(const char* name, std::int64_t def, std::int64_t min, std::int64_t max, const char* unit) const {
        const std::string v = str(name);
        if (v.empty()) return def;
        std::int64_t out = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
        if (ec != std::errc() || p != v.data() + v.size())
            fail(std::string(name) + "=\"" + v.substr(0, 64) + "\" is not a whole number: set it to " + unit + " between " +
                 std::to_string(min) + " and " + std::to_string(max) + " (default " + std::to_string(def) + ")");
        if (out < min || out > max)
            fail(std::string(name) + "=" + v + " is out of range: set it to " + unit + " between " + std::to_string(min) +
                 " and " + std::to_string(max) + " (default " + std::to_string(def) + ")");
        return out;
    }

    // 1/true/yes/on or 0/false/no/off (any case).
    bool flag(const char* name, bool def) const {
        std::string v = str(name);
        if (v.empty()) return def;
        for (auto& c : v) c = char(std::tolower(static_cast<unsigned char>(c)));
        if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
        if (v == "0" || v == "false" || v == "no" || v == "off") return false;
        fail(std::string(name) + "=\"" + v.substr(0, 64) + "\" is not a switch: set it to 1/true/yes/on or 0/false/no/off");
    }

    // One of the allowed values (compared as given; callers lower-case first
    // where case does not matter).
    std::string choice(const char* name, const std::string& def, std::initializer_list<std::string_view> allowed,
                       const char* meaning) const {
        const std::string v = str(name, def);
        for (auto a : allowed)
            if (v == a) return v;
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        fail(std::string(name) + "=\"" + v.substr(0, 64) + "\" is not " + meaning + ": set one of " + list);
    }

    [[noreturn]] void fail(const std::string& message) const { throw error(error_kind::invalid_input, code_, message); }

    static std::string trim(std::string_view s) {
        auto ws = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
        while (!s.empty() && ws(s.back())) s.remove_suffix(1);
        while (!s.empty() && ws(s.front())) s.remove_prefix(1);
        if (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') || (s.front() == '\'' && s.back() == '\'')))
            s = s.substr(1, s.size() - 2);
        return std::string(s);
    }

private:
    env_lookup env_;
    std::string code_;
};

}  // namespace mvx
