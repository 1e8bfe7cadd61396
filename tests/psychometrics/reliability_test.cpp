#include <popalign/psychometrics/reliability.hpp>

#include <gtest/gtest.h>

#include <limits>

#include <popalign/core/random.hpp>

namespace popalign::psychometrics {
namespace {

template <class T>
class ReliabilityTyped : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ReliabilityTyped, Scalars);

TYPED_TEST(ReliabilityTyped, AlphaByHand) {
  using T = TypeParam;
  // 4 respondents x 3 items. Item variances (ddof 1): 1.666..., 1.666..., 0.916...;
  // totals 4, 7, 10, 12 -> variance 12.25; alpha = 1.5 * (1 - 4.25 / 12.25) = 0.979591836...
  RowMatrix<T> x(4, 3);
  x << 1, 2, 1, 2, 3, 2, 3, 4, 3, 4, 5, 3;
  const AlphaResult r = cronbach_alpha<T>(x);
  EXPECT_EQ(r.rows, 4u);
  EXPECT_EQ(r.items, 3u);
  EXPECT_NEAR(r.alpha, 1.5 * (1 - 4.25 / 12.25), 1e-12);
}

TYPED_TEST(ReliabilityTyped, RowsWithMissingAreLeftOut) {
  using T = TypeParam;
  RowMatrix<T> x(5, 3);
  x << 1, 2, 1, 2, 3, 2, 3, std::numeric_limits<T>::quiet_NaN(), 3, 3, 4, 3, 4, 5, 3;
  const AlphaResult r = cronbach_alpha<T>(x);
  EXPECT_EQ(r.rows, 4u);
  EXPECT_NEAR(r.alpha, 1.5 * (1 - 4.25 / 12.25), 1e-12);
}

TYPED_TEST(ReliabilityTyped, UndefinedCasesAreNaN) {
  using T = TypeParam;
  RowMatrix<T> one(5, 1);
  one << 1, 2, 3, 4, 5;
  EXPECT_TRUE(std::isnan(cronbach_alpha<T>(one).alpha));
  RowMatrix<T> constant = RowMatrix<T>::Constant(4, 3, T(2));
  EXPECT_TRUE(std::isnan(cronbach_alpha<T>(constant).alpha));
  RowMatrix<T> single(1, 3);
  single << 1, 2, 3;
  EXPECT_TRUE(std::isnan(cronbach_alpha<T>(single).alpha));
}

TYPED_TEST(ReliabilityTyped, ParallelItemsMatchSpearmanBrown) {
  using T = TypeParam;
  // k parallel items = true score + independent noise of equal variance: the population alpha
  // is k * rho / (1 + (k - 1) * rho) with rho = 1 / (1 + noise variance) = 0.5 here.
  Rng rng(11);
  const Index n = 20000, k = 6;
  RowMatrix<T> x(n, k);
  for (Index i = 0; i < n; ++i) {
    const double t = rng.normal();
    for (Index j = 0; j < k; ++j) x(i, j) = static_cast<T>(t + rng.normal());
  }
  const double expected = 6 * 0.5 / (1 + 5 * 0.5);
  EXPECT_NEAR(cronbach_alpha<T>(x).alpha, expected, 0.01);
  const auto r = corrected_item_total<T>(x);
  ASSERT_EQ(r.size(), 6u);
  // corr(item, sum of 5 others) = 5 / sqrt(2 * (25 + 5)) for unit true-score and noise variance.
  for (double v : r) EXPECT_NEAR(v, 5 / std::sqrt(2.0 * 30), 0.015);
}

}  // namespace
}  // namespace popalign::psychometrics
