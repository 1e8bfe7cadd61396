#include <popalign/psychometrics/scoring.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>

#include <popalign/io/csv.hpp>
#include <popalign/psychometrics/reference.hpp>

#include "io/temp_dir.hpp"

namespace popalign::psychometrics {
namespace {

using popalign::testing::TempDir;
using ::testing::HasSubstr;

const std::filesystem::path kData = POPALIGN_DATA_DIR;
const std::filesystem::path kTestData = POPALIGN_PSYCHOMETRICS_TEST_DATA;

Instrument tiny() {
  // Two traits: X (x1 +, x2 -, x3 +), Y (y1 +, y2 -). Scale 1..5.
  return parse_instrument(R"({"id": "tiny", "scale": {"min": 1, "max": 5},
    "items": [
      {"id": "x1", "trait": "X", "facet": "X1", "key": 1, "columns": ["alt_x1"]},
      {"id": "x2", "trait": "X", "facet": "X1", "key": -1},
      {"id": "x3", "trait": "X", "facet": "X2", "key": 1},
      {"id": "y1", "trait": "Y", "facet": "Y1", "key": 1},
      {"id": "y2", "trait": "Y", "facet": "Y1", "key": -1}]})",
                          "tiny.json", "tiny");
}

Responses make(const std::vector<std::string>& columns, const RowMatrix<double>& v) {
  Responses r;
  r.source = "";
  r.columns = columns;
  r.values = v;
  for (Index i = 0; i < v.rows(); ++i) r.ids.push_back("p" + std::to_string(i + 1));
  return r;
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(Scoring, KnownAnswersByHand) {
  RowMatrix<double> v(3, 5);
  v << 5, 1, 5, 4, 2,  // X = (5 + 5 + 5) / 3 = 5; Y = (4 + 4) / 2 = 4
      1, 5, 1, 1, 5,   // X = 1; Y = 1
      2, 4, 3, 3, 3;   // X = (2 + 2 + 3) / 3; Y = 3
  const ScoreResult r = score(tiny(), make({"x1", "x2", "x3", "y1", "y2"}, v));
  EXPECT_EQ(r.scores.traits, (std::vector<std::string>{"X", "Y"}));
  EXPECT_EQ(r.scores.ids, (std::vector<std::string>{"p1", "p2", "p3"}));
  EXPECT_DOUBLE_EQ(r.scores.values(0, 0), 5.0);
  EXPECT_DOUBLE_EQ(r.scores.values(0, 1), 4.0);
  EXPECT_DOUBLE_EQ(r.scores.values(1, 0), 1.0);
  EXPECT_DOUBLE_EQ(r.scores.values(1, 1), 1.0);
  EXPECT_DOUBLE_EQ(r.scores.values(2, 0), 7.0 / 3);
  EXPECT_DOUBLE_EQ(r.scores.values(2, 1), 3.0);
  EXPECT_EQ(r.rows_with_missing, 0u);
  ASSERT_EQ(r.dimensions.size(), 2u);
  EXPECT_EQ(r.dimensions[0].scored, 3u);
  EXPECT_NEAR(r.dimensions[0].mean, (5 + 1 + 7.0 / 3) / 3, 1e-12);
  EXPECT_FALSE(std::isnan(r.dimensions[0].alpha));
  EXPECT_THAT(r.summary(), HasSubstr("3 rows"));
}

TEST(Scoring, SummaryAndSelectRows) {
  RowMatrix<double> v(3, 2);
  v << 1, 2, 3, 4, 5, 1;
  const Responses r = make({"x1", "y1"}, v);
  const Responses s = r.select_rows({2, 0});
  EXPECT_EQ(s.ids, (std::vector<std::string>{"p3", "p1"}));
  EXPECT_EQ(s.values(0, 0), 5.0);
  EXPECT_THROW(r.select_rows({3}), InvalidArgument);
  const ScoreResult res = score(tiny(), r, {.min_answered = 0.3});
  const std::string text = fmt::format("{}", res);
  EXPECT_EQ(text, res.summary());
  EXPECT_THAT(text, HasSubstr("1/3"));  // X: 1 of its 3 items has a column
  EXPECT_THAT(text, HasSubstr("instrument items have no column: x2 x3 y2"));
}

TEST(Scoring, ReverseKeyingUsesMinPlusMax) {
  auto ins = tiny();
  ins.scale.min = 0;
  ins.scale.max = 6;
  RowMatrix<double> v(1, 2);
  v << 2, 2;
  const ScoreResult r = score(ins, make({"x2", "y2"}, v), {.min_answered = 0.3});
  EXPECT_DOUBLE_EQ(r.scores.values(0, 0), 4.0);  // 0 + 6 - 2 (x2 only)
  EXPECT_DOUBLE_EQ(r.scores.values(0, 1), 4.0);  // y2
  EXPECT_EQ(r.absent_items, (std::vector<std::string>{"x1", "x3", "y1"}));
  const RowMatrix<double> K = keyed_item_matrix(ins, make({"x2", "y2"}, v));
  EXPECT_TRUE(std::isnan(K(0, 0)));
  EXPECT_EQ(K(0, 1), 4.0);
}

TEST(Scoring, FacetsAndNames) {
  RowMatrix<double> v(1, 5);
  v << 5, 1, 3, 4, 2;
  ScoringOptions o;
  o.facets = true;
  const ScoreResult r = score(tiny(), make({"x1", "x2", "x3", "y1", "y2"}, v), o);
  EXPECT_EQ(r.scores.traits, (std::vector<std::string>{"X", "Y", "X1", "X2", "Y1"}));
  EXPECT_DOUBLE_EQ(r.scores.values(0, 2), 5.0);
  EXPECT_DOUBLE_EQ(r.scores.values(0, 3), 3.0);
  EXPECT_TRUE(r.dimensions[2].is_facet);
  o.traits = false;
  EXPECT_EQ(score(tiny(), make({"x1"}, RowMatrix<double>::Constant(1, 1, 3)), o).scores.cols(), 3);
  o.facets = false;
  EXPECT_THROW(score(tiny(), make({"x1"}, RowMatrix<double>::Constant(1, 1, 3)), o),
               InvalidArgument);
}

TEST(Scoring, MinimumShareOfAnsweredItems) {
  RowMatrix<double> v(3, 5);
  v << 5, kNaN, kNaN, 4, kNaN,  // X: 1 of 3 answered; Y: 1 of 2
      5, 1, kNaN, kNaN, kNaN,   // X: 2 of 3; Y: 0 of 2
      kNaN, kNaN, kNaN, kNaN, kNaN;
  const auto resp = make({"x1", "x2", "x3", "y1", "y2"}, v);
  ScoreResult r = score(tiny(), resp, {.min_answered = 0.5});
  EXPECT_TRUE(std::isnan(r.scores.values(0, 0)));  // 1/3 < 0.5
  EXPECT_DOUBLE_EQ(r.scores.values(0, 1), 4.0);    // 1/2 >= 0.5
  EXPECT_DOUBLE_EQ(r.scores.values(1, 0), 5.0);    // mean of answered: (5 + 5) / 2
  EXPECT_TRUE(std::isnan(r.scores.values(1, 1)));
  EXPECT_EQ(r.dimensions[0].insufficient, 2u);
  EXPECT_EQ(r.dimensions[1].insufficient, 2u);
  EXPECT_EQ(r.rows_with_missing, 3u);
  EXPECT_EQ(r.missing_answers, 3u + 3u + 5u);
  EXPECT_EQ(r.rows_with_nan_score, 3u);
  r = score(tiny(), resp, {.min_answered = 0.3});
  EXPECT_DOUBLE_EQ(r.scores.values(0, 0), 5.0);
  r = score(tiny(), resp, {.min_answered = 1.0});
  EXPECT_TRUE(std::isnan(r.scores.values(1, 0)));
  try {
    score(tiny(), resp, {.min_answered = 0});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "min_answered");
  }
}

