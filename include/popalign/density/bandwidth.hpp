#pragma once
// Bandwidth selection for Gaussian kernel density estimates.
//
// A d-dimensional Gaussian KDE puts a kernel N(x_j, H) on every sample point; H is the kernel
// covariance ("bandwidth matrix"). popalign supports
//
//   rule        kernel covariance H
//   ---------   --------------------------------------------------------------------------
//   scott       f^2 * Sigma_w,  f = n_eff^(-1/(d+4))                 (Scott 1992)
//   silverman   f^2 * Sigma_w,  f = (n_eff (d+2) / 4)^(-1/(d+4))     (Silverman 1986)
//   factor      f^2 * Sigma_w,  f given                              (SciPy's scalar bw_method)
//   scalar      h^2 * I,        h given in data units
//   diagonal    diag(h_1^2, ..., h_d^2), h_k given in data units
//   full        H given (symmetric positive definite)
//
// Sigma_w is the weighted sample covariance (with the unbiased correction for reliability
// weights, 1 / (1 - sum w_i^2) for sum-one w, the same as numpy.cov(aweights=w) used by SciPy),
// and n_eff = (sum w)^2 / sum w^2 is Kish's effective sample size, which equals n for uniform
// weights. These are exactly SciPy's gaussian_kde conventions: scipy's `factor` is f above, and
// its `covariance` is H. So a SciPy `gaussian_kde(data, bw_method=f)` equals rule = factor with
// the same f; a bandwidth "h" in the textbook sense (kernel sd in data units) is h = f * sd for
// standardised data. Rules scott/silverman/factor whiten the data with Sigma_w: the kernel
// follows the shape of the data (full covariance).
#include <cmath>
#include <string>

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <popalign/core/error.hpp>
#include <popalign/core/types.hpp>

namespace popalign::density {

enum class BandwidthRule { scott, silverman, factor, scalar, diagonal, full };

/// How the kernel covariance H is chosen. Only the fields of the chosen rule are read.
struct Bandwidth {
  BandwidthRule rule = BandwidthRule::scott;
  double factor = 0.0;        ///< rule == factor: f > 0
  double scalar = 0.0;        ///< rule == scalar: h > 0 (data units)
  Vector<double> diagonal{};  ///< rule == diagonal: d entries > 0 (data units)
  RowMatrix<double> full{};   ///< rule == full: d x d SPD kernel covariance

  static Bandwidth scott() { return {}; }
  static Bandwidth silverman() { return Bandwidth{.rule = BandwidthRule::silverman}; }
  static Bandwidth with_factor(double f) {
    return Bandwidth{.rule = BandwidthRule::factor, .factor = f};
  }
  static Bandwidth with_scalar(double h) {
    return Bandwidth{.rule = BandwidthRule::scalar, .scalar = h};
  }
  static Bandwidth with_diagonal(Vector<double> h) {
    return Bandwidth{.rule = BandwidthRule::diagonal, .diagonal = std::move(h)};
  }
  static Bandwidth with_full(RowMatrix<double> H) {
    return Bandwidth{.rule = BandwidthRule::full, .full = std::move(H)};
  }

