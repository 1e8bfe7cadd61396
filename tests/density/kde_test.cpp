#include <popalign/density/kde.hpp>

#include <gtest/gtest.h>

#include <Eigen/LU>

#include <cmath>
#include <cstring>
#include <numbers>

#include <popalign/core/random.hpp>

#include "density/reference_file.hpp"

namespace popalign::density {
namespace {

template <class T>
class KdeTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(KdeTest, Scalars);

template <class T>
RowMatrix<T> gaussian_sample(Index n, Index d, Rng& rng, double shift = 0.0, double scale = 1.0) {
  RowMatrix<T> x(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) x(i, k) = static_cast<T>(shift + scale * rng.normal());
  return x;
}

/// log sum_j w_j N(q; x_j, H) by a direct double loop (no whitening, no kernel).
Eigen::VectorXd direct_log_kde(const Eigen::MatrixXd& x, const Eigen::VectorXd& w,
                               const Eigen::MatrixXd& H, const Eigen::MatrixXd& q) {
  const Index d = x.cols();
  const Eigen::MatrixXd Hinv = H.inverse();
  const double lognorm =
      -0.5 * d * std::log(2 * std::numbers::pi) - 0.5 * std::log(H.determinant());
  const double wsum = w.sum();
  Eigen::VectorXd out(q.rows());
  for (Index i = 0; i < q.rows(); ++i) {
    double s = 0.0;
    for (Index j = 0; j < x.rows(); ++j) {
      const Eigen::VectorXd diff = (q.row(i) - x.row(j)).transpose();
      s += w[j] / wsum * std::exp(-0.5 * diff.dot(Hinv * diff));
    }
    out[i] = std::log(s) + lognorm;
  }
  return out;
}

TYPED_TEST(KdeTest, MatchesDirectDoubleSumForEveryBandwidthRule) {
  using T = TypeParam;
  Rng rng(3);
  const Index n = 300, d = 3;
  RowMatrix<T> x = gaussian_sample<T>(n, d, rng);
  for (Index i = 0; i < n; ++i)
    x(i, 1) = static_cast<T>(0.6 * x(i, 0) + 0.8 * x(i, 1));  // correlated
  Vector<double> w(n);
  for (Index i = 0; i < n; ++i) w[i] = 0.2 + rng.uniform();
  const RowMatrix<T> q = gaussian_sample<T>(40, d, rng, 0.0, 1.3);
  Vector<double> diag(d);
  diag << 0.3, 0.5, 0.4;
  RowMatrix<double> full(d, d);
  full << 0.2, 0.05, 0.0, 0.05, 0.3, 0.02, 0.0, 0.02, 0.25;
  const std::vector<Bandwidth> rules{
      Bandwidth::scott(),          Bandwidth::silverman(),         Bandwidth::with_factor(0.35),
      Bandwidth::with_scalar(0.4), Bandwidth::with_diagonal(diag), Bandwidth::with_full(full)};
  for (const Bandwidth& bw : rules) {
    const Kde<T> kde(x, w, KdeOptions{.bandwidth = bw});
    const Eigen::VectorXd expected = direct_log_kde(
        x.template cast<double>(), w, kde.kernel_covariance(), q.template cast<double>());
    const Vector<double> got = kde.log_density(q);
    const double tol = sizeof(T) == 4 ? 2e-5 : 1e-11;
    for (Index i = 0; i < q.rows(); ++i)
      EXPECT_NEAR(got[i], expected[i], tol) << "rule " << static_cast<int>(bw.rule) << " row " << i;
    // The kernel covariance follows the rule.
    if (bw.rule == BandwidthRule::scalar) {
      EXPECT_TRUE(kde.kernel_covariance().isApprox(Eigen::MatrixXd::Identity(d, d) * 0.16, 1e-15));
    }
    if (bw.rule == BandwidthRule::diagonal) {
      EXPECT_TRUE(kde.kernel_covariance().isApprox(
          Eigen::MatrixXd(diag.array().square().matrix().asDiagonal()), 1e-15));
    }
    if (bw.rule == BandwidthRule::full) {
      EXPECT_TRUE(kde.kernel_covariance().isApprox(full, 1e-15));
    }
  }
}

TYPED_TEST(KdeTest, MatchesScipyGaussianKde) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/density/kde_scipy.txt");
  struct Case {
    const char* name;
    Bandwidth bw;
  };
  const std::vector<Case> cases{{"w2", Bandwidth::scott()},
                                {"w2s", Bandwidth::silverman()},
                                {"u5", Bandwidth::scott()},
                                {"f3", Bandwidth::with_factor(0.4)},
                                {"u1", Bandwidth::scott()}};
  for (const Case& c : cases) {
    const std::string name(c.name);
    const RowMatrix<T> data = ref.array(name + ".data").cast<T>();
    const Vector<double> w = ref.vector(name + ".weights");
    const RowMatrix<T> q = ref.array(name + ".queries").cast<T>();
    const Kde<T> kde(data, w, KdeOptions{.bandwidth = c.bw});
    EXPECT_NEAR(kde.factor(), ref.scalar(name + ".factor"), 1e-12) << name;
    EXPECT_NEAR(kde.effective_n(), ref.scalar(name + ".neff"), 1e-9 * data.rows()) << name;
    const Eigen::MatrixXd H = ref.array(name + ".covariance");
    const double ctol = sizeof(T) == 4 ? 1e-5 : 1e-12;
    EXPECT_LT((kde.kernel_covariance() - H).cwiseAbs().maxCoeff(), ctol * H.cwiseAbs().maxCoeff())
        << name;
    const Vector<double> expected = ref.vector(name + ".logpdf");
    const Vector<double> got = kde.log_density(q);
    const double tol = sizeof(T) == 4 ? 5e-5 : 1e-10;
    for (Index i = 0; i < q.rows(); ++i) EXPECT_NEAR(got[i], expected[i], tol) << name << " " << i;
  }
}

// Density ratio of N(0.5, 1) over N(0, 1): log r(x) = 0.5 x - 0.125. With a shared Gaussian
// kernel of variance h^2 both KDEs estimate the smoothed densities N(mu, 1 + h^2), whose log
// ratio is (0.5 x - 0.125) / (1 + h^2): the test knows the answer exactly in expectation.
TYPED_TEST(KdeTest, DensityRatioRecoversKnownGaussianRatio) {
  using T = TypeParam;
  Rng rng(17);
  const Index n = 20000;
  const RowMatrix<T> num = gaussian_sample<T>(n, 1, rng, 0.5);
  const RowMatrix<T> den = gaussian_sample<T>(n, 1, rng, 0.0);
  RowMatrix<T> pts(13, 1);
  for (Index i = 0; i < 13; ++i) pts(i, 0) = static_cast<T>(-1.5 + 0.25 * static_cast<double>(i));
  DensityRatioOptions opt;
  opt.share_bandwidth = true;
  const DensityRatioResult r = log_density_ratio<T>(num, den, pts, opt);
  const double h2 = r.numerator_bandwidth(0, 0);
  EXPECT_NEAR(h2, r.denominator_bandwidth(0, 0), 1e-15);
  for (Index i = 0; i < pts.rows(); ++i) {
    const double x = static_cast<double>(pts(i, 0));
    EXPECT_NEAR(r.log_ratio[i], (0.5 * x - 0.125) / (1 + h2), 0.06) << x;
    EXPECT_NEAR(r.log_ratio[i], r.log_numerator[i] - r.log_denominator[i], 1e-12);
  }
  EXPECT_TRUE(r.warnings.empty());
  // Separate Scott bandwidths: close to the true ratio too.
  const DensityRatioResult s = log_density_ratio<T>(num, den, pts);
  for (Index i = 0; i < pts.rows(); ++i) {
    const double x = static_cast<double>(pts(i, 0));
    EXPECT_NEAR(s.log_ratio[i], 0.5 * x - 0.125, 0.08) << x;
  }
}

TYPED_TEST(KdeTest, WarnsInHighDimension) {
  using T = TypeParam;
  Rng rng(2);
  const RowMatrix<T> hi = gaussian_sample<T>(1000, 30, rng);
  const Kde<T> khi(hi);
  ASSERT_EQ(khi.warnings().size(), 1u);
  EXPECT_NE(khi.warnings()[0].find("d = 30"), std::string::npos);
  EXPECT_NEAR(khi.factor(), std::pow(1000.0, -1.0 / 34.0), 1e-12);
  EXPECT_NEAR(khi.equivalent_factor(), khi.factor(), 1e-9);
  const RowMatrix<T> lo = gaussian_sample<T>(1000, 2, rng);
  EXPECT_TRUE(Kde<T>(lo).warnings().empty());
  // Very uneven weights are reported too.
  Vector<double> w = Vector<double>::Constant(1000, 1e-6);
  w.head(5).setOnes();
  EXPECT_FALSE(Kde<T>(lo, w).warnings().empty());
}

TYPED_TEST(KdeTest, SameBytesForAnyThreadCount) {
  using T = TypeParam;
  Rng rng(4);
  const RowMatrix<T> x = gaussian_sample<T>(2000, 4, rng);
  const RowMatrix<T> q = gaussian_sample<T>(500, 4, rng);
  KdeOptions one, two;
  one.execution.threads = 1;
  two.execution.threads = 2;
  const Vector<double> a = Kde<T>(x, one).log_density(q);
  const Vector<double> b = Kde<T>(x, two).log_density(q);
  EXPECT_EQ(0,
            std::memcmp(a.data(), b.data(), sizeof(double) * static_cast<std::size_t>(a.size())));
}

TYPED_TEST(KdeTest, ZeroWeightsAreIgnored) {
  using T = TypeParam;
  Rng rng(8);
  RowMatrix<T> x = gaussian_sample<T>(50, 2, rng);
  Vector<double> w = Vector<double>::Ones(50);
  w.tail(10).setZero();
  const RowMatrix<T> q = gaussian_sample<T>(5, 2, rng);
  const Bandwidth bw = Bandwidth::with_scalar(0.5);
  const Vector<double> a = Kde<T>(x, w, KdeOptions{.bandwidth = bw}).log_density(q);
  const RowMatrix<T> head = x.topRows(40);
  const Vector<double> b = Kde<T>(head, KdeOptions{.bandwidth = bw}).log_density(q);
  for (Index i = 0; i < 5; ++i) EXPECT_NEAR(a[i], b[i], sizeof(T) == 4 ? 1e-5 : 1e-12);
}

// Kde<float> of double data evaluates in f32 but never rounds the data or queries to float as
// a whole (local origins, direct distance, isolated queries again in double): it agrees with
// Kde<double> to 1e-6 relative (the target against SciPy), also for data centred 1000 sd
// away from the origin and for outlying queries. Rounding the same inputs to float first costs
// more than that (asserted too, so that the test keeps its point).
TEST(KdeFloat, DoubleInputsAgreeWithDoubleKdeToOneInAMillion) {
  Rng rng(12);
  const Index n = 4000, m = 1500, d = 5;
  Eigen::MatrixXd a = Eigen::MatrixXd::Identity(d, d);
  for (Index i = 0; i < d; ++i)
    for (Index k = 0; k < d; ++k) a(i, k) += 0.3 * rng.normal();
  RowMatrix<double> x(n, d), q(m, d);
  for (Index i = 0; i < n; ++i) {
    Eigen::VectorXd z(d);
    for (Index k = 0; k < d; ++k) z[k] = rng.normal();
    x.row(i) = (a * z).transpose().array() + 1000.0;
  }
  for (Index i = 0; i < m; ++i) {
    Eigen::VectorXd z(d);
    // Every 10th query 2x wider: tails, where few kernels contribute.
    for (Index k = 0; k < d; ++k) z[k] = rng.normal() * (i % 10 == 0 ? 2.0 : 1.0);
    q.row(i) = (a * z).transpose().array() + 1000.0;
  }
  const Vector<double> want = Kde<double>(x).log_density(q);
  const Kde<float> kde(x);
  const Vector<double> got = kde.log_density(q);
  double worst = 0;
  for (Index i = 0; i < m; ++i) worst = std::max(worst, std::abs(std::expm1(got[i] - want[i])));
  EXPECT_LE(worst, 1e-6);
  // density() at double points is exp(log_density()). (f32 values depend on the whole query
  // set, ~1e-7 relative: the queries are grouped to share origins.)
  const Vector<double> p = kde.density(q);
  for (Index i = 0; i < m; i += 100) EXPECT_DOUBLE_EQ(p[i], std::exp(got[i]));
  // The float-input path on the same data (rounded to float by the caller) is far off: the
  // inputs' own rounding (u * 1000 per coordinate) dominates.
  const RowMatrix<float> xf = x.cast<float>(), qf = q.cast<float>();
  const Vector<double> rounded = Kde<float>(xf).log_density(qf);
  double worst_rounded = 0;
  for (Index i = 0; i < m; ++i)
    worst_rounded = std::max(worst_rounded, std::abs(std::expm1(rounded[i] - want[i])));
  EXPECT_GT(worst_rounded, 10 * worst);
  // Float queries on the double-data KDE are whitened in double too (only the caller's rounding
  // of the queries remains): same result as passing the float values as doubles.
  const RowMatrix<double> qf_as_double = qf.cast<double>();
  const Vector<double> from_float = kde.log_density(qf);
  const Vector<double> from_double = kde.log_density(qf_as_double);
  EXPECT_EQ(0, std::memcmp(from_float.data(), from_double.data(), sizeof(double) * m));
  // Same bytes on any thread count.
  KdeOptions one;
  one.execution.threads = 1;
  const Vector<double> single = Kde<float>(x, one).log_density(q);
  EXPECT_EQ(0, std::memcmp(single.data(), got.data(), sizeof(double) * m));
  // Without the double recomputation of isolated queries the tails are less accurate (but the
  // bulk is unchanged).
  KdeOptions never;
  never.recompute_below = 0.0;
  const Vector<double> plain = Kde<float>(x, never).log_density(q);
  double worst_plain = 0;
  for (Index i = 0; i < m; ++i)
    worst_plain = std::max(worst_plain, std::abs(std::expm1(plain[i] - want[i])));
  EXPECT_GE(worst_plain, worst);
  EXPECT_LE(worst_plain, 2e-5);
}

TYPED_TEST(KdeTest, BadArgumentsThrowNamingThem) {
  using T = TypeParam;
  auto arg_of = [](auto&& f) {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return e.argument();
    }
    return std::string("none");
  };
  Rng rng(1);
  const RowMatrix<T> x = gaussian_sample<T>(20, 2, rng);
  EXPECT_EQ(arg_of([&] { Kde<T>(RowMatrix<T>(0, 2)); }), "data");
  RowMatrix<T> bad = x;
  bad(3, 1) = std::numeric_limits<T>::quiet_NaN();
  EXPECT_EQ(arg_of([&] { Kde<T>{bad}; }), "data");
  Vector<double> w = Vector<double>::Ones(20);
  w[2] = -1;
  EXPECT_EQ(arg_of([&] { Kde<T>(x, w); }), "weights");
  w[2] = std::nan("");
  EXPECT_EQ(arg_of([&] { Kde<T>(x, w); }), "weights");
  EXPECT_EQ(arg_of([&] { Kde<T>(x, Vector<double>::Ones(5)); }), "weights");
  EXPECT_EQ(arg_of([&] { Kde<T>(x, Vector<double>::Zero(20)); }), "weights");
  EXPECT_EQ(arg_of([&] { Kde<T>(x, KdeOptions{.bandwidth = Bandwidth::with_scalar(0)}); }),
            "bandwidth.scalar");
  EXPECT_EQ(arg_of([&] { Kde<T>(x, KdeOptions{.bandwidth = Bandwidth::with_scalar(-2)}); }),
            "bandwidth.scalar");
  RowMatrix<T> constant = x;
  constant.col(1).setConstant(T(2));
  EXPECT_EQ(arg_of([&] { Kde<T>{constant}; }), "data");  // singular covariance for Scott
  EXPECT_EQ(arg_of([&] { Kde<T>(x, KdeOptions{.recompute_below = -1.0}); }), "recompute_below");
  const Kde<T> kde(x);
  EXPECT_EQ(arg_of([&] { kde.log_density(RowMatrix<T>::Zero(3, 3)); }), "points");
  if constexpr (std::is_same_v<T, float>) {
    // The double-input entry points of Kde<float> check the same.
    const Kde<float> kd(x.template cast<double>().eval());
    EXPECT_EQ(arg_of([&] { kd.log_density(RowMatrix<double>::Zero(3, 3)); }), "points");
    RowMatrix<double> qn = RowMatrix<double>::Zero(2, 2);
    qn(1, 0) = std::nan("");
    EXPECT_EQ(arg_of([&] { kd.log_density(qn); }), "points");
    RowMatrix<double> xn = x.template cast<double>();
    xn(0, 0) = std::numeric_limits<double>::infinity();
    EXPECT_EQ(arg_of([&] { Kde<float>{xn}; }), "data");
  }
  const RowMatrix<T> y3 = gaussian_sample<T>(20, 3, rng);
  EXPECT_EQ(arg_of([&] { log_density_ratio<T>(x, y3, x); }), "denominator");
  EXPECT_EQ(arg_of([&] { log_density_ratio<T>(x, x, y3); }), "points");
}

}  // namespace
}  // namespace popalign::density
