#pragma once
// One call that compares two weighted samples (e.g. an aligned persona set against a human
// reference) on every metric that is cheap enough for a report:
//   per trait: Wasserstein-1, KS statistic, mean gap (a - b), sd gap (a - b);
//   joint:     correlation-matrix distance (Frobenius, RMS off-diagonal and MAE), sliced
//              Wasserstein (p = 2, seeded directions) and Gaussian MMD^2 (biased, median
//              heuristic bandwidth unless given), all in the traits' own units;
//   population: the five population metrics (mean W1, Fréchet, sliced W2, unbiased MMD^2,
//              correlation MAE) in reference-standardised units (population.hpp): both samples
//              standardised by b's weighted mean and sd.
// Energy distance (O((n+m)^2)) and the Sinkhorn divergence (three OT solves) are separate calls.
// to_string() / fmt::formatter print the record as a small table.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <popalign/core/types.hpp>
#include <popalign/metrics/correlation.hpp>
#include <popalign/metrics/mmd.hpp>
#include <popalign/metrics/population.hpp>
#include <popalign/metrics/sliced.hpp>
#include <popalign/metrics/univariate.hpp>

namespace popalign::metrics {

struct CompareOptions {
  std::vector<std::string> trait_names{};  ///< empty = "t0", "t1", ...
  SlicedOptions sliced{};
  MmdOptions mmd{};
  bool compute_sliced = true;
  bool compute_mmd = true;
  Index mmd_max_points = 4000;  ///< population MMD: rows per side (seeded subsample above)

  /// The options population_metrics() runs with (same sliced / MMD settings and switches).
  PopulationOptions population() const {
    PopulationOptions p;
    p.sliced = sliced;
    p.mmd = mmd;
    p.mmd_max_points = mmd_max_points;
    p.subsample_seed = mmd.seed;
    p.compute_sliced = compute_sliced;
    p.compute_mmd = compute_mmd;
    return p;
  }

  void validate(Index d = 0) const {
    check_argument(trait_names.empty() || d == 0 || static_cast<Index>(trait_names.size()) == d,
                   "trait_names",
                   "has " + std::to_string(trait_names.size()) + " names for " + std::to_string(d) +
                       " columns");
    population().validate();
  }
};

/// Distances between two samples, one record for the whole library: compare() fills every
/// field; align::align fills the ones its diagnostics need (w1, mean_gap, sd_gap, mean_w1,
/// sliced_wasserstein on standardised traits, correlation, population) and leaves ks empty and
/// mmd2 NaN. `population` holds the five population metrics in reference-standardised units;
/// the other fields are in the traits' own units.
struct Comparison {
  std::vector<std::string> traits;          ///< may be empty (align)
  Vector<double> w1, ks, mean_gap, sd_gap;  ///< one entry per trait (ks: empty if skipped)
  double mean_w1 = std::numeric_limits<double>::quiet_NaN();  ///< mean of w1
  CorrelationDistance correlation;                            ///< NaN when skipped (one trait)
  double sliced_wasserstein = std::numeric_limits<double>::quiet_NaN();  ///< NaN if skipped
  double mmd2 = std::numeric_limits<double>::quiet_NaN();                ///< biased; NaN if skipped
  double mmd_bandwidth = std::numeric_limits<double>::quiet_NaN();
  PopulationMetrics population;  ///< the five metrics, reference-standardised; NaN if skipped

