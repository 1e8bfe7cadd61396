#include <popalign/density/kde_tree.hpp>

#include <gtest/gtest.h>

#include <cmath>

#include <popalign/core/random.hpp>

namespace popalign::density {
namespace {

template <class T>
class TreeKdeTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(TreeKdeTest, Scalars);

template <class T>
RowMatrix<T> sample(Index n, Index d, Rng& rng, double scale) {
  RowMatrix<T> x(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) x(i, k) = static_cast<T>(scale * rng.normal());
  return x;
}

TYPED_TEST(TreeKdeTest, TruncationStaysWithinTheStatedBound) {
  using T = TypeParam;
  Rng rng(12);
  const RowMatrix<T> x = sample<T>(5000, 2, rng, 1.0);
  const RowMatrix<T> q = sample<T>(300, 2, rng, 1.5);
  Vector<double> w(5000);
  for (Index i = 0; i < 5000; ++i) w[i] = 0.5 + rng.uniform();
  const Kde<T> kde(x, w);
  // The reference is the exact KDE in double on the same (T-rounded) data: the float exact
  // KDE carries its own rounding error, which grows with the distance to the data mean.
  const RowMatrix<double> xd = x.template cast<double>(), qd = q.template cast<double>();
  const Vector<double> exact = Kde<double>(xd, w).log_density(qd);
  for (double tol : {1e-3, 1e-8}) {
    const TreeKde<T> tree(kde, TreeKdeOptions{.tolerance = tol});
    const TreeKdeResult r = tree.log_density(q);
    EXPECT_LT(r.mean_neighbours, 5000.0);  // the truncation really truncates
    const double rounding = sizeof(T) == 4 ? 2e-5 : 1e-12;
    for (Index i = 0; i < q.rows(); ++i) {
      const double pe = std::exp(exact[i]), pt = std::exp(r.log_density[i]);
      const double bound = std::exp(r.log_error_bound[i]);
      EXPECT_LE(pt, pe * (1 + rounding)) << i;         // a lower bound ...
      EXPECT_LE(pe - pt, bound + rounding * pe) << i;  // ... within the stated bound
      EXPECT_LE(bound, tol * std::exp(kde.log_normalizer()) * (1 + 1e-12));
    }
    EXPECT_GE(r.max_relative_error, 0.0);
  }
  const TreeKde<T> tight(kde, TreeKdeOptions{.tolerance = 1e-12});
  const TreeKdeResult r = tight.log_density(q);
  // Where the stated relative bound is tiny, the truncated value equals the exact one.
  Index checked = 0;
  for (Index i = 0; i < q.rows(); ++i) {
    if (r.log_error_bound[i] - r.log_density[i] > std::log(1e-10)) continue;
    EXPECT_NEAR(r.log_density[i], exact[i], sizeof(T) == 4 ? 5e-5 : 1e-9);
    ++checked;
  }
  EXPECT_GT(checked, q.rows() / 2);
}

TYPED_TEST(TreeKdeTest, BadTolerance) {
  using T = TypeParam;
  Rng rng(1);
  const RowMatrix<T> x = sample<T>(50, 2, rng, 1.0);
  const Kde<T> kde(x);
  try {
    TreeKde<T> t(kde, TreeKdeOptions{.tolerance = 0.0});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "tolerance");
  }
}

}  // namespace
}  // namespace popalign::density
