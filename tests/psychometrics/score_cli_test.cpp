// Runs the built `popalign score` program.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <popalign/io/csv.hpp>

#include "io/temp_dir.hpp"

namespace popalign {
namespace {

using popalign::testing::TempDir;
using ::testing::HasSubstr;

const std::filesystem::path kData = POPALIGN_DATA_DIR;

struct CliRun {
  int status;
  std::string err;
};

CliRun run(const std::string& args, const TempDir& dir) {
  const auto err = dir / "stderr.txt";
  const std::string cmd =
      std::string(POPALIGN_CLI_PATH) + " score " + args + " 2> '" + err.string() + "'";
  const int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, io::read_file(err)};
}

TEST(ScoreCli, Big5ToTraitCsv) {
  TempDir dir;
  const auto out = dir / "scores.csv";
  const CliRun r =
      run("--instrument ipip50 --responses '" + (kData / "big5" / "data.csv").string() +
              "' --missing-code 0 --min-answered 1 --out '" + out.string() + "'",
          dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("alpha"));
  EXPECT_THAT(r.err, HasSubstr("0.892"));  // E
  io::NumericTableOptions o;
  o.allow_missing = true;
  const io::NumericTable t = io::read_numeric_table(out, {}, o);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"O", "C", "E", "A", "N"}));
  EXPECT_EQ(t.values.rows(), 19719);
  EXPECT_EQ(t.ids[0], "1");
  EXPECT_DOUBLE_EQ(t.values(0, 2), 4.4);  // E of row 1: 4 2 5 2 5 1 4 3 5 1, 5 reversed
  std::size_t nan_rows = 0;
  for (Index i = 0; i < t.values.rows(); ++i) nan_rows += std::isnan(t.values(i, 0));
  EXPECT_EQ(nan_rows, 1u);
  // Deterministic bytes.
  const auto out2 = dir / "scores2.csv";
  ASSERT_EQ(run("--instrument ipip50 --responses '" + (kData / "big5" / "data.csv").string() +
                    "' --missing-code 0 --min-answered 1 --quiet --out '" + out2.string() + "'",
                dir)
                .status,
            0);
  EXPECT_EQ(io::read_file(out), io::read_file(out2));
}

TEST(ScoreCli, AdministerJsonlWithFacets) {
  TempDir dir;
  {
    std::ofstream f(dir / "answers.jsonl");
    f << R"({"id":"persona-1","instrument":"ipip_neo_120","answers":{"NEO120_1":5,"NEO120_31":4,"NEO120_61":null,"NEO120_91":3}})"
      << "\n"
      << R"({"id":"persona-2","instrument":"ipip_neo_120","answers":{"NEO120_1":1,"NEO120_31":2,"NEO120_61":2,"NEO120_91":2}})"
      << "\n";
  }
  const auto out = dir / "s.csv";
  const CliRun r = run("--instrument neo120 --responses '" + (dir / "answers.jsonl").string() +
                           "' --facets --min-answered 0.01 --out '" + out.string() + "'",
                       dir);
  ASSERT_EQ(r.status, 0) << r.err;
  io::NumericTableOptions o;
  o.allow_missing = true;
  const io::NumericTable t = io::read_numeric_table(out, {"N", "N1"}, o);
  EXPECT_EQ(t.ids, (std::vector<std::string>{"persona-1", "persona-2"}));
  // NEO120_1, 31, 61, 91 are the four N1 (Anxiety) items; 91 is reverse keyed? Read the key from
  // the scores: persona-1 answered 5, 4, -, 3.
  EXPECT_TRUE(std::isfinite(t.values(0, 1)));
  EXPECT_DOUBLE_EQ(t.values(0, 0), t.values(0, 1));  // the only N items answered are N1 items
  EXPECT_EQ(io::read_table(out).columns.size(), 1u + 5u + 30u);
}

TEST(ScoreCli, CleanAndGroupForReferenceData) {
  TempDir dir;
  const auto out = dir / "ea.csv";
  const CliRun r =
      run("--instrument ipip50 --responses '" + (kData / "big5" / "data.csv").string() +
              "' --missing-code 0 --clean --age-column age --group 'East Asia' "
              "--out '" +
              out.string() + "'",
          dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("implausible age set missing: 83"));
  EXPECT_THAT(r.err, HasSubstr("group 'East Asia': 176 of 19718 rows"));
  const io::NumericTable t = io::read_numeric_table(out, {"O", "C", "E", "A", "N"});
  EXPECT_EQ(t.values.rows(), 176);
  const CliRun c =
      run("--instrument ipip50 --responses '" + (kData / "big5" / "data.csv").string() +
              "' --missing-code 0 --group country:JP,KR --quiet --out '" + out.string() + "'",
          dir);
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(io::read_numeric_table(out, {"E"}).values.rows(), 37 + 30);
  const CliRun bad =
      run("--instrument ipip50 --responses '" + (kData / "big5" / "data.csv").string() +
              "' --group Atlantis --out '" + out.string() + "'",
          dir);
  EXPECT_EQ(bad.status, 2);
  EXPECT_THAT(bad.err, HasSubstr("unknown region 'Atlantis'"));
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == '\t')
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

