// Tests of include/popalign/administer/answer_parsing.hpp.
#include <popalign/administer/answer_parsing.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace adm = popalign::administer;
namespace ps = popalign::psychometrics;

namespace {

ps::Scale ipip_scale() {
  return ps::Scale{1,
                   5,
                   {"Very Inaccurate", "Moderately Inaccurate", "Neither Accurate Nor Inaccurate",
                    "Moderately Accurate", "Very Accurate"}};
}

struct Case {
  const char* text;
  int expected;  // 0 = no value
  adm::ParseStatus status;
};

class ParseTable : public ::testing::TestWithParam<Case> {};

TEST_P(ParseTable, ReadsTheRating) {
  const Case& c = GetParam();
  const adm::ParsedAnswer a = adm::parse_likert_answer(c.text, ipip_scale());
  EXPECT_EQ(a.status, c.status) << "text: " << c.text << " got " << adm::to_string(a.status);
  if (c.expected) {
    ASSERT_TRUE(a.value.has_value()) << c.text;
    EXPECT_EQ(*a.value, c.expected) << c.text;
  } else {
    EXPECT_FALSE(a.value.has_value()) << c.text << " gave " << *a.value;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Answers, ParseTable,
    ::testing::Values(
        // digits
        Case{"4", 4, adm::ParseStatus::ok}, Case{" 2\n", 2, adm::ParseStatus::ok},
        Case{"Answer: 5.", 5, adm::ParseStatus::ok},
        Case{"I'd rate it 3/5", 3, adm::ParseStatus::ok},
        Case{"On a scale from 1 to 5, I would say 4.", 4, adm::ParseStatus::ok},
        Case{"4 out of 5", 4, adm::ParseStatus::ok}, Case{"(1-5): 2", 2, adm::ParseStatus::ok},
        Case{"\"4\"", 4, adm::ParseStatus::ok},
        // labels, including ones that contain other labels
        Case{"Moderately inaccurate", 2, adm::ParseStatus::ok},
        Case{"VERY ACCURATE!", 5, adm::ParseStatus::ok},
        Case{"Neither accurate nor inaccurate.", 3, adm::ParseStatus::ok},
        Case{"strongly agree", 5, adm::ParseStatus::ok},
        Case{"I disagree.", 2, adm::ParseStatus::ok}, Case{"Agree", 4, adm::ParseStatus::ok},
        Case{"Neither agree nor disagree", 3, adm::ParseStatus::ok},
        Case{"Neutral", 3, adm::ParseStatus::ok},
        Case{"4 - Moderately Accurate", 4, adm::ParseStatus::ok},
        // number words
        Case{"four", 4, adm::ParseStatus::ok}, Case{"I would say Two.", 2, adm::ParseStatus::ok},
        // nonsense and contradictions
        Case{"Once upon a time there was a cat.", 0, adm::ParseStatus::no_answer},
        Case{"", 0, adm::ParseStatus::empty}, Case{"  ...  ", 0, adm::ParseStatus::empty},
        Case{"7", 0, adm::ParseStatus::out_of_range},
        Case{"3.5", 0, adm::ParseStatus::out_of_range},
        Case{"2 or 4", 0, adm::ParseStatus::ambiguous},
        Case{"5 - Very Inaccurate", 0, adm::ParseStatus::ambiguous},
        Case{"I don't agree", 0, adm::ParseStatus::ambiguous},
        Case{"item E1 is hard", 0, adm::ParseStatus::no_answer},
        Case{"one or two", 0, adm::ParseStatus::ambiguous}));

TEST(ParseLikert, ReversedScaleMapsNumbersBackButNotLabels) {
  const adm::ParseOptions rev{.reversed = true};
  EXPECT_EQ(adm::parse_likert_answer("1", ipip_scale(), rev).value, 5);
  EXPECT_EQ(adm::parse_likert_answer("four", ipip_scale(), rev).value, 2);
  EXPECT_EQ(adm::parse_likert_answer("Very accurate", ipip_scale(), rev).value, 5);
  // On the reversed presentation "1 = Very Accurate": consistent.
  EXPECT_EQ(adm::parse_likert_answer("1 (Very Accurate)", ipip_scale(), rev).value, 5);
  EXPECT_EQ(adm::parse_likert_answer("1 (Very Inaccurate)", ipip_scale(), rev).status,
            adm::ParseStatus::ambiguous);
}

TEST(ParseLikert, SevenPointSynonymsAndUnlabelledScales) {
  const ps::Scale seven{1, 7, {}};
  EXPECT_EQ(adm::parse_likert_answer("Agree a little", seven).value, 5);
  EXPECT_EQ(adm::parse_likert_answer("Disagree strongly", seven).value, 1);
  EXPECT_EQ(adm::parse_likert_answer("6", seven).value, 6);
  const adm::ParseOptions no_syn{.builtin_synonyms = false};
  EXPECT_EQ(adm::parse_likert_answer("Agree a little", seven, no_syn).status,
            adm::ParseStatus::no_answer);
}

TEST(ParseLikert, RejectsBadScales) {
  EXPECT_THROW(adm::parse_likert_answer("3", ps::Scale{5, 1, {}}), popalign::InvalidArgument);
  EXPECT_THROW(adm::parse_likert_answer("3", ps::Scale{1, 5, {"a", "b"}}),
               popalign::InvalidArgument);
}

TEST(ParseJson, ReadsObjectsWrappedInProseAndFences) {
  const std::vector<std::string> ids = {"E1", "A1", "C1", "N1"};
  const auto r = adm::parse_json_answers(
      "Sure! ```json\n{\"E1\": 4, \"A1\": \"2\", \"C1\": 5.0, \"N1\": \"strongly agree\"}\n```",
      ids, ipip_scale());
  EXPECT_EQ(r.at("E1").value, 4);
  EXPECT_EQ(r.at("A1").value, 2);
  EXPECT_EQ(r.at("C1").value, 5);
  EXPECT_EQ(r.at("N1").value, 5);
  EXPECT_EQ(r.at("E1").source, adm::AnswerSource::json);
}

TEST(ParseJson, TruncatedNestedDuplicateAndOutOfRange) {
  const std::vector<std::string> ids = {"E1", "A1", "C1", "N1", "O1"};
  const auto r = adm::parse_json_answers(
      "{\"answers\": {\"E1\": 3, \"A1\": 9, \"C1\": 2, \"C1\": 4, \"N1\": null, \"O1\": 2", ids,
      ipip_scale());
  EXPECT_EQ(r.at("E1").value, 3);
  EXPECT_EQ(r.at("A1").status, adm::ParseStatus::out_of_range);
  EXPECT_EQ(r.at("C1").status, adm::ParseStatus::ambiguous);
  EXPECT_EQ(r.at("N1").status, adm::ParseStatus::no_answer);
  // The last number may have been cut off ("2" of "2x"): not trusted.
  EXPECT_FALSE(r.at("O1").ok());
  const auto invalid = adm::parse_json_answers("not json at all", ids, ipip_scale());
  for (const auto& id : ids) EXPECT_FALSE(invalid.at(id).ok());
}

TEST(ParseJson, ReversedNumbersMapBack) {
  const std::vector<std::string> ids = {"E1"};
  const auto r = adm::parse_json_answers("{\"E1\": 2}", ids, ipip_scale(), {.reversed = true});
  EXPECT_EQ(r.at("E1").value, 4);
}

TEST(ExpectedScore, RenormalisesOverOptionsPresent) {
  // p(" 4") = 0.5, p("4") = 0.1 (the same option twice), p("5") = 0.2, p("The") = 0.2.
  const std::vector<adm::TokenChoice> alts = {
      {" 4", std::log(0.5)}, {"4", std::log(0.1)}, {"5", std::log(0.2)}, {"The", std::log(0.2)}};
  const adm::ExpectedScore es = adm::expected_score(alts, ipip_scale());
  ASSERT_TRUE(es.value.has_value());
  EXPECT_NEAR(es.option_mass, 0.8, 1e-12);
  EXPECT_NEAR(*es.value, (4 * 0.6 + 5 * 0.2) / 0.8, 1e-12);
  EXPECT_NEAR(es.probabilities[3], 0.75, 1e-12);
  EXPECT_EQ(es.mode, 4);
}

TEST(ExpectedScore, ReversedAndMissing) {
  const std::vector<adm::TokenChoice> alts = {{"1", std::log(0.9)}, {"2", std::log(0.1)}};
  const adm::ExpectedScore es = adm::expected_score(alts, ipip_scale(), {.reversed = true});
  EXPECT_NEAR(*es.value, 5 * 0.9 + 4 * 0.1, 1e-12);
  const std::vector<adm::TokenChoice> none = {
      {"Once", -0.1}, {"7", -1.0}, {"3", -std::numeric_limits<double>::infinity()}};
  const adm::ExpectedScore miss = adm::expected_score(none, ipip_scale());
  EXPECT_FALSE(miss.value.has_value());
  EXPECT_EQ(miss.option_mass, 0.0);
  EXPECT_THROW(adm::expected_score(alts, ps::Scale{1, 10, {}}), popalign::InvalidArgument);
}

}  // namespace
