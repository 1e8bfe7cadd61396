#include <popalign/metrics/correlation.hpp>

#include <gtest/gtest.h>

#include "density/reference_file.hpp"

namespace popalign::metrics {
namespace {

template <class T>
class CorrelationTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CorrelationTest, Scalars);

TYPED_TEST(CorrelationTest, MatchesNumpyWeightedCorrelation) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/metrics/metrics_reference.txt");
  const RowMatrix<T> x = ref.array("multi.x").cast<T>();
  const RowMatrix<T> y = ref.array("multi.y").cast<T>();
  const CorrelationDistance d =
      correlation_distance<T>(x, y, ref.vector("multi.wx"), ref.vector("multi.wy"));
  const double tol = sizeof(T) == 4 ? 1e-6 : 1e-12;
  EXPECT_NEAR(d.frobenius, ref.scalar("multi.corr_frobenius"), tol);
  EXPECT_NEAR(d.normalized, d.frobenius / std::sqrt(6.0), 1e-15);
  // MAE over the 3 pairs, from the two matrices directly.
  const Eigen::MatrixXd ra = weighted_correlation<T>(x, ref.vector("multi.wx"));
  const Eigen::MatrixXd rb = weighted_correlation<T>(y, ref.vector("multi.wy"));
  const double mae = (std::abs(ra(0, 1) - rb(0, 1)) + std::abs(ra(0, 2) - rb(0, 2)) +
                      std::abs(ra(1, 2) - rb(1, 2))) /
                     3.0;
  EXPECT_NEAR(d.mae, mae, 1e-15);
}

TYPED_TEST(CorrelationTest, KnownAnswersAndDegenerateColumns) {
  using T = TypeParam;
  // Perfectly correlated vs perfectly anti-correlated 2-D samples: R differ by 2 off-diagonal.
  RowMatrix<T> a(4, 2), b(4, 2);
  a << T(0), T(0), T(1), T(1), T(2), T(2), T(3), T(3);
  b << T(0), T(3), T(1), T(2), T(2), T(1), T(3), T(0);
  const CorrelationDistance d = correlation_distance<T>(a, b);
  EXPECT_NEAR(d.frobenius, std::sqrt(8.0), 1e-6);
  EXPECT_NEAR(d.normalized, 2.0, 1e-6);
  EXPECT_NEAR(d.mae, 2.0, 1e-6);
  EXPECT_EQ(correlation_distance<T>(a, a).frobenius, 0.0);
  RowMatrix<T> c = a;
  c.col(1).setConstant(T(5));  // constant column: correlation 0 by convention, no NaN
  const Eigen::MatrixXd r = weighted_correlation<T>(c);
  EXPECT_EQ(r(0, 1), 0.0);
  EXPECT_EQ(r(1, 1), 1.0);
  EXPECT_TRUE(std::isfinite(correlation_distance<T>(a, c).frobenius));
}

}  // namespace
}  // namespace popalign::metrics