TEST(Scoring, OutOfRangeAnswerNamesRowAndColumn) {
  RowMatrix<double> v(2, 2);
  v << 3, 4, 2, 6;
  auto resp = make({"alt_x1", "y1"}, v);
  try {
    score(tiny(), resp);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "responses");
    EXPECT_THAT(e.what(), HasSubstr("row 2 (id 'p2')"));
    EXPECT_THAT(e.what(), HasSubstr("column 'y1'"));
    EXPECT_THAT(e.what(), HasSubstr("answer 6 is outside the scale 1..5"));
  }
  resp.source = "answers.csv";
  resp.lines = {2, 3};
  try {
    score(tiny(), resp);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("answers.csv:3: column 'y1'"));
  }
  // Fractional answers inside the scale are fine (expected scores from log-probabilities).
  v << 3.5, 4.25, 1, 5;
  EXPECT_DOUBLE_EQ(score(tiny(), make({"x1", "y1"}, v), {.min_answered = 0.3}).scores.values(0, 0),
                   3.5);
}

TEST(Scoring, TwoColumnsForOneItemIsAnError) {
  RowMatrix<double> v = RowMatrix<double>::Constant(1, 2, 3);
  try {
    score(tiny(), make({"x1", "alt_x1"}, v));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("both hold item 'x1'"));
  }
}

