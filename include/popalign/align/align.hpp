#pragma once
// The Resample pipeline: select N personas from a pool whose trait distribution matches a human
// reference population.
//
//   pool X (n x d), reference Y (m x d)
//   1. standardise   z = (x - mean_Y) / sd_Y for both (the reference defines the trait space)
//   2. density ratio w_i = p_Y(z_i) / p_X(z_i), two Gaussian KDEs (density::log_density_ratio,
//                    Scott bandwidth, each KDE on at most kde_max_points rows), stabilised by
//                    Pareto smoothing (PSIS) or truncation; Kish ESS
//   3. candidates    K = min(n, ceil(candidate_factor * N)) distinct pool members drawn with
//                    inclusion probabilities pi_i = min(1, c w_i) (sum K): importance resampling
//                    without replacement
//   4. transport     capacity-constrained entropic OT between the candidates and the reference:
//                      min <P, C> + eps KL(P | a b^T)  s.t.  P 1 <= cap,  P^T 1 = b
//                    with C_ij = ||z_i - y_j||^2, b_j = N / m' (m' reference people, a seeded
//                    subsample of at most ot_max_reference), cap_i = 1 (distinct) and
//                    eps = reg * mean(C). s = P 1 is each candidate's share of the reference
//                    mass: s_i in [0, 1], sum s = N.
//   4b. calibration  (resample) the shares are raked to the reference's 1-D histograms
//                    (iterative proportional fitting on quantile bins, capped at 1): per trait
//                    (default), or also along every pair's sum and difference (pairwise), or
//                    along seeded random directions (sliced)
//   5. rounding      N distinct personas with P(i selected) = s_i exactly (systematic sampling
//                    with unequal probabilities along a Z-order curve of the traits,
//                    sampling::sample_fixed_size), so the selection keeps the shares in
//                    expectation and is spread evenly over trait space.
//   6. refinement    (resample, distinct; Refinement::swap, default) a seeded local search
//                    swaps a selected persona for an unselected candidate (proposed in
//                    proportion to its share s) whenever that lowers
//                      L = N/d sum_k chi2_k / (B_k - 1)  +  lambda N / P sum_{k<l} (r_kl - R_kl)^2
//                    (chi2_k: the selection's histogram of trait k on the reference's B_k
//                    quantile bins against the reference's; r, R: the correlation matrices of
//                    the selection and of the reference; P pairs). A random N scores L ~ 1 +
//                    lambda, so the refinement removes sampling noise of N people from the
//                    marginals and the joint structure, which no share-level calibration can
//                    (the rounding of N seats adds that noise back). Bounded: N x
//                    refine_proposals proposals, O(d^2) each with incremental sums.
//
// Why this design (docs/align.md has the measurements): importance weighting alone cannot add
// mass where the pool is thin, and with N distinct personas it cannot give one persona more than
// one seat; nearest matching of the reference to the pool ignores that the pool's tails are
// scarce. Treating the distinct selection as a *partial* transport problem against the whole
// reference lets every reference person claim a share of the closest free persona: tails of the
// reference pick up the pool's few tail members (s_i -> 1) while the over-represented centre is
// thinned (s_i < 1). The importance stage feeds the transport a candidate set already shaped like
// the reference, so the entropic blur of the plan (which spreads each reference person's mass over
// a neighbourhood of width ~ sqrt(eps)) acts on a reference-like density instead of the pool's
// biased one. eps is relative to the mean cost so the default works for any number of traits.
//
// Methods for comparison: `is` = stages 1-2 then N distinct by pi_i = min(1, c w_i); `ot` =
// stages 4-5 on the whole pool; `random` = N distinct uniformly; `resample` = all stages.
// Outputs: N distinct personas (default), a multiset of N draws with counts (cap per persona =
// max_count, the OT capacity), or weights only (one weight per pool row, sum 1).
//
// Determinism: every random choice derives from `seed` through Rng::split, the KDE and Sinkhorn
// reductions have fixed orders, so the same inputs and seed give the same selection for any
// thread count.
//
// Reporting rule (the same as ot::sinkhorn): non-convergence of the transport is a status
// (Diagnostics::ot_status, converged() == false) plus a warning, never an exception; a
// cancellation token or a progress callback that returns true stops the run with
// popalign::Cancelled; bad arguments throw InvalidArgument naming the argument; a transport
// whose potentials became non-finite (no selection can be made) throws NumericalError.
//
// This header holds what a user calls: the options, the result with its diagnostics, align().
// The stages are named functions in align/align_impl.hpp, included at the bottom.
#include <fmt/format.h>

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/align/compress.hpp>
#include <popalign/core/error.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/metrics/compare.hpp>
#include <popalign/ot/sinkhorn.hpp>
#include <popalign/sampling/importance.hpp>

