// Compact JSON text exactly as serde_json writes it (the original system's
// metadata JSON): object keys sorted byte-wise (serde_json's default
// BTreeMap), strings escaped like serde_json (only '"', '\\' and C0 controls;
// non-ASCII kept as UTF-8), f64 in ryu's shortest form ("1.0", "0.85",
// "1e21", "1.5e-7"), non-finite f64 as null.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mvx::json_out {

void append_string(std::string& out, std::string_view s);
void append_f64(std::string& out, double v);

inline std::string string(std::string_view s) {
    std::string o;
    append_string(o, s);
    return o;
}
inline std::string f64(double v) {
    std::string o;
    append_f64(o, v);
    return o;
}
inline std::string u64(std::uint64_t v) { return std::to_string(v); }
inline std::string i64(std::int64_t v) { return std::to_string(v); }
inline std::string boolean(bool v) { return v ? "true" : "false"; }
inline std::string null() { return "null"; }

// A JSON object whose members are serialized values; str() emits them with
// keys sorted (duplicate keys: the last one wins, as in a BTreeMap insert).
class object {
public:
    object& raw(std::string key, std::string json) {
        members_.emplace_back(std::move(key), std::move(json));
        return *this;
    }
    object& str(std::string key, std::string_view v) { return raw(std::move(key), string(v)); }
    object& opt_str(std::string key, const std::optional<std::string_view>& v) {
        return raw(std::move(key), v ? string(*v) : null());
    }
    std::string str() const;

private:
    std::vector<std::pair<std::string, std::string>> members_;
};

std::string array_of_strings(const std::vector<std::string_view>& items);

}  // namespace mvx::json_out