void write_text(const std::filesystem::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

TEST(ReadResponses, CsvWithMissingCodeAndAliases) {
  TempDir dir;
  write_text(dir / "r.csv", "id,alt_x1,x2,note,y1\na,5,1,hello,0\nb,,NA,,2\n");
  ReadResponsesOptions o;
  o.missing_code = 0;
  const Responses r = read_responses(dir / "r.csv", tiny(), o);
  EXPECT_EQ(r.columns, (std::vector<std::string>{"alt_x1", "x2", "y1"}));  // "note" ignored
  EXPECT_EQ(r.ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.lines, (std::vector<std::size_t>{2, 3}));
  EXPECT_TRUE(std::isnan(r.values(0, 2)));  // 0 = missing
  EXPECT_TRUE(std::isnan(r.values(1, 0)));
  EXPECT_TRUE(std::isnan(r.values(1, 1)));
  const ScoreResult s = score(tiny(), r, {.min_answered = 0.5});
  EXPECT_DOUBLE_EQ(s.scores.values(0, 0), 5.0);
  EXPECT_TRUE(std::isnan(s.scores.values(0, 1)));
  o.require_all_items = true;
  EXPECT_THROW(read_responses(dir / "r.csv", tiny(), o), ParseError);
}

TEST(ReadResponses, EveryMissingTokenIsUnansweredInCsvAndJsonl) {
  // The one list of the io layer (io::kMissingTokens), in a CSV cell and in a JSONL string.
  TempDir dir;
  std::string csv = "id,x1,y1\n", jsonl;
  for (std::size_t k = 0; k < std::size(io::kMissingTokens); ++k) {
    const std::string tok(io::kMissingTokens[k]);
    csv += fmt::format("t{},{},4\n", k, tok);
    jsonl += fmt::format(R"({{"id":"t{}","answers":{{"x1":"{}","y1":4}}}})"
                         "\n",
                         k, tok);
  }
  write_text(dir / "tok.csv", csv);
  write_text(dir / "tok.jsonl", jsonl);
  for (const char* name : {"tok.csv", "tok.jsonl"}) {
    const Responses r = read_responses(dir / name, tiny());
    ASSERT_EQ(r.rows(), static_cast<Index>(std::size(io::kMissingTokens))) << name;
    for (Index i = 0; i < r.rows(); ++i) {
      EXPECT_TRUE(std::isnan(r.values(i, 0))) << name << " " << r.ids[i];
      EXPECT_EQ(r.values(i, 1), 4.0) << name;
    }
  }
  // Negative controls: spellings outside the list are errors naming the line.
  write_text(dir / "na.csv", "id,x1\na,n/a\n");
  EXPECT_THROW(read_responses(dir / "na.csv", tiny()), io::CsvError);
  write_text(dir / "none.jsonl", R"({"id":"a","answers":{"x1":"None"}})"
                                 "\n");
  EXPECT_THROW(read_responses(dir / "none.jsonl", tiny()), ParseError);
}

TEST(ReadResponses, ParseAnswerCell) {
  const std::optional<double> zero = 0.0;
  EXPECT_EQ(parse_answer_cell("4", std::nullopt, "f.csv", 2, "E1"), 4.0);
  EXPECT_EQ(parse_answer_cell(" 2.5 ", zero, "f.csv", 2, "E1"), 2.5);
  EXPECT_EQ(parse_answer_cell("0", std::nullopt, "f.csv", 2, "E1"), 0.0);  // no code: a value
  EXPECT_TRUE(std::isnan(parse_answer_cell("0", zero, "f.csv", 2, "E1")));
  EXPECT_TRUE(std::isnan(parse_answer_cell("N/A", zero, "f.csv", 2, "E1")));
  try {
    parse_answer_cell("abc", zero, "f.csv", 7, "E3");
    FAIL();
  } catch (const io::CsvError& e) {
    EXPECT_EQ(e.line(), 7u);
    EXPECT_EQ(e.column_name(), "E3");
    EXPECT_THAT(e.what(), HasSubstr("f.csv:7: column 'E3': answer 'abc' is not a number"));
  }
}

TEST(ReadResponses, CsvErrors) {
  TempDir dir;
  write_text(dir / "bad.csv", "id,x1,y1\na,5,1\nb,x,2\n");
  try {
    read_responses(dir / "bad.csv", tiny());
    FAIL();
  } catch (const io::CsvError& e) {
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.column_name(), "x1");
    EXPECT_THAT(e.what(), HasSubstr("bad.csv:3: column 'x1': answer 'x' is not a number"));
  }
  write_text(dir / "none.csv", "id,foo\na,1\n");
  try {
    read_responses(dir / "none.csv", tiny());
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no column matches an item of instrument 'tiny'"));
  }
}