namespace popalign::align {

/// Alignment method.
enum class Method {
  resample,    ///< importance resampling of candidates, then capacity-constrained OT (default)
  importance,  ///< importance sampling only ("is")
  ot,          ///< capacity-constrained OT on the whole pool only
  random,      ///< uniform random selection (baseline)
  /// The published Stage 2 as written (AlignOptions::paper): KDE density ratio with a fixed
  /// bandwidth, keep the top share by weight, balanced entropic OT in batches, then N draws in
  /// proportion to the plan's row sums WITH replacement (duplicates possible, as published).
  paper,
};

constexpr std::string_view to_string(Method m) noexcept {
  switch (m) {
    case Method::resample:
      return "resample";
    case Method::importance:
      return "is";
    case Method::ot:
      return "ot";
    case Method::random:
      return "random";
    case Method::paper:
      return "paper";
  }
  return "unknown";
}

/// "resample", "is" (or "importance"), "ot", "random", "paper"; std::nullopt otherwise.
inline std::optional<Method> parse_method(std::string_view s) noexcept {
  if (s == "resample") return Method::resample;
  if (s == "is" || s == "importance") return Method::importance;
  if (s == "ot") return Method::ot;
  if (s == "random") return Method::random;
  if (s == "paper") return Method::paper;
  return std::nullopt;
}

/// What the alignment returns.
enum class Output {
  distinct,  ///< N distinct personas (default)
  multiset,  ///< N draws with replacement: personas with counts summing to N
  weights,   ///< one weight per pool row (sum 1), nothing dropped
};

constexpr std::string_view to_string(Output o) noexcept {
  switch (o) {
    case Output::distinct:
      return "distinct";
    case Output::multiset:
      return "multiset";
    case Output::weights:
      return "weights";
  }
  return "unknown";
}

/// How the transport shares s_i are rounded to N distinct personas.
enum class Rounding {
  /// Systematic sampling in random order (Goodman & Kish): P(i) = s_i exactly.
  systematic,
  /// Systematic sampling with units sorted along a Z-order (Morton) curve of the standardised
  /// traits: P(i) = s_i exactly and neighbours on the curve are rarely selected together, so the
  /// selection is spread evenly over trait space (lower variance than a random order).
  ordered,
};

/// What the calibration stage (4b) rakes the transport shares to.
enum class Calibration {
  /// The reference's 1-D histograms of every trait and of every pair's sum and difference,
  /// (z_k + z_l) / sqrt(2) and (z_k - z_l) / sqrt(2): the marginals and the pairwise
  /// co-variation (the spread of z_k - z_l fixes corr(k, l)). Default: with the swap refinement
  /// it meets every in-domain target of docs/validity.md on held-out people (W1 reduction
  /// 72.7 %) and, unlike marginal, the out-of-domain item target (+31.7 % vs 21.9 %). Above
  /// calibration_max_pairwise_dim traits it falls back to sliced (with a warning).
  pairwise,
  /// The reference's per-trait histograms only (the survey statistician's raking to known
  /// margins): matches the marginals but leaves the joint structure of the plan to drift (the
  /// default before the swap refinement; slightly lower W1, worse transfer to unseen scales).
  marginal,
  /// The per-trait histograms plus `calibration_projections` seeded random directions (a
  /// sliced calibration).
  sliced,
};

constexpr std::string_view to_string(Calibration c) noexcept {
  switch (c) {
    case Calibration::pairwise:
      return "pairwise";
    case Calibration::marginal:
      return "marginal";
    case Calibration::sliced:
      return "sliced";
  }
  return "unknown";
}

/// "pairwise", "marginal", "sliced"; std::nullopt otherwise.
inline std::optional<Calibration> parse_calibration(std::string_view s) noexcept {
  if (s == "pairwise") return Calibration::pairwise;
  if (s == "marginal") return Calibration::marginal;
  if (s == "sliced") return Calibration::sliced;
  return std::nullopt;
}

/// What happens after the rounding (stage 6, resample with distinct output only).
enum class Refinement {
  /// Seeded swap refinement (default): replaces selected personas by unselected candidates
  /// (drawn in proportion to their transport shares) while a discrepancy to the reference
  /// falls: the chi-square of the per-trait histograms on the reference's quantile bins plus
  /// refine_correlation_weight x the squared error of the trait-correlation matrix, each scaled
  /// so that a random sample of N scores about 1. The selection then matches the reference's
  /// marginals and correlations better than sampling noise of N people allows (docs/validity.md).
  swap,
  /// None: the rounded selection as is (the pipeline before issue 13's refinement).
  none,
};

constexpr std::string_view to_string(Refinement r) noexcept {
  switch (r) {
    case Refinement::swap:
      return "swap";
    case Refinement::none:
      return "none";
  }
  return "unknown";
}

/// "swap", "none"; std::nullopt otherwise.
inline std::optional<Refinement> parse_refinement(std::string_view s) noexcept {
  if (s == "swap") return Refinement::swap;
  if (s == "none") return Refinement::none;
  return std::nullopt;
}

/// Method::paper: the published Stage 2's constants (defaults = as published).
struct PaperOptions {
  double bandwidth = 0.20;      ///< Gaussian KDE kernel sd, relative to each column's sd
  double keep_fraction = 0.70;  ///< keep the top share of the pool by density-ratio weight
  double eps_median = 0.08;     ///< eps = eps_median * median cost of the batch
  Index iterations = 250;       ///< Sinkhorn iterations (balanced, no eps-scaling)
  Index batch = 10000;          ///< candidates per transport batch

