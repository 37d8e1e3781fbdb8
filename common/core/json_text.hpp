// JSON text of a Boost.JSON value with numbers as serde_json writes them
// ("65.0", "0.85", 100) instead of Boost's exponent form ("6.5E1").
#pragma once

#include "common/core/json_out.hpp"

#include <boost/json/value.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace mvx {

inline void append_text(std::string& out, const boost::json::value& v);

inline void append_text(std::string& out, const boost::json::object& obj) {
    out += '{';
    bool first = true;
    for (const auto& kv : obj) {
        if (!first) out += ',';
        first = false;
        json_out::append_string(out, kv.key());
        out += ':';
        append_text(out, kv.value());
    }
    out += '}';
}

inline void append_text(std::string& out, const boost::json::value& v) {
    switch (v.kind()) {
        case boost::json::kind::null: out += "null"; break;
        case boost::json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
        case boost::json::kind::int64: out += std::to_string(v.get_int64()); break;
        case boost::json::kind::uint64: out += std::to_string(v.get_uint64()); break;
        case boost::json::kind::double_: json_out::append_f64(out, v.get_double()); break;
        case boost::json::kind::string: json_out::append_string(out, v.get_string()); break;
        case boost::json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out += ',';
                first = false;
                append_text(out, e);
            }
            out += ']';
            break;
        }
        case boost::json::kind::object: append_text(out, v.get_object()); break;
    }
}

// The same with every object's keys sorted byte-wise, at every depth — as
// serde_json writes a Value (its maps are BTreeMaps): a payload's own members
// come out the same whatever order they were sent in.
inline void append_sorted_text(std::string& out, const boost::json::value& v) {
    if (v.is_object()) {
        const auto& obj = v.get_object();
        std::vector<const boost::json::key_value_pair*> members;
        members.reserve(obj.size());
        for (const auto& kv : obj) members.push_back(&kv);
        std::stable_sort(members.begin(), members.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
        out += '{';
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (i) out += ',';
            json_out::append_string(out, members[i]->key());
            out += ':';
            append_sorted_text(out, members[i]->value());
        }
        out += '}';
    } else if (v.is_array()) {
        out += '[';
        bool first = true;
        for (const auto& e : v.get_array()) {
            if (!first) out += ',';
            first = false;
            append_sorted_text(out, e);
        }
        out += ']';
    } else {
        append_text(out, v);
    }
}

inline std::string to_sorted_text(const boost::json::value& v) {
    std::string s;
    append_sorted_text(s, v);
    return s;
}

inline std::string to_text(const boost::json::value& v) {
    std::string s;
    append_text(s, v);
    return s;
}

inline std::string to_text(const boost::json::object& o) {
    std::string s;
    append_text(s, o);
    return s;
}

}  // namespace mvx
