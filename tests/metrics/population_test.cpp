#include <popalign/metrics/compare.hpp>
#include <popalign/metrics/population.hpp>

#include <gtest/gtest.h>

#include <cmath>

#include "density/reference_file.hpp"

namespace popalign::metrics {
namespace {

template <class T>
class PopulationTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(PopulationTest, Scalars);

void expect_reference(const PopulationMetrics& p, const testing::ReferenceFile& ref,
                      const std::string& prefix, double tol) {
  EXPECT_NEAR(p.mean_w1, ref.scalar(prefix + "mean_w1"), tol);
  EXPECT_NEAR(p.frechet, ref.scalar(prefix + "frechet"), tol);
  EXPECT_NEAR(p.correlation_mae, ref.scalar(prefix + "correlation_mae"), tol);
  EXPECT_NEAR(p.mmd_bandwidth, ref.scalar(prefix + "mmd_sigma"), tol);
  EXPECT_NEAR(p.mmd2, ref.scalar(prefix + "mmd2_unbiased"), tol);
  EXPECT_NEAR(p.mmd2_biased, ref.scalar(prefix + "mmd2_biased"), tol);
}

TYPED_TEST(PopulationTest, MatchesNumpyScipyInReferenceStandardisedUnits) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/metrics/population_reference.txt");
  const RowMatrix<T> a = ref.array("pop.a").cast<T>();
  const RowMatrix<T> b = ref.array("pop.b").cast<T>();
  const Vector<double> wa = ref.vector("pop.wa"), wb = ref.vector("pop.wb");
  const double tol = sizeof(T) == 4 ? 2e-5 : 1e-10;
  const PopulationMetrics p = population_metrics<T>(a, b, wa, wb);
  expect_reference(p, ref, "pop.", tol);
  expect_reference(population_metrics<T>(a, b), ref, "pop.u_", tol);
  // Sliced W2 is the sliced Wasserstein of the standardised samples with the same directions.
  const Standardisation s = reference_standardisation<T>(b, wb);
  const RowMatrix<double> za = standardise<T>(a, s), zb = standardise<T>(b, s);
  EXPECT_NEAR(p.sliced_wasserstein, sliced_wasserstein<double>(za, zb, wa, wb), 1e-5);
  // Units do not matter: rescaling every trait of both samples leaves the metrics unchanged.
  RowMatrix<T> a2 = a, b2 = b;
  for (Index k = 0; k < a.cols(); ++k) {
    a2.col(k) *= T(0.1 * static_cast<double>(k + 1));
    b2.col(k) *= T(0.1 * static_cast<double>(k + 1));
  }
  const PopulationMetrics p2 = population_metrics<T>(a2, b2, wa, wb);
  EXPECT_NEAR(p2.frechet, p.frechet, 1e-4);
  EXPECT_NEAR(p2.mean_w1, p.mean_w1, 1e-4);
  EXPECT_NEAR(p2.mmd2, p.mmd2, 1e-5);
}

TYPED_TEST(PopulationTest, NegativeControlSameVersusShiftedPopulation) {
  using T = TypeParam;
  // Two independent samples of one population against a sample of a shifted, decorrelated one:
  // every metric must be larger for the second, and the unbiased MMD^2 of the first is near 0
  // (it is centred on 0, the biased one is not).
  Rng rng(11);
  const Index n = 600, d = 3;
  RowMatrix<T> ref(n, d), same(n, d), other(n, d);
  for (Index i = 0; i < n; ++i) {
    const double z0 = rng.normal(), z1 = rng.normal(), z2 = rng.normal();
    ref.row(i) << T(z0), T(0.7 * z0 + 0.7 * z1), T(z2);
    const double u0 = rng.normal(), u1 = rng.normal(), u2 = rng.normal();
    same.row(i) << T(u0), T(0.7 * u0 + 0.7 * u1), T(u2);
    const double v0 = rng.normal(), v1 = rng.normal(), v2 = rng.normal();
    other.row(i) << T(v0 + 0.5), T(v1), T(v2);
  }
  const PopulationMetrics ps = population_metrics<T>(same, ref);
  const PopulationMetrics po = population_metrics<T>(other, ref);
  EXPECT_LT(ps.mean_w1, po.mean_w1);
  EXPECT_LT(ps.frechet, po.frechet);
  EXPECT_LT(ps.sliced_wasserstein, po.sliced_wasserstein);
  EXPECT_LT(ps.mmd2, po.mmd2);
  EXPECT_LT(ps.correlation_mae, po.correlation_mae);
  EXPECT_LT(std::abs(ps.mmd2), 0.01);
  EXPECT_GT(po.mmd2, 0.02);
  EXPECT_GT(ps.mmd2_biased, ps.mmd2);
}

TYPED_TEST(PopulationTest, OptionsSubsampleSkipAndBadArguments) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/metrics/population_reference.txt");
  const RowMatrix<T> a = ref.array("pop.a").cast<T>();
  const RowMatrix<T> b = ref.array("pop.b").cast<T>();
  PopulationOptions o;
  o.compute_mmd = false;
  o.compute_sliced = false;
  const PopulationMetrics skipped =
      population_metrics<T>(a, b, Vector<double>(), Vector<double>(), o);
  EXPECT_TRUE(std::isnan(skipped.mmd2));
  EXPECT_TRUE(std::isnan(skipped.mmd2_biased));
  EXPECT_TRUE(std::isnan(skipped.sliced_wasserstein));
  EXPECT_FALSE(std::isnan(skipped.frechet));
  EXPECT_EQ(to_string(skipped).find("MMD^2 - "), to_string(skipped).find("MMD^2"));
  // Subsampled MMD: deterministic for a seed, close to the full value, and it changes with the
  // seed (so the subsample is really used).
  PopulationOptions sub;
  sub.mmd_max_points = 30;
  sub.mmd.bandwidth = 2.0;
  const double m1 = population_metrics<T>(a, b, Vector<double>(), Vector<double>(), sub).mmd2;
  EXPECT_EQ(m1, population_metrics<T>(a, b, Vector<double>(), Vector<double>(), sub).mmd2);
  sub.subsample_seed = 5;
  EXPECT_NE(m1, population_metrics<T>(a, b, Vector<double>(), Vector<double>(), sub).mmd2);
  // One trait: no correlation; constant reference column: only centred, no NaN.
  const RowMatrix<T> a1 = a.col(0), b1 = b.col(0);
  EXPECT_TRUE(std::isnan(population_metrics<T>(a1, b1).correlation_mae));
  RowMatrix<T> bc = b;
  bc.col(1).setConstant(T(3));
  const PopulationMetrics pc = population_metrics<T>(a, bc);
  EXPECT_TRUE(std::isfinite(pc.frechet) && std::isfinite(pc.mean_w1));
  PopulationOptions bad;
  bad.mmd_max_points = 1;
  try {
    population_metrics<T>(a, b, Vector<double>(), Vector<double>(), bad);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "mmd_max_points");
  }
  try {
    population_metrics<T>(a, b, Vector<double>(), Vector<double>::Zero(b.rows()));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "b_weights");
  }
}

