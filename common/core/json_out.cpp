#include "common/core/json_out.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace mvx::json_out {

void append_string(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t run = 0;  // start of the current unescaped run
    for (std::size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const char* esc = nullptr;
        char buf[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c < 0x20) {
            switch (c) {
                case '\b': esc = "\\b"; break;
                case '\f': esc = "\\f"; break;
                case '\n': esc = "\\n"; break;
                case '\r': esc = "\\r"; break;
                case '\t': esc = "\\t"; break;
                default:
                    buf[0] = '\\';
                    buf[1] = 'u';
                    buf[2] = '0';
                    buf[3] = '0';
                    buf[4] = hex[c >> 4];
                    buf[5] = hex[c & 15];
                    buf[6] = 0;
                    esc = buf;
            }
        }
        if (esc) {
            out.append(s.data() + run, i - run);
            out += esc;
            run = i + 1;
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

// ryu's "pretty" layout (what serde_json prints for f64), over the shortest
// round-trip digits that std::to_chars produces.
void append_f64(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    if (v == 0.0) {
        out += std::signbit(v) ? "-0.0" : "0.0";
        return;
    }
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
    bool neg = false;
    if (sci.front() == '-') {
        neg = true;
        sci.remove_prefix(1);
    }
    const auto epos = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, epos))
        if (c != '.') digits += c;
    int exp10 = 0;
    std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp10);
    const int length = static_cast<int>(digits.size());
    const int k = exp10 - (length - 1);  // value = digits * 10^k
    const int kk = length + k;  // position of the decimal point
    if (neg) out += '-';
    if (k >= 0 && kk <= 16) {
        out += digits;
        out.append(static_cast<std::size_t>(k), '0');
        out += ".0";
    } else if (kk > 0 && kk <= 16) {
        out.append(digits, 0, static_cast<std::size_t>(kk));
        out += '.';
        out.append(digits, static_cast<std::size_t>(kk));
    } else if (kk > -5 && kk <= 0) {
        out += "0.";
        out.append(static_cast<std::size_t>(-kk), '0');
        out += digits;
    } else if (length == 1) {
        out += digits;
        out += 'e';
        out += std::to_string(kk - 1);
    } else {
        out += digits[0];
        out += '.';
        out.append(digits, 1);
        out += 'e';
        out += std::to_string(kk - 1);
    }
}

std::string object::str() const {
    std::vector<const std::pair<std::string, std::string>*> order;
    order.reserve(members_.size());
    for (const auto& m : members_) order.push_back(&m);
    std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
    std::string out = "{";
    bool first = true;
    for (std::size_t i = 0; i < order.size(); ++i) {
        if (i + 1 < order.size() && order[i + 1]->first == order[i]->first) continue;  // last wins
        if (!first) out += ',';
        first = false;
        append_string(out, order[i]->first);
        out += ':';
        out += order[i]->second;
    }
    out += '}';
    return out;
}

std::string array_of_strings(const std::vector<std::string_view>& items) {
    std::string out = "[";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        append_string(out, items[i]);
    }
    out += ']';
    return out;
}

}  // namespace mvx::json_out
