#include <popalign/io/persona_record.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include <popalign/core/error.hpp>

#include "io/temp_dir.hpp"

namespace popalign::io {
namespace {

using popalign::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(PersonaRecord, NarrativeTextIsSplitIntoFacts) {
  const PersonaFile pf = parse_personas(
      "{\"id\":\"a\",\"persona\":\"She is a nurse.  She loves dogs!  Really?? yes\",\"age\":31}\n");
  ASSERT_EQ(pf.personas.size(), 1u);
  const PersonaRecord& p = pf.personas[0];
  EXPECT_EQ(p.id, "a");
  EXPECT_EQ(p.text, "She is a nurse.  She loves dogs!  Really?? yes");
  EXPECT_THAT(p.facts, ElementsAre("She is a nurse.", "She loves dogs!", "Really??", "yes"));
  EXPECT_EQ(p.facts_text(), "She is a nurse. She loves dogs! Really?? yes");
  EXPECT_EQ(p.line, 1u);
  ASSERT_TRUE(p.fields.is_object());
  EXPECT_EQ(p.fields.find("age")->as_number(), 31.0);
  EXPECT_EQ(p.fields.find("persona"), nullptr);
}

TEST(PersonaRecord, FactsArrayAndNumericIds) {
  const PersonaFile pf =
      parse_personas("{\"id\":17,\"facts\":[\" I am a nurse. \",\"\",\"I love dogs.\"]}\n");
  ASSERT_EQ(pf.personas.size(), 1u);
  EXPECT_EQ(pf.personas[0].id, "17");
  EXPECT_THAT(pf.personas[0].facts, ElementsAre("I am a nurse.", "I love dogs."));
  // The text joins the facts as written (administering sees them as they are).
  EXPECT_EQ(pf.personas[0].text, " I am a nurse.   I love dogs.");
  EXPECT_TRUE(pf.personas[0].fields.is_null());
}

TEST(PersonaRecord, BothTextAndFacts) {
  // The text comes from "persona", the facts from "facts": each consumer gets what it used.
  const PersonaFile pf =
      parse_personas("{\"id\":\"x\",\"persona\":\"One. Two.\",\"facts\":[\"F1\",\"F2\",\"F3\"]}\n");
  ASSERT_EQ(pf.personas.size(), 1u);
  EXPECT_EQ(pf.personas[0].text, "One. Two.");
  EXPECT_THAT(pf.personas[0].facts, ElementsAre("F1", "F2", "F3"));
}

TEST(PersonaRecord, TextArrayIsJoinedAndIsTheFacts) {
  const PersonaFile pf = parse_personas("{\"id\":\"x\",\"persona\":[\"A b.\",\"C d\"]}\n");
  EXPECT_EQ(pf.personas[0].text, "A b. C d");
  EXPECT_THAT(pf.personas[0].facts, ElementsAre("A b.", "C d"));
}

TEST(PersonaRecord, CustomFieldNames) {
  PersonaReadOptions o;
  o.id_field = "uid";
  o.text_field = "bio";
  const PersonaFile pf =
      parse_personas("{\"uid\":\"u1\",\"bio\":\"Hi.\",\"persona\":\"kept\"}\n", o);
  ASSERT_EQ(pf.personas.size(), 1u);
  EXPECT_EQ(pf.personas[0].id, "u1");
  EXPECT_EQ(pf.personas[0].text, "Hi.");
  EXPECT_EQ(pf.personas[0].fields.find("persona")->as_string(), "kept");
}

TEST(PersonaRecord, KeepFieldsOff) {
  PersonaReadOptions o;
  o.keep_fields = false;
  const PersonaFile pf = parse_personas("{\"id\":\"a\",\"persona\":\"T.\",\"x\":1}\n", o);
  EXPECT_TRUE(pf.personas[0].fields.is_null());
}

TEST(PersonaRecord, BadLinesNameFileAndLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{\"persona\":\"T.\"}\n", "no string or number field \"id\""},
      {"{\"id\":\"\",\"persona\":\"T.\"}\n", "empty \"id\""},
      {"{\"id\":\"a\"}\n", "holding the persona text"},
      {"{\"id\":\"a\",\"persona\":5}\n", "must be a string or an array of strings"},
      {"{\"id\":\"a\",\"persona\":[\"x\",1]}\n", "must be a string or an array of strings"},
      {"{\"id\":\"a\",\"facts\":\"x\"}\n", "\"facts\" must be an array of strings"},
      {"{\"id\":\"a\",\"persona\":\"   \"}\n", "has an empty text"},
      {"{\"id\":\"a\",\"facts\":[\" \"]}\n", "has an empty text"},
      {"[1,2]\n", "p.jsonl:1: expected a JSON object"},
      {"{\"id\":\"a\",\"persona\":\"T.\"}\n{\"id\":\"a\",\"persona\":\"U.\"}\n",
       "duplicate id 'a' (first on line 1)"},
  };
  for (const auto& [text, expected] : cases) {
    try {
      parse_personas(text, {}, "p.jsonl");
      ADD_FAILURE() << "no error for " << text;
    } catch (const ParseError& e) {
      EXPECT_THAT(e.what(), HasSubstr("p.jsonl")) << text;
      EXPECT_THAT(e.what(), HasSubstr(expected)) << text;
    }
  }
}

TEST(PersonaRecord, SkipCountsAndLogsBadLines) {
  PersonaReadOptions o;
  o.on_bad_line = OnBadLine::skip;
  std::vector<std::string> log;
  o.log = [&](const std::string& m) { log.push_back(m); };
  const PersonaFile pf = parse_personas(
      "{\"id\":\"a\",\"persona\":\"T.\"}\nnot json\n{\"id\":\"a\",\"persona\":\"U.\"}\n"
      "{\"id\":\"b\",\"persona\":\"V.\"}\n{\"id\":\"c\",",
      o, "p.jsonl");
  ASSERT_EQ(pf.personas.size(), 2u);
  EXPECT_EQ(pf.personas[1].id, "b");
  EXPECT_EQ(pf.personas[1].line, 4u);
  EXPECT_EQ(pf.malformed, 3u);
  EXPECT_TRUE(pf.truncated_tail);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_THAT(log[0], HasSubstr("p.jsonl:2"));
  // JSON-level problems first, then the truncated tail, then record-level problems.
  EXPECT_THAT(log[1], HasSubstr("incomplete"));
  EXPECT_THAT(log[2], HasSubstr("p.jsonl:3: duplicate id"));
}

TEST(PersonaRecord, DuplicateIdsAllowedWhenAsked) {
  PersonaReadOptions o;
  o.unique_ids = false;
  const PersonaFile pf =
      parse_personas("{\"id\":\"a\",\"persona\":\"T.\"}\n{\"id\":\"a\",\"persona\":\"U.\"}\n", o);
  EXPECT_EQ(pf.personas.size(), 2u);
}

TEST(PersonaRecord, OptionsAreValidated) {
  PersonaReadOptions o;
  o.text_field = "";
  EXPECT_THROW(parse_personas("", o), InvalidArgument);
  o.text_field = "facts";
  EXPECT_THROW(parse_personas("", o), InvalidArgument);
  o = {};
  o.id_field = "persona";
  EXPECT_THROW(parse_personas("", o), InvalidArgument);
}

TEST(PersonaRecord, WriteThenReadRoundTrips) {
  TempDir dir;
  std::vector<PersonaRecord> ps(2);
  ps[0].id = "p1";
  ps[0].text = "He writes \"code\".\nHe runs.";
  ps[0].facts = {"He writes \"code\".", "He runs."};
  ps[0].fields.set("author", "blog-3");
  ps[0].fields.set("id", "ignored");  // the record's own id wins
  ps[1].id = "p2";
  ps[1].text = "Short.";
  ps[1].facts = {"Short."};
  write_personas(dir / "p.jsonl", ps);
  EXPECT_EQ(
      read_text(dir / "p.jsonl"),
      "{\"id\":\"p1\",\"persona\":\"He writes \\\"code\\\".\\nHe runs.\",\"author\":\"blog-3\"}\n"
      "{\"id\":\"p2\",\"persona\":\"Short.\"}\n");
  const PersonaFile back = read_personas(dir / "p.jsonl");
  ASSERT_EQ(back.personas.size(), 2u);
  EXPECT_EQ(back.personas[0].text, ps[0].text);
  EXPECT_EQ(back.personas[0].facts, ps[0].facts);
  EXPECT_EQ(back.personas[0].fields.find("author")->as_string(), "blog-3");
  EXPECT_EQ(persona_line(back.personas[0]), persona_line(ps[0]));

  write_personas(dir / "f.jsonl", ps, /*with_facts=*/true);
  const PersonaFile withf = read_personas(dir / "f.jsonl");
  EXPECT_EQ(withf.personas[0].facts, ps[0].facts);
  EXPECT_THAT(read_text(dir / "f.jsonl"), HasSubstr("\"facts\":[\"He writes"));
}

TEST(PersonaRecord, MissingFileIsIoError) {
  TempDir dir;
  EXPECT_THROW(read_personas(dir / "none.jsonl"), IoError);
}

TEST(PersonaRecord, SplitSentences) {
  EXPECT_THAT(split_sentences("a. b.c d! e?"), ElementsAre("a.", "b.c d!", "e?"));
  EXPECT_THAT(split_sentences("  "), ElementsAre());
  EXPECT_THAT(split_sentences("no end"), ElementsAre("no end"));
  EXPECT_THAT(split_sentences("x...  y"), ElementsAre("x...", "y"));
}

TEST(PersonaRecord, EmptyFactsFieldMeansNoFactsMember) {
  // The text member may itself be called "facts" (administer --text-field facts): no separate
  // facts member then; any "persona" member is an ordinary field.
  PersonaReadOptions o;
  o.text_field = "facts";
  o.facts_field = "";
  const PersonaFile pf = parse_personas(
      "{\"id\":\"a\",\"facts\":[\"I am a nurse.\",\"I love dogs.\"],\"persona\":\"x\"}\n", o);
  ASSERT_EQ(pf.personas.size(), 1u);
  EXPECT_EQ(pf.personas[0].text, "I am a nurse. I love dogs.");
  EXPECT_THAT(pf.personas[0].facts, ElementsAre("I am a nurse.", "I love dogs."));
  EXPECT_EQ(pf.personas[0].fields.dump(), "{\"persona\":\"x\"}");
  // Without a facts member, a line with no text is bad, and the message names the text only.
  o = {};
  o.facts_field = "";
  try {
    parse_personas("{\"id\":\"a\",\"facts\":[\"I am a nurse.\"]}\n", o);
    FAIL() << "no text must be a bad line";
  } catch (const ParseError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("no field \"persona\" (a string or an array of strings) holding"));
  }
}

}  // namespace
}  // namespace popalign::io