  void validate() const {
    check_argument(bandwidth > 0 && std::isfinite(bandwidth), "paper.bandwidth", "must be > 0");
    check_argument(keep_fraction > 0 && keep_fraction <= 1, "paper.keep_fraction",
                   "must be in (0, 1]");
    check_argument(eps_median > 0 && std::isfinite(eps_median), "paper.eps_median", "must be > 0");
    check_argument(iterations >= 1, "paper.iterations", "must be >= 1");
    check_argument(batch >= 1, "paper.batch", "must be >= 1");
  }
};

/// Options of align(), by stage; validate() throws InvalidArgument naming the bad field.
struct AlignOptions {
  Index n = 0;  ///< N, personas to select (> 0; for weights: the mass level)
  Method method = Method::resample;
  Output output = Output::distinct;
  std::uint64_t seed = 0;

  // Stage 2: density ratio.
  double bandwidth_factor = 0.0;  ///< KDE factor f (kernel sd = f * data sd); 0 = Scott
  sampling::Truncation truncation = sampling::Truncation::psis;
  Index kde_max_points = 10000;  ///< each KDE is built on a seeded subsample of at most this

  // Stage 3: candidates.
  double candidate_factor = 6.0;  ///< K = min(n, ceil(candidate_factor * N)), >= 1
  Index max_candidates = 20000;   ///< and K <= max(N, max_candidates) (speed; 0 = no limit)

  // Stage 4: transport.
  double reg = 0.01;                       ///< eps relative to the mean cost (eps = reg * mean C)
  static constexpr double kMinReg = 1e-6;  ///< smallest reg validate() accepts
  Index ot_max_reference = 5000;  ///< reference people used by the transport (seeded subsample)
  std::size_t ot_kernel_memory = std::size_t{1} << 30;  ///< bytes for Sinkhorn's stored kernel
  Index max_iter = 1000;                                ///< Sinkhorn iterations at the target eps
  double ot_tolerance = 1e-3;                           ///< L1 marginal error relative to N
  Index max_count = 0;          ///< multiset: most copies of one persona (0 = N)
  bool weighted_prior = false;  ///< resample: entropic prior a = importance weights
  /// resample: rake the transport shares to the reference's per-trait histograms (stage 4b).
  bool calibrate = true;
  Calibration calibration = Calibration::pairwise;  ///< what stage 4b rakes to
  Index calibration_bins = 24;         ///< reference-quantile bins per trait (and projection)
  Index calibration_sweeps = 50;       ///< raking sweeps over the traits (and projections)
  Index calibration_projections = 32;  ///< sliced: random directions besides the traits
  /// Pairwise calibration needs d + d (d - 1) projections; above this many traits it falls back
  /// to sliced (with calibration_projections directions) and says so in a warning.
  Index calibration_max_pairwise_dim = 16;
  Rounding rounding = Rounding::ordered;
  /// Stage 6 (resample, distinct output): swap refinement of the rounded selection.
  Refinement refine = Refinement::swap;
  Index refine_proposals = 50;             ///< swap proposals per selected persona
  double refine_correlation_weight = 1.0;  ///< weight of the correlation term (0 = marginals only)
  /// Per-column weights of the transport cost C_ij = sum_k w_k (z_ik - y_jk)^2 (resample, ot,
  /// paper); empty = all 1. E.g. item-space alignment: 1 / (items of the item's trait), so
  /// every trait weighs the same whatever its length.
  Vector<double> cost_weights{};
  PaperOptions paper{};  ///< Method::paper's constants

