#include <popalign/sampling/resample.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace popalign::sampling {
namespace {

template <class T>
class ResampleTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ResampleTest, Scalars);

template <class T>
Vector<T> test_weights() {
  Vector<T> w(8);
  w << T(0.05), T(0.3), T(0), T(0.1), T(0.2), T(0.15), T(0.12), T(0.08);
  return w;
}

/// Pearson chi-square of average counts over `reps` replications against m w_i; for an
/// unbiased scheme the mean count converges to m w_i. Units with w = 0 must never be drawn.
template <class T, class F>
void expect_unbiased(F&& draw, Index m, int reps, double var_per_draw_bound) {
  const Vector<T> wt = test_weights<T>();
  const Vector<double> w = wt.template cast<double>() / wt.template cast<double>().sum();
  const Index n = w.size();
  std::vector<double> total(static_cast<std::size_t>(n), 0.0);
  for (int r = 0; r < reps; ++r) {
    const std::vector<Index> idx = draw(wt, m, r);
    ASSERT_EQ(static_cast<Index>(idx.size()), m);
    const std::vector<Index> c = counts(idx, n);
    for (Index i = 0; i < n; ++i)
      total[static_cast<std::size_t>(i)] += static_cast<double>(c[static_cast<std::size_t>(i)]);
  }
  EXPECT_EQ(total[2], 0.0);
  // Pearson chi-square of the pooled counts (reps * m draws) against reps * m * w_i over the 7
  // units with positive weight: for multinomial draws it is chi-square with 6 degrees of freedom
  // (systematic and residual counts vary less, so their statistic is smaller still).
  // 22.46 is the 0.999 quantile of chi-square(6).
  double chi2 = 0.0;
  for (Index i = 0; i < n; ++i) {
    if (w[i] == 0) continue;
    const double expected = static_cast<double>(reps) * static_cast<double>(m) * w[i];
    const double diff = total[static_cast<std::size_t>(i)] - expected;
    chi2 += diff * diff / expected;
  }
  EXPECT_LT(chi2, 22.46);
  // z-scores of the mean counts; variance of a count is at most m w (1 - w) (multinomial;
  // systematic/residual are smaller): all |z| < 5 (chance of failure < 1e-5 per unit).
  for (Index i = 0; i < n; ++i) {
    if (w[i] == 0) continue;
    const double mean = total[static_cast<std::size_t>(i)] / reps;
    const double sd =
        std::sqrt(var_per_draw_bound * static_cast<double>(m) * w[i] * (1 - w[i]) / reps);
    EXPECT_LT(std::abs(mean - static_cast<double>(m) * w[i]), 5 * sd + 1e-9) << "unit " << i;
  }
}

TYPED_TEST(ResampleTest, MultinomialIsUnbiased) {
  using T = TypeParam;
  expect_unbiased<T>(
      [](const Vector<T>& w, Index m, int r) {
        Rng rng(1000 + r);
        return multinomial_resample<T>(w, m, rng);
      },
      50, 4000, 1.0);
}

TYPED_TEST(ResampleTest, SystematicIsUnbiasedAndTight) {
  using T = TypeParam;
  expect_unbiased<T>(
      [](const Vector<T>& w, Index m, int r) {
        Rng rng(2000 + r);
        return systematic_resample<T>(w, m, rng);
      },
      50, 4000, 1.0);
  // Each count is floor or ceil of m w_i.
  const Vector<T> wt = test_weights<T>();
  const Vector<double> w = wt.template cast<double>() / wt.template cast<double>().sum();
  for (int r = 0; r < 50; ++r) {
    Rng rng(r);
    const auto c = counts(systematic_resample<T>(wt, 37, rng), w.size());
    for (Index i = 0; i < w.size(); ++i)
      EXPECT_LE(std::abs(static_cast<double>(c[static_cast<std::size_t>(i)]) - 37 * w[i]),
                1.0 + 1e-6);
  }
}

TYPED_TEST(ResampleTest, ResidualIsUnbiasedWithDeterministicPart) {
  using T = TypeParam;
  expect_unbiased<T>(
      [](const Vector<T>& w, Index m, int r) {
        Rng rng(3000 + r);
        return residual_resample<T>(w, m, rng);
      },
      50, 4000, 1.0);
  const Vector<T> wt = test_weights<T>();
  Rng rng(9);
  const auto c = counts(residual_resample<T>(wt, 100, rng), wt.size());
  const Vector<double> w = wt.template cast<double>() / wt.template cast<double>().sum();
  for (Index i = 0; i < w.size(); ++i)  // floor(100 w_i) copies are guaranteed
    EXPECT_GE(static_cast<double>(c[static_cast<std::size_t>(i)]), std::floor(100 * w[i] + 1e-9))
        << i;
  EXPECT_GE(c[1], 29);
}

TYPED_TEST(ResampleTest, SameSeedSameIndices) {
  using T = TypeParam;
  const Vector<T> w = test_weights<T>();
  for (int scheme = 0; scheme < 4; ++scheme) {
    auto run = [&](std::uint64_t seed) {
      Rng rng(seed);
      switch (scheme) {
        case 0:
          return multinomial_resample<T>(w, 20, rng);
        case 1:
          return systematic_resample<T>(w, 20, rng);
        case 2:
          return residual_resample<T>(w, 20, rng);
        default:
          return sample_without_replacement<T>(w, 5, rng);
      }
    };
    EXPECT_EQ(run(42), run(42)) << scheme;
  }
  // Pinned: the indices must not change across platforms, compilers or refactorings.
  Rng rng(42);
  const std::vector<Index> sys = systematic_resample<T>(w, 10, rng);
  const std::vector<Index> expected_sys{0, 1, 1, 1, 3, 4, 4, 5, 6, 6};
  EXPECT_EQ(sys, expected_sys);
}

