// A small JSON reader for model folders (config.json, tokenizer.json,
// safetensors headers). The embedding engine stays free of Boost so that it
// builds on a GPU machine with only a compiler, CMake and nvcc; the payload
// path keeps using Boost.JSON.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mvx::embedding::json {

class value {
public:
    enum class type { null, boolean, number, string, array, object };

    type kind() const { return kind_; }
    bool is_null() const { return kind_ == type::null; }
    bool is_bool() const { return kind_ == type::boolean; }
    bool is_number() const { return kind_ == type::number; }
    bool is_string() const { return kind_ == type::string; }
    bool is_array() const { return kind_ == type::array; }
    bool is_object() const { return kind_ == type::object; }

    bool as_bool() const { return b_; }
    double as_number() const { return n_; }
    // The number's text as written, for exact integers beyond 2^53.
    const std::string& number_text() const { return s_; }
    const std::string& as_string() const { return s_; }
    const std::vector<value>& as_array() const { return arr_; }
    // Object members in document order; find() is linear, objects here are small
    // except tokenizer vocabularies, which callers iterate.
    const std::vector<std::pair<std::string, value>>& members() const { return obj_; }
    const value* find(std::string_view key) const;

    static const char* type_name(type t);

private:
    friend class parser;
    type kind_ = type::null;
    bool b_ = false;
    double n_ = 0;
    std::string s_;
    std::vector<value> arr_;
    std::vector<std::pair<std::string, value>> obj_;
};

// Parses one JSON document. Throws mvx::error (INVALID_ARGUMENT-class) whose
// message starts with `what` and gives the byte offset of the problem.
// Duplicate object keys are an error when reject_duplicates is set.
value parse(std::string_view text, const std::string& what, bool reject_duplicates = false);

// Helpers the engine's readers share.
void append_utf8(std::string& out, char32_t cp);
std::string read_file(const std::string& path);  // throws mvx::error (io) naming the path

}  // namespace mvx::embedding::json
