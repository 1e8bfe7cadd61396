#include <popalign/metrics/sliced.hpp>

#include <gtest/gtest.h>

#include "density/reference_file.hpp"

namespace popalign::metrics {
namespace {

template <class T>
class SlicedTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SlicedTest, Scalars);

TYPED_TEST(SlicedTest, MatchesPotWithTheSameProjections) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/metrics/metrics_reference.txt");
  const RowMatrix<T> x = ref.array("multi.x").cast<T>();
  const RowMatrix<T> y = ref.array("multi.y").cast<T>();
  const RowMatrix<double> dirs = ref.array("multi.directions");
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-12;
  for (int p : {1, 2}) {
    SlicedOptions opt;
    opt.p = p;
    const double got =
        sliced_wasserstein<T>(x, y, ref.vector("multi.wx"), ref.vector("multi.wy"), dirs, opt);
    EXPECT_NEAR(got, ref.scalar("multi.sliced_p" + std::to_string(p)), tol) << p;
  }
}

// Two Gaussians N(0, I) and N(m, I) in d = 3: every projection is a 1-D shift by <theta, m>, so
// SW_2^2 = E[<theta, m>^2] = |m|^2 / d exactly; large samples and many directions agree.
TYPED_TEST(SlicedTest, LargeSampleAgreesWithClosedForm) {
  using T = TypeParam;
  Rng rng(5);
  const Index n = 5000, d = 3;
  RowMatrix<T> a(n, d), b(n, d);
  const double m[3] = {1.0, -0.5, 0.25};
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) {
      a(i, k) = static_cast<T>(rng.normal());
      b(i, k) = static_cast<T>(rng.normal() + m[k]);
    }
  SlicedOptions opt;
  opt.n_projections = 400;
  opt.seed = 9;
  const double sw = sliced_wasserstein<T>(a, b, Vector<double>(), Vector<double>(), opt);
  const double expected = std::sqrt((1.0 + 0.25 + 0.0625) / 3.0);
  EXPECT_NEAR(sw, expected, 0.05);
  // Deterministic: same seed, same value, whatever the threads.
  SlicedOptions one = opt;
  one.execution.threads = 1;
  EXPECT_EQ(sw, sliced_wasserstein<T>(a, b, Vector<double>(), Vector<double>(), one));
}

TEST(SlicedDirections, AreUnitAndSeeded) {
  const RowMatrix<double> d1 = random_directions(50, 4, 3), d2 = random_directions(50, 4, 3);
  EXPECT_EQ(d1, d2);
  for (Index l = 0; l < 50; ++l) EXPECT_NEAR(d1.row(l).norm(), 1.0, 1e-14);
  EXPECT_NE(d1, random_directions(50, 4, 4));
}

TYPED_TEST(SlicedTest, BadArguments) {
  using T = TypeParam;
  const RowMatrix<T> x = RowMatrix<T>::Random(10, 2);
  SlicedOptions opt;
  opt.n_projections = 0;
  try {
    sliced_wasserstein<T>(x, x, Vector<double>(), Vector<double>(), opt);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "n_projections");
  }
  try {
    sliced_wasserstein<T>(x, x, Vector<double>(), Vector<double>(), RowMatrix<double>::Ones(3, 3));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "directions");
  }
}

}  // namespace
}  // namespace popalign::metrics
