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

/// Per-row tolerance of the direct distance: k u (1 + E_i), E_i = the largest |h_j - max h -
/// c |x_i - y_j|^2| over the terms within exp(-20) of the row's largest one (smaller terms carry
/// less than 1e-8 of the sum). The T exponent error of the direct distance is a few units of
/// roundoff times these exponents (no cancellation); k = 4 (d + 3) is a safety factor.
template <class X>
Vector<double> direct_tolerance(const RowMatrix<X>& x, const RowMatrix<X>& y,
                                const Vector<double>& h, double c, double u, double extra = 1.0) {
  Vector<double> tol(x.rows());
  const double hmax = h.maxCoeff();
  for (Index i = 0; i < x.rows(); ++i) {
    std::vector<double> e(static_cast<std::size_t>(y.rows()));
    double mx = -std::numeric_limits<double>::infinity();
    for (Index j = 0; j < y.rows(); ++j) {
      const double d2 =
          (x.row(i).template cast<double>() - y.row(j).template cast<double>()).squaredNorm();
      e[static_cast<std::size_t>(j)] = h[j] - c * d2;
      mx = std::max(mx, e[static_cast<std::size_t>(j)]);
    }
    double worst = 0;
    for (double v : e)
      if (v > mx - 20) worst = std::max(worst, std::abs(v - hmax));
    tol[i] = 4.0 * static_cast<double>(x.cols() + 3) * u * (1.0 + extra * worst);
  }
  return tol;
}

// The direct distance has no cancellation. Two modes 2000 sd apart (the common mean in between):
// the default expansion loses ~u c R^2 = 6e-8 * 0.5 * 1e6 = 0.03 in f32 there (asserted, so
// that this test keeps exercising the case the direct distance exists for); the direct distance
// stays within a few units of roundoff times the exponents that matter.
TYPED_TEST(GaussianLseTest, DirectDistanceIsAccurateForSeparatedModes) {
  using T = TypeParam;
  Rng rng(31);
  struct Shape {
    Index n, m, d;
    double c;
  };
  const Shape shapes[] = {
      {1, 1, 1, 0.5}, {67, 300, 5, 0.5}, {130, 1029, 5, 2.0}, {33, 77, 17, 0.1}};
  const double u = std::is_same_v<T, float> ? 6e-8 : 1.2e-16;
  for (const auto& s : shapes) {
    RowMatrix<T> x = random_cloud<T>(s.n, s.d, 0.0, rng);
    RowMatrix<T> y = random_cloud<T>(s.m, s.d, 0.2, rng);
    for (Index i = 0; i < s.n; ++i) x(i, 0) += static_cast<T>(i % 2 ? 1000 : -1000);
    for (Index j = 0; j < s.m; ++j) y(j, 0) += static_cast<T>(j % 2 ? 1000 : -1000);
    Vector<double> h(s.m);
    for (Index j = 0; j < s.m; ++j) h[j] = rng.normal(0.0, 2.0);
    const Vector<double> ref = direct_lse<T>(x, y, h, s.c);
    LseOptions opt{.tile_cols = 64, .distance = LseDistance::direct};
    const Vector<double> got = gaussian_lse<T>(x, y, h, s.c, opt);
    const Vector<double> tol = direct_tolerance<T>(x, y, h, s.c, u);
    for (Index i = 0; i < s.n; ++i)
      ASSERT_NEAR(got[i], ref[i], tol[i])
          << "n=" << s.n << " m=" << s.m << " d=" << s.d << " i=" << i;
    if (std::is_same_v<T, float> && s.n > 1) {
      const Vector<double> expansion = gaussian_lse<T>(x, y, h, s.c);
      EXPECT_GT((expansion - ref).cwiseAbs().maxCoeff(), 100 * tol.maxCoeff());
    }
  }
}

