#pragma once
// Distances between two weighted samples, one column (trait) at a time, and the weighted
// moments they need.
//
//   wasserstein_1d    W_p between two weighted 1-D samples, by merging their quantile functions
//                     (W_p^p = int_0^1 |F^-1(t) - G^-1(t)|^p dt); p = 1 equals
//                     scipy.stats.wasserstein_distance (int |F - G| dx).
//   ks_1d             sup_x |F(x) - G(x)| of the weighted ECDFs (scipy.stats.ks_2samp's
//                     statistic for uniform weights).
//   per-column        column_wasserstein1, column_ks, mean_gap, sd_gap over n x d matrices.
//
// Weights: an empty vector means uniform; otherwise one finite non-negative entry per row, not
// all zero; they are normalised internally. All sums are in double. Costs O(n log n) per column.
// Standard deviations are the weighted population sd sqrt(sum w_i (x_i - mean)^2) with sum-one
// weights (no small-sample correction: it is undefined for general weights and the gaps are
// meant for large samples).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/types.hpp>

namespace popalign::metrics {

namespace detail {

/// Sum-one weights for n rows (empty = uniform). Throws InvalidArgument naming `name`.
inline Vector<double> normalized_weights(const Eigen::Ref<const Vector<double>>& weights, Index n,
                                         const char* name) {
  if (weights.size() == 0) return Vector<double>::Constant(n, 1.0 / static_cast<double>(n));
  const double total = check_weights(weights, name, n);
  return weights / total;
}

template <Real T>
void check_samples(MatrixView<T> a, MatrixView<T> b) {
  check_argument(a.rows() > 0, "a", "is empty (no rows)");
  check_argument(b.rows() > 0, "b", "is empty (no rows)");
  check_argument(a.cols() > 0, "a", "has no columns");
  check_argument(
      b.cols() == a.cols(), "b",
      "has " + std::to_string(b.cols()) + " columns but a has " + std::to_string(a.cols()));
  check_argument(a.allFinite(), "a", "contains NaN or infinite values");
  check_argument(b.allFinite(), "b", "contains NaN or infinite values");
}

/// A sorted weighted 1-D sample (values ascending, weights sum to one, zero weights dropped).
struct Sorted1d {
  std::vector<double> x, w;
};

inline Sorted1d sort_weighted(const std::vector<double>& values, const Vector<double>& w) {
  // Sort (value, weight) pairs directly (contiguous, no index indirection). Ties may come out
  // in any order: W_p and KS depend only on the multiset of (value, weight) pairs.
  std::vector<std::pair<double, double>> vw;
  vw.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i)
    if (w[static_cast<Index>(i)] > 0) vw.emplace_back(values[i], w[static_cast<Index>(i)]);
  std::sort(vw.begin(), vw.end());
  Sorted1d s;
  s.x.resize(vw.size());
  s.w.resize(vw.size());
  for (std::size_t i = 0; i < vw.size(); ++i) {
    s.x[i] = vw[i].first;
    s.w[i] = vw[i].second;
  }
  return s;
}

/// W_p^p between two sorted weighted samples by walking both quantile functions.
inline double wasserstein_pp_sorted(const Sorted1d& a, const Sorted1d& b, double p) {
  std::size_t i = 0, j = 0;
  const std::size_t na = a.x.size(), nb = b.x.size();
  double ca = a.w[0], cb = b.w[0], t = 0.0, acc = 0.0;
  while (true) {
    const bool last_a = i + 1 == na, last_b = j + 1 == nb;
    // The final quantile level is 1 on both sides whatever the rounding of the partial sums.
    const double ea = last_a ? 1.0 : ca, eb = last_b ? 1.0 : cb;
    const double next = std::min(ea, eb);
    if (next > t) {
      const double diff = std::abs(a.x[i] - b.x[j]);
      acc += (next - t) * (p == 1.0 ? diff : (p == 2.0 ? diff * diff : std::pow(diff, p)));
      t = next;
    }
    if (last_a && last_b) break;
    if ((ea <= eb && !last_a) || last_b) {
      ++i;
      ca += a.w[i];
    } else {
      ++j;
      cb += b.w[j];
    }
  }
  return acc;
}

/// sup |F_a - G_b| between two sorted weighted samples (ties processed together).
inline double ks_sorted(const Sorted1d& a, const Sorted1d& b) {
  std::size_t i = 0, j = 0;
  double fa = 0.0, fb = 0.0, best = 0.0;
  while (i < a.x.size() || j < b.x.size()) {
    const double v = (j >= b.x.size() || (i < a.x.size() && a.x[i] <= b.x[j])) ? a.x[i] : b.x[j];
    while (i < a.x.size() && a.x[i] == v) fa += a.w[i++];
    while (j < b.x.size() && b.x[j] == v) fb += b.w[j++];
    best = std::max(best, std::abs(fa - fb));
  }
  return std::min(best, 1.0);
}

template <Real T>
std::vector<double> column(MatrixView<T> m, Index k) {
  std::vector<double> c(static_cast<std::size_t>(m.rows()));
  for (Index i = 0; i < m.rows(); ++i)
    c[static_cast<std::size_t>(i)] = static_cast<double>(m(i, k));
  return c;
}

}  // namespace detail