TEST(ScoreCli, ZeroAnswerSuggestsMissingCode) {
  // A fixture shaped like data/big5/data.csv: its header and first three rows, then the first
  // row again with E3 = 0 (the codebook's "missed") on physical line 5.
  TempDir dir;
  std::ifstream in(kData / "big5" / "data.csv");
  std::string header, line;
  std::getline(in, header);
  std::vector<std::string> rows;
  for (int k = 0; k < 3 && std::getline(in, line); ++k) rows.push_back(line);
  ASSERT_EQ(rows.size(), 3u);
  const auto cols = split_tabs(header);
  const auto e3 =
      static_cast<std::size_t>(std::find(cols.begin(), cols.end(), "E3") - cols.begin());
  ASSERT_LT(e3, cols.size());
  auto zero = split_tabs(rows[0]);
  ASSERT_EQ(zero.size(), cols.size());
  zero[e3] = "0";
  std::string zero_line;
  for (std::size_t j = 0; j < zero.size(); ++j) zero_line += (j ? "\t" : "") + zero[j];
  const auto fixture = dir / "big5_head.csv";
  {
    std::ofstream f(fixture);
    f << header << "\n"
      << rows[0] << "\n"
      << rows[1] << "\n"
      << rows[2] << "\n"
      << zero_line << "\n";
  }
  const auto out = dir / "s.csv";
  const std::string base =
      "--instrument ipip50 --responses '" + fixture.string() + "' --out '" + out.string() + "'";
  CliRun r = run(base, dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("big5_head.csv:5: column 'E3': answer 0 is outside the scale 1..5 "
                               "of instrument 'ipip50_bfm'"));
  EXPECT_THAT(r.err, HasSubstr("if 0 means 'not answered'"));
  EXPECT_THAT(r.err, HasSubstr("--missing-code 0 reads it as missing"));
  // With the flag, 0 is not answered: E of row 4 is the mean of the other nine keyed E items of
  // row 1 (4 2 _ 2 5 1 4 3 5 1; E2 E4 E6 E8 E10 reversed as 6 - x) = (4+4+4+5+5+4+3+5+5) / 9.
  r = run(base + " --missing-code 0 --quiet", dir);
  ASSERT_EQ(r.status, 0) << r.err;
  io::NumericTableOptions o;
  o.allow_missing = true;
  const io::NumericTable t = io::read_numeric_table(out, {"E"}, o);
  ASSERT_EQ(t.values.rows(), 4);
  EXPECT_DOUBLE_EQ(t.values(0, 0), 4.4);
  EXPECT_DOUBLE_EQ(t.values(3, 0), 39.0 / 9);
  // Negative controls: another code given, or a fractional answer, gets no hint.
  r = run(base + " --missing-code 9", dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("big5_head.csv:5: column 'E3': answer 0 is outside the scale"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("--missing-code")));
  std::ofstream(dir / "frac.csv") << "id,E1\na,5.5\n";
  r = run("--instrument ipip50 --responses '" + (dir / "frac.csv").string() + "' --out '" +
              out.string() + "'",
          dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("frac.csv:2: column 'E1': answer 5.5 is outside the scale 1..5"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("--missing-code")));
}

TEST(ScoreCli, ErrorsAreClear) {
  TempDir dir;
  std::ofstream(dir / "bad.csv") << "id,E1,E2\na,3,9\n";
  CliRun r = run("--instrument ipip50 --responses '" + (dir / "bad.csv").string() + "' --out '" +
                     (dir / "o.csv").string() + "'",
                 dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("bad.csv:2: column 'E2': answer 9 is outside the scale 1..5"));
  r = run("--instrument nosuch --responses '" + (dir / "bad.csv").string() + "' --out x.csv", dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown instrument 'nosuch'"));
  std::ofstream(dir / "nan.csv") << "id,E1\na,3\nb,abc\n";
  r = run("--instrument ipip50 --responses '" + (dir / "nan.csv").string() + "' --out '" +
              (dir / "o.csv").string() + "'",
          dir);
  EXPECT_EQ(r.status, 3);  // a file error (docs/cli.md)
  EXPECT_THAT(r.err, HasSubstr("nan.csv:3: column 'E1': answer 'abc' is not a number"));
  r = run("--instrument ipip50 --out x.csv", dir);
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.err, HasSubstr("--responses"));
}

}  // namespace
}  // namespace popalign
