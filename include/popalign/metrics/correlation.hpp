#pragma once
// Weighted correlation matrices and the distance between two of them.
//
//   R_ij = C_ij / sqrt(C_ii C_jj),  C = weighted covariance (sum-one weights; the normalising
//   constant cancels, so the choice of unbiased correction does not matter).
//
// correlation_distance returns the Frobenius norm of R_a - R_b and, because it grows with d,
// also the normalised value ||R_a - R_b||_F / sqrt(d (d - 1)): the root mean square of the
// off-diagonal differences (the diagonals are both 1), comparable across dimensions, in [0, 2],
// and the mean absolute error over the d (d - 1) / 2 off-diagonal pairs,
//   MAE = 2 / (d (d - 1)) sum_{i < j} |R_a,ij - R_b,ij|,   in [0, 2]
// (the "correlation-matrix MAE" of the population-alignment literature; 0 for one trait).
// A constant column has no correlation: its off-diagonal entries are set to 0 (documented, so
// that a degenerate trait does not turn the whole distance into NaN).
#include <algorithm>
#include <cmath>

#include <popalign/core/types.hpp>
#include <popalign/metrics/univariate.hpp>

namespace popalign::metrics {

/// Weighted Pearson correlation matrix (d x d) of the rows of a.
template <Real T>
Eigen::MatrixXd weighted_correlation(
    MatrixView<T> a, const Eigen::Ref<const Vector<double>>& weights = Vector<double>()) {
  check_argument(a.rows() > 0, "a", "is empty (no rows)");
  check_argument(a.allFinite(), "a", "contains NaN or infinite values");
  const Vector<double> w = detail::normalized_weights(weights, a.rows(), "weights");
  const Index d = a.cols();
  const Eigen::RowVectorXd mu = (a.template cast<double>().transpose() * w).transpose();
  Eigen::MatrixXd c = Eigen::MatrixXd::Zero(d, d);
  for (Index i = 0; i < a.rows(); ++i) {
    const Eigen::RowVectorXd x = a.row(i).template cast<double>() - mu;
    c.noalias() += w[i] * x.transpose() * x;
  }
  Eigen::MatrixXd r(d, d);
  for (Index j = 0; j < d; ++j)
    for (Index k = 0; k < d; ++k) {
      const double s = std::sqrt(c(j, j) * c(k, k));
      r(j, k) = j == k ? 1.0 : (s > 0 ? std::clamp(c(j, k) / s, -1.0, 1.0) : 0.0);
    }
  return r;
}

struct CorrelationDistance {
  double frobenius = 0.0;   ///< ||R_a - R_b||_F
  double normalized = 0.0;  ///< ||R_a - R_b||_F / sqrt(d (d-1)): RMS off-diagonal difference
  double mae = 0.0;         ///< mean |R_a,ij - R_b,ij| over the pairs i < j
};

template <Real T>
CorrelationDistance correlation_distance(
    MatrixView<T> a, MatrixView<T> b,
    const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
    const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>()) {
  detail::check_samples<T>(a, b);
  const Eigen::MatrixXd diff =
      weighted_correlation<T>(a, a_weights) - weighted_correlation<T>(b, b_weights);
  CorrelationDistance out;
  out.frobenius = diff.norm();
  const double d = static_cast<double>(a.cols());
  out.normalized = a.cols() > 1 ? out.frobenius / std::sqrt(d * (d - 1.0)) : 0.0;
  double abs_sum = 0.0;
  for (Index j = 0; j < a.cols(); ++j)
    for (Index k = j + 1; k < a.cols(); ++k) abs_sum += std::abs(diff(j, k));
  out.mae = a.cols() > 1 ? abs_sum / (d * (d - 1.0) / 2.0) : 0.0;
  return out;
}

}  // namespace popalign::metrics
