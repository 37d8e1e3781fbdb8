#include "common/core/json_out.hpp"

#include <catch2/catch.hpp>

using namespace mvx;

TEST_CASE("f64 is written like serde_json (ryu)", "[json]") {
    CHECK(json_out::f64(1.0) == "1.0");
    CHECK(json_out::f64(0.85) == "0.85");
    CHECK(json_out::f64(-2.5) == "-2.5");
    CHECK(json_out::f64(100.0) == "100.0");
    CHECK(json_out::f64(1e15) == "1000000000000000.0");
    CHECK(json_out::f64(1e16) == "1e16");
    CHECK(json_out::f64(1e21) == "1e21");
    CHECK(json_out::f64(1.5e300) == "1.5e300");
    CHECK(json_out::f64(0.0001) == "0.0001");
    CHECK(json_out::f64(0.00001) == "0.00001");
    CHECK(json_out::f64(1e-6) == "1e-6");
    CHECK(json_out::f64(1.5e-7) == "1.5e-7");
    CHECK(json_out::f64(0.1 + 0.2) == "0.30000000000000004");
    CHECK(json_out::f64(123456.789) == "123456.789");
    CHECK(json_out::f64(0.0) == "0.0");
    CHECK(json_out::f64(-0.0) == "-0.0");
    CHECK(json_out::f64(std::numeric_limits<double>::infinity()) == "null");
}

TEST_CASE("strings are escaped like serde_json", "[json]") {
    CHECK(json_out::string("a\"b\\c") == R"("a\"b\\c")");
    CHECK(json_out::string("\n\t\r\b\f") == R"("\n\t\r\b\f")");
    CHECK(json_out::string(std::string("\x01\x1f", 2)) == R"("\u0001\u001f")");
    CHECK(json_out::string("é→/") == "\"é→/\"");
    CHECK(json_out::string("\x7f") == "\"\x7f\"");
}

TEST_CASE("objects sort keys byte-wise and keep the last duplicate", "[json]") {
    json_out::object o;
    o.raw("b", "1").raw("a", "2").raw("B", "3").raw("a", "4");
    CHECK(o.str() == R"({"B":3,"a":4,"b":1})");
    CHECK(json_out::object().str() == "{}");
    CHECK(json_out::array_of_strings({"x", "y"}) == R"(["x","y"])");
}