  // Scale (docs/align.md, "Alignment at 10^6 x 10^6"): above compress_above rows in the pool or
  // the reference, every person counts through weighted atoms instead of subsamples.
  Scaling scaling = Scaling::automatic;
  Index compress_above = 100000;  ///< automatic: compress when n or m exceeds this
  Index atoms = 8192;             ///< atoms per side (pool, reference) when compressing

  // Warnings and diagnostics.
  double ess_warn_fraction = 0.1;  ///< warn when ESS < this * N
  double coverage_ratio = 0.05;    ///< reference point uncovered if p_pool < this * p_ref there
  double coverage_warn_fraction = 0.05;  ///< warn when more reference mass than this is uncovered
  bool compute_metrics = true;           ///< fill the before/after metrics of Diagnostics
  Index sliced_projections = 64;

  Execution execution{};

  void validate() const {
    check_argument(n > 0, "n", "must be > 0 (number of personas to select)");
    check_argument(bandwidth_factor >= 0 && std::isfinite(bandwidth_factor), "bandwidth_factor",
                   "must be >= 0 (0 = Scott's rule)");
    check_argument(kde_max_points >= 10, "kde_max_points", "must be >= 10");
    check_argument(candidate_factor >= 1 && std::isfinite(candidate_factor), "candidate_factor",
                   "must be >= 1");
    // Below kMinReg the entropic transport needs ~1/reg iterations and exp(-C / eps)
    // underflows: refused rather than run for minutes into a NaN.
    check_argument(reg >= kMinReg && std::isfinite(reg), "reg",
                   fmt::format("must be finite and >= {:g}", kMinReg));
    check_argument(ot_max_reference >= 1, "ot_max_reference", "must be >= 1");
    check_argument(max_candidates >= 0, "max_candidates", "must be >= 0 (0 = no limit)");
    check_argument(max_iter >= 1, "max_iter", "must be >= 1");
    check_argument(ot_tolerance > 0 && std::isfinite(ot_tolerance), "ot_tolerance",
                   "must be finite and > 0");
    check_argument(max_count >= 0, "max_count", "must be >= 0 (0 = N)");
    check_argument(calibration_bins >= 2, "calibration_bins", "must be >= 2");
    check_argument(calibration_sweeps >= 1, "calibration_sweeps", "must be >= 1");
    check_argument(calibration_projections >= 1, "calibration_projections", "must be >= 1");
    check_argument(calibration_max_pairwise_dim >= 1, "calibration_max_pairwise_dim",
                   "must be >= 1");
    check_argument(refine_proposals >= 0, "refine_proposals", "must be >= 0");
    check_argument(refine_correlation_weight >= 0 && std::isfinite(refine_correlation_weight),
                   "refine_correlation_weight", "must be finite and >= 0");
    check_argument(ess_warn_fraction >= 0, "ess_warn_fraction", "must be >= 0");
    check_argument(coverage_ratio > 0 && coverage_ratio < 1, "coverage_ratio", "must be in (0, 1)");
    check_argument(coverage_warn_fraction >= 0 && coverage_warn_fraction <= 1,
                   "coverage_warn_fraction", "must be in [0, 1]");
    check_argument(sliced_projections >= 1, "sliced_projections", "must be >= 1");
    check_argument(
        cost_weights.size() == 0 ||
            (cost_weights.allFinite() && cost_weights.minCoeff() >= 0 && cost_weights.sum() > 0),
        "cost_weights", "must be finite, >= 0 and not all 0 (or empty)");
    paper.validate();
    check_argument(compress_above >= 0, "compress_above", "must be >= 0");
    check_argument(atoms >= 16, "atoms", "must be >= 16");
    execution.validate();
  }
};

/// Seconds spent in one stage.
struct StageTime {
  std::string name;
  double seconds = 0;
};

/// Distances between a sample and the reference: the metrics layer's record. align fills w1,
/// mean_gap, sd_gap, mean_w1 (traits' own units), sliced_wasserstein (sliced W2 on the
/// standardised traits), correlation (NaN for one trait) and population (the five population
/// metrics on the standardised traits: mean W1, Fréchet, sliced W2, unbiased MMD^2, correlation
/// MAE); ks, mmd2 stay empty / NaN.
using Comparison = metrics::Comparison;

/// What happened in align(): sizes, the importance and transport diagnostics, before / after
/// distances, seconds per stage and warnings. brief() is one line, summary() the full report.
struct Diagnostics {
  Method method = Method::resample;
  Output output = Output::distinct;
  std::uint64_t seed = 0;
  Index pool_size = 0, reference_size = 0, dimension = 0;
  Index requested = 0;   ///< N
  Index selected = 0;    ///< distinct personas returned (rows with weight > 0)
  Index candidates = 0;  ///< personas entering the transport (resample / ot)