TEST(ReadResponses, AdministerJsonl) {
  TempDir dir;
  write_text(
      dir / "a.jsonl",
      R"({"id":"p1","instrument":"tiny","answers":{"x1":5,"x2":1,"x3":null,"y1":4,"y2":2},"raw":{}})"
      "\n"
      R"({"id":"p2","instrument":"tiny","answers":{"x1":"3","y2":5,"zz":1}})"
      "\n");
  const Responses r = read_responses(dir / "a.jsonl", tiny());
  EXPECT_EQ(r.ids, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(r.columns, (std::vector<std::string>{"x1", "x2", "x3", "y1", "y2"}));
  EXPECT_EQ(r.lines, (std::vector<std::size_t>{1, 2}));
  EXPECT_TRUE(std::isnan(r.values(0, 2)));
  EXPECT_EQ(r.values(1, 0), 3.0);
  EXPECT_TRUE(std::isnan(r.values(1, 1)));  // not answered
  const ScoreResult s = score(tiny(), r, {.min_answered = 0.3});
  EXPECT_DOUBLE_EQ(s.scores.values(0, 0), 5.0);
  EXPECT_DOUBLE_EQ(s.scores.values(0, 1), 4.0);
  EXPECT_DOUBLE_EQ(s.scores.values(1, 1), 1.0);
  // Detected by content too (no .jsonl extension).
  std::filesystem::copy_file(dir / "a.jsonl", dir / "a.txt");
  EXPECT_EQ(read_responses(dir / "a.txt", tiny()).rows(), 2);
}

TEST(ReadResponses, JsonlErrorsNameTheLine) {
  TempDir dir;
  write_text(
      dir / "b.jsonl",
      "{\"id\":\"p1\",\"answers\":{\"x1\":5}}\n{\"id\":\"p2\",\"answers\":{\"x1\":\"five\"}}\n");
  try {
    read_responses(dir / "b.jsonl", tiny());
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 2u);
    EXPECT_THAT(e.what(), HasSubstr("answer to 'x1' is \"five\""));
  }
  write_text(
      dir / "c.jsonl",
      "{\"id\":\"p1\",\"answers\":{\"x1\":5}}\n{oops\n{\"id\":\"p3\",\"answers\":{\"x1\":4}}\n");
  try {
    read_responses(dir / "c.jsonl", tiny());
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 2u);
  }
  ReadResponsesOptions o;
  o.on_malformed = io::OnMalformed::skip;
  const Responses r = read_responses(dir / "c.jsonl", tiny(), o);
  EXPECT_EQ(r.ids, (std::vector<std::string>{"p1", "p3"}));
  ASSERT_EQ(r.malformed.size(), 1u);
  EXPECT_EQ(r.malformed[0].line, 2u);
  EXPECT_FALSE(r.truncated_tail);
  write_text(dir / "t.jsonl", "{\"id\":\"p1\",\"answers\":{\"x1\":5}}\n{\"id\":\"p2\",\"ans");
  const Responses t = read_responses(dir / "t.jsonl", tiny());
  EXPECT_EQ(t.rows(), 1);
  EXPECT_TRUE(t.truncated_tail);
  write_text(dir / "d.jsonl", "{\"id\":\"p1\",\"answers\":{\"x1\":5}}\n{\"id\":\"p2\"}\n");
  try {
    read_responses(dir / "d.jsonl", tiny());
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 2u);
    EXPECT_THAT(e.what(), HasSubstr("missing field 'answers'"));
  }
}

