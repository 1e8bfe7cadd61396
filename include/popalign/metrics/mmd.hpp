#pragma once
// Maximum mean discrepancy with the Gaussian kernel k(x, y) = exp(-||x - y||^2 / (2 sigma^2)),
// between two weighted samples (weights a, b summing to one):
//
//   MMD^2_biased   = sum_ij a_i a_j k(x_i, x_j) + sum_ij b_i b_j k(y_i, y_j)
//                    - 2 sum_ij a_i b_j k(x_i, y_j)                       (V-statistic, >= 0)
//   MMD^2_unbiased = (Kxx - sum a_i^2) / (1 - sum a_i^2) + (Kyy - sum b_i^2) / (1 - sum b_i^2)
//                    - 2 Kxy                                               (U-statistic)
//
// where Kxx, Kyy, Kxy are the three weighted sums above; removing the diagonal (k(x,x) = 1) and
// renormalising gives Gretton et al.'s (2012) unbiased estimator for uniform weights,
// 1/(n(n-1)) sum_{i != j} k, and its natural weighted generalisation otherwise. It can be
// negative. Each weighted sum is one pass of the fused kernel:
//   sum_j b_j k(x_i, y_j) = exp(gaussian_lse(x, y, log b, c = 1 / (2 sigma^2))_i),
// so memory stays O(n + m) and the sums are accumulated in double.
//
// Bandwidth: sigma > 0 given, or 0 for the median heuristic (median pairwise distance of the
// pooled sample; computed on at most `median_sample` points drawn with `seed`).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/core/random.hpp>
#include <popalign/core/types.hpp>
#include <popalign/kernels/gaussian_lse.hpp>
#include <popalign/metrics/univariate.hpp>

namespace popalign::metrics {

struct MmdOptions {
  double bandwidth = 0.0;      ///< sigma; 0 = median heuristic
  Index median_sample = 1000;  ///< points used by the median heuristic
  std::uint64_t seed = 0;      ///< for the median heuristic's subsample
  Execution execution{};

  void validate() const {
    check_argument(std::isfinite(bandwidth) && bandwidth >= 0, "bandwidth",
                   "must be finite and >= 0 (0 = median heuristic)");
    check_argument(median_sample >= 2, "median_sample", "must be >= 2");
    execution.validate();
  }
};

struct MmdResult {
  double mmd2_biased = 0.0;
  double mmd2_unbiased = 0.0;
  double bandwidth = 0.0;  ///< sigma used
  /// sqrt(max(0, mmd2_biased)).
  double mmd() const noexcept { return std::sqrt(std::max(0.0, mmd2_biased)); }
};

/// Median of the pairwise Euclidean distances of the pooled rows of a and b (on a seeded
/// subsample of at most max_points rows). Returns 1 if all sampled points coincide.
template <Real T>
double median_heuristic(MatrixView<T> a, MatrixView<T> b, Index max_points = 1000,
                        std::uint64_t seed = 0) {
  detail::check_samples<T>(a, b);
  const Index n = a.rows() + b.rows();
  std::vector<Index> idx(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) idx[static_cast<std::size_t>(i)] = i;
  if (n > max_points) {
    Rng rng(seed);
    rng.shuffle(idx);
    idx.resize(static_cast<std::size_t>(max_points));
  }
  auto row = [&](Index i) -> Eigen::RowVectorXd {
    return i < a.rows() ? Eigen::RowVectorXd(a.row(i).template cast<double>())
                        : Eigen::RowVectorXd(b.row(i - a.rows()).template cast<double>());
  };
  std::vector<double> dist;
  dist.reserve(idx.size() * (idx.size() - 1) / 2);
  for (std::size_t i = 0; i < idx.size(); ++i) {
    const Eigen::RowVectorXd xi = row(idx[i]);
    for (std::size_t j = i + 1; j < idx.size(); ++j) dist.push_back((xi - row(idx[j])).norm());
  }
  if (dist.empty()) return 1.0;
  auto mid = dist.begin() + static_cast<std::ptrdiff_t>(dist.size() / 2);
  std::nth_element(dist.begin(), mid, dist.end());
  return *mid > 0 ? *mid : 1.0;
}

namespace detail {

/// sum_i wx_i sum_j wy_j exp(-c ||x_i - y_j||^2) through the fused kernel.
template <Real T>
double kernel_mean(MatrixView<T> x, const Vector<double>& wx, MatrixView<T> y,
                   const Vector<double>& wy, double c, const Execution& ex) {
  Vector<double> h(wy.size());
  for (Index j = 0; j < wy.size(); ++j)
    h[j] = wy[j] > 0 ? std::log(wy[j]) : -std::numeric_limits<double>::infinity();
  const kernels::LseOptions lse{.execution = ex};
  const Vector<double> l = kernels::gaussian_lse<T>(x, y, h, c, lse);
  double s = 0.0;
  for (Index i = 0; i < x.rows(); ++i)
    if (wx[i] > 0) s += wx[i] * std::exp(l[i]);
  return s;
}

}  // namespace detail

template <Real T>
MmdResult gaussian_mmd(MatrixView<T> a, MatrixView<T> b,
                       const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
                       const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>(),
                       const MmdOptions& options = {}) {
  options.validate();
  detail::check_samples<T>(a, b);
  const Vector<double> wa = detail::normalized_weights(a_weights, a.rows(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.rows(), "b_weights");
  MmdResult r;
  r.bandwidth = options.bandwidth > 0
                    ? options.bandwidth
                    : median_heuristic<T>(a, b, options.median_sample, options.seed);
  const double c = 1.0 / (2.0 * r.bandwidth * r.bandwidth);
  const double kxx = detail::kernel_mean<T>(a, wa, a, wa, c, options.execution);
  const double kyy = detail::kernel_mean<T>(b, wb, b, wb, c, options.execution);
  const double kxy = detail::kernel_mean<T>(a, wa, b, wb, c, options.execution);
  r.mmd2_biased = std::max(0.0, kxx + kyy - 2.0 * kxy);
  const double sa = wa.squaredNorm(), sb = wb.squaredNorm();
  // With a single effective point the diagonal-free term is undefined: NaN.
  const double ua = sa < 1.0 ? (kxx - sa) / (1.0 - sa) : std::numeric_limits<double>::quiet_NaN();
  const double ub = sb < 1.0 ? (kyy - sb) / (1.0 - sb) : std::numeric_limits<double>::quiet_NaN();
  r.mmd2_unbiased = ua + ub - 2.0 * kxy;
  return r;
}

}  // namespace popalign::metrics
