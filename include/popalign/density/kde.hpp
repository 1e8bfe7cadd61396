#pragma once
// Gaussian kernel density estimation, exact, through the fused log-sum-exp kernel.
//
//   p(x) = sum_j w_j N(x; x_j, H),     w normalised to sum 1
//
// With the Cholesky factor H = L L^T and whitened points z = L^{-1} x,
//
//   log p(x) = log sum_j exp(log w_j - ||z - z_j||^2 / 2)  -  d/2 log(2 pi)  -  log det L
//
// and the first term is exactly kernels::gaussian_lse(z_queries, z_data, log w, c = 1/2): one
// pass, tiled, multithreaded, accumulated in double, never storing n x m. The data are whitened
// once at construction (O(n d^2)) and stored as T; queries are whitened per call.
//
// Accuracy: T = double is exact to ~1e-13 relative for well-scaled data. T = float keeps the
// whitened data and queries in double and evaluates every term in float through
// gaussian_lse_mixed<float> (local origins, direct squared distance, isolated queries again in
// double): 7.3e-7 max / 1.4e-7 p99 relative against double at n = m = 1e5, d = 5, Scott, for
// double inputs. Float inputs add their own rounding (~u r^2 at Mahalanobis radius r: 7.4e-6
// max on the same case) - give Kde<float> double data when 1e-6 matters (docs/density.md).
//
// The bandwidth rules (Scott, Silverman, explicit) and the weighted covariance follow SciPy's
// gaussian_kde exactly; see bandwidth.hpp for the mapping between SciPy's factor and h.
//
// High dimension: a KDE's kernel width relative to the data does not shrink fast enough when d
// grows (Scott's factor at n = 1e5 is 0.28 sd at d = 5 and 0.71 sd at d = 30), so a density
// ratio estimated in high d mostly reflects the kernel. Kde::warnings() says so when the kernel's
// equivalent factor (det H / det Sigma)^(1/2d) exceeds KdeOptions::warn_factor.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include <popalign/core/error.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/density/bandwidth.hpp>
#include <popalign/kernels/gaussian_lse.hpp>

namespace popalign::density {

struct KdeOptions {
  Bandwidth bandwidth{};  ///< default: Scott's rule with the weighted covariance
  Execution execution{};  ///< threads for evaluation (0 = all cores)
  /// Warn when the kernel sd exceeds this fraction of the data sd (equivalent factor).
  double warn_factor = 0.5;
  /// Kde<float> only: queries whose nearest kernel term is below exp(-recompute_below) of the
  /// kernel peak (isolated queries, whose few contributing terms all have large exponents and
  /// hence the largest f32 rounding errors) are evaluated again in double
  /// (kernels::LseOptions::recompute_below). 0 = never. The default keeps Kde<float> within
  /// 1e-6 relative of the double estimate on SciPy's defaults (docs/density.md).
  double recompute_below = 4.0;

  void validate(Index d = 0) const {
    bandwidth.validate(d);
    execution.validate();
    check_argument(std::isfinite(warn_factor) && warn_factor > 0, "warn_factor",
                   "must be finite and > 0");
    check_argument(std::isfinite(recompute_below) && recompute_below >= 0, "recompute_below",
                   "must be finite and >= 0 (0 = never)");
  }
};

namespace detail {

/// Validates weights (empty = uniform) and returns log(w / sum w) (-inf for zero weights).
inline Vector<double> log_normalized_weights(const Eigen::Ref<const Vector<double>>& weights,
                                             Index n, const char* name) {
  Vector<double> lw(n);
  if (weights.size() == 0) {
    lw.setConstant(-std::log(static_cast<double>(n)));
    return lw;
  }
  const double total = check_weights(weights, name, n);
  for (Index i = 0; i < n; ++i)
    lw[i] =
        weights[i] > 0 ? std::log(weights[i] / total) : -std::numeric_limits<double>::infinity();
  return lw;
}

}  // namespace detail

/// An exact Gaussian KDE over a fixed weighted sample. Immutable after construction;
/// log_density() is const and may be called from several threads at once.
template <Real T>
class Kde {
 public:
  /// data: n x d sample (n >= 1, finite); weights: empty (uniform) or n non-negative entries.
  Kde(MatrixView<T> data, const Eigen::Ref<const Vector<double>>& weights, KdeOptions options = {})
      : options_(std::move(options)) {
    init<T>(data, weights);
  }

  /// Uniform weights.
  explicit Kde(MatrixView<T> data, KdeOptions options = {})
      : Kde(data, Vector<double>(), std::move(options)) {}

