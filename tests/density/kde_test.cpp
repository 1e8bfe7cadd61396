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
  const Kde<T> kde(x);
  EXPECT_EQ(arg_of([&] { kde.log_density(RowMatrix<T>::Zero(3, 3)); }), "points");
  const RowMatrix<T> y3 = gaussian_sample<T>(20, 3, rng);
  EXPECT_EQ(arg_of([&] { log_density_ratio<T>(x, y3, x); }), "denominator");
  EXPECT_EQ(arg_of([&] { log_density_ratio<T>(x, x, y3); }), "points");
}

}  // namespace
}  // namespace popalign::density
