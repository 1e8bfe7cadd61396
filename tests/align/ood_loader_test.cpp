// Tests of benchmarks/validity/ood.hpp (the out-of-domain loader of popalign_validity) on tiny
// synthetic fixtures written here: both OSPP layouts (comma + Q<k>, tab + Q<k>A), missed answers,
// TIPI scoring against hand-computed values, the scale score's sign, and errors naming the file.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "ood.hpp"
#include "test_util.hpp"

namespace popalign::validity {
namespace {

std::string comma_fixture() {
  // Q1..Q3 (other scale), E1..E3 response times (must be ignored), TIPI1..TIPI10.
  std::string s =
      "Q1,Q2,Q3,E1,E2,E3,TIPI1,TIPI2,TIPI3,TIPI4,TIPI5,TIPI6,TIPI7,TIPI8,TIPI9,TIPI10,age\r\n";
  for (int i = 0; i < 12; ++i) {
    const int a = 1 + i % 5;
    s += fmt::format("{},{},{},900,800,700,{},{},{},{},{},{},{},{},{},{},30\r\n", a, 6 - a,
                     1 + (i * 3) % 5, 1 + i % 7, 2, 3, 4, 5, 6, 7, 1, 2, 3);
  }
  s += "0,1,1,9,9,9,1,2,3,4,5,6,7,1,2,3,30\r\n";  // missed Q1 -> dropped
  s += "1,1,1,9,9,9,1,2,3,4,5,6,7,1,0,3,30\r\n";  // missed TIPI9 -> dropped
  return s;
}

TEST(OodLoader, ReadsTheCommaLayoutAndScoresTheTipi) {
  const auto dir = test::temp_dir("ood_comma");
  std::filesystem::create_directories(dir / "gcbs_like");
  test::write_text(dir / "gcbs_like" / "data.csv", comma_fixture());
  const OodData d = load_ood_dataset(dir / "gcbs_like");
  EXPECT_EQ(d.name, "gcbs_like");
  ASSERT_EQ(d.other.rows(), 12);
  EXPECT_EQ(d.dropped, 2);
  ASSERT_EQ(d.other_columns, (std::vector<std::string>{"Q1", "Q2", "Q3"}));
  ASSERT_EQ(d.tipi.cols(), 10);
  // Row 0: TIPI = 1,2,3,4,5,6,7,1,2,3. E = (1 + 8-6)/2 = 1.5, N = (4 + 8-2)/2 = 5,
  // A = (8-2 + 7)/2 = 6.5, C = (3 + 8-1)/2 = 5, O = (5 + 8-3)/2 = 5.
  EXPECT_DOUBLE_EQ(d.traits(0, 0), 1.5);
  EXPECT_DOUBLE_EQ(d.traits(0, 1), 5.0);
  EXPECT_DOUBLE_EQ(d.traits(0, 2), 6.5);
  EXPECT_DOUBLE_EQ(d.traits(0, 3), 5.0);
  EXPECT_DOUBLE_EQ(d.traits(0, 4), 5.0);
  EXPECT_DOUBLE_EQ(d.other(1, 0), 2.0);
  EXPECT_DOUBLE_EQ(d.other(1, 1), 4.0);
}

TEST(OodLoader, ReadsTheTabLayoutWithAnswerColumns) {
  const auto dir = test::temp_dir("ood_tab");
  std::filesystem::create_directories(dir / "b_nr6_like");
  std::filesystem::create_directories(dir / "a_empty");  // no data.csv: not a dataset
  std::string s = "Q2A\tQ2I\tQ2E\tQ1A\tQ1I\tQ1E\tcountry";
  for (int k = 1; k <= 10; ++k) s += "\tTIPI" + std::to_string(k);
  s += "\n";
  // Q1A positively related to Q2A over the rows (anti-correlated items would leave the scale
  // score's direction undefined).
  const int q1[5] = {5, 2, 3, 4, 5};
  for (int i = 0; i < 10; ++i) {
    s += fmt::format("{}\t2\t4000\t{}\t1\t3000\tUS", 1 + i % 5, q1[i % 5]);
    for (int k = 1; k <= 10; ++k) s += "\t" + std::to_string(1 + (i + k) % 7);
    s += "\n";
  }
  test::write_text(dir / "b_nr6_like" / "data.csv", s);
  const auto sets = ood_datasets(dir);
  ASSERT_EQ(sets.size(), 1u);
  const OodData d = load_ood_dataset(sets[0]);
  // Q<k>A columns, ordered by k (Q1A before Q2A), the I/E columns ignored.
  ASSERT_EQ(d.other_columns, (std::vector<std::string>{"Q1A", "Q2A"}));
  EXPECT_EQ(d.other.rows(), 10);
  EXPECT_DOUBLE_EQ(d.other(0, 0), 5.0);
  EXPECT_DOUBLE_EQ(d.other(0, 1), 1.0);
  // Scale score: positively related to the item mean, standardised projection.
  const ScaleScore sc(d.other);
  const RowMatrix<double> hi = RowMatrix<double>::Constant(1, 2, 5.0);
  const RowMatrix<double> lo = RowMatrix<double>::Constant(1, 2, 1.0);
  EXPECT_GT(sc(hi)(0, 0), sc(lo)(0, 0) + 1.0);
}

TEST(OodLoader, ErrorsNameTheFile) {
  const auto dir = test::temp_dir("ood_bad");
  std::filesystem::create_directories(dir / "no_tipi");
  test::write_text(dir / "no_tipi" / "data.csv", "Q1,Q2\n1,2\n");
  try {
    (void)load_ood_dataset(dir / "no_tipi");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("TIPI1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("data.csv"), std::string::npos) << e.what();
  }
  std::filesystem::create_directories(dir / "no_other");
  std::string s = "TIPI1,TIPI2,TIPI3,TIPI4,TIPI5,TIPI6,TIPI7,TIPI8,TIPI9,TIPI10\n";
  for (int i = 0; i < 10; ++i) s += "1,2,3,4,5,6,7,1,2,3\n";
  test::write_text(dir / "no_other" / "data.csv", s);
  try {
    (void)load_ood_dataset(dir / "no_other");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("other-scale"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)ood_datasets(dir / "missing"), IoError);
}

}  // namespace
}  // namespace popalign::validity