  /// Kde<float> of double data: the estimate is evaluated in f32 but the data (and, through the
  /// double log_density overload, the queries) are never rounded to float as a whole; only
  /// their differences from local origins are (see log_density). Use this to get f32 speed with
  /// f64 agreement (~1e-7 relative at Scott bandwidths) when the data are in double.
  Kde(MatrixView<double> data, const Eigen::Ref<const Vector<double>>& weights,
      KdeOptions options = {}) requires std::is_same_v<T, float> : options_(std::move(options)) {
    init<double>(data, weights);
  }

  /// Kde<float> of double data, uniform weights.
  explicit Kde(MatrixView<double> data, KdeOptions options = {}) requires std::is_same_v<T, float>
      : Kde(data, Vector<double>(), std::move(options)) {}

  /// log p(x) for every row of points (m x d). -inf where every kernel underflows (far away).
  ///
  /// T = double: one gaussian_lse<double> call on the whitened points (~1e-13 relative).
  /// T = float: the whitened data and queries are kept in double and handed to
  /// gaussian_lse_mixed<float> with per-group local origins and the direct squared distance
  /// (LseDistance::direct): each group of <= 64 spatially close queries is re-centred on its
  /// mean in double, differences are rounded to float only then, and sum_k (z_k - z_jk)^2 is
  /// accumulated in float without cancellation. The f32 error is then a few units of roundoff
  /// times the exponents that matter (~1e-7 relative; docs/density.md), not times the squared
  /// distance of the points from the data mean.
  Vector<double> log_density(MatrixView<T> points) const { return evaluate<T>(points); }

  /// Kde<float> at double query points (no rounding of the queries to float as a whole).
  Vector<double> log_density(MatrixView<double> points) const requires std::is_same_v<T, float> {
    return evaluate<double>(points);
  }

  /// p(x) = exp(log_density(x)).
  Vector<double> density(MatrixView<T> points) const {
    return log_density(points).array().exp().matrix();
  }

  /// p(x) = exp(log_density(x)) at double query points (Kde<float>).
  Vector<double> density(MatrixView<double> points) const requires std::is_same_v<T, float> {
    return log_density(points).array().exp().matrix();
  }

  /// z = L^{-1} x for every row (computed in double, stored as T).
  RowMatrix<T> whiten(MatrixView<T> points) const {
    return whiten_double<T>(points).template cast<T>();
  }

  Index size() const noexcept { return size_; }
  Index dim() const noexcept { return chol_.rows(); }
  /// Kish effective sample size of the weights (used by the Scott/Silverman rules).
  double effective_n() const noexcept { return n_eff_; }
  /// The bandwidth factor f of rules scott/silverman/factor (NaN for explicit bandwidths).
  double factor() const noexcept { return factor_; }
  /// (det H / det Sigma)^(1/(2d)): kernel sd relative to data sd (NaN if Sigma is singular).
  double equivalent_factor() const noexcept { return equivalent_factor_; }
  /// The kernel covariance H (SciPy's gaussian_kde.covariance).
  const Eigen::MatrixXd& kernel_covariance() const noexcept { return kernel_covariance_; }
  /// The weighted data covariance Sigma_w.
  const Eigen::MatrixXd& data_covariance() const noexcept { return data_covariance_; }
  /// Lower Cholesky factor L of H.
  const Eigen::MatrixXd& cholesky() const noexcept { return chol_; }
  /// Whitened sample L^{-1} x_j (n x d), rounded to T.
  const RowMatrix<T>& whitened_data() const noexcept { return whitened_; }
  /// log of the normalised weights (-inf for zero weights).
  const Vector<double>& log_weights() const noexcept { return log_w_; }
  /// -d/2 log(2 pi) - log det L: log of the kernel's peak value.
  double log_normalizer() const noexcept { return log_norm_; }
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }
  const KdeOptions& options() const noexcept { return options_; }

  void check_points(MatrixView<T> points) const { check_points_of<T>(points); }

 private:
  template <Real In>
  void check_points_of(MatrixView<In> points) const {
    check_argument(points.cols() == dim(), "points",
                   "has " + std::to_string(points.cols()) + " columns but the KDE has dimension " +
                       std::to_string(dim()));
    check_argument(points.allFinite(), "points", "contains NaN or infinite values");
  }

  template <Real In>
  RowMatrix<double> whiten_double(MatrixView<In> points) const {
    const Eigen::MatrixXd xt = points.template cast<double>().transpose();
    const Eigen::MatrixXd zt = chol_.template triangularView<Eigen::Lower>().solve(xt);
    return zt.transpose();
  }

