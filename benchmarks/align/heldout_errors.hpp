#pragma once
// Errors of a weighted sample to held-out people (benchmarks/align: align_scale.cpp,
// align_stages.cpp): the mean per-trait W1 on the traits' own units, the sliced W2 (64 seeded
// directions) on the test's standard units, and the normalised correlation distance (RMS of the
// off-diagonal differences of the two correlation matrices).
#include <popalign/core/types.hpp>
#include <popalign/metrics/correlation.hpp>
#include <popalign/metrics/sliced.hpp>
#include <popalign/metrics/univariate.hpp>

namespace popalign::bench {

struct Errors {
  double mean_w1 = 0, sliced = 0, corr = 0;
  Vector<double> w1;
};

/// Errors of the rows of x with weights w (empty = uniform) against the held-out rows t.
inline Errors errors_to(const RowMatrix<double>& x, const Vector<double>& w,
                        const RowMatrix<double>& t) {
  Errors e;
  const Vector<double> none;
  e.w1 = metrics::column_wasserstein1<double>(x, t, w, none);
  e.mean_w1 = e.w1.mean();
  const Eigen::RowVectorXd mu = t.colwise().mean();
  const Eigen::RowVectorXd sd =
      ((t.rowwise() - mu).array().square().colwise().sum() / static_cast<double>(t.rows())).sqrt();
  const RowMatrix<double> zx = ((x.rowwise() - mu).array().rowwise() / sd.array()).matrix();
  const RowMatrix<double> zt = ((t.rowwise() - mu).array().rowwise() / sd.array()).matrix();
  metrics::SlicedOptions so;
  so.n_projections = 64;
  so.seed = 7;
  e.sliced = metrics::sliced_wasserstein<double>(zx, zt, w, none, so);
  e.corr = metrics::correlation_distance<double>(x, t, w, none).normalized;
  return e;
}

}  // namespace popalign::bench