// gaussian_lse_mixed: double inputs, T arithmetic. With local origins the coordinates are
// rounded to T only after the group mean is subtracted in double, so inputs 1e4 sd from the
// origin (where rounding them to float alone costs ~1e-3 in the exponent) keep f32 accuracy.
TYPED_TEST(GaussianLseTest, MixedPrecisionKeepsAccuracyOfDoubleInputs) {
  using T = TypeParam;
  Rng rng(5);
  const Index n = 700, m = 900, d = 5;
  RowMatrix<double> x(n, d), y(m, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) x(i, k) = 1e4 + 3.0 * rng.normal();
  for (Index j = 0; j < m; ++j)
    for (Index k = 0; k < d; ++k) y(j, k) = 1e4 + 3.0 * rng.normal();
  Vector<double> h(m);
  for (Index j = 0; j < m; ++j) h[j] = rng.normal(0.0, 0.5);
  const double c = 0.5;
  const Vector<double> ref = direct_lse<double>(x, y, h, c);
  const LseOptions opt{.local_origin = true, .distance = LseDistance::direct};
  const Vector<double> got = gaussian_lse_mixed<T>(x, y, h, c, opt);
  // Float: the exponent error is ~u (d + 3) (c (r + |x_i - y_j|)^2 + |h_j - hmax|) for the
  // relevant terms, r the radius of the row's group (~ |x_i - y_j| here: extra factor 4).
  // Double: plain gaussian_lse<double> on inputs 1e4 from the origin (common mean).
  const double u = std::is_same_v<T, float> ? 6e-8 : 1.2e-16;
  const Vector<double> tol = direct_tolerance<double>(x, y, h, c, u, 4.0);
  double worst = 0;
  for (Index i = 0; i < n; ++i) {
    EXPECT_NEAR(got[i], ref[i], tol[i] + (std::is_same_v<T, float> ? 0.0 : 1e-15 * c * 1e3));
    worst = std::max(worst, std::abs(got[i] - ref[i]));
  }
  if constexpr (std::is_same_v<T, float>) {
    // The same in gaussian_lse<float> on float-rounded inputs: the input rounding dominates.
    const RowMatrix<float> xf = x.cast<float>(), yf = y.cast<float>();
    const Vector<double> rounded = gaussian_lse<float>(xf, yf, h, c, opt);
    Index outside = 0;
    for (Index i = 0; i < n; ++i) outside += std::abs(rounded[i] - ref[i]) > tol[i] ? 1 : 0;
    EXPECT_GT(outside, n / 2);
    EXPECT_LT(worst, 1e-5);
    // Same bytes with other thread counts and row tiles.
    LseOptions three = opt;
    three.execution.threads = 3;
    three.tile_rows = 8;
    const Vector<double> again = gaussian_lse_mixed<T>(x, y, h, c, three);
    ASSERT_EQ(0,
              std::memcmp(got.data(), again.data(), sizeof(double) * static_cast<std::size_t>(n)));
  } else {
    // T = double: exactly gaussian_lse<double>.
    const Vector<double> plain = gaussian_lse<double>(x, y, h, c, opt);
    ASSERT_EQ(0,
              std::memcmp(got.data(), plain.data(), sizeof(double) * static_cast<std::size_t>(n)));
  }
}