  template <Real In>
  Vector<double> evaluate(MatrixView<In> points) const {
    check_points_of<In>(points);
    Vector<double> out;
    if constexpr (std::is_same_v<T, float>) {
      const RowMatrix<double> zq = whiten_double<In>(points);
      const kernels::LseOptions lse{.execution = options_.execution,
                                    .local_origin = true,
                                    .distance = kernels::LseDistance::direct,
                                    .recompute_below = options_.recompute_below};
      out = kernels::gaussian_lse_mixed<float>(zq, whitened64_, log_w_, 0.5, lse);
    } else {
      const RowMatrix<double> zq = whiten_double<In>(points);
      out = kernels::gaussian_lse<double>(zq, whitened_, log_w_, 0.5,
                                          kernels::LseOptions{.execution = options_.execution});
    }
    out.array() += log_norm_;
    return out;
  }

  template <Real In>
  void init(MatrixView<In> data, const Eigen::Ref<const Vector<double>>& weights) {
    const Index n = data.rows(), d = data.cols();
    check_argument(n > 0, "data", "is empty (no rows)");
    check_argument(d > 0, "data", "has no columns");
    check_argument(data.allFinite(), "data", "contains NaN or infinite values");
    options_.validate(d);
    log_w_ = detail::log_normalized_weights(weights, n, "weights");
    Vector<double> w = log_w_.array().exp();
    n_eff_ = 1.0 / w.squaredNorm();
    size_ = n;

    Eigen::RowVectorXd mean;
    Eigen::MatrixXd cov;
    weighted_mean_covariance<In>(data, w, mean, cov);
    data_covariance_ = cov;
    const Bandwidth& bw = options_.bandwidth;
    switch (bw.rule) {
      case BandwidthRule::scott:
        factor_ = scott_factor(n_eff_, d);
        break;
      case BandwidthRule::silverman:
        factor_ = silverman_factor(n_eff_, d);
        break;
      case BandwidthRule::factor:
        factor_ = bw.factor;
        break;
      default:
        factor_ = std::numeric_limits<double>::quiet_NaN();
    }
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov, Eigen::EigenvaluesOnly);
    const bool cov_regular =
        eig.info() == Eigen::Success &&
        eig.eigenvalues().minCoeff() > 1e-12 * std::max(eig.eigenvalues().maxCoeff(), 0.0);
    if (std::isfinite(factor_)) {
      check_argument(cov_regular, "data",
                     "the weighted covariance is singular (a constant or collinear column?); use "
                     "an explicit scalar or diagonal bandwidth");
      kernel_covariance_ = factor_ * factor_ * cov;
    } else if (bw.rule == BandwidthRule::scalar) {
      kernel_covariance_ = Eigen::MatrixXd::Identity(d, d) * bw.scalar * bw.scalar;
    } else if (bw.rule == BandwidthRule::diagonal) {
      kernel_covariance_ = bw.diagonal.array().square().matrix().asDiagonal();
    } else {
      kernel_covariance_ = bw.full;
    }
    Eigen::LLT<Eigen::MatrixXd> llt(kernel_covariance_);
    check_argument(llt.info() == Eigen::Success && kernel_covariance_.allFinite(), "bandwidth",
                   "the kernel covariance is not positive definite");
    chol_ = llt.matrixL();
    double logdet_l = 0.0;
    for (Index k = 0; k < d; ++k) logdet_l += std::log(chol_(k, k));
    log_norm_ = -0.5 * static_cast<double>(d) * std::log(2.0 * std::numbers::pi) - logdet_l;
    RowMatrix<double> zd = whiten_double<In>(data);
    whitened_ = zd.template cast<T>();
    if constexpr (std::is_same_v<T, float>) whitened64_ = std::move(zd);

    // Equivalent factor: geometric mean kernel sd / data sd along the principal axes.
    Eigen::LLT<Eigen::MatrixXd> cov_llt(cov);
    if (cov_regular && cov_llt.info() == Eigen::Success) {
      double logdet_cov_l = 0.0;
      for (Index k = 0; k < d; ++k) logdet_cov_l += std::log(cov_llt.matrixL()(k, k));
      equivalent_factor_ = std::exp((logdet_l - logdet_cov_l) / static_cast<double>(d));
      if (equivalent_factor_ > options_.warn_factor)
        warnings_.push_back(fmt::format(
            "KDE in d = {} with effective n = {:.0f}: the kernel sd is {:.2f} of the data sd "
            "(warn above {:.2f}); a density (ratio) estimated at this resolution mostly reflects "
            "the kernel, not the data. Reduce the dimension (e.g. domains instead of facets) or "
            "use OT-only alignment.",
            d, n_eff_, equivalent_factor_, options_.warn_factor));
    }
    if (n_eff_ < 0.1 * static_cast<double>(n))
      warnings_.push_back(fmt::format(
          "KDE weights are very uneven: effective n = {:.1f} of n = {} (Kish)", n_eff_, n));
  }

  KdeOptions options_;
  Index size_ = 0;
  Vector<double> log_w_;
  double n_eff_ = 0.0, factor_ = 0.0, equivalent_factor_ = std::numeric_limits<double>::quiet_NaN();
  double log_norm_ = 0.0;
  Eigen::MatrixXd data_covariance_, kernel_covariance_, chol_;
  RowMatrix<T> whitened_;
  RowMatrix<double> whitened64_;  ///< Kde<float>: the whitened sample in double (see log_density)
  std::vector<std::string> warnings_;
};

