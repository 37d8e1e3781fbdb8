#include "common/core/utf8.hpp"

#include <catch2/catch.hpp>

using namespace mvx;

TEST_CASE("UTF-8 validation", "[utf8]") {
    CHECK(utf8::is_valid("plain ascii, long enough to take the 8-byte path"));
    CHECK(utf8::is_valid("é 中 😀"));
    CHECK_FALSE(utf8::is_valid("\xC3"));  // truncated
    CHECK_FALSE(utf8::is_valid("\xC0\xAF"));  // overlong
    CHECK_FALSE(utf8::is_valid("\xED\xA0\x80"));  // surrogate
    CHECK_FALSE(utf8::is_valid("\xF4\x90\x80\x80"));  // > U+10FFFF
    CHECK_FALSE(utf8::is_valid("abcdefgh\xFF"));
}

TEST_CASE("UTF-8 repair replaces each bad sequence and NUL with U+FFFD", "[utf8]") {
    std::size_t n = 0;
    CHECK(utf8::repair("a\xFF"
                       "b",
                       false, &n) ==
          "a\xEF\xBF\xBD"
          "b");
    CHECK(n == 1);
    n = 0;
    CHECK(utf8::repair(std::string("x\0y", 3), true, &n) == "x\xEF\xBF\xBDy");
    CHECK(n == 1);
    n = 0;
    CHECK(utf8::repair("\xE2\x82", false, &n) == "\xEF\xBF\xBD");  // truncated 3-byte sequence: one replacement
    CHECK(n == 1);
    CHECK(utf8::is_valid(utf8::repair("\x80\x80\xC0\xAF\xED\xA0\x80z", true, nullptr)));
}

TEST_CASE("character counting matches Rust chars()", "[utf8]") {
    CHECK(utf8::char_count("héllo😀") == 6);
    CHECK(utf8::byte_offset_of_char("héllo", 2) == 3);
    CHECK(utf8::byte_offset_of_char("ab", 5) == 2);
}