  double max_ks() const { return ks.size() ? ks.maxCoeff() : 0.0; }
  double mean_abs_mean_gap() const { return mean_gap.size() ? mean_gap.cwiseAbs().mean() : 0.0; }
  double mean_abs_sd_gap() const { return sd_gap.size() ? sd_gap.cwiseAbs().mean() : 0.0; }
};

template <Real T>
Comparison compare(MatrixView<T> a, MatrixView<T> b,
                   const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
                   const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>(),
                   const CompareOptions& options = {}) {
  detail::check_samples<T>(a, b);
  options.validate(a.cols());
  Comparison c;
  c.traits = options.trait_names;
  if (c.traits.empty())
    for (Index k = 0; k < a.cols(); ++k) c.traits.push_back("t" + std::to_string(k));
  c.w1 = column_wasserstein1<T>(a, b, a_weights, b_weights);
  c.mean_w1 = c.w1.mean();
  c.ks = column_ks<T>(a, b, a_weights, b_weights);
  c.mean_gap = mean_gap<T>(a, b, a_weights, b_weights);
  c.sd_gap = sd_gap<T>(a, b, a_weights, b_weights);
  c.correlation = correlation_distance<T>(a, b, a_weights, b_weights);
  if (options.compute_sliced)
    c.sliced_wasserstein = sliced_wasserstein<T>(a, b, a_weights, b_weights, options.sliced);
  if (options.compute_mmd) {
    const MmdResult m = gaussian_mmd<T>(a, b, a_weights, b_weights, options.mmd);
    c.mmd2 = m.mmd2_biased;
    c.mmd_bandwidth = m.bandwidth;
  }
  c.population = population_metrics<T>(a, b, a_weights, b_weights, options.population());
  return c;
}

/// The five population metrics, two lines ("-" for a skipped one).
inline std::string to_string(const PopulationMetrics& p) {
  auto f = [](double v, int prec) {
    return std::isnan(v) ? std::string("-") : fmt::format("{:.{}f}", v, prec);
  };
  return fmt::format(
      "population metrics (reference-standardised): mean W1 {}, Fréchet {}, sliced W2 {},\n"
      "  MMD^2 {} (unbiased; biased {}, sigma {}), correlation MAE {}\n",
      f(p.mean_w1, 4), f(p.frechet, 4), f(p.sliced_wasserstein, 4), f(p.mmd2, 6),
      f(p.mmd2_biased, 6), f(p.mmd_bandwidth, 3), f(p.correlation_mae, 4));
}

/// A table: one row per trait (W1, KS, mean gap, sd gap), then the joint metrics and means.
inline std::string to_string(const Comparison& c) {
  std::size_t width = 5;
  for (const auto& t : c.traits) width = std::max(width, t.size());
  std::string s = fmt::format("{:<{}}  {:>9}  {:>9}  {:>9}  {:>9}\n", "trait", width, "W1", "KS",
                              "mean gap", "sd gap");
  for (std::size_t k = 0; k < c.traits.size(); ++k) {
    const auto i = static_cast<Index>(k);
    s += fmt::format("{:<{}}  {:>9.4f}  {:>9.4f}  {:>+9.4f}  {:>+9.4f}\n", c.traits[k], width,
                     c.w1[i], c.ks[i], c.mean_gap[i], c.sd_gap[i]);
  }
  s += fmt::format("{:<{}}  {:>9.4f}  {:>9.4f}  {:>9.4f}  {:>9.4f}\n", "mean|.|", width, c.mean_w1,
                   c.ks.size() ? c.ks.mean() : 0.0, c.mean_abs_mean_gap(), c.mean_abs_sd_gap());
  s += fmt::format(
      "correlation distance: {:.4f} (Frobenius), {:.4f} (RMS off-diagonal), {:.4f} (MAE)\n",
      c.correlation.frobenius, c.correlation.normalized, c.correlation.mae);
  s += fmt::format("sliced Wasserstein-2: {:.4f}\n", c.sliced_wasserstein);
  s += fmt::format("Gaussian MMD^2 (biased, sigma {:.3g}): {:.6f}\n", c.mmd_bandwidth, c.mmd2);
  s += to_string(c.population);
  return s;
}

}  // namespace popalign::metrics

template <>
struct fmt::formatter<popalign::metrics::PopulationMetrics> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const popalign::metrics::PopulationMetrics& p, Ctx& ctx) const {
    const std::string s = popalign::metrics::to_string(p);
    return fmt::formatter<std::string_view>::format(s, ctx);
  }
};

template <>
struct fmt::formatter<popalign::metrics::Comparison> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const popalign::metrics::Comparison& c, Ctx& ctx) const {
    const std::string s = popalign::metrics::to_string(c);
    return fmt::formatter<std::string_view>::format(s, ctx);
  }
};
