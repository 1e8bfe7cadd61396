#include <popalign/metrics/compare.hpp>

#include <gtest/gtest.h>

#include "density/reference_file.hpp"

namespace popalign::metrics {
namespace {

template <class T>
class CompareTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CompareTest, Scalars);

TYPED_TEST(CompareTest, RecordMatchesTheIndividualMetricsAndPrints) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/metrics/metrics_reference.txt");
  const RowMatrix<T> x = ref.array("multi.x").cast<T>();
  const RowMatrix<T> y = ref.array("multi.y").cast<T>();
  const Vector<double> wx = ref.vector("multi.wx"), wy = ref.vector("multi.wy");
  CompareOptions opt;
  opt.trait_names = {"openness", "conscientiousness", "extraversion"};
  opt.mmd.bandwidth = ref.scalar("multi.mmd_sigma");
  const Comparison c = compare<T>(x, y, wx, wy, opt);
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  const Vector<double> ew1 = ref.vector("multi.w1_cols"), eks = ref.vector("multi.ks_cols");
  for (Index k = 0; k < 3; ++k) {
    EXPECT_NEAR(c.w1[k], ew1[k], tol);
    EXPECT_NEAR(c.ks[k], eks[k], 1e-12);
  }
  EXPECT_NEAR(c.correlation.frobenius, ref.scalar("multi.corr_frobenius"), tol);
  EXPECT_NEAR(c.mmd2, ref.scalar("multi.mmd2_biased"), tol);
  EXPECT_EQ(c.sliced_wasserstein, sliced_wasserstein<T>(x, y, wx, wy, opt.sliced));
  EXPECT_EQ(c.mean_w1, c.w1.mean());
  const std::string s = fmt::format("{}", c);
  EXPECT_EQ(s, to_string(c));
  EXPECT_NE(s.find("conscientiousness"), std::string::npos);
  EXPECT_NE(s.find("correlation distance"), std::string::npos);
  EXPECT_NE(s.find(fmt::format("{:.4f}", c.w1[0])), std::string::npos);
  CompareOptions bad;
  bad.trait_names = {"a"};
  EXPECT_THROW(compare<T>(x, y, wx, wy, bad), InvalidArgument);
}

}  // namespace
}  // namespace popalign::metrics
