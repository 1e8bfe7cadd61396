#include <popalign/metrics/mmd.hpp>

#include <gtest/gtest.h>

#include "density/reference_file.hpp"

namespace popalign::metrics {
namespace {

template <class T>
class MmdTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(MmdTest, Scalars);

TYPED_TEST(MmdTest, MatchesBruteForceBiasedAndUnbiased) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/metrics/metrics_reference.txt");
  const RowMatrix<T> x = ref.array("multi.x").cast<T>();
  const RowMatrix<T> y = ref.array("multi.y").cast<T>();
  MmdOptions opt;
  opt.bandwidth = ref.scalar("multi.mmd_sigma");
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-12;
  const MmdResult r = gaussian_mmd<T>(x, y, ref.vector("multi.wx"), ref.vector("multi.wy"), opt);
  EXPECT_NEAR(r.mmd2_biased, ref.scalar("multi.mmd2_biased"), tol);
  EXPECT_NEAR(r.mmd2_unbiased, ref.scalar("multi.mmd2_unbiased"), tol);
  EXPECT_NEAR(r.mmd(), std::sqrt(ref.scalar("multi.mmd2_biased")), 1e-5);
  // Uniform weights: the textbook U-statistic.
  const MmdResult u = gaussian_mmd<T>(x, y, Vector<double>(), Vector<double>(), opt);
  EXPECT_NEAR(u.mmd2_unbiased, ref.scalar("multi.mmd2_unbiased_uniform"), tol);
  EXPECT_EQ(r.bandwidth, opt.bandwidth);
}

TYPED_TEST(MmdTest, MedianHeuristicAndIdenticalSamples) {
  using T = TypeParam;
  RowMatrix<T> a(3, 1);
  // Pooled with itself: {0,1,3,0,1,3}; 15 pairwise distances 0 x3, 1 x4, 2 x4, 3 x4: median 2.
  a << T(0), T(1), T(3);
  EXPECT_NEAR(median_heuristic<T>(a, a), 2.0, 1e-12);
  const MmdResult r = gaussian_mmd<T>(a, a);
  EXPECT_NEAR(r.mmd2_biased, 0.0, 1e-6);
  EXPECT_GT(r.bandwidth, 0.0);
  // Pinned median-heuristic subsample: deterministic for a seed.
  Rng rng(3);
  RowMatrix<T> big(3000, 2);
  for (Index i = 0; i < big.rows(); ++i) big.row(i) << T(rng.normal()), T(rng.normal());
  EXPECT_EQ(median_heuristic<T>(big, big, 200, 4), median_heuristic<T>(big, big, 200, 4));
  EXPECT_NEAR(median_heuristic<T>(big, big, 1000, 4), std::sqrt(2.0) * std::sqrt(2 * std::log(2.0)),
              0.1);
}

TYPED_TEST(MmdTest, BadArguments) {
  using T = TypeParam;
  const RowMatrix<T> x = RowMatrix<T>::Random(5, 2);
  MmdOptions opt;
  opt.bandwidth = -1;
  try {
    gaussian_mmd<T>(x, x, Vector<double>(), Vector<double>(), opt);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "bandwidth");
  }
  try {
    gaussian_mmd<T>(x, RowMatrix<T>::Random(5, 3));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "b");
  }
}

}  // namespace
}  // namespace popalign::metrics