TYPED_TEST(PopulationTest, CompareCarriesThePopulationBlock) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/metrics/population_reference.txt");
  const RowMatrix<T> a = ref.array("pop.a").cast<T>();
  const RowMatrix<T> b = ref.array("pop.b").cast<T>();
  const Vector<double> wa = ref.vector("pop.wa"), wb = ref.vector("pop.wb");
  const Comparison c = compare<T>(a, b, wa, wb);
  const PopulationMetrics p = population_metrics<T>(a, b, wa, wb);
  EXPECT_EQ(c.population.frechet, p.frechet);
  EXPECT_EQ(c.population.mmd2, p.mmd2);
  EXPECT_EQ(c.population.sliced_wasserstein, p.sliced_wasserstein);
  EXPECT_NEAR(c.population.correlation_mae, c.correlation.mae, 1e-12);
  const std::string s = fmt::format("{}", c);
  EXPECT_NE(s.find("Fréchet " + fmt::format("{:.4f}", p.frechet)), std::string::npos);
  EXPECT_NE(s.find("correlation MAE " + fmt::format("{:.4f}", p.correlation_mae)),
            std::string::npos);
  EXPECT_NE(s.find("(MAE)"), std::string::npos);
  CompareOptions off;
  off.compute_mmd = false;
  EXPECT_TRUE(std::isnan(compare<T>(a, b, wa, wb, off).population.mmd2));
}

}  // namespace
}  // namespace popalign::metrics
