#include <popalign/io/jsonl.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include <popalign/io/csv.hpp>

#include "io/temp_dir.hpp"

namespace popalign::io {
namespace {

using popalign::testing::TempDir;
using ::testing::HasSubstr;

void write_text(const std::filesystem::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

TEST(Jsonl, ReadsRecordsWithLineNumbers) {
  TempDir dir;
  write_text(dir / "a.jsonl", "{\"id\":\"a\",\"x\":1}\n\n{\"id\":7,\"x\":null}\r\n");
  const auto r = read_jsonl(dir / "a.jsonl");
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[0].line, 1u);
  EXPECT_EQ(r.records[1].line, 3u);
  EXPECT_EQ(r.records[0].raw, "{\"id\":\"a\",\"x\":1}");
  EXPECT_EQ(r.records[0].string_field("id"), "a");
  EXPECT_EQ(r.records[0].number_field("x"), 1.0);
  EXPECT_EQ(r.records[1].id_field(), "7");
  EXPECT_EQ(r.records[1].optional_number("x"), std::nullopt);
  EXPECT_EQ(r.records[1].optional_string("missing"), std::nullopt);
  EXPECT_FALSE(r.truncated_tail);
}

TEST(Jsonl, FieldErrorsNameLine) {
  const auto r = parse_jsonl("{\"a\":1}\n{\"id\":[1]}\n", {}, "p.jsonl");
  try {
    (void)r.records[1].string_field("id");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 2u);
    EXPECT_THAT(e.what(), HasSubstr("p.jsonl:2: field 'id' is an array, not a string"));
  }
  try {
    (void)r.records[0].number_field("b");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_THAT(e.what(), HasSubstr("p.jsonl:1: missing field 'b'"));
  }
}

TEST(Jsonl, MalformedLineFailsWithItsNumber) {
  TempDir dir;
  write_text(dir / "m.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\": oops}\n{\"a\":4}\n");
  try {
    read_jsonl(dir / "m.jsonl");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.file(), (dir / "m.jsonl").string());
    EXPECT_THAT(e.what(), HasSubstr("m.jsonl:3: malformed JSON"));
  }
}

TEST(Jsonl, SkipModeCollectsMalformedLines) {
  JsonlReadOptions o;
  o.on_malformed = OnMalformed::skip;
  const auto r = parse_jsonl("{\"a\":1}\n[1,2]\nnot json\n{\"a\":4}\n", o, "s.jsonl");
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[1].line, 4u);
  ASSERT_EQ(r.malformed.size(), 2u);
  EXPECT_EQ(r.malformed[0].line, 2u);
  EXPECT_THAT(r.malformed[0].message, HasSubstr("expected a JSON object"));
  EXPECT_EQ(r.malformed[1].line, 3u);
  EXPECT_EQ(r.malformed[1].raw, "not json");
  o.require_object = false;
  EXPECT_EQ(parse_jsonl("[1]\n2\n", o).records.size(), 2u);
}

TEST(Jsonl, DeepNestingIsAnErrorNotACrash) {
  // 100k '[' once overflowed the stack (rc 139) in the JsonValue conversion and destructor.
  TempDir dir;
  const std::string deep(100000, '[');
  write_text(dir / "d.jsonl", "{\"a\":1}\n" + deep + "\n");
  try {
    read_jsonl(dir / "d.jsonl");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 2u);
    EXPECT_THAT(e.what(), HasSubstr("d.jsonl:2: malformed JSON: nesting deeper than 512"));
  }
  // The same through parse_jsonl, balanced this time, in skip mode: one malformed line.
  JsonlReadOptions o;
  o.on_malformed = OnMalformed::skip;
  o.require_object = false;
  const auto r = parse_jsonl(deep + std::string(100000, ']') + "\n[1]\n", o, "s.jsonl");
  ASSERT_EQ(r.malformed.size(), 1u);
  EXPECT_EQ(r.malformed[0].line, 1u);
  EXPECT_THAT(r.malformed[0].message, HasSubstr("nesting deeper than 512"));
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].line, 2u);
  // Negative control: exactly the limit parses, with every level intact.
  const std::string at_limit =
      "{\"x\":" + std::string(kMaxJsonDepth - 1, '[') + std::string(kMaxJsonDepth - 1, ']') + "}";
  const auto ok = parse_jsonl(at_limit + "\n", JsonlReadOptions{}, "ok.jsonl");
  ASSERT_EQ(ok.records.size(), 1u);
  EXPECT_EQ(ok.records[0].value.dump(), at_limit);
}

