#pragma once
// The five population metrics of the population-alignment literature, in one call and in one
// unit system, between a weighted sample a (e.g. a persona selection) and a weighted reference b:
//
//   mean_w1             mean over traits of the 1-D Wasserstein-1 distance
//   frechet             Fréchet distance of the Gaussian fits (squared W2 between Gaussians,
//                       the FID convention; frechet.hpp)
//   sliced_wasserstein  sliced W_p (p = 2 by default) over seeded directions (sliced.hpp)
//   mmd2                unbiased MMD^2 (U-statistic) with the Gaussian kernel and the
//                       median-heuristic bandwidth (mmd.hpp); mmd2_biased is the V-statistic
//   correlation_mae     mean |R_a,ij - R_b,ij| over the trait pairs i < j (correlation.hpp)
//
// Reference-standardised units: before any metric, both samples are transformed column by column
// to z = (x - mu_b) / sd_b, where mu_b and sd_b are the weighted mean and the weighted population
// sd (no small-sample correction) of the reference b under b's weights. The reference then has
// mean 0 and sd 1 in every trait, so "0.1" means a tenth of the reference's sd whatever the
// trait's scale; a column that is constant in b (sd 0) is only centred (divided by 1).
// Correlations do not change under this transform; W1 becomes W1 / sd_b.
//
// MMD cost is O(n m d) kernel evaluations; samples larger than mmd_max_points rows are first
// subsampled uniformly without replacement (seeded; each kept row keeps its weight, renormalised),
// so the MMD is an estimate from at most mmd_max_points rows per side. The median heuristic runs
// on the (subsampled) standardised pooled sample.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include <popalign/core/random.hpp>
#include <popalign/core/types.hpp>
#include <popalign/metrics/correlation.hpp>
#include <popalign/metrics/frechet.hpp>
#include <popalign/metrics/mmd.hpp>
#include <popalign/metrics/sliced.hpp>
#include <popalign/metrics/univariate.hpp>

namespace popalign::metrics {

struct PopulationOptions {
  SlicedOptions sliced{};       ///< directions, p, seed of the sliced Wasserstein
  MmdOptions mmd{};             ///< bandwidth (0 = median heuristic), its subsample, seed
  Index mmd_max_points = 4000;  ///< rows per side for the MMD (seeded subsample above this)
  std::uint64_t subsample_seed = 0;
  bool compute_sliced = true;
  bool compute_mmd = true;

  void validate() const {
    sliced.validate();
    mmd.validate();
    check_argument(mmd_max_points >= 2, "mmd_max_points", "must be >= 2");
  }
};

/// The five metrics (NaN when skipped or undefined), in reference-standardised units.
struct PopulationMetrics {
  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  double mean_w1 = kNaN;             ///< mean per-trait W1
  double frechet = kNaN;             ///< Fréchet distance of Gaussian fits (squared W2)
  double sliced_wasserstein = kNaN;  ///< sliced W_p; NaN if skipped
  double mmd2 = kNaN;                ///< unbiased MMD^2 (may be < 0); NaN if skipped
  double mmd2_biased = kNaN;         ///< biased MMD^2 (>= 0); NaN if skipped
  double mmd_bandwidth = kNaN;       ///< sigma used (standardised units)
  double correlation_mae = kNaN;     ///< NaN for one trait or fewer than 3 rows in a sample
};

/// Mean and population sd of every column of b under its weights; sd 0 becomes 1.
struct Standardisation {
  Eigen::RowVectorXd mean, sd;
};

template <Real T>
Standardisation reference_standardisation(
    MatrixView<T> b, const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>()) {
  check_argument(b.rows() > 0, "b", "is empty (no rows)");
  const Vector<double> w = detail::normalized_weights(b_weights, b.rows(), "b_weights");
  Standardisation s;
  s.mean = (b.template cast<double>().transpose() * w).transpose();
  s.sd.resize(b.cols());
  for (Index k = 0; k < b.cols(); ++k) {
    double v = 0.0;
    for (Index i = 0; i < b.rows(); ++i) {
      const double x = static_cast<double>(b(i, k)) - s.mean[k];
      v += w[i] * x * x;
    }
    s.sd[k] = v > 0 ? std::sqrt(v) : 1.0;
  }
  return s;
}

template <Real T>
RowMatrix<double> standardise(MatrixView<T> x, const Standardisation& s) {
  return ((x.template cast<double>().rowwise() - s.mean).array().rowwise() / s.sd.array()).matrix();
}

namespace detail {

/// At most k rows of x (seeded, uniform without replacement, ascending) with their weights.
inline void subsample_weighted(const RowMatrix<double>& x, const Vector<double>& w, Index k,
                               Rng& rng, RowMatrix<double>& xs, Vector<double>& ws) {
  const Index n = x.rows();
  if (n <= k) {
    xs = x;
    ws = w;
    return;
  }
  std::vector<Index> idx(static_cast<std::size_t>(n));
  std::iota(idx.begin(), idx.end(), Index{0});
  for (Index i = 0; i < k; ++i) {  // partial Fisher–Yates
    const Index j = i + static_cast<Index>(rng.uniform_int(static_cast<std::uint64_t>(n - i)));
    std::swap(idx[static_cast<std::size_t>(i)], idx[static_cast<std::size_t>(j)]);
  }
  idx.resize(static_cast<std::size_t>(k));
  std::sort(idx.begin(), idx.end());
  xs.resize(k, x.cols());
  ws.resize(k);
  for (Index i = 0; i < k; ++i) {
    xs.row(i) = x.row(idx[static_cast<std::size_t>(i)]);
    ws[i] = w[idx[static_cast<std::size_t>(i)]];
  }
  if (ws.sum() <= 0) ws.setOnes();  // every kept row had weight 0: fall back to uniform
}

}  // namespace detail

/// The five metrics between a (weights a_weights) and the reference b (weights b_weights), after
/// standardising both by b's weighted mean and sd (see the file comment).
template <Real T>
PopulationMetrics population_metrics(
    MatrixView<T> a, MatrixView<T> b,
    const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
    const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>(),
    const PopulationOptions& options = {}) {
  detail::check_samples<T>(a, b);
  options.validate();
  const Vector<double> wa = detail::normalized_weights(a_weights, a.rows(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.rows(), "b_weights");
  const Standardisation s = reference_standardisation<T>(b, wb);
  const RowMatrix<double> za = standardise<T>(a, s), zb = standardise<T>(b, s);
  PopulationMetrics r;
  r.mean_w1 = column_wasserstein1<double>(za, zb, wa, wb).mean();
  r.frechet = frechet_distance(gaussian_fit<double>(za, wa), gaussian_fit<double>(zb, wb));
  if (options.compute_sliced)
    r.sliced_wasserstein = sliced_wasserstein<double>(za, zb, wa, wb, options.sliced);
  if (a.cols() > 1 && a.rows() > 2 && b.rows() > 2)
    r.correlation_mae = correlation_distance<double>(za, zb, wa, wb).mae;
  if (options.compute_mmd) {
    Rng rng(options.subsample_seed);
    RowMatrix<double> sa, sb;
    Vector<double> swa, swb;
    detail::subsample_weighted(za, wa, options.mmd_max_points, rng, sa, swa);
    detail::subsample_weighted(zb, wb, options.mmd_max_points, rng, sb, swb);
    const MmdResult m = gaussian_mmd<double>(sa, sb, swa, swb, options.mmd);
    r.mmd2 = m.mmd2_unbiased;
    r.mmd2_biased = m.mmd2_biased;
    r.mmd_bandwidth = m.bandwidth;
  }
  return r;
}

}  // namespace popalign::metrics
