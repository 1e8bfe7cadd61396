#include <popalign/io/json.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

namespace popalign::io {
namespace {

using ::testing::HasSubstr;

TEST(JsonValue, BuildAndDumpCompactInInsertionOrder) {
  JsonValue v = JsonValue::object();
  v.set("id", "p1").set("n", 3).set("x", 0.25).set("ok", true).set("none", nullptr);
  JsonValue answers;
  answers.set("E1", 4).set("E2", JsonValue());
  v.set("answers", answers);
  JsonValue arr;
  arr.push_back(1).push_back("two");
  v.set("list", arr);
  EXPECT_EQ(v.dump(),
            R"({"id":"p1","n":3,"x":0.25,"ok":true,"none":null,"answers":{"E1":4,"E2":null},)"
            R"("list":[1,"two"]})");
  v.set("n", 4);  // replaces in place
  EXPECT_EQ(v.find("n")->as_number(), 4.0);
  EXPECT_EQ(v.as_object()[1].first, "n");
  EXPECT_EQ(v.size(), 7u);
}

TEST(JsonValue, NumbersAndNonFinite) {
  EXPECT_EQ(JsonValue(1e20).dump(), "1e+20");
  EXPECT_EQ(JsonValue(-0.0).dump(), "0");
  EXPECT_EQ(JsonValue(0.1).dump(), "0.1");
  EXPECT_EQ(JsonValue(std::numeric_limits<double>::quiet_NaN()).dump(), "null");
  EXPECT_EQ(JsonValue(std::numeric_limits<double>::infinity()).dump(), "null");
}

TEST(JsonValue, EscapesStrings) {
  EXPECT_EQ(JsonValue("a\"b\\c\nd\te\x01").dump(), R"("a\"b\\c\nd\te\u0001")");
  EXPECT_EQ(JsonValue("héllo 世界").dump(), "\"héllo 世界\"");
}

TEST(JsonValue, ParseRoundTrip) {
  const std::string text =
      R"({"id":"x","v":[1,2.5,-3e-05,true,false,null],"o":{"b":1,"a":"\u00e9\n"}})";
  const JsonValue v = parse_json(text);
  EXPECT_TRUE(v.is_object());
  EXPECT_EQ(v.find("o")->as_object()[0].first, "b");  // file order kept
  EXPECT_EQ(v.find("o")->find("a")->as_string(), "é\n");
  EXPECT_EQ(v.find("v")->as_array()[2].as_number(), -3e-05);
  EXPECT_EQ(parse_json(v.dump()), v);
  EXPECT_EQ(v.dump(), R"({"id":"x","v":[1,2.5,-3e-05,true,false,null],"o":{"b":1,"a":"é\n"}})");
}

TEST(JsonValue, KindErrors) {
  const JsonValue v("text");
  try {
    (void)v.as_number();
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("a string, not a number"));
  }
  EXPECT_EQ(v.find("x"), nullptr);
  EXPECT_THROW((void)JsonValue(1).as_object(), Error);
}

TEST(JsonValue, OverflowingNumberIsAParseError) {
  // Found by fuzz/fuzz_json: nlohmann reports it as out_of_range, which escaped parse_json.
  try {
    parse_json("[1, -114e308]", "f.json", 3);
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 3u);
    EXPECT_THAT(e.what(),
                HasSubstr("f.json:3: malformed JSON: number overflow parsing '-114e308'"));
  }
  EXPECT_THROW(parse_json("1e400"), ParseError);
  // Negative control: the largest double still parses.
  EXPECT_EQ(parse_json("-1.7976931348623157e308").as_number(), -1.7976931348623157e308);
}

