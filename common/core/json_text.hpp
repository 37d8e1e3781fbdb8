// JSON text of a Boost.JSON value with numbers as serde_json writes them
// ("65.0", "0.85", 100) instead of Boost's exponent form ("6.5E1").
#pragma once

#include "common/core/json_out.hpp"

#include <boost/json/value.hpp>

#include <string>

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
