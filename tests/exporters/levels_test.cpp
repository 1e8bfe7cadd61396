// Tertile levels and the MBTI rule against hand-computed values, with negative controls.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/exporters/levels.hpp>

namespace ex = popalign::exporters;

TEST(Quantile, Type7ByHand) {
  const std::vector<double> x{7, 1, 5, 3, 2, 6, 4};   // sorted 1..7, n = 7
  EXPECT_DOUBLE_EQ(ex::quantile(x, 1.0 / 3.0), 3.0);  // h = 2
  EXPECT_DOUBLE_EQ(ex::quantile(x, 2.0 / 3.0), 5.0);  // h = 4
  EXPECT_DOUBLE_EQ(ex::quantile(x, 0.5), 4.0);
  const std::vector<double> y{1, 2, 3, 4};            // h = 1 for p = 1/3: exactly 2
  EXPECT_DOUBLE_EQ(ex::quantile(y, 1.0 / 3.0), 2.0);  // type 6 would give 1.667
  EXPECT_DOUBLE_EQ(ex::quantile(y, 0.5), 2.5);        // interpolated
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> z{nan, 1, 2, 3, 4, nan};  // NaN skipped
  EXPECT_DOUBLE_EQ(ex::quantile(z, 0.5), 2.5);
  EXPECT_TRUE(std::isnan(ex::quantile(std::vector<double>{nan}, 0.5)));
  EXPECT_THROW(ex::quantile(y, 1.5), popalign::InvalidArgument);
}

TEST(ReferenceLevels, TertilesPerTraitAndLevels) {
  // Two traits, 7 rows: E = 1..7 (cuts 3, 5), X = 10..70 (cuts 30, 50).
  std::vector<double> v;
  for (int i = 1; i <= 7; ++i) {
    v.push_back(i);
    v.push_back(10.0 * i);
  }
  const ex::ReferenceLevels ref({"E", "X"}, v, 7, "ref");
  ASSERT_EQ(ref.traits().size(), 2u);
  const ex::TraitCuts* e = ref.find("Extraversion");  // by Big Five identity
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->name, "E");
  EXPECT_DOUBLE_EQ(e->lower_tertile, 3.0);
  EXPECT_DOUBLE_EQ(e->upper_tertile, 5.0);
  EXPECT_DOUBLE_EQ(e->median, 4.0);
  EXPECT_EQ(ex::level_of(2.9, *e), ex::Level::low);
  EXPECT_EQ(ex::level_of(3.0, *e), ex::Level::medium);  // a tie with a cut is medium
  EXPECT_EQ(ex::level_of(5.0, *e), ex::Level::medium);
  EXPECT_EQ(ex::level_of(5.1, *e), ex::Level::high);
  const ex::TraitCuts* x = ref.find("X");
  ASSERT_NE(x, nullptr);
  // Negative control: the same value is "high" on E's scale and "low" on X's: the cuts come
  // from each trait's reference, not fixed points.
  EXPECT_EQ(ex::level_of(6.0, *e), ex::Level::high);
  EXPECT_EQ(ex::level_of(6.0, *x), ex::Level::low);
  EXPECT_EQ(ref.find("openness"), nullptr);
  EXPECT_EQ(ref.find("Y"), nullptr);
}

TEST(ReferenceLevels, RejectsConstantOrTinyTraits) {
  const std::vector<double> constant{2, 2, 2, 2};
  EXPECT_THROW(ex::ReferenceLevels({"E"}, constant, 4), popalign::InvalidArgument);
  const std::vector<double> tiny{1, 2};
  EXPECT_THROW(ex::ReferenceLevels({"E"}, tiny, 2), popalign::InvalidArgument);
}

TEST(ReferenceLevels, LoadsTheFixtureCsv) {
  const auto ref =
      ex::ReferenceLevels::load(POPALIGN_SOURCE_DIR "/tests/exporters/data/reference.csv");
  ASSERT_EQ(ref.traits().size(), 5u);
  EXPECT_EQ(ref.rows(), 7u);
  const ex::TraitCuts* o = ref.find(ex::BigFive::openness);
  ASSERT_NE(o, nullptr);
  EXPECT_DOUBLE_EQ(o->lower_tertile, 6.0);  // 2,4,...,14
  EXPECT_DOUBLE_EQ(o->upper_tertile, 10.0);
  EXPECT_DOUBLE_EQ(o->median, 8.0);
  const ex::TraitCuts* a = ref.find(ex::BigFive::agreeableness);
  EXPECT_DOUBLE_EQ(a->lower_tertile, 4.0);  // 3,3.5,...,6
  EXPECT_DOUBLE_EQ(a->upper_tertile, 5.0);
}

TEST(BigFive, ColumnNames) {
  EXPECT_EQ(ex::big_five_of("O"), ex::BigFive::openness);
  EXPECT_EQ(ex::big_five_of("Openness to Experience"), ex::BigFive::openness);
  EXPECT_EQ(ex::big_five_of("conscientiousness"), ex::BigFive::conscientiousness);
  EXPECT_EQ(ex::big_five_of("EXTROVERSION"), ex::BigFive::extraversion);
  EXPECT_EQ(ex::big_five_of("a"), ex::BigFive::agreeableness);
  EXPECT_EQ(ex::big_five_of("Neuroticism"), ex::BigFive::neuroticism);
  EXPECT_EQ(ex::big_five_of("Honesty"), std::nullopt);
  EXPECT_EQ(ex::big_five_of(""), std::nullopt);
}

TEST(Mbti, MedianSplitByHand) {
  // Order of the arrays: O, C, E, A, N. Medians 8, 4, 4, 4.5, 3 (the fixture reference).
  const std::array<double, 5> med{8, 4, 4, 4.5, 3};
  EXPECT_EQ(ex::mbti_from_big_five({11, 3, 6.5, 4, 2}, med), "ENTP");
  EXPECT_EQ(ex::mbti_from_big_five({6, 5, 2, 5.5, 4.5}, med), "ISFJ");
  EXPECT_EQ(ex::mbti_from_big_five({9, 6, 5, 5, 0}, med), "ENFJ");
  // A value equal to the median takes the second letter (I, S, T, P).
  EXPECT_EQ(ex::mbti_from_big_five({8, 4, 4, 4.5, 9}, med), "ISTP");
  // Negative control: moving extraversion across the median flips only E/I; neuroticism
  // never matters.
  EXPECT_EQ(ex::mbti_from_big_five({11, 3, 3.9, 4, 2}, med), "INTP");
  EXPECT_EQ(ex::mbti_from_big_five({11, 3, 6.5, 4, 100}, med), "ENTP");
  EXPECT_THROW(ex::mbti_from_big_five({NAN, 3, 6.5, 4, 2}, med), popalign::InvalidArgument);
}
