#include <popalign/metrics/univariate.hpp>

#include <gtest/gtest.h>

#include "density/reference_file.hpp"

namespace popalign::metrics {
namespace {

template <class T>
class UnivariateTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(UnivariateTest, Scalars);

const testing::ReferenceFile& ref() {
  static const testing::ReferenceFile r(POPALIGN_TEST_DATA_DIR "/metrics/metrics_reference.txt");
  return r;
}

template <class T>
double tol() {
  return sizeof(T) == 4 ? 2e-6 : 1e-12;
}

TYPED_TEST(UnivariateTest, MatchesScipyWassersteinAndKs) {
  using T = TypeParam;
  for (const std::string p : {"one_d", "ties"}) {
    const Vector<T> u = ref().vector(p + ".u").cast<T>();
    const Vector<T> v = ref().vector(p + ".v").cast<T>();
    const Vector<double> uw = ref().vector(p + ".uw"), vw = ref().vector(p + ".vw");
    const double s = 1.0 + std::abs(ref().scalar(p + ".w1"));
    EXPECT_NEAR(wasserstein_1d<T>(u, v, uw, vw), ref().scalar(p + ".w1"), tol<T>() * s) << p;
    EXPECT_NEAR(wasserstein_1d<T>(u, v), ref().scalar(p + ".w1_unweighted"), tol<T>() * s) << p;
    EXPECT_NEAR(ks_1d<T>(u, v), ref().scalar(p + ".ks_unweighted"), 1e-12) << p;
    EXPECT_NEAR(ks_1d<T>(u, v, uw, vw), ref().scalar(p + ".ks"), 1e-12) << p;
  }
}

TYPED_TEST(UnivariateTest, PerColumnMetricsMatchReference) {
  using T = TypeParam;
  const RowMatrix<T> x = ref().array("multi.x").cast<T>();
  const RowMatrix<T> y = ref().array("multi.y").cast<T>();
  const Vector<double> wx = ref().vector("multi.wx"), wy = ref().vector("multi.wy");
  const Vector<double> w1 = column_wasserstein1<T>(x, y, wx, wy);
  const Vector<double> ks = column_ks<T>(x, y, wx, wy);
  const Vector<double> ew1 = ref().vector("multi.w1_cols"), eks = ref().vector("multi.ks_cols");
  for (Index k = 0; k < 3; ++k) {
    EXPECT_NEAR(w1[k], ew1[k], tol<T>() * 4);
    EXPECT_NEAR(ks[k], eks[k], 1e-12);
  }
  const Vector<double> mx = weighted_mean<T>(x, wx), sx = weighted_sd<T>(x, wx);
  const Vector<double> emx = ref().vector("multi.mean_x"), esx = ref().vector("multi.sd_x");
  for (Index k = 0; k < 3; ++k) {
    EXPECT_NEAR(mx[k], emx[k], tol<T>() * 4);
    EXPECT_NEAR(sx[k], esx[k], tol<T>() * 4);
  }
  const Vector<double> mg = mean_gap<T>(x, y, wx, wy);
  const Vector<double> sg = sd_gap<T>(x, y, wx, wy);
  const Vector<double> my = weighted_mean<T>(y, wy), sy = weighted_sd<T>(y, wy);
  for (Index k = 0; k < 3; ++k) {
    EXPECT_NEAR(mg[k], mx[k] - my[k], 1e-14);
    EXPECT_NEAR(sg[k], sx[k] - sy[k], 1e-14);
  }
}

// Known answers: shifting a sample by c moves W_p by exactly |c|; W_2 between point masses.
TYPED_TEST(UnivariateTest, KnownAnswers) {
  using T = TypeParam;
  Vector<T> a(5), b(5);
  a << T(0), T(1), T(2), T(3), T(4);
  b = a.array() + T(0.5);
  EXPECT_NEAR(wasserstein_1d<T>(a, b), 0.5, 1e-7);
  EXPECT_NEAR(wasserstein_1d<T>(a, b, Vector<double>(), Vector<double>(), 2.0), 0.5, 1e-7);
  EXPECT_NEAR(ks_1d<T>(a, b), 0.2, 1e-12);
  EXPECT_EQ(wasserstein_1d<T>(a, a), 0.0);
  EXPECT_EQ(ks_1d<T>(a, a), 0.0);
  // Weights move mass: a = {0 (w=3), 1 (w=1)} vs b = {0, 1} uniform: W1 = |0.75 - 0.5| = 0.25.
  Vector<T> p(2);
  p << T(0), T(1);
  Vector<double> wp(2);
  wp << 3, 1;
  EXPECT_NEAR(wasserstein_1d<T>(p, p, wp), 0.25, 1e-15);
  EXPECT_NEAR(ks_1d<T>(p, p, wp), 0.25, 1e-15);
}

TYPED_TEST(UnivariateTest, BadArgumentsThrowNamingThem) {
  using T = TypeParam;
  auto arg_of = [](auto&& f) {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return e.argument();
    }
    return std::string("none");
  };
  const RowMatrix<T> x = RowMatrix<T>::Random(10, 2), y3 = RowMatrix<T>::Random(10, 3);
  EXPECT_EQ(arg_of([&] { column_wasserstein1<T>(x, y3); }), "b");
  EXPECT_EQ(arg_of([&] { column_ks<T>(RowMatrix<T>(0, 2), x); }), "a");
  Vector<double> w = Vector<double>::Ones(10);
  w[1] = -1;
  EXPECT_EQ(arg_of([&] { column_wasserstein1<T>(x, x, w); }), "a_weights");
  w[1] = std::nan("");
  EXPECT_EQ(arg_of([&] { mean_gap<T>(x, x, Vector<double>(), w); }), "b_weights");
  EXPECT_EQ(arg_of([&] { sd_gap<T>(x, x, Vector<double>::Ones(3)); }), "a_weights");
  RowMatrix<T> bad = x;
  bad(0, 0) = std::numeric_limits<T>::infinity();
  EXPECT_EQ(arg_of([&] { column_ks<T>(x, bad); }), "b");
  const Vector<T> e;
  EXPECT_EQ(arg_of([&] { wasserstein_1d<T>(e, x.col(0)); }), "a");
  const Vector<T> c0 = x.col(0);
  EXPECT_EQ(arg_of([&] { wasserstein_1d<T>(c0, c0, Vector<double>(), Vector<double>(), 0.5); }),
            "p");
}

}  // namespace
}  // namespace popalign::metrics
