#pragma once
// Self-normalised importance weights, their effective sample size, and the two standard ways of
// taming heavy-tailed weights: truncation at mean*sqrt(n) (Ionides 2008) and Pareto smoothing
// (PSIS, Vehtari, Simpson, Gelman, Yao & Gabry 2015/2024) with its k-hat diagnostic.
//
// Conventions
//   * Log-weights may be -inf (zero weight); NaN and +inf are rejected.
//   * Weights (linear) must be finite and >= 0, and not all zero.
//   * Every function returns weights normalised to sum 1, in double, whatever the input scalar.
//   * All work is O(n) except PSIS, which sorts (O(n log n)).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/types.hpp>

namespace popalign::sampling {

namespace detail {

template <Real T>
void check_log_weights(const Eigen::Ref<const Vector<T>>& log_w, const char* name) {
  check_argument(log_w.size() > 0, name, "is empty");
  bool any_finite = false;
  for (Index i = 0; i < log_w.size(); ++i) {
    const double v = static_cast<double>(log_w[i]);
    check_argument(!std::isnan(v) && v != std::numeric_limits<double>::infinity(), name,
                   "entry " + std::to_string(i) + " is NaN or +inf");
    any_finite = any_finite || std::isfinite(v);
  }
  check_argument(any_finite, name, "all entries are -inf (every weight is zero)");
}

/// Sum-to-one copy of validated non-negative weights.
template <Real T>
Vector<double> normalized_copy(const Eigen::Ref<const Vector<T>>& w, const char* name) {
  popalign::check_weights(w, name);
  Vector<double> out = w.template cast<double>();
  out /= out.sum();
  return out;
}

}  // namespace detail

/// Self-normalised weights w_i = exp(l_i - max l) / sum_j exp(l_j - max l): the max shift makes
/// the result exact for log-weights of any magnitude. -inf gives weight 0.
template <Real T>
Vector<double> normalize_log_weights(const Eigen::Ref<const Vector<T>>& log_weights) {
  detail::check_log_weights<T>(log_weights, "log_weights");
  const double mx = static_cast<double>(log_weights.maxCoeff());
  Vector<double> w(log_weights.size());
  for (Index i = 0; i < w.size(); ++i) w[i] = std::exp(static_cast<double>(log_weights[i]) - mx);
  w /= w.sum();
  return w;
}

/// Kish's effective sample size (sum w)^2 / sum w^2 of non-negative weights (any scale).
/// Equals n for uniform weights and 1 when one weight carries everything.
template <Real T>
double effective_sample_size(const Eigen::Ref<const Vector<T>>& weights) {
  check_weights(weights, "weights");
  const Vector<double> w = weights.template cast<double>();
  const double s = w.sum();
  return s * s / w.squaredNorm();
}

/// Effective sample size from log-weights (normalised internally).
template <Real T>
double effective_sample_size_log(const Eigen::Ref<const Vector<T>>& log_weights) {
  const Vector<double> w = normalize_log_weights<T>(log_weights);
  return 1.0 / w.squaredNorm();
}

/// Result of truncate_weights().
struct TruncationResult {
  Vector<double> weights;  ///< truncated, normalised to sum 1
  double cap = 0.0;        ///< the cap, on the sum-1 scale (= sqrt(n) / n before renormalising)
  Index truncated = 0;     ///< how many weights were cut to the cap
  double ess = 0.0;        ///< Kish effective sample size after truncation
};

/// Truncated importance sampling (Ionides 2008, "Truncated importance sampling", JCGS 17:2):
/// every weight is capped at mean(w) * sqrt(n), then the weights are renormalised. The cap
/// adds a bias that vanishes as n grows and gives a finite variance whenever E[w] is finite.
/// With sum-1 weights the cap is 1/sqrt(n). One pass; no iteration (as in the paper).
template <Real T>
TruncationResult truncate_weights(const Eigen::Ref<const Vector<T>>& weights) {
  Vector<double> w = detail::normalized_copy<T>(weights, "weights");
  const double n = static_cast<double>(w.size());
  TruncationResult r;
  r.cap = std::sqrt(n) / n;  // mean(w) = 1/n
  for (Index i = 0; i < w.size(); ++i) {
    if (w[i] > r.cap) {
      w[i] = r.cap;
      ++r.truncated;
    }
  }
  w /= w.sum();
  r.ess = 1.0 / w.squaredNorm();
  r.weights = std::move(w);
  return r;
}

/// truncate_weights() from log-weights.
template <Real T>
TruncationResult truncate_log_weights(const Eigen::Ref<const Vector<T>>& log_weights) {
  const Vector<double> w = normalize_log_weights<T>(log_weights);
  return truncate_weights<double>(w);
}

/// Result of pareto_smooth().
struct PsisResult {
  Vector<double> weights;  ///< smoothed, normalised to sum 1
  /// Estimated generalized-Pareto shape of the upper tail of the raw weights.
  /// k < 0.5: fine (finite variance); 0.5 <= k < 0.7: usable with care (Vehtari et al. 2024
  /// use min(1 - 1/log10(n), 0.7) as the threshold); k >= 0.7: estimates are unreliable.
  /// +inf when the tail is too short to fit (fewer than 5 tail draws).
  double k_hat = std::numeric_limits<double>::infinity();
  double sigma = 0.0;     ///< fitted GPD scale (on the exp(log w - max log w) scale)
  Index tail_length = 0;  ///< M = ceil(min(n/5, 3 sqrt(n))) largest weights were smoothed
  double ess = 0.0;       ///< Kish ESS of the smoothed weights
  /// k threshold of Vehtari et al. (2024) for this n: min(1 - 1/log10(n), 0.7).
  double k_threshold = 0.7;
  bool reliable() const noexcept { return k_hat < k_threshold; }
};

namespace detail {

/// Zhang & Stephens (2009) empirical-Bayes estimate of the generalized Pareto (k, sigma) for
/// exceedances x (sorted ascending, > 0), with the weakly informative prior of Vehtari et al.
/// (k shrunk towards 0.5 with weight 10 observations). Same algorithm as loo::gpdfit / ArviZ.
inline void gpd_fit(const std::vector<double>& x, double& k_out, double& sigma_out) {
  const Index n = static_cast<Index>(x.size());
  const double prior_bs = 3.0, prior_k = 10.0;
  const Index m = 30 + static_cast<Index>(std::sqrt(static_cast<double>(n)));
  std::vector<double> b(m), k(m), len(m);
  const double quart = x[static_cast<std::size_t>(static_cast<Index>(n / 4.0 + 0.5) - 1)];
  for (Index j = 0; j < m; ++j) {
    b[j] = 1.0 - std::sqrt(static_cast<double>(m) / (static_cast<double>(j + 1) - 0.5));
    b[j] /= prior_bs * quart;
    b[j] += 1.0 / x.back();
    double s = 0.0;
    for (double xi : x) s += std::log1p(-b[j] * xi);
    k[j] = s / static_cast<double>(n);
    len[j] = static_cast<double>(n) * (std::log(-(b[j] / k[j])) - k[j] - 1.0);
  }
  // weights_j = 1 / sum_l exp(len_l - len_j)
  std::vector<double> wt(m);
  for (Index j = 0; j < m; ++j) {
    double s = 0.0;
    for (Index l = 0; l < m; ++l) s += std::exp(len[l] - len[j]);
    wt[j] = 1.0 / s;
  }
  double wsum = 0.0, bpost = 0.0;
  for (Index j = 0; j < m; ++j) {
    if (wt[j] < 10.0 * std::numeric_limits<double>::epsilon()) continue;
    wsum += wt[j];
    bpost += wt[j] * b[j];
  }
  bpost /= wsum;
  double kpost = 0.0;
  for (double xi : x) kpost += std::log1p(-bpost * xi);
  kpost /= static_cast<double>(n);
  sigma_out = -kpost / bpost;
  k_out = (static_cast<double>(n) * kpost + prior_k * 0.5) / (static_cast<double>(n) + prior_k);
}

/// Inverse CDF of the generalized Pareto with shape k and scale sigma (location 0).
inline double gpd_quantile(double p, double k, double sigma) {
  if (std::abs(k) < std::numeric_limits<double>::epsilon()) return -sigma * std::log1p(-p);
  return sigma * std::expm1(-k * std::log1p(-p)) / k;
}

}  // namespace detail

/// Pareto-smoothed importance sampling (PSIS; Vehtari et al., "Pareto smoothed importance
/// sampling", JMLR 25 (2024)). The M = ceil(min(0.2 n, 3 sqrt(n))) largest raw weights are
/// replaced by the expected order statistics of a generalized Pareto distribution fitted to
/// their exceedances over the (M+1)-th largest weight (Zhang–Stephens fit, quantiles at
/// (z - 1/2)/M), capped at the largest raw weight, then all weights are renormalised.
/// The fitted shape k_hat is the diagnostic: it estimates how many moments the weight
/// distribution has (1/k_hat); see PsisResult::k_hat. When the tail has fewer than 5 draws, or
/// the fit is not finite, the weights are returned unsmoothed (normalised) with k_hat = +inf.
template <Real T>
PsisResult pareto_smooth(const Eigen::Ref<const Vector<T>>& log_weights) {
  detail::check_log_weights<T>(log_weights, "log_weights");
  const Index n = log_weights.size();
  PsisResult r;
  const double dn = static_cast<double>(n);
  r.k_threshold = n > 10 ? std::min(1.0 - 1.0 / std::log10(dn), 0.7) : 0.0;
  Vector<double> x = log_weights.template cast<double>();
  x.array() -= x.maxCoeff();
  const Index m = static_cast<Index>(std::ceil(std::min(0.2 * dn, 3.0 * std::sqrt(dn))));
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  // Ascending by log-weight, ties by index: deterministic.
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return x[a] < x[b]; });
  if (m < n) {
    const double cutoff_min = std::log(std::numeric_limits<double>::min());
    const double xcut = std::max(x[order[static_cast<std::size_t>(n - m - 1)]], cutoff_min);
    const double expcut = std::exp(xcut);
    std::vector<Index> tail;
    for (Index j = n - m; j < n; ++j) {
      const Index i = order[static_cast<std::size_t>(j)];
      if (x[i] > xcut) tail.push_back(i);
    }
    r.tail_length = static_cast<Index>(tail.size());
    if (tail.size() > 4) {
      std::vector<double> exceed(tail.size());
      for (std::size_t t = 0; t < tail.size(); ++t) exceed[t] = std::exp(x[tail[t]]) - expcut;
      double k = 0, sigma = 0;
      detail::gpd_fit(exceed, k, sigma);
      if (std::isfinite(k) && std::isfinite(sigma) && sigma > 0) {
        r.k_hat = k;
        r.sigma = sigma;
        const double len = static_cast<double>(tail.size());
        for (std::size_t t = 0; t < tail.size(); ++t) {
          const double p = (static_cast<double>(t) + 0.5) / len;
          const double v = std::log(detail::gpd_quantile(p, k, sigma) + expcut);
          x[tail[t]] = std::min(v, 0.0);  // truncate at the largest raw weight
        }
      }
    }
  }
  Vector<double> w = (x.array()).exp();
  w /= w.sum();
  r.ess = 1.0 / w.squaredNorm();
  r.weights = std::move(w);
  return r;
}