/// Options of log_density_ratio().
struct DensityRatioOptions {
  KdeOptions numerator{};    ///< KDE of the numerator sample (the reference, in the alignment)
  KdeOptions denominator{};  ///< KDE of the denominator sample (the pool)
  /// Use the numerator's kernel covariance H for the denominator too. With a shared kernel the
  /// ratio is that of the two densities convolved with the same Gaussian, so the smoothing
  /// biases of the two estimates largely cancel (useful when the samples differ in size).
  bool share_bandwidth = false;

  void validate() const {
    numerator.validate();
    denominator.validate();
  }
};

/// Result of log_density_ratio(): log p_num(x) - log p_den(x) at the given points.
struct DensityRatioResult {
  Vector<double> log_ratio;
  Vector<double> log_numerator;
  Vector<double> log_denominator;
  Eigen::MatrixXd numerator_bandwidth;    ///< kernel covariance H of the numerator
  Eigen::MatrixXd denominator_bandwidth;  ///< kernel covariance H of the denominator
  double numerator_n_eff = 0.0, denominator_n_eff = 0.0;
  /// High-dimension and weight warnings of both KDEs, and points where the denominator
  /// underflows (ratio +inf) or the numerator does (ratio -inf).
  std::vector<std::string> warnings;
};

/// log(p_num(x) / p_den(x)) at every row of `points`, each density an exact weighted Gaussian
/// KDE (two fused-kernel passes). In the alignment: numerator = reference sample, denominator =
/// the persona pool, points = the pool itself, so exp(log_ratio) are importance weights that
/// move the pool towards the reference.
template <Real T>
DensityRatioResult log_density_ratio(MatrixView<T> numerator,
                                     const Eigen::Ref<const Vector<double>>& numerator_weights,
                                     MatrixView<T> denominator,
                                     const Eigen::Ref<const Vector<double>>& denominator_weights,
                                     MatrixView<T> points,
                                     const DensityRatioOptions& options = {}) {
  options.validate();
  check_argument(denominator.cols() == numerator.cols(), "denominator",
                 "has " + std::to_string(denominator.cols()) + " columns but numerator has " +
                     std::to_string(numerator.cols()));
  check_argument(points.cols() == numerator.cols(), "points",
                 "has " + std::to_string(points.cols()) + " columns but numerator has " +
                     std::to_string(numerator.cols()));
  Kde<T> num(numerator, numerator_weights, options.numerator);
  KdeOptions den_options = options.denominator;
  if (options.share_bandwidth)
    den_options.bandwidth = Bandwidth::with_full(num.kernel_covariance());
  Kde<T> den(denominator, denominator_weights, den_options);
  DensityRatioResult r;
  r.log_numerator = num.log_density(points);
  r.log_denominator = den.log_density(points);
  r.log_ratio = r.log_numerator - r.log_denominator;
  r.numerator_bandwidth = num.kernel_covariance();
  r.denominator_bandwidth = den.kernel_covariance();
  r.numerator_n_eff = num.effective_n();
  r.denominator_n_eff = den.effective_n();
  for (const auto& w : num.warnings()) r.warnings.push_back("numerator: " + w);
  for (const auto& w : den.warnings()) r.warnings.push_back("denominator: " + w);
  Index den_under = 0, num_under = 0;
  for (Index i = 0; i < points.rows(); ++i) {
    const bool dn = !std::isfinite(r.log_denominator[i]);
    const bool nn = !std::isfinite(r.log_numerator[i]);
    if (dn && nn) {
      r.log_ratio[i] = 0.0;  // both underflow: no information, neutral ratio
      ++den_under;
      ++num_under;
    } else if (dn) {
      ++den_under;
    } else if (nn) {
      ++num_under;
    }
  }
  if (den_under > 0)
    r.warnings.push_back(
        fmt::format("{} point(s) where the denominator density underflows", den_under));
  if (num_under > 0)
    r.warnings.push_back(
        fmt::format("{} point(s) where the numerator density underflows", num_under));
  return r;
}

/// Uniform weights on both samples.
template <Real T>
DensityRatioResult log_density_ratio(MatrixView<T> numerator, MatrixView<T> denominator,
                                     MatrixView<T> points,
                                     const DensityRatioOptions& options = {}) {
  return log_density_ratio<T>(numerator, Vector<double>(), denominator, Vector<double>(), points,
                              options);
}

}  // namespace popalign::density