/// W_p (p >= 1) between two weighted 1-D samples; returns (W_p^p)^(1/p).
template <Real T>
double wasserstein_1d(const Eigen::Ref<const Vector<T>>& a, const Eigen::Ref<const Vector<T>>& b,
                      const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
                      const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>(),
                      double p = 1.0) {
  check_argument(std::isfinite(p) && p >= 1.0, "p", "must be finite and >= 1");
  check_argument(a.size() > 0, "a", "is empty");
  check_argument(b.size() > 0, "b", "is empty");
  check_argument(a.allFinite(), "a", "contains NaN or infinite values");
  check_argument(b.allFinite(), "b", "contains NaN or infinite values");
  const Vector<double> wa = detail::normalized_weights(a_weights, a.size(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.size(), "b_weights");
  std::vector<double> va(a.data(), a.data() + a.size()), vb(b.data(), b.data() + b.size());
  const double pp = detail::wasserstein_pp_sorted(detail::sort_weighted(va, wa),
                                                  detail::sort_weighted(vb, wb), p);
  return p == 1.0 ? pp : std::pow(pp, 1.0 / p);
}

/// Two-sample Kolmogorov–Smirnov statistic sup |F_a - F_b| of weighted ECDFs.
template <Real T>
double ks_1d(const Eigen::Ref<const Vector<T>>& a, const Eigen::Ref<const Vector<T>>& b,
             const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
             const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>()) {
  check_argument(a.size() > 0, "a", "is empty");
  check_argument(b.size() > 0, "b", "is empty");
  check_argument(a.allFinite(), "a", "contains NaN or infinite values");
  check_argument(b.allFinite(), "b", "contains NaN or infinite values");
  const Vector<double> wa = detail::normalized_weights(a_weights, a.size(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.size(), "b_weights");
  std::vector<double> va(a.data(), a.data() + a.size()), vb(b.data(), b.data() + b.size());
  return detail::ks_sorted(detail::sort_weighted(va, wa), detail::sort_weighted(vb, wb));
}

/// Per-column Wasserstein-1 between the weighted samples a (n x d) and b (m x d).
template <Real T>
Vector<double> column_wasserstein1(
    MatrixView<T> a, MatrixView<T> b,
    const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
    const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>()) {
  detail::check_samples<T>(a, b);
  const Vector<double> wa = detail::normalized_weights(a_weights, a.rows(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.rows(), "b_weights");
  Vector<double> out(a.cols());
  for (Index k = 0; k < a.cols(); ++k)
    out[k] = detail::wasserstein_pp_sorted(detail::sort_weighted(detail::column<T>(a, k), wa),
                                           detail::sort_weighted(detail::column<T>(b, k), wb), 1.0);
  return out;
}

/// Per-column weighted KS statistic.
template <Real T>
Vector<double> column_ks(MatrixView<T> a, MatrixView<T> b,
                         const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
                         const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>()) {
  detail::check_samples<T>(a, b);
  const Vector<double> wa = detail::normalized_weights(a_weights, a.rows(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.rows(), "b_weights");
  Vector<double> out(a.cols());
  for (Index k = 0; k < a.cols(); ++k)
    out[k] = detail::ks_sorted(detail::sort_weighted(detail::column<T>(a, k), wa),
                               detail::sort_weighted(detail::column<T>(b, k), wb));
  return out;
}

/// Weighted column means (sum-one weights; empty = uniform).
template <Real T>
Vector<double> weighted_mean(MatrixView<T> a,
                             const Eigen::Ref<const Vector<double>>& weights = Vector<double>()) {
  check_argument(a.rows() > 0, "a", "is empty (no rows)");
  const Vector<double> w = detail::normalized_weights(weights, a.rows(), "weights");
  return (a.template cast<double>().transpose() * w).eval();
}

/// Weighted population standard deviation of every column.
template <Real T>
Vector<double> weighted_sd(MatrixView<T> a,
                           const Eigen::Ref<const Vector<double>>& weights = Vector<double>()) {
  check_argument(a.rows() > 0, "a", "is empty (no rows)");
  const Vector<double> w = detail::normalized_weights(weights, a.rows(), "weights");
  const Vector<double> mu = a.template cast<double>().transpose() * w;
  Vector<double> var = Vector<double>::Zero(a.cols());
  for (Index i = 0; i < a.rows(); ++i)
    var += w[i] * (a.row(i).template cast<double>().transpose() - mu).array().square().matrix();
  return var.array().sqrt().matrix();
}

/// mean_a - mean_b per column (signed).
template <Real T>
Vector<double> mean_gap(MatrixView<T> a, MatrixView<T> b,
                        const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
                        const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>()) {
  detail::check_samples<T>(a, b);
  const Vector<double> wa = detail::normalized_weights(a_weights, a.rows(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.rows(), "b_weights");
  return (weighted_mean<T>(a, wa) - weighted_mean<T>(b, wb)).eval();
}

/// sd_a - sd_b per column (signed; population sd, see the file comment).
template <Real T>
Vector<double> sd_gap(MatrixView<T> a, MatrixView<T> b,
                      const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
                      const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>()) {
  detail::check_samples<T>(a, b);
  const Vector<double> wa = detail::normalized_weights(a_weights, a.rows(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.rows(), "b_weights");
  return (weighted_sd<T>(a, wa) - weighted_sd<T>(b, wb)).eval();
}

}  // namespace popalign::metrics