/// How importance weights are stabilised by importance_weights().
enum class Truncation { none, ionides, psis };

/// Result of importance_weights().
struct ImportanceWeights {
  Vector<double> weights;  ///< normalised to sum 1
  double ess = 0.0;        ///< Kish effective sample size of `weights`
  double raw_ess = 0.0;    ///< ESS before truncation / smoothing
  double k_hat = std::numeric_limits<double>::quiet_NaN();  ///< PSIS shape (psis only)
  Index truncated = 0;  ///< weights cut to the cap (ionides only)
};

/// One call: log-weights -> self-normalised weights, stabilised as asked.
template <Real T>
ImportanceWeights importance_weights(const Eigen::Ref<const Vector<T>>& log_weights,
                                     Truncation truncation = Truncation::none) {
  ImportanceWeights out;
  Vector<double> w = normalize_log_weights<T>(log_weights);
  out.raw_ess = 1.0 / w.squaredNorm();
  switch (truncation) {
    case Truncation::none:
      out.weights = std::move(w);
      out.ess = out.raw_ess;
      break;
    case Truncation::ionides: {
      TruncationResult t = truncate_weights<double>(w);
      out.weights = std::move(t.weights);
      out.ess = t.ess;
      out.truncated = t.truncated;
      break;
    }
    case Truncation::psis: {
      PsisResult p = pareto_smooth<T>(log_weights);
      out.weights = std::move(p.weights);
      out.ess = p.ess;
      out.k_hat = p.k_hat;
      break;
    }
  }
  return out;
}

}  // namespace popalign::sampling