TEST(JsonValue, NestingDepthIsBounded) {
  // Over the limit: refused with file/line and the position in the text, objects and arrays alike.
  const std::string arrays =
      std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  try {
    parse_json(arrays, "f.json", 7);
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 7u);
    EXPECT_THAT(e.what(), HasSubstr("f.json:7: malformed JSON: nesting deeper than 512 (line 1, "
                                    "column 513 of the text)"));
  }
  std::string objects;
  for (std::size_t i = 0; i <= kMaxJsonDepth; ++i) objects += "{\"k\":";
  objects += "1" + std::string(kMaxJsonDepth + 1, '}');
  EXPECT_THROW(parse_json(objects), ParseError);
  // Unbalanced 100k '[' (the crash of issue 16) is the depth error, not a stack overflow.
  EXPECT_THROW(parse_json(std::string(100000, '[')), ParseError);
  // Brackets inside strings (with escaped quotes) do not count.
  const std::string in_string =
      "[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"]";
  EXPECT_EQ(parse_json(in_string).as_array()[0].as_string().size(), 2001u);
  // Negative control: exactly kMaxJsonDepth levels parse and round-trip.
  const std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_EQ(parse_json(at_limit).dump(), at_limit);
  EXPECT_NO_THROW(check_json_depth(at_limit));
  EXPECT_THROW(check_json_depth(at_limit, "s", 1, kMaxJsonDepth - 1), ParseError);
}

TEST(JsonValue, ParseErrorNamesSourceAndLine) {
  try {
    parse_json("{\"a\": }", "f.jsonl", 12);
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.file(), "f.jsonl");
    EXPECT_EQ(e.line(), 12u);
    EXPECT_THAT(e.what(), HasSubstr("f.jsonl:12: malformed JSON"));
  }
}

// json_integer: the checked integer read of a parsed nlohmann value (found by fuzz_llm_response:
// get<int>() of 6.6e28 is a float-to-int cast overflow, undefined behaviour).
TEST(JsonInteger, AcceptsIntegralNumbersInRange) {
  using nlohmann::json;
  EXPECT_EQ(json_integer<int>(json(429)), 429);
  EXPECT_EQ(json_integer<int>(json(-3)), -3);
  EXPECT_EQ(json_integer<int>(json::parse("503.0")), 503);
  EXPECT_EQ(json_integer<std::size_t>(json(std::uint64_t{1} << 63)), std::size_t{1} << 63);
  EXPECT_EQ(json_integer<int>(json(std::numeric_limits<int>::max())),
            std::numeric_limits<int>::max());
  EXPECT_EQ(json_integer<int>(json(std::numeric_limits<int>::min())),
            std::numeric_limits<int>::min());
  EXPECT_EQ(json_integer<std::int64_t>(json::parse("-9223372036854775808")),
            std::numeric_limits<std::int64_t>::min());
}

TEST(JsonInteger, RefusesWhatDoesNotFit) {
  using nlohmann::json;
  EXPECT_EQ(json_integer<int>(json::parse("66666666666666666666666666214")), std::nullopt);
  EXPECT_EQ(json_integer<int>(json::parse("1e30")), std::nullopt);
  EXPECT_EQ(json_integer<int>(json::parse("-1e30")), std::nullopt);
  EXPECT_EQ(json_integer<int>(json(2.5)), std::nullopt);
  EXPECT_EQ(json_integer<int>(json(2147483648.0)), std::nullopt);  // INT_MAX + 1
  EXPECT_EQ(json_integer<int>(json(std::int64_t{1} << 40)), std::nullopt);
  EXPECT_EQ(json_integer<std::size_t>(json(-1)), std::nullopt);
  EXPECT_EQ(json_integer<std::size_t>(json(-1.0)), std::nullopt);
  EXPECT_EQ(json_integer<std::int64_t>(json(9223372036854775808.0)), std::nullopt);    // 2^63
  EXPECT_EQ(json_integer<std::uint64_t>(json(18446744073709551616.0)), std::nullopt);  // 2^64
  EXPECT_EQ(json_integer<int>(json(std::numeric_limits<double>::quiet_NaN())), std::nullopt);
  EXPECT_EQ(json_integer<int>(json(std::numeric_limits<double>::infinity())), std::nullopt);
  EXPECT_EQ(json_integer<int>(json("7")), std::nullopt);
  EXPECT_EQ(json_integer<int>(json(true)), std::nullopt);
  EXPECT_EQ(json_integer<int>(json()), std::nullopt);
}

}  // namespace
}  // namespace popalign::io