  // Density ratio (resample / is).
  bool has_weights = false;
  double ess = std::numeric_limits<double>::quiet_NaN();      ///< Kish ESS after stabilising
  double raw_ess = std::numeric_limits<double>::quiet_NaN();  ///< before
  double k_hat = std::numeric_limits<double>::quiet_NaN();    ///< PSIS shape
  Index truncated = 0;
  /// Share of the reference where the pool density is below coverage_ratio * reference density.
  double uncovered_reference = std::numeric_limits<double>::quiet_NaN();

  // Transport (resample / ot).
  bool has_transport = false;
  ot::Status ot_status = ot::Status::max_iterations;
  Index ot_iterations = 0, ot_total_iterations = 0;
  double ot_error = std::numeric_limits<double>::quiet_NaN();        ///< relative L1 marginal error
  double eps = std::numeric_limits<double>::quiet_NaN();             ///< in cost units
  double transport_cost = std::numeric_limits<double>::quiet_NaN();  ///< <P, C> / N
  Index saturated = 0;  ///< candidates with s_i >= 0.999 (all of their capacity used)
  /// Largest relative mismatch of a calibration bin after raking (NaN: no calibration).
  double calibration_error = std::numeric_limits<double>::quiet_NaN();
  /// Swap refinement (stage 6): the discrepancy to the reference before and after (a random
  /// sample of N scores about 1 + refine_correlation_weight), proposals and accepted swaps
  /// (NaN / 0: no refinement).
  double refine_before = std::numeric_limits<double>::quiet_NaN();
  double refine_after = std::numeric_limits<double>::quiet_NaN();
  Index refine_proposals = 0, refine_swaps = 0;

  CompressionReport compression;  ///< atoms and their errors (Scaling::compress)
  Comparison before, after;       ///< pool vs reference, selection vs reference
  std::vector<StageTime> stages;
  double seconds = 0;
  std::vector<std::string> warnings;

  /// False when the transport ran and stopped before converging (the selection is then
  /// approximate; a warning says so); true otherwise (also for methods without transport).
  bool converged() const noexcept { return !has_transport || ot_status == ot::Status::converged; }

  /// One line: method, sizes, transport status, mean W1 before -> after, warning count.
  std::string brief() const {
    std::string s =
        fmt::format("{} ({}), seed {}: {} of {} personas, reference {}, d = {}", to_string(method),
                    to_string(output), seed, selected, pool_size, reference_size, dimension);
    if (has_transport)
      s += fmt::format("; transport {} after {} iterations", ot::to_string(ot_status),
                       ot_iterations);
    if (before.w1.size() > 0)
      s += fmt::format("; mean W1 {:.4f} -> {:.4f}", before.mean_w1, after.mean_w1);
    s += fmt::format("; {} warning{}", warnings.size(), warnings.size() == 1 ? "" : "s");
    return s;
  }

