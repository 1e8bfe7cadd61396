// align::Diagnostics::before / after carry the five population metrics (metrics layer's
// population_metrics on the reference-standardised traits). Lives with the metrics tests because
// it checks the metrics record that align fills; the align layer's own tests are in tests/align.
#include <popalign/align/align.hpp>
#include <popalign/metrics/population.hpp>

#include <gtest/gtest.h>

#include <cmath>

namespace popalign::metrics {
namespace {

RowMatrix<double> gaussian(Index n, Index d, double mean, double sd, Rng& rng) {
  RowMatrix<double> x(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) x(i, k) = mean + sd * rng.normal();
  return x;
}

TEST(AlignDiagnostics, BeforeAndAfterCarryTheFiveMetrics) {
  Rng rng(42);
  // Pool: 600 people like the reference plus 400 from a shifted component; the reference's
  // traits are correlated, so the shifted component also breaks the correlations.
  RowMatrix<double> pool(1000, 3), reference = gaussian(1500, 3, 0.0, 1.0, rng);
  reference.col(1) = 0.6 * reference.col(0) + 0.8 * reference.col(1);
  RowMatrix<double> like = gaussian(600, 3, 0.0, 1.0, rng);
  like.col(1) = 0.6 * like.col(0) + 0.8 * like.col(1);
  pool << like, gaussian(400, 3, 3.0, 0.5, rng);
  align::AlignOptions o;
  o.n = 200;
  o.seed = 7;
  const align::AlignResult r = align::align<double>(pool, reference, o);
  const PopulationMetrics &b = r.diagnostics.before.population, &a = r.diagnostics.after.population;
  // Before: equal to population_metrics on the raw pool (same standardisation), except the MMD's
  // median-heuristic subsample (align seeds its own), so the MMD is compared loosely.
  const PopulationMetrics pb = population_metrics<double>(pool, reference);
  EXPECT_NEAR(b.mean_w1, pb.mean_w1, 1e-12);
  EXPECT_NEAR(b.frechet, pb.frechet, 1e-10);
  EXPECT_NEAR(b.correlation_mae, pb.correlation_mae, 1e-12);
  EXPECT_NEAR(b.mmd2, pb.mmd2, 0.05 * pb.mmd2);
  EXPECT_EQ(b.sliced_wasserstein, r.diagnostics.before.sliced_wasserstein);
  // After: the selection as its own weighted sample.
  RowMatrix<double> sel(static_cast<Index>(r.indices.size()), 3);
  Vector<double> w(sel.rows());
  for (std::size_t i = 0; i < r.indices.size(); ++i) {
    sel.row(static_cast<Index>(i)) = pool.row(r.indices[i]);
    w[static_cast<Index>(i)] = r.weights[r.indices[i]];
  }
  const PopulationMetrics ps = population_metrics<double>(sel, reference, w);
  EXPECT_NEAR(a.mean_w1, ps.mean_w1, 1e-12);
  EXPECT_NEAR(a.frechet, ps.frechet, 1e-10);
  EXPECT_NEAR(a.correlation_mae, ps.correlation_mae, 1e-12);
  // The selection removes the shifted component: all five drop (a real improvement, not rounding).
  EXPECT_LT(a.mean_w1, 0.5 * b.mean_w1);
  EXPECT_LT(a.frechet, 0.5 * b.frechet);
  EXPECT_LT(a.sliced_wasserstein, 0.5 * b.sliced_wasserstein);
  EXPECT_LT(a.mmd2, 0.5 * b.mmd2);
  EXPECT_LT(a.correlation_mae, b.correlation_mae);
  const std::string s = r.diagnostics.summary();
  EXPECT_NE(s.find(fmt::format("Fréchet {:.4f} -> {:.4f}", b.frechet, a.frechet)),
            std::string::npos)
      << s;
  EXPECT_NE(
      s.find(fmt::format("correlation MAE {:.4f} -> {:.4f}", b.correlation_mae, a.correlation_mae)),
      std::string::npos)
      << s;
}

}  // namespace
}  // namespace popalign::metrics