TYPED_TEST(ResampleTest, WithoutReplacementIsDistinctAndFollowsSuccessiveSampling) {
  using T = TypeParam;
  const Vector<T> w = test_weights<T>();
  Rng rng(77);
  // P(first unit drawn = i) = w_i: check the first pick's frequencies.
  std::vector<double> first(8, 0.0);
  const int reps = 20000;
  for (int r = 0; r < reps; ++r) {
    const auto s = sample_without_replacement<T>(w, 7, rng);
    ASSERT_EQ(s.size(), 7u);
    EXPECT_EQ(std::set<Index>(s.begin(), s.end()).size(), 7u);
    for (Index i : s) EXPECT_NE(i, 2);  // zero weight never drawn
    first[static_cast<std::size_t>(s[0])] += 1.0;
  }
  const double total = static_cast<double>(w.sum());
  for (Index i = 0; i < 8; ++i) {
    const double p = static_cast<double>(w[i]) / total;
    EXPECT_NEAR(first[static_cast<std::size_t>(i)] / reps, p,
                5 * std::sqrt(p * (1 - p) / reps) + 1e-9);
  }
  Rng rng2(1);
  EXPECT_THROW(sample_without_replacement<T>(w, 8, rng2), InvalidArgument);  // only 7 positive
}

TYPED_TEST(ResampleTest, InclusionProbabilitiesAreCappedAndSumToN) {
  using T = TypeParam;
  Vector<T> w(5);
  w << T(10), T(1), T(1), T(1), T(1);
  const Vector<double> pi = inclusion_probabilities<T>(w, 3);
  EXPECT_DOUBLE_EQ(pi[0], 1.0);
  for (Index i = 1; i < 5; ++i) EXPECT_NEAR(pi[i], 0.5, 1e-12);
  EXPECT_NEAR(pi.sum(), 3.0, 1e-12);
  const Vector<double> pu = inclusion_probabilities<T>(Vector<T>::Ones(4), 2);
  for (Index i = 0; i < 4; ++i) EXPECT_NEAR(pu[i], 0.5, 1e-12);
}

TYPED_TEST(ResampleTest, FixedSizeSamplingHasExactInclusionProbabilities) {
  using T = TypeParam;
  Vector<T> pi(6);
  pi << T(1.0), T(0.25), T(0.75), T(0.5), T(0.5), T(0.0);  // sums to 3
  for (bool randomize : {true, false}) {
    std::vector<double> hits(6, 0.0);
    const int reps = 20000;
    Rng rng(randomize ? 3 : 4);
    for (int r = 0; r < reps; ++r) {
      const auto s = sample_fixed_size<T>(pi, rng, FixedSizeOptions{.randomize_order = randomize});
      ASSERT_EQ(s.size(), 3u);
      ASSERT_EQ(std::set<Index>(s.begin(), s.end()).size(), 3u);
      for (Index i : s) hits[static_cast<std::size_t>(i)] += 1.0;
    }
    for (Index i = 0; i < 6; ++i) {
      const double p = static_cast<double>(pi[i]);
      EXPECT_NEAR(hits[static_cast<std::size_t>(i)] / reps, p,
                  5 * std::sqrt(p * (1 - p) / reps) + 1e-12)
          << i << " randomize=" << randomize;
    }
  }
  // Probabilities that are not binary fractions (1/3 each) still sum to an integer within T's
  // rounding and are accepted.
  const Vector<T> thirds = Vector<T>::Constant(9, T(1) / T(3));
  Rng c(5);
  EXPECT_EQ(sample_fixed_size<T>(thirds, c).size(), 3u);
  Rng a(8), b(8);
  EXPECT_EQ(sample_fixed_size<T>(pi, a), sample_fixed_size<T>(pi, b));
}

TYPED_TEST(ResampleTest, BadArgumentsThrowNamingThem) {
  using T = TypeParam;
  auto arg_of = [](auto&& f) {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return e.argument();
    }
    return std::string("none");
  };
  Rng rng(0);
  Vector<T> neg(3);
  neg << T(1), T(-0.5), T(1);
  EXPECT_EQ(arg_of([&] { multinomial_resample<T>(neg, 3, rng); }), "weights");
  Vector<T> nan(2);
  nan << T(1), std::numeric_limits<T>::quiet_NaN();
  EXPECT_EQ(arg_of([&] { systematic_resample<T>(nan, 3, rng); }), "weights");
  EXPECT_EQ(arg_of([&] { residual_resample<T>(Vector<T>(), 3, rng); }), "weights");
  EXPECT_EQ(arg_of([&] { multinomial_resample<T>(Vector<T>::Ones(3), -1, rng); }), "m");
  Vector<T> pi(3);
  pi << T(0.5), T(0.7), T(0.6);  // sum 1.8: not an integer
  EXPECT_EQ(arg_of([&] { sample_fixed_size<T>(pi, rng); }), "inclusion_probabilities");
  pi << T(1.5), T(0.5), T(0);
  EXPECT_EQ(arg_of([&] { sample_fixed_size<T>(pi, rng); }), "inclusion_probabilities");
  EXPECT_EQ(arg_of([&] { inclusion_probabilities<T>(Vector<T>::Ones(3), 4); }), "N");
}

}  // namespace
}  // namespace popalign::sampling