// recompute_below: rows whose every term has a large exponent (queries far from every y) are
// evaluated again in double, so they match the double reference to ~1e-13; the others keep the
// f32 result.
TYPED_TEST(GaussianLseTest, RecomputeBelowEvaluatesIsolatedRowsInDouble) {
  using T = TypeParam;
  Rng rng(17);
  const Index n = 300, m = 500, d = 3;
  RowMatrix<double> x(n, d), y(m, d);
  for (Index j = 0; j < m; ++j)
    for (Index k = 0; k < d; ++k) y(j, k) = rng.normal();
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k)
      x(i, k) = rng.normal() + (i % 7 == 0 && k == 1 ? 12.0 : 0.0);  // every 7th row isolated
  const Vector<double> h = Vector<double>::Constant(m, -std::log(static_cast<double>(m)));
  const double c = 2.0;
  const Vector<double> ref = direct_lse<double>(x, y, h, c);
  LseOptions opt{.local_origin = true, .distance = LseDistance::direct, .recompute_below = 4.0};
  const Vector<double> got = gaussian_lse_mixed<T>(x, y, h, c, opt);
  LseOptions plain = opt;
  plain.recompute_below = 0.0;
  const Vector<double> f32 = gaussian_lse_mixed<T>(x, y, h, c, plain);
  Index recomputed = 0;
  for (Index i = 0; i < n; ++i) {
    // Isolated rows: the largest term is exp(-c * (12 - a few)^2) << exp(-4).
    if (i % 7 == 0) {
      ASSERT_NEAR(got[i], ref[i], 1e-12 * (1.0 + std::abs(ref[i]))) << "i=" << i;
      if (got[i] != f32[i]) ++recomputed;
    } else if (ref[i] - h[0] > -1.0) {
      // Rows with a near neighbour are not recomputed: the f32 bytes are kept.
      ASSERT_EQ(got[i], f32[i]) << "i=" << i;
    }
  }
  // For float the isolated rows' f32 values carry the rounding of exponents ~ c * 100.
  if (std::is_same_v<T, float>) {
    EXPECT_GT(recomputed, 0);
  }
  // The T-input entry point recomputes from the T values (as double).
  const RowMatrix<T> xt = x.template cast<T>(), yt = y.template cast<T>();
  const Vector<double> ref_t = direct_lse<T>(xt, yt, h, c);
  const Vector<double> got_t = gaussian_lse<T>(xt, yt, h, c, opt);
  for (Index i = 0; i < n; i += 7)
    ASSERT_NEAR(got_t[i], ref_t[i], 1e-12 * (1.0 + std::abs(ref_t[i])));
  // Same bytes with other thread counts.
  LseOptions three = opt;
  three.execution.threads = 3;
  const Vector<double> again = gaussian_lse_mixed<T>(x, y, h, c, three);
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
  bad = {};
  bad.recompute_below = -1.0;
  expect_arg([&] { gaussian_lse<T>(x, y, h, 1.0, bad); }, "recompute_below");
  bad.recompute_below = std::nan("");
  expect_arg([&] { gaussian_lse<T>(x, y, h, 1.0, bad); }, "recompute_below");
  bad = {};
  bad.distance = static_cast<LseDistance>(7);
  expect_arg([&] { gaussian_lse<T>(x, y, h, 1.0, bad); }, "distance");
  // The mixed-precision entry point checks the same arguments.
  const RowMatrix<double> xd = x.template cast<double>(), y3d = y3.template cast<double>();
  expect_arg([&] { gaussian_lse_mixed<T>(xd, y3d, h, 1.0); }, "y");
  expect_arg([&] { gaussian_lse_mixed<T>(xd, y.template cast<double>(), h, -1.0); }, "c");
  RowMatrix<double> yn = y.template cast<double>();
  yn(0, 0) = std::numeric_limits<double>::infinity();
  expect_arg([&] { gaussian_lse_mixed<T>(xd, yn, h, 1.0); }, "y");
  (void)out;
}

TYPED_TEST(GaussianLseTest, CancellationThrows) {
  using T = TypeParam;
  RowMatrix<T> x = RowMatrix<T>::Zero(100, 2), y = RowMatrix<T>::Zero(10, 2);
  LseOptions opt;
  opt.execution.cancel.cancel();
  EXPECT_THROW(gaussian_lse<T>(x, y, Vector<double>::Zero(10), 1.0, opt), Cancelled);
  opt.local_origin = true;
  opt.distance = LseDistance::direct;
  EXPECT_THROW(gaussian_lse_mixed<T>(x.template cast<double>(), y.template cast<double>(),
                                     Vector<double>::Zero(10), 1.0, opt),
               Cancelled);
}

}  // namespace
}  // namespace popalign::kernels