  /// Checks the fields of the chosen rule; d = data dimension (0 = not known yet).
  void validate(Index d = 0) const {
    switch (rule) {
      case BandwidthRule::scott:
      case BandwidthRule::silverman:
        break;
      case BandwidthRule::factor:
        check_argument(std::isfinite(factor) && factor > 0, "bandwidth.factor",
                       "must be finite and > 0");
        break;
      case BandwidthRule::scalar:
        check_argument(std::isfinite(scalar) && scalar > 0, "bandwidth.scalar",
                       "must be finite and > 0");
        break;
      case BandwidthRule::diagonal:
        check_argument(d == 0 || diagonal.size() == d, "bandwidth.diagonal",
                       "has " + std::to_string(diagonal.size()) + " entries for dimension " +
                           std::to_string(d));
        check_argument(diagonal.size() > 0, "bandwidth.diagonal", "is empty");
        for (Index k = 0; k < diagonal.size(); ++k)
          check_argument(std::isfinite(diagonal[k]) && diagonal[k] > 0, "bandwidth.diagonal",
                         "entry " + std::to_string(k) + " must be finite and > 0");
        break;
      case BandwidthRule::full: {
        check_argument(full.rows() == full.cols() && full.rows() > 0, "bandwidth.full",
                       "must be a non-empty square matrix");
        check_argument(d == 0 || full.rows() == d, "bandwidth.full",
                       "is " + std::to_string(full.rows()) + " x " + std::to_string(full.cols()) +
                           " for dimension " + std::to_string(d));
        check_argument(full.allFinite(), "bandwidth.full", "contains NaN or infinite values");
        check_argument(
            (full - full.transpose()).cwiseAbs().maxCoeff() <= 1e-12 * full.cwiseAbs().maxCoeff(),
            "bandwidth.full", "must be symmetric");
        Eigen::LLT<Eigen::MatrixXd> llt(full);
        check_argument(llt.info() == Eigen::Success, "bandwidth.full", "must be positive definite");
        break;
      }
    }
  }
};

/// Kish's effective sample size (sum w)^2 / sum w^2; n for empty (uniform) weights.
inline double kish_effective_n(const Eigen::Ref<const Vector<double>>& weights, Index n) {
  if (weights.size() == 0) return static_cast<double>(n);
  const double s = weights.sum();
  return s * s / weights.squaredNorm();
}

/// Scott's factor n_eff^(-1/(d+4)).
inline double scott_factor(double n_eff, Index d) {
  check_argument(n_eff > 0, "n_eff", "must be > 0");
  check_argument(d > 0, "d", "must be > 0");
  return std::pow(n_eff, -1.0 / (static_cast<double>(d) + 4.0));
}

/// Silverman's factor (n_eff (d+2)/4)^(-1/(d+4)).
inline double silverman_factor(double n_eff, Index d) {
  check_argument(n_eff > 0, "n_eff", "must be > 0");
  check_argument(d > 0, "d", "must be > 0");
  const double dd = static_cast<double>(d);
  return std::pow(n_eff * (dd + 2.0) / 4.0, -1.0 / (dd + 4.0));
}

/// Weighted mean and covariance of the rows of `data` (weights empty = uniform). The covariance
/// uses the reliability-weight correction 1 / (1 - sum w^2) (w normalised to sum 1), which
/// reduces to the usual 1/(n-1) for uniform weights and matches numpy.cov(aweights=w).
/// Accumulated in double.
template <Real T>
void weighted_mean_covariance(MatrixView<T> data, const Eigen::Ref<const Vector<double>>& weights,
                              Eigen::RowVectorXd& mean, Eigen::MatrixXd& cov) {
  const Index n = data.rows(), d = data.cols();
  check_argument(n > 0, "data", "is empty");
  check_argument(
      weights.size() == 0 || weights.size() == n, "weights",
      "has " + std::to_string(weights.size()) + " entries for " + std::to_string(n) + " rows");
  Vector<double> w = weights.size() == 0 ? Vector<double>::Constant(n, 1.0 / static_cast<double>(n))
                                         : Vector<double>(weights / weights.sum());
  mean = Eigen::RowVectorXd::Zero(d);
  for (Index i = 0; i < n; ++i) mean += w[i] * data.row(i).template cast<double>();
  cov = Eigen::MatrixXd::Zero(d, d);
  for (Index i = 0; i < n; ++i) {
    const Eigen::RowVectorXd c = data.row(i).template cast<double>() - mean;
    cov.noalias() += w[i] * c.transpose() * c;
  }
  const double denom = 1.0 - w.squaredNorm();
  if (denom > 0) cov /= denom;
}

}  // namespace popalign::density