  /// Multi-line human-readable summary.
  std::string summary(const std::vector<std::string>& traits = {}) const {
    std::string s = fmt::format(
        "method {} ({}), seed {}: {} of {} pool personas, reference {}, d = {}\n",
        to_string(method), to_string(output), seed, selected, pool_size, reference_size, dimension);
    if (has_weights)
      s += fmt::format(
          "importance weights: ESS {:.1f} (raw {:.1f}), PSIS k {:.2f}, uncovered "
          "reference {:.1f}%\n",
          ess, raw_ess, k_hat, 100 * uncovered_reference);
    if (has_transport)
      s += fmt::format(
          "transport: {} after {} iterations ({} total), eps {:.4g}, marginal error "
          "{:.2g}, {} candidates, {} saturated\n",
          ot::to_string(ot_status), ot_iterations, ot_total_iterations, eps, ot_error, candidates,
          saturated);
    if (!std::isnan(refine_before))
      s += fmt::format("swap refinement: discrepancy {:.3f} -> {:.3f} ({} of {} swaps accepted)\n",
                       refine_before, refine_after, refine_swaps, refine_proposals);
    s += compression.line();
    if (before.w1.size() > 0) {
      s += fmt::format(
          "mean W1: {:.4f} -> {:.4f}; sliced W2: {:.4f} -> {:.4f}; correlation "
          "distance: {:.4f} -> {:.4f}\n",
          before.mean_w1, after.mean_w1, before.sliced_wasserstein, after.sliced_wasserstein,
          before.correlation.normalized, after.correlation.normalized);
      const metrics::PopulationMetrics &pb = before.population, &pa = after.population;
      s += fmt::format(
          "population metrics (reference-standardised), pool -> selection: mean W1 {:.4f} -> "
          "{:.4f}; Fréchet {:.4f} -> {:.4f}; sliced W2 {:.4f} -> {:.4f}; MMD^2 (unbiased) "
          "{:.5f} -> {:.5f}; correlation MAE {:.4f} -> {:.4f}\n",
          pb.mean_w1, pa.mean_w1, pb.frechet, pa.frechet, pb.sliced_wasserstein,
          pa.sliced_wasserstein, pb.mmd2, pa.mmd2, pb.correlation_mae, pa.correlation_mae);
      for (Index k = 0; k < before.w1.size(); ++k) {
        const std::string name = k < static_cast<Index>(traits.size())
                                     ? traits[static_cast<std::size_t>(k)]
                                     : "trait " + std::to_string(k + 1);
        s += fmt::format(
            "  {:<18} W1 {:.4f} -> {:.4f}  mean gap {:+.4f} -> {:+.4f}  sd gap "
            "{:+.4f} -> {:+.4f}\n",
            name, before.w1[k], after.w1[k], before.mean_gap[k], after.mean_gap[k],
            before.sd_gap[k], after.sd_gap[k]);
      }
    }
    for (const auto& st : stages)
      s += fmt::format("  stage {:<14} {:.3f} s\n", st.name, st.seconds);
    for (const auto& w : warnings) s += "warning: " + w + "\n";
    return s;
  }
};

/// The aligned set: selected rows with counts, weights and inclusion per pool row, and the
/// diagnostics. fmt::format("{}", r) prints brief().
struct AlignResult {
  std::vector<Index> indices;  ///< selected pool rows, ascending (weights: rows with weight > 0)
  std::vector<Index> counts;   ///< copies of each indices entry (1 for distinct; empty: weights)
  Vector<double> weights;      ///< per pool row, sum 1 (counts / N, or the weights)
  /// Per pool row: P(selected) of the rounding (distinct; before the swap refinement, which
  /// moves a few seats) / expected count (multiset).
  Vector<double> inclusion;
  Vector<double> importance_weights;  ///< per pool row, sum 1 (is / resample); else empty
  Diagnostics diagnostics;

  /// See Diagnostics::converged().
  bool converged() const noexcept { return diagnostics.converged(); }
  /// One line (Diagnostics::brief()).
  std::string brief() const { return diagnostics.brief(); }
};

/// Aligns `pool` (n x d) to `reference` (m x d); see the file comment for the stages.
/// Throws InvalidArgument naming `pool`, `reference` or an option (N > n for distinct output,
/// non-finite values, a constant reference trait); Cancelled when options.execution's token or
/// progress callback stops the run; NumericalError when the transport's potentials become
/// non-finite. Transport non-convergence is a status (result.converged(),
/// diagnostics.ot_status) plus a warning.
template <Real T>
AlignResult align(MatrixView<T> pool, MatrixView<T> reference, const AlignOptions& options);

}  // namespace popalign::align

template <>
struct fmt::formatter<popalign::align::Method> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(popalign::align::Method m, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(popalign::align::to_string(m), ctx);
  }
};

/// One line (Diagnostics::brief()); summary() has the full report.
template <>
struct fmt::formatter<popalign::align::Diagnostics> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const popalign::align::Diagnostics& d, Ctx& ctx) const {
    const std::string s = d.brief();
    return fmt::formatter<std::string_view>::format(s, ctx);
  }
};

/// One line (AlignResult::brief()).
template <>
struct fmt::formatter<popalign::align::AlignResult> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const popalign::align::AlignResult& r, Ctx& ctx) const {
    const std::string s = r.brief();
    return fmt::formatter<std::string_view>::format(s, ctx);
  }
};

#include <popalign/align/align_impl.hpp>
