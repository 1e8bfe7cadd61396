#include <popalign/psychometrics/reference.hpp>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

#include "io/temp_dir.hpp"

namespace popalign::psychometrics {
namespace {

using popalign::testing::TempDir;
using ::testing::HasSubstr;

const std::filesystem::path kData = POPALIGN_DATA_DIR;
const std::filesystem::path kTestData = POPALIGN_PSYCHOMETRICS_TEST_DATA;

class Big5 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new ReferenceData(load_big5(kData / "big5" / "data.csv"));
    ipip_ = new Instrument(instrument_by_name("ipip50", kData));
  }
  static void TearDownTestSuite() {
    delete data_;
    delete ipip_;
  }
  static ReferenceData* data_;
  static Instrument* ipip_;
};
ReferenceData* Big5::data_ = nullptr;
Instrument* Big5::ipip_ = nullptr;

TEST_F(Big5, LoadsAllRespondents) {
  const ReferenceData& d = *data_;
  EXPECT_EQ(d.rows(), 19719);
  EXPECT_EQ(d.responses.columns.size(), 50u);
  EXPECT_EQ(d.responses.columns.front(), "E1");
  EXPECT_EQ(d.country[0], "US");
  EXPECT_EQ(d.age[0], 53.0);
  EXPECT_EQ(d.responses.values(0, 0), 4.0);
  EXPECT_EQ(d.responses.lines[0], 2u);
  EXPECT_EQ(d.responses.ids[0], "1");
  std::size_t us = 0, missing = 0;
  for (const auto& c : d.country) us += c == "US";
  for (Index i = 0; i < d.rows(); ++i)
    for (Index j = 0; j < 50; ++j) missing += std::isnan(d.responses.values(i, j));
  EXPECT_EQ(us, 8753u);
  EXPECT_EQ(std::set<std::string>(d.country.begin(), d.country.end()).size(), 160u);
  EXPECT_EQ(missing, 50u);  // the one row with missed (0) answers
  EXPECT_NO_THROW(d.validate());
}

TEST_F(Big5, DefaultCleaning) {
  ReferenceData d = *data_;
  const CleaningReport r = clean_reference(d, *ipip_);
  EXPECT_EQ(r.rows_in, 19719u);
  EXPECT_EQ(r.ages_set_missing, 83u);  // 83 ages above 100, none below 13
  EXPECT_EQ(r.dropped_age, 0u);
  EXPECT_EQ(r.dropped_out_of_range, 0u);
  EXPECT_EQ(r.dropped_incomplete, 1u);
  EXPECT_EQ(r.dropped_duplicate, 0u);
  EXPECT_EQ(r.rows_out, 19718u);
  EXPECT_EQ(d.rows(), 19718);
  EXPECT_EQ(d.country.size(), 19718u);
  std::size_t nan_age = 0;
  for (double a : d.age) {
    nan_age += std::isnan(a);
    if (!std::isnan(a)) {
      EXPECT_TRUE(a >= 13 && a <= 100) << a;
    }
  }
  EXPECT_EQ(nan_age, 83u);
  EXPECT_THAT(r.summary(), HasSubstr("too many unanswered items: 1"));
  EXPECT_EQ(fmt::format("{}", r), r.summary());
  // Scores of the cleaned data need no missing-item rule.
  const ScoreResult s = score(*ipip_, d.responses);
  EXPECT_EQ(s.rows_with_nan_score, 0u);
}

TEST_F(Big5, OtherCleaningRules) {
  ReferenceData d = *data_;
  CleaningOptions o;
  o.age_rule = AgeRule::drop_row;
  o.drop_duplicate_answers = true;
  const CleaningReport r = clean_reference(d, *ipip_, o);
  EXPECT_EQ(r.dropped_age, 83u);
  EXPECT_EQ(r.ages_set_missing, 0u);
  EXPECT_GT(r.dropped_duplicate, 0u);
  EXPECT_LE(r.dropped_duplicate, 22u);  // 22 repeated answer vectors in the whole file
  EXPECT_EQ(r.rows_out, 19719u - r.dropped_age - r.dropped_incomplete - r.dropped_duplicate);
  // Mini-IPIP: only its 20 items count for completeness.
  ReferenceData m = *data_;
  const CleaningReport rm = clean_reference(m, instrument_by_name("mini_ipip", kData));
  EXPECT_EQ(rm.dropped_incomplete, 1u);
  try {
    CleaningOptions bad;
    bad.min_answered = 1.5;
    clean_reference(m, *ipip_, bad);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "min_answered");
  }
}

TEST(Reference, OutOfRangeRowsAreDroppedOrKept) {
  TempDir dir;
  std::ofstream(dir / "g.csv") << "id,cc,age,E1,E2\na,US,30,1,7\nb,GB,12,2,3\nc,JP,40,,\n";
  const Instrument ipip = instrument_by_name("ipip50", kData);
  ReferenceCsvOptions o;
  o.country_column = "cc";
  o.age_column = "age";
  ReferenceData d = load_reference_csv(dir / "g.csv", o, &ipip);
  EXPECT_EQ(d.responses.columns, (std::vector<std::string>{"E1", "E2"}));
  EXPECT_EQ(d.country, (std::vector<std::string>{"US", "GB", "JP"}));
  EXPECT_EQ(d.responses.ids, (std::vector<std::string>{"a", "b", "c"}));
  CleaningOptions co;
  co.min_answered = 0.5;
  ReferenceData d2 = d;
  const CleaningReport r = clean_reference(d2, ipip, co);
  EXPECT_EQ(r.dropped_out_of_range, 1u);
  EXPECT_EQ(r.ages_set_missing, 1u);
  EXPECT_EQ(r.dropped_incomplete, 1u);
  EXPECT_EQ(d2.responses.ids, (std::vector<std::string>{"b"}));
  EXPECT_TRUE(std::isnan(d2.age[0]));
  co.drop_out_of_range = false;
  ReferenceData d3 = d;
  clean_reference(d3, ipip, co);
  EXPECT_EQ(d3.rows(), 2);
  try {
    score(ipip, d3.responses, {.min_answered = 0.5});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_THAT(e.what(), HasSubstr("g.csv:2: column 'E2': answer 7"));
  }
  // Explicit item columns; no instrument needed.
  ReferenceCsvOptions eo;
  eo.item_columns = {"E2"};
  EXPECT_EQ(load_reference_csv(dir / "g.csv", eo).responses.columns,
            (std::vector<std::string>{"E2"}));
  EXPECT_THROW(load_reference_csv(dir / "g.csv", {}), InvalidArgument);
  eo.country_column = "nope";
  EXPECT_THROW(load_reference_csv(dir / "g.csv", eo), ParseError);
}

