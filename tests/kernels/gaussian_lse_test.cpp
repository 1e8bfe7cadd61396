#include <popalign/kernels/gaussian_lse.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <popalign/core/random.hpp>

namespace popalign::kernels {
namespace {

template <class T>
RowMatrix<T> random_cloud(Index n, Index d, double shift, Rng& rng) {
  RowMatrix<T> out(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) out(i, k) = static_cast<T>(rng.normal(shift, 1.0));
  return out;
}

/// Direct double-precision reference: two-pass max-shifted sum over the T-rounded inputs.
template <class T>
Vector<double> direct_lse(const RowMatrix<T>& x, const RowMatrix<T>& y, const Vector<double>& h,
                          double c) {
  Vector<double> out(x.rows());
  for (Index i = 0; i < x.rows(); ++i) {
    std::vector<double> e(static_cast<std::size_t>(y.rows()));
    double mx = -std::numeric_limits<double>::infinity();
    for (Index j = 0; j < y.rows(); ++j) {
      double d2 = 0;
      for (Index k = 0; k < x.cols(); ++k) {
        const double diff = static_cast<double>(x(i, k)) - static_cast<double>(y(j, k));
        d2 += diff * diff;
      }
      e[static_cast<std::size_t>(j)] = h[j] - c * d2;
      mx = std::max(mx, e[static_cast<std::size_t>(j)]);
    }
    if (!(mx > -std::numeric_limits<double>::infinity())) {
      out[i] = mx;
      continue;
    }
    double s = 0;
    for (double v : e) s += std::exp(v - mx);
    out[i] = mx + std::log(s);
  }
  return out;
}

template <class T>
class GaussianLseTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GaussianLseTest, Scalars);

/// Largest squared distance of a point of x or y from their common mean.
template <class T>
double radius2(const RowMatrix<T>& x, const RowMatrix<T>& y) {
  Eigen::RowVectorXd mean =
      (x.template cast<double>().colwise().sum() + y.template cast<double>().colwise().sum()) /
      static_cast<double>(x.rows() + y.rows());
  double r2 = 0;
  for (Index i = 0; i < x.rows(); ++i)
    r2 = std::max(r2, (x.row(i).template cast<double>() - mean).squaredNorm());
  for (Index j = 0; j < y.rows(); ++j)
    r2 = std::max(r2, (y.row(j).template cast<double>() - mean).squaredNorm());
  return r2;
}

template <class T>
double tolerance(double c, double spread2) {
  // Absolute error of the exponent: unit roundoff * c * (data radius)^2, with a safety factor.
  const double u = std::is_same_v<T, float> ? 6e-8 : 1.2e-16;
  return 16.0 * u * (1.0 + c * spread2);
}

TYPED_TEST(GaussianLseTest, MatchesDirectSumOnSeveralShapes) {
  using T = TypeParam;
  struct Shape {
    Index n, m, d;
    double c;
  };
  const Shape shapes[] = {{1, 1, 1, 0.5},      {7, 13, 2, 1.0},   {67, 300, 5, 0.7},
                          {130, 1029, 5, 3.0}, {33, 77, 17, 0.1}, {5, 2049, 3, 20.0}};
  Rng rng(42);
  for (const auto& s : shapes) {
    const RowMatrix<T> x = random_cloud<T>(s.n, s.d, 0.3, rng);
    const RowMatrix<T> y = random_cloud<T>(s.m, s.d, -0.2, rng);
    Vector<double> h(s.m);
    for (Index j = 0; j < s.m; ++j) h[j] = rng.normal(0.0, 2.0);
    const Vector<double> ref = direct_lse<T>(x, y, h, s.c);
    LseOptions opt;
    opt.tile_cols = 64;  // several tiles even for small m
    const Vector<double> got = gaussian_lse<T>(x, y, h, s.c, opt);
    const Vector<double> got_auto = gaussian_lse<T>(x, y, h, s.c);
    const double tol = tolerance<T>(s.c, radius2<T>(x, y));
    for (Index i = 0; i < s.n; ++i) {
      ASSERT_NEAR(got[i], ref[i], tol) << "n=" << s.n << " m=" << s.m << " d=" << s.d << " i=" << i;
      ASSERT_NEAR(got_auto[i], ref[i], tol);
    }
  }
}

TYPED_TEST(GaussianLseTest, LargeExponentRangeStaysAccurate) {
  // Strongly varying weights and a sharp kernel force many rescalings of the running sum.
  using T = TypeParam;
  Rng rng(7);
  const RowMatrix<T> x = random_cloud<T>(50, 3, 0.0, rng);
  const RowMatrix<T> y = random_cloud<T>(700, 3, 0.0, rng);
  Vector<double> h(700);
  for (Index j = 0; j < 700; ++j) h[j] = 5.0 * static_cast<double>(j) + 1e4;  // increasing
  const double c = 50.0;
  const Vector<double> ref = direct_lse<T>(x, y, h, c);
  LseOptions opt;
  opt.tile_cols = 32;
  const Vector<double> got = gaussian_lse<T>(x, y, h, c, opt);
  for (Index i = 0; i < 50; ++i)
    EXPECT_NEAR(got[i], ref[i], tolerance<T>(c, radius2<T>(x, y)) + 1e-9 * std::abs(ref[i]));
}

TYPED_TEST(GaussianLseTest, NegativeInfinityWeights) {
  using T = TypeParam;
  Rng rng(3);
  const RowMatrix<T> x = random_cloud<T>(9, 4, 0.0, rng);
  const RowMatrix<T> y = random_cloud<T>(200, 4, 0.0, rng);
  Vector<double> h = Vector<double>::Zero(200);
  for (Index j = 0; j < 200; j += 3) h[j] = -std::numeric_limits<double>::infinity();
  const Vector<double> ref = direct_lse<T>(x, y, h, 1.0);
  LseOptions opt;
  opt.tile_cols = 40;
  const Vector<double> got = gaussian_lse<T>(x, y, h, 1.0, opt);
  for (Index i = 0; i < 9; ++i) EXPECT_NEAR(got[i], ref[i], tolerance<T>(1.0, radius2<T>(x, y)));
  // A whole tile of -inf in the middle.
  h.setZero();
  h.segment(40, 80).setConstant(-std::numeric_limits<double>::infinity());
  const Vector<double> ref2 = direct_lse<T>(x, y, h, 1.0);
  const Vector<double> got2 = gaussian_lse<T>(x, y, h, 1.0, opt);
  for (Index i = 0; i < 9; ++i) EXPECT_NEAR(got2[i], ref2[i], tolerance<T>(1.0, radius2<T>(x, y)));
  // Every weight zero: -inf.
  h.setConstant(-std::numeric_limits<double>::infinity());
  const Vector<double> got3 = gaussian_lse<T>(x, y, h, 1.0);
  for (Index i = 0; i < 9; ++i) EXPECT_EQ(got3[i], -std::numeric_limits<double>::infinity());
  // Empty y: empty sum.
  const RowMatrix<T> empty(0, 4);
  const Vector<double> got4 = gaussian_lse<T>(x, empty, Vector<double>(0), 1.0);
  for (Index i = 0; i < 9; ++i) EXPECT_EQ(got4[i], -std::numeric_limits<double>::infinity());
}

TYPED_TEST(GaussianLseTest, SingleTermIsExact) {
  // With one y point the result is h - c ||x - y||^2: checks the row/column bookkeeping.
  using T = TypeParam;
  RowMatrix<T> x(2, 2), y(1, 2);
  x << T(1), T(2), T(-1), T(0.5);
  y << T(0.5), T(-1);
  Vector<double> h(1);
  h << 3.0;
  const Vector<double> got = gaussian_lse<T>(x, y, h, 2.0);
  EXPECT_NEAR(got[0], 3.0 - 2.0 * (0.25 + 9.0), 1e-4);
  EXPECT_NEAR(got[1], 3.0 - 2.0 * (2.25 + 2.25), 1e-4);
}

TYPED_TEST(GaussianLseTest, ThreadCountDoesNotChangeBytes) {
  using T = TypeParam;
  Rng rng(11);
  const RowMatrix<T> x = random_cloud<T>(1001, 5, 0.0, rng);
  const RowMatrix<T> y = random_cloud<T>(517, 5, 0.5, rng);
  Vector<double> h(517);
  for (Index j = 0; j < 517; ++j) h[j] = rng.normal();
  LseOptions one, three;
  one.execution.threads = 1;
  three.execution.threads = 3;
  three.tile_rows = 8;
  const Vector<double> a = gaussian_lse<T>(x, y, h, 2.0, one);
  const Vector<double> b = gaussian_lse<T>(x, y, h, 2.0, three);
  ASSERT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(double) * 1001));
  // With a progress callback the rows are processed in blocks: still the same bytes.
  LseOptions prog = three;
  int calls = 0;
  prog.execution.progress = [&](std::string_view, double) {
    ++calls;
    return false;
  };
  const Vector<double> c = gaussian_lse<T>(x, y, h, 2.0, prog);
  EXPECT_GT(calls, 1);
  ASSERT_EQ(0, std::memcmp(a.data(), c.data(), sizeof(double) * 1001));
}