TEST(ScoringBig5, AlphaAndMeansMatchTheIndependentComputation) {
  // Reference: tests/psychometrics/data/make_big5_reference.py (numpy), complete rows.
  const io::Table ref = io::read_table(kTestData / "big5_reference.csv");
  const Instrument ins = instrument_by_name("ipip50", kData);
  ReadResponsesOptions o;
  o.missing_code = 0;
  const Responses r = read_responses(kData / "big5" / "data.csv", ins, o);
  EXPECT_EQ(r.rows(), 19719);
  const ScoreResult s = score(ins, r, {.min_answered = 1.0});
  EXPECT_EQ(s.rows_with_missing, 1u);
  ASSERT_EQ(s.dimensions.size(), 5u);
  for (std::size_t k = 0; k < 5; ++k) {
    const auto& row = ref.rows[k];
    const auto& d = s.dimensions[k];
    EXPECT_EQ(d.code, row[0]);
    EXPECT_EQ(d.scored, std::stoul(row[1]));
    EXPECT_EQ(d.alpha_rows, std::stoul(row[1]));
    EXPECT_NEAR(d.mean, std::stod(row[2]), 1e-12) << d.code;
    EXPECT_NEAR(d.sd, std::stod(row[3]), 1e-12) << d.code;
    EXPECT_NEAR(d.alpha, std::stod(row[4]), 1e-12) << d.code;
  }
  // And the published two-decimal values (shared data README).
  const std::map<std::string, std::pair<double, double>> published{{"E", {0.89, 3.01}},
                                                                   {"N", {0.87, 3.10}},
                                                                   {"A", {0.83, 3.84}},
                                                                   {"C", {0.81, 3.35}},
                                                                   {"O", {0.79, 3.91}}};
  for (const auto& d : s.dimensions) {
    EXPECT_NEAR(d.alpha, published.at(d.code).first, 0.005) << d.code;
    EXPECT_NEAR(d.mean, published.at(d.code).second, 0.006) << d.code;
  }
}

}  // namespace
}  // namespace popalign::psychometrics