TEST(Reference, EveryMissingTokenAndTheMissingCodeAreUnanswered) {
  // One row per token of io::kMissingTokens in E1; E2 answered. Same list as read_responses.
  TempDir dir;
  std::string text = "id\tE1\tE2\n";
  for (std::size_t k = 0; k < std::size(io::kMissingTokens); ++k)
    text += fmt::format("t{}\t{}\t3\n", k, io::kMissingTokens[k]);
  text += "zero\t0\t3\n";
  std::ofstream(dir / "tok.tsv") << text;
  const Instrument ipip = instrument_by_name("ipip50", kData);
  ReferenceCsvOptions o;
  o.missing_code = 0;
  const ReferenceData d = load_reference_csv(dir / "tok.tsv", o, &ipip);
  ASSERT_EQ(d.rows(), static_cast<Index>(std::size(io::kMissingTokens)) + 1);
  for (Index i = 0; i < d.rows(); ++i) {
    EXPECT_TRUE(std::isnan(d.responses.values(i, 0))) << d.responses.ids[i];
    EXPECT_EQ(d.responses.values(i, 1), 3.0);
  }
  // Negative control: a spelling outside the list is an error naming file, line and column.
  std::ofstream(dir / "none.tsv") << "id\tE1\na\t2\nb\tNone\n";
  try {
    load_reference_csv(dir / "none.tsv", o, &ipip);
    FAIL();
  } catch (const io::CsvError& e) {
    EXPECT_EQ(e.line(), 3u);
    EXPECT_THAT(e.what(), HasSubstr("none.tsv:3: column 'E1': answer 'None' is not a number"));
  }
}

TEST(Reference, MissingColumnsNameTheFile) {
  TempDir dir;
  std::ofstream(dir / "ffm.tsv") << "EXT1\tcountry\n3\tUS\n";
  try {
    load_ipip_ffm(dir / "ffm.tsv");
    FAIL();
  } catch (const io::CsvError& e) {
    EXPECT_THAT(e.what(), HasSubstr("ffm.tsv"));
    EXPECT_THAT(e.what(), HasSubstr("missing column 'EXT2'"));
  }
  std::ofstream(dir / "b5.tsv") << "E1\tage\n3\t20\n";
  EXPECT_THROW(load_big5(dir / "b5.tsv"), io::CsvError);
  std::ofstream(dir / "bad.tsv") << "x\n";
  EXPECT_THROW(load_big5(dir / "nonexistent.tsv"), IoError);
}

TEST(Reference, IpipFfmFormat) {
  const ReferenceData d = load_ipip_ffm(kTestData / "ipip_ffm_sample.tsv");
  ASSERT_EQ(d.rows(), 5);
  EXPECT_EQ(d.responses.columns.size(), 50u);
  EXPECT_EQ(d.country, (std::vector<std::string>{"US", "GB", "JP", "DE", ""}));  // NONE -> ""
  EXPECT_TRUE(std::isnan(d.responses.values(2, 0)));                             // 0 = missed
  EXPECT_TRUE(std::isnan(d.responses.values(3, 49)));                            // NULL
  const Instrument ipip = instrument_by_name("ipip50", kData);
  const ScoreResult s = score(ipip, d.responses);
  ASSERT_EQ(s.scores.traits, (std::vector<std::string>{"O", "C", "E", "A", "N"}));
  for (Index j = 0; j < 5; ++j) EXPECT_DOUBLE_EQ(s.scores.values(0, j), 3.0);
  // All 5: trait = (5 * positively keyed + 1 * reverse keyed) / 10.
  EXPECT_DOUBLE_EQ(s.scores.values(1, 0), (7 * 5 + 3 * 1) / 10.0);  // O: 3 reversed
  EXPECT_DOUBLE_EQ(s.scores.values(1, 1), (6 * 5 + 4 * 1) / 10.0);  // C: 4 reversed
  EXPECT_DOUBLE_EQ(s.scores.values(1, 2), (5 * 5 + 5 * 1) / 10.0);  // E: 5 reversed
  EXPECT_DOUBLE_EQ(s.scores.values(1, 3), (6 * 5 + 4 * 1) / 10.0);  // A: 4 reversed
  EXPECT_DOUBLE_EQ(s.scores.values(1, 4), (8 * 5 + 2 * 1) / 10.0);  // N: 2 reversed
  // All 4 with EXT1 (+ keyed) missed: E from 9 items, 4 of them reversed (2 each):
  EXPECT_DOUBLE_EQ(s.scores.values(2, 2), (4 * 4 + 5 * 2) / 9.0);
  EXPECT_EQ(s.rows_with_missing, 2u);
}

}  // namespace
}  // namespace popalign::psychometrics
