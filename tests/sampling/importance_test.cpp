#include <popalign/sampling/importance.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <popalign/core/random.hpp>

namespace popalign::sampling {
namespace {

template <class T>
class ImportanceTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ImportanceTest, Scalars);

TYPED_TEST(ImportanceTest, NormalizesLogWeightsOfAnyMagnitude) {
  using T = TypeParam;
  Vector<T> lw(3);
  // 1000 is exact in float and double; log(3) is rounded to T, so the tolerance follows T.
  lw << T(1000), T(1000) + T(std::log(3.0)), -std::numeric_limits<T>::infinity();
  const double tol = sizeof(T) == 4 ? 1e-4 : 1e-12;
  const Vector<double> w = normalize_log_weights<T>(lw);
  EXPECT_NEAR(w[0], 0.25, tol);
  EXPECT_NEAR(w[1], 0.75, tol);
  EXPECT_EQ(w[2], 0.0);
  EXPECT_NEAR(effective_sample_size_log<T>(lw), 1.0 / (0.25 * 0.25 + 0.75 * 0.75), 1e-5);
}

TYPED_TEST(ImportanceTest, EffectiveSampleSizeExtremes) {
  using T = TypeParam;
  EXPECT_DOUBLE_EQ(effective_sample_size<T>(Vector<T>::Constant(10, T(3))), 10.0);
  Vector<T> one = Vector<T>::Zero(10);
  one[4] = T(2);
  EXPECT_DOUBLE_EQ(effective_sample_size<T>(one), 1.0);
}

// Reweighting N(0,1) draws to N(0.5,1): log w = log q - log p = 0.5 x - 0.125.
TYPED_TEST(ImportanceTest, RecoversKnownDensityRatio) {
  using T = TypeParam;
  Rng rng(11);
  const Index n = 200000;
  Vector<T> x(n), lw(n);
  for (Index i = 0; i < n; ++i) {
    x[i] = static_cast<T>(rng.normal());
    lw[i] = static_cast<T>(0.5 * static_cast<double>(x[i]) - 0.125);
  }
  for (Truncation tr : {Truncation::none, Truncation::ionides, Truncation::psis}) {
    const ImportanceWeights iw = importance_weights<T>(lw, tr);
    EXPECT_NEAR(iw.weights.sum(), 1.0, 1e-12);
    double mean = 0, m2 = 0;
    for (Index i = 0; i < n; ++i) {
      mean += iw.weights[i] * static_cast<double>(x[i]);
      m2 += iw.weights[i] * static_cast<double>(x[i]) * static_cast<double>(x[i]);
    }
    EXPECT_NEAR(mean, 0.5, 0.02) << static_cast<int>(tr);
    EXPECT_NEAR(m2 - mean * mean, 1.0, 0.03) << static_cast<int>(tr);
    // ESS of this ratio: n / E_p[w^2] = n / exp(0.25).
    EXPECT_NEAR(iw.raw_ess / static_cast<double>(n), std::exp(-0.25), 0.01);
  }
  const PsisResult p = pareto_smooth<T>(lw);
  EXPECT_LT(p.k_hat, 0.5);  // light tail: lognormal weights have all moments
  EXPECT_TRUE(p.reliable());
}

TYPED_TEST(ImportanceTest, TruncationCapsAtMeanTimesSqrtN) {
  using T = TypeParam;
  const Index n = 100;
  Vector<T> w = Vector<T>::Ones(n);
  w[0] = T(1000);  // one huge weight
  const TruncationResult r = truncate_weights<T>(w);
  EXPECT_EQ(r.truncated, 1);
  EXPECT_NEAR(r.cap, 0.1, 1e-15);  // sqrt(n) * mean, mean = 1/n
  // Before renormalising: w0 = 0.1, others = 1/1099 each.
  const double others = 99.0 / 1099.0;
  EXPECT_NEAR(r.weights[0], 0.1 / (0.1 + others), 1e-6);
  EXPECT_NEAR(r.weights.sum(), 1.0, 1e-12);
  EXPECT_GT(r.ess, effective_sample_size<T>(w));
  for (Index i = 1; i < n; ++i) EXPECT_NEAR(r.weights[i], r.weights[1], 1e-12);
}

// Pareto(alpha) weights: the GPD shape of the tail is k = 1/alpha.
TYPED_TEST(ImportanceTest, PsisEstimatesTailShape) {
  using T = TypeParam;
  Rng rng(5);
  const Index n = 20000;
  for (double alpha : {0.8, 1.5, 4.0}) {
    Vector<T> lw(n);
    for (Index i = 0; i < n; ++i) lw[i] = static_cast<T>(-std::log(rng.uniform_open0()) / alpha);
    const PsisResult p = pareto_smooth<T>(lw);
    EXPECT_EQ(p.tail_length, static_cast<Index>(std::ceil(3 * std::sqrt(double(n)))));
    // Sampling sd of the fitted shape is about (1 + k) / sqrt(M); allow 3 sd.
    const double k = 1.0 / alpha;
    EXPECT_NEAR(p.k_hat, k, 3 * (1 + k) / std::sqrt(double(p.tail_length))) << alpha;
    EXPECT_EQ(p.reliable(), 1.0 / alpha < 0.7) << alpha;
    EXPECT_NEAR(p.weights.sum(), 1.0, 1e-12);
    const Vector<double> raw = normalize_log_weights<T>(lw);
    if (alpha < 1) {
      EXPECT_GT(p.ess, effective_sample_size<double>(raw));
    }
  }
}

TYPED_TEST(ImportanceTest, ShortTailIsNotSmoothed) {
  using T = TypeParam;
  Vector<T> lw(10);
  for (Index i = 0; i < 10; ++i) lw[i] = static_cast<T>(i);
  const PsisResult p = pareto_smooth<T>(lw);
  EXPECT_TRUE(std::isinf(p.k_hat));
  EXPECT_FALSE(p.reliable());
  const Vector<double> w = normalize_log_weights<T>(lw);
  EXPECT_TRUE(p.weights.isApprox(w, 1e-12));
}

TYPED_TEST(ImportanceTest, BadArgumentsThrowNamingThem) {
  using T = TypeParam;
  auto arg_of = [](auto&& f) {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return e.argument();
    }
    return std::string("none");
  };
  Vector<T> empty;
  EXPECT_EQ(arg_of([&] { normalize_log_weights<T>(empty); }), "log_weights");
  Vector<T> nan(2);
  nan << T(0), std::numeric_limits<T>::quiet_NaN();
  EXPECT_EQ(arg_of([&] { normalize_log_weights<T>(nan); }), "log_weights");
  Vector<T> allneg = Vector<T>::Constant(3, -std::numeric_limits<T>::infinity());
  EXPECT_EQ(arg_of([&] { pareto_smooth<T>(allneg); }), "log_weights");
  Vector<T> neg(2);
  neg << T(1), T(-1);
  EXPECT_EQ(arg_of([&] { effective_sample_size<T>(neg); }), "weights");
  EXPECT_EQ(arg_of([&] { truncate_weights<T>(Vector<T>::Zero(4)); }), "weights");
}

}  // namespace
}  // namespace popalign::sampling