// Points far from the data mean: 10% of a KDE sample sits in a cluster 20 sd away. f32 rows are
// re-centred per spatially compact group, so the f32 exponent error is bounded by the spread of
// each point's own cluster, not by its distance from the global mean (the single-origin kernel
// gave 1.6e-4 here, 25x this tolerance: about u c (20 sd)^2, with c ~ 2.3 / sd^2).
TYPED_TEST(GaussianLseTest, OutlyingClusterKeepsLocalAccuracy) {
  using T = TypeParam;
  const Index n = 1000, d = 5;
  Rng rng(23);
  RowMatrix<T> x(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k)
      x(i, k) = static_cast<T>(rng.normal() + (i % 10 == 3 && k == 0 ? 20.0 : 0.0));
  // Largest squared distance of a point from the mean of its own cluster.
  double local2 = 0;
  for (int cluster = 0; cluster < 2; ++cluster) {
    Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(d);
    Index count = 0;
    for (Index i = 0; i < n; ++i)
      if ((i % 10 == 3) == (cluster == 1)) {
        mean += x.row(i).template cast<double>();
        ++count;
      }
    mean /= static_cast<double>(count);
    for (Index i = 0; i < n; ++i)
      if ((i % 10 == 3) == (cluster == 1))
        local2 = std::max(local2, (x.row(i).template cast<double>() - mean).squaredNorm());
  }
  const double bw = std::pow(static_cast<double>(n), -1.0 / (d + 4));  // Scott, unit sd
  const double c = 1.0 / (2.0 * bw * bw);
  const Vector<double> h = Vector<double>::Constant(n, -std::log(static_cast<double>(n)));
  LseOptions local;
  local.local_origin = true;
  const Vector<double> got = gaussian_lse<T>(x, x, h, c, local);
  const Vector<double> want = direct_lse<T>(x, x, h, c);
  // f32 rows are re-centred per spatial group: bounded by the local radius. f64 keeps the input
  // order (its global bound, ~1e-13 here, is far below any use) and is checked against that.
  const double tol = std::is_same_v<T, float> ? 3.0 * 6e-8 * (1.0 + c * local2)
                                              : tolerance<T>(c, radius2<T>(x, x));
  double worst = 0;
  for (Index i = 0; i < n; ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  // |out - ref| is the relative error of the density exp(out).
  EXPECT_LE(worst, tol) << "worst = " << worst << ", tol = " << tol << ", c = " << c
                        << ", local radius^2 = " << local2
                        << ", global radius^2 = " << radius2<T>(x, x);
  // Same bytes with other thread counts and row tiles.
  LseOptions local3 = local;
  local3.execution.threads = 3;
  local3.tile_rows = 8;
  const Vector<double> again = gaussian_lse<T>(x, x, h, c, local3);
  ASSERT_EQ(0, std::memcmp(got.data(), again.data(), sizeof(double) * static_cast<std::size_t>(n)));
}

TYPED_TEST(GaussianLseTest, BadArgumentsThrowNamingTheArgument) {
  using T = TypeParam;
  RowMatrix<T> x = RowMatrix<T>::Zero(3, 2), y = RowMatrix<T>::Zero(4, 2),
               y3 = RowMatrix<T>::Zero(4, 3);
  Vector<double> h = Vector<double>::Zero(4), out(3);
  auto expect_arg = [](auto&& fn, const std::string& name) {
    try {
      fn();
      ADD_FAILURE() << "no throw for " << name;
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.argument(), name);
    }
  };
  expect_arg([&] { gaussian_lse<T>(x, y3, h, 1.0); }, "y");
  expect_arg([&] { gaussian_lse<T>(x, y, Vector<double>::Zero(3), 1.0); }, "h");
  expect_arg([&] { gaussian_lse<T>(x, y, h, 0.0); }, "c");
  expect_arg([&] { gaussian_lse<T>(x, y, h, std::nan("")); }, "c");
  Vector<double> hn = h;
  hn[2] = std::nan("");
  expect_arg([&] { gaussian_lse<T>(x, y, hn, 1.0); }, "h");
  Vector<double> wrong(2);
  expect_arg([&] { gaussian_lse<T>(x, y, h, 1.0, wrong); }, "out");
  RowMatrix<T> xn = x;
  xn(1, 1) = std::numeric_limits<T>::quiet_NaN();
  expect_arg([&] { gaussian_lse<T>(xn, y, h, 1.0); }, "x");
  LseOptions bad;
  bad.tile_cols = -1;
  expect_arg([&] { gaussian_lse<T>(x, y, h, 1.0, bad); }, "tile_cols");
  bad = {};
  bad.execution.threads = -2;
  expect_arg([&] { gaussian_lse<T>(x, y, h, 1.0, bad); }, "threads");
  (void)out;
}

TYPED_TEST(GaussianLseTest, CancellationThrows) {
  using T = TypeParam;
  RowMatrix<T> x = RowMatrix<T>::Zero(100, 2), y = RowMatrix<T>::Zero(10, 2);
  LseOptions opt;
  opt.execution.cancel.cancel();
  EXPECT_THROW(gaussian_lse<T>(x, y, Vector<double>::Zero(10), 1.0, opt), Cancelled);
}

}  // namespace
}  // namespace popalign::kernels
