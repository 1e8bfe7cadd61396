// Step 5, critique: schema, lenient parsing, thresholds, re-asks.
#include <popalign/persona/critique.hpp>

#include <gtest/gtest.h>
#include <popalign/core/error.hpp>

#include "persona/scripted_llm.hpp"

namespace pe = popalign::persona;

TEST(Critique, ParsesScoresLeniently) {
  const auto s = pe::parse_critique(
      "Here:\n{\"hallucination\": 9, \"coverage\": \"8\", \"conciseness\": 7.6, "
      "\"relevance\": \"10/10\", \"overall\": 9, \"explanation\": \"  Good \\n fit. \"}");
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, (pe::CritiqueScores{9, 8, 8, 10, 9, "Good fit."}));
  EXPECT_TRUE(pe::parse_critique(
      R"({"hallucination":1,"coverage":1,"conciseness":1,"relevance":1,"overall":1})"));
  EXPECT_FALSE(pe::parse_critique(
      R"({"hallucination":11,"coverage":1,"conciseness":1,"relevance":1,"overall":1})"));
  EXPECT_FALSE(pe::parse_critique(R"({"hallucination":9,"coverage":9,"conciseness":9})"));
  EXPECT_FALSE(pe::parse_critique(
      R"({"hallucination":"high","coverage":1,"conciseness":1,"relevance":1,"overall":1})"));
  EXPECT_FALSE(pe::parse_critique("nine out of ten"));
}

TEST(Critique, ThresholdsAndReasons) {
  pe::CritiqueOptions o;
  std::string detail;
  EXPECT_EQ(pe::critique_drop_reason({10, 8, 8, 8, 9, ""}, o, &detail), "");
  EXPECT_EQ(detail, "");
  EXPECT_EQ(pe::critique_drop_reason({7, 8, 8, 8, 8, ""}, o, &detail), "low hallucination score");
  EXPECT_EQ(detail, "hallucination 7 < 8; overall 8 < 9");
  EXPECT_EQ(pe::critique_drop_reason({9, 9, 9, 9, 8, ""}, o), "low overall score");
  EXPECT_EQ(pe::critique_drop_reason({9, 9, 7, 9, 9, ""}, o), "low conciseness score");
  o.min_overall = 8;
  o.min_other = 7;
  EXPECT_EQ(pe::critique_drop_reason({7, 7, 7, 7, 8, ""}, o), "");
}

TEST(Critique, EveryBranchWithTheScriptedDouble) {
  popalign::test::ScriptedMiningBackendDouble backend;
  const std::vector<pe::Post> posts = {{"a", "a-1", "2004-01-01", "I love chess.", {}}};
  const std::vector<pe::CritiqueInput> in = {{"ok#1", "This blogger loves chess.", posts},
                                             {"low#1", "Invented. JUDGE-LOW", posts},
                                             {"border#1", "JUDGE-BORDER", posts},
                                             {"garbled#1", "JUDGE-GARBLED", posts}};
  const pe::CritiqueResult r = pe::critique_personas(backend, in);
  ASSERT_EQ(r.critiques.size(), 4u);
  EXPECT_TRUE(r.critiques[0].kept);
  EXPECT_EQ(r.critiques[0].scores->explanation, "Faithful and concise.");
  EXPECT_EQ(r.critiques[1].reason, "low hallucination score");
  EXPECT_EQ(r.critiques[1].detail, "hallucination 5 < 8; overall 6 < 9");
  EXPECT_EQ(r.critiques[2].reason, "low overall score");
  EXPECT_EQ(r.critiques[3].reason, "off-schema answer");
  EXPECT_EQ(r.critiques[3].attempts, 2);
  EXPECT_EQ(r.kept, 1u);
  const auto req = pe::critique_request(in[0], {});
  EXPECT_EQ(req.json_schema, pe::critique_schema());
  EXPECT_NE(req.messages.back().content.find("[1] (2004-01-01) I love chess."), std::string::npos);
  EXPECT_NE(req.messages.back().content.find("This blogger loves chess."), std::string::npos);
}

TEST(Critique, OptionsNameTheBadField) {
  auto field = [](auto mutate) {
    pe::CritiqueOptions o;
    mutate(o);
    try {
      o.validate();
    } catch (const popalign::InvalidArgument& e) {
      return e.argument();
    }
    return std::string("valid");
  };
  EXPECT_EQ(field([](auto&) {}), "valid");
  EXPECT_EQ(field([](auto& o) { o.min_overall = 11; }), "min_overall");
  EXPECT_EQ(field([](auto& o) { o.min_other = 0; }), "min_other");
  EXPECT_EQ(field([](auto& o) { o.max_tokens = 1; }), "max_tokens");
  EXPECT_EQ(field([](auto& o) { o.prompt.user = "{persona}"; }), "prompt");
}