TEST(Jsonl, UnterminatedBadLastLineIsATruncatedTail) {
  const auto r = parse_jsonl("{\"a\":1}\n{\"a\":2}\n{\"a\":", {}, "t.jsonl");
  EXPECT_EQ(r.records.size(), 2u);
  EXPECT_TRUE(r.truncated_tail);
  // A complete last line without '\n' is a record.
  const auto u = parse_jsonl("{\"a\":1}\n{\"a\":2}");
  EXPECT_EQ(u.records.size(), 2u);
  EXPECT_FALSE(u.truncated_tail);
  TempDir dir;
  write_text(dir / "t.jsonl", "{\"a\":1}\n{\"a\":");
  JsonlReader reader(dir / "t.jsonl");
  JsonlRecord rec;
  EXPECT_TRUE(reader.next(rec));
  EXPECT_FALSE(reader.next(rec));
  EXPECT_TRUE(reader.truncated_tail());
}

TEST(JsonlWriter, AppendsAndResumes) {
  TempDir dir;
  const auto p = dir / "out.jsonl";
  {
    JsonlWriter w(p);
    JsonValue v;
    v.set("id", "a").set("x", 1);
    w.write(v);
    w.write_raw(R"({"id":"b","x":2})");
    EXPECT_EQ(w.count(), 2u);
  }
  // A killed writer left half a line.
  { std::ofstream(p, std::ios::app | std::ios::binary) << "{\"id\":\"c\",\"x"; }
  EXPECT_TRUE(read_jsonl(p).truncated_tail);
  {
    JsonlWriter w(p);  // append: repairs the tail first
    JsonValue v;
    v.set("id", "c").set("x", 3);
    w.write(v);
  }
  EXPECT_EQ(read_file(p),
            "{\"id\":\"a\",\"x\":1}\n{\"id\":\"b\",\"x\":2}\n{\"id\":\"c\",\"x\":3}\n");
  {
    JsonlWriteOptions o;
    o.append = false;
    o.fsync = true;
    JsonlWriter w(p, o);
    w.write(JsonValue::object());
  }
  EXPECT_EQ(read_file(p), "{}\n");
}

TEST(JsonlWriter, RejectsLineBreaksAndBadPaths) {
  TempDir dir;
  JsonlWriter w(dir / "x.jsonl");
  try {
    w.write_raw("{}\n{}");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "line");
  }
  w.close();
  EXPECT_THROW(w.write(JsonValue::object()), IoError);
  EXPECT_THROW(JsonlWriter(dir / "no" / "dir" / "x.jsonl"), IoError);
}

TEST(JsonlWriter, ConcurrentWritersNeverInterleave) {
  TempDir dir;
  const auto p = dir / "c.jsonl";
  {
    JsonlWriter w(p);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&w, t] {
        for (int k = 0; k < 200; ++k) {
          JsonValue v;
          v.set("t", t).set("k", k).set("pad", std::string(100, 'a' + t));
          w.write(v);
        }
      });
    for (auto& th : threads) th.join();
  }
  const auto r = read_jsonl(p);
  EXPECT_EQ(r.records.size(), 800u);
  EXPECT_TRUE(r.malformed.empty());
}

TEST(RepairTail, RemovesOnlyThePartialLine) {
  TempDir dir;
  const auto p = dir / "r.jsonl";
  EXPECT_EQ(repair_jsonl_tail(p), 0u);  // missing file
  write_text(p, "{}\n{\"a");
  EXPECT_EQ(repair_jsonl_tail(p), 3u);  // {"a
  EXPECT_EQ(read_file(p), "{}\n");
  EXPECT_EQ(repair_jsonl_tail(p), 0u);
  write_text(p, "partial");
  EXPECT_EQ(repair_jsonl_tail(p), 7u);
  EXPECT_EQ(read_file(p), "");
  // A complete record without its '\n' is kept and terminated.
  write_text(p, "{}\n{\"a\":1}");
  EXPECT_EQ(repair_jsonl_tail(p), 0u);
  EXPECT_EQ(read_file(p), "{}\n{\"a\":1}\n");
}

}  // namespace
}  // namespace popalign::io
