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
//   4b. calibration  (resample) the shares are raked to the reference's per-trait histograms
//                    (iterative proportional fitting on quantile bins, capped at 1)
//   5. rounding      N distinct personas with P(i selected) = s_i exactly (systematic sampling
//                    with unequal probabilities along a Z-order curve of the traits,
//                    sampling::sample_fixed_size), so the selection keeps the shares in
//                    expectation and is spread evenly over trait space.
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
#include <fmt/format.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/random.hpp>
#include <popalign/core/types.hpp>
#include <popalign/density/kde.hpp>
#include <popalign/metrics/correlation.hpp>
#include <popalign/metrics/sliced.hpp>
#include <popalign/metrics/univariate.hpp>
#include <popalign/ot/geometry.hpp>
#include <popalign/ot/sinkhorn.hpp>
#include <popalign/sampling/importance.hpp>
#include <popalign/sampling/resample.hpp>

namespace popalign::align {

/// Alignment method.
enum class Method {
  resample,    ///< importance resampling of candidates, then capacity-constrained OT (default)
  importance,  ///< importance sampling only ("is")
  ot,          ///< capacity-constrained OT on the whole pool only
  random,      ///< uniform random selection (baseline)
};

constexpr std::string_view to_string(Method m) noexcept {
  switch (m) {
    case Method::resample: return "resample";
    case Method::importance: return "is";
    case Method::ot: return "ot";
    case Method::random: return "random";
  }
  return "unknown";
}

/// "resample", "is" (or "importance"), "ot", "random"; std::nullopt otherwise.
inline std::optional<Method> parse_method(std::string_view s) noexcept {
  if (s == "resample") return Method::resample;
  if (s == "is" || s == "importance") return Method::importance;
  if (s == "ot") return Method::ot;
  if (s == "random") return Method::random;
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
    case Output::distinct: return "distinct";
    case Output::multiset: return "multiset";
    case Output::weights: return "weights";
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

struct AlignOptions {
  Index n = 0;                       ///< N, personas to select (> 0; for weights: the mass level)
  Method method = Method::resample;
  Output output = Output::distinct;
  std::uint64_t seed = 0;

  // Stage 2: density ratio.
  double bandwidth_factor = 0.0;     ///< KDE factor f (kernel sd = f * data sd); 0 = Scott
  sampling::Truncation truncation = sampling::Truncation::psis;
  Index kde_max_points = 10000;      ///< each KDE is built on a seeded subsample of at most this

  // Stage 3: candidates.
  double candidate_factor = 6.0;     ///< K = min(n, ceil(candidate_factor * N)), >= 1
  Index max_candidates = 20000;      ///< and K <= max(N, max_candidates) (speed; 0 = no limit)

  // Stage 4: transport.
  double reg = 0.01;                 ///< eps relative to the mean cost (eps = reg * mean C)
  Index ot_max_reference = 5000;     ///< reference people used by the transport (seeded subsample)
  std::size_t ot_kernel_memory = std::size_t{1} << 30;  ///< bytes for Sinkhorn's stored kernel
  Index max_iter = 1000;             ///< Sinkhorn iterations at the target eps
  double ot_tolerance = 1e-3;        ///< L1 marginal error relative to N
  Index max_count = 0;               ///< multiset: most copies of one persona (0 = N)
  bool weighted_prior = false;       ///< resample: entropic prior a = importance weights
  /// resample: rake the transport shares to the reference's per-trait histograms (stage 4b).
  bool calibrate = true;
  Index calibration_bins = 24;       ///< reference-quantile bins per trait
  Index calibration_sweeps = 50;     ///< raking sweeps over the traits
  Rounding rounding = Rounding::ordered;

  // Warnings and diagnostics.
  double ess_warn_fraction = 0.1;    ///< warn when ESS < this * N
  double coverage_ratio = 0.05;      ///< reference point uncovered if p_pool < this * p_ref there
  double coverage_warn_fraction = 0.05;  ///< warn when more reference mass than this is uncovered
  bool compute_metrics = true;       ///< fill the before/after metrics of Diagnostics
  Index sliced_projections = 64;

  Execution execution{};

  void validate() const {
    check_argument(n > 0, "n", "must be > 0 (number of personas to select)");
    check_argument(bandwidth_factor >= 0 && std::isfinite(bandwidth_factor), "bandwidth_factor",
                   "must be >= 0 (0 = Scott's rule)");
    check_argument(kde_max_points >= 10, "kde_max_points", "must be >= 10");
    check_argument(candidate_factor >= 1 && std::isfinite(candidate_factor), "candidate_factor",
                   "must be >= 1");
    check_argument(reg > 0 && std::isfinite(reg), "reg", "must be finite and > 0");
    check_argument(ot_max_reference >= 1, "ot_max_reference", "must be >= 1");
    check_argument(max_candidates >= 0, "max_candidates", "must be >= 0 (0 = no limit)");
    check_argument(max_iter >= 1, "max_iter", "must be >= 1");
    check_argument(ot_tolerance > 0 && std::isfinite(ot_tolerance), "ot_tolerance",
                   "must be finite and > 0");
    check_argument(max_count >= 0, "max_count", "must be >= 0 (0 = N)");
    check_argument(calibration_bins >= 2, "calibration_bins", "must be >= 2");
    check_argument(calibration_sweeps >= 1, "calibration_sweeps", "must be >= 1");
    check_argument(ess_warn_fraction >= 0, "ess_warn_fraction", "must be >= 0");
    check_argument(coverage_ratio > 0 && coverage_ratio < 1, "coverage_ratio", "must be in (0, 1)");
    check_argument(coverage_warn_fraction >= 0 && coverage_warn_fraction <= 1,
                   "coverage_warn_fraction", "must be in [0, 1]");
    check_argument(sliced_projections >= 1, "sliced_projections", "must be >= 1");
    execution.validate();
  }
};

/// Seconds spent in one stage.
struct StageTime {
  std::string name;
  double seconds = 0;
};

/// Distances between a sample and the reference, in the traits' own units (sliced W on the
/// standardised traits).
struct Comparison {
  Vector<double> w1;         ///< per-trait Wasserstein-1
  Vector<double> mean_gap;   ///< per-trait mean(sample) - mean(reference)
  Vector<double> sd_gap;     ///< per-trait sd(sample) - sd(reference)
  double mean_w1 = std::numeric_limits<double>::quiet_NaN();
  double sliced_w2 = std::numeric_limits<double>::quiet_NaN();
  double correlation_distance = std::numeric_limits<double>::quiet_NaN();  ///< RMS off-diagonal
};

struct Diagnostics {
  Method method = Method::resample;
  Output output = Output::distinct;
  std::uint64_t seed = 0;
  Index pool_size = 0, reference_size = 0, dimension = 0;
  Index requested = 0;        ///< N
  Index selected = 0;         ///< distinct personas returned (rows with weight > 0)
  Index candidates = 0;       ///< personas entering the transport (resample / ot)

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
  double ot_error = std::numeric_limits<double>::quiet_NaN();  ///< relative L1 marginal error
  double eps = std::numeric_limits<double>::quiet_NaN();       ///< in cost units
  double transport_cost = std::numeric_limits<double>::quiet_NaN();  ///< <P, C> / N
  Index saturated = 0;        ///< candidates with s_i >= 0.999 (all of their capacity used)
  /// Largest relative mismatch of a calibration bin after raking (NaN: no calibration).
  double calibration_error = std::numeric_limits<double>::quiet_NaN();

  Comparison before, after;   ///< pool vs reference, selection vs reference
  std::vector<StageTime> stages;
  double seconds = 0;
  std::vector<std::string> warnings;

  /// Multi-line human-readable summary.
  std::string summary(const std::vector<std::string>& traits = {}) const {
    std::string s = fmt::format("method {} ({}), seed {}: {} of {} pool personas, reference {}, d = {}\n",
                                to_string(method), to_string(output), seed, selected, pool_size,
                                reference_size, dimension);
    if (has_weights)
      s += fmt::format("importance weights: ESS {:.1f} (raw {:.1f}), PSIS k {:.2f}, uncovered "
                       "reference {:.1f}%\n",
                       ess, raw_ess, k_hat, 100 * uncovered_reference);
    if (has_transport)
      s += fmt::format("transport: {} after {} iterations ({} total), eps {:.4g}, marginal error "
                       "{:.2g}, {} candidates, {} saturated\n",
                       ot::to_string(ot_status), ot_iterations, ot_total_iterations, eps, ot_error,
                       candidates, saturated);
    if (before.w1.size() > 0) {
      s += fmt::format("mean W1: {:.4f} -> {:.4f}; sliced W2: {:.4f} -> {:.4f}; correlation "
                       "distance: {:.4f} -> {:.4f}\n",
                       before.mean_w1, after.mean_w1, before.sliced_w2, after.sliced_w2,
                       before.correlation_distance, after.correlation_distance);
      for (Index k = 0; k < before.w1.size(); ++k) {
        const std::string name = k < static_cast<Index>(traits.size())
                                     ? traits[static_cast<std::size_t>(k)]
                                     : "trait " + std::to_string(k + 1);
        s += fmt::format("  {:<18} W1 {:.4f} -> {:.4f}  mean gap {:+.4f} -> {:+.4f}  sd gap "
                         "{:+.4f} -> {:+.4f}\n",
                         name, before.w1[k], after.w1[k], before.mean_gap[k], after.mean_gap[k],
                         before.sd_gap[k], after.sd_gap[k]);
      }
    }
    for (const auto& st : stages) s += fmt::format("  stage {:<14} {:.3f} s\n", st.name, st.seconds);
    for (const auto& w : warnings) s += "warning: " + w + "\n";
    return s;
  }
};

struct AlignResult {
  std::vector<Index> indices;  ///< selected pool rows, ascending (weights: rows with weight > 0)
  std::vector<Index> counts;   ///< copies of each indices entry (1 for distinct; empty: weights)
  Vector<double> weights;      ///< per pool row, sum 1 (counts / N, or the weights)
  Vector<double> inclusion;    ///< per pool row: P(selected) (distinct) / expected count (multiset)
  Vector<double> importance_weights;  ///< per pool row, sum 1 (is / resample); else empty
  Diagnostics diagnostics;
};

namespace detail {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Seeded uniform subsample of min(k, n) distinct rows (ascending); all rows when k >= n.
inline std::vector<Index> subsample_rows(Index n, Index k, Rng& rng) {
  std::vector<Index> rows(static_cast<std::size_t>(n));
  std::iota(rows.begin(), rows.end(), Index{0});
  if (k >= n) return rows;
  // Partial Fisher–Yates.
  for (Index i = 0; i < k; ++i) {
    const Index j = i + static_cast<Index>(rng.uniform_int(static_cast<std::uint64_t>(n - i)));
    std::swap(rows[static_cast<std::size_t>(i)], rows[static_cast<std::size_t>(j)]);
  }
  rows.resize(static_cast<std::size_t>(k));
  std::sort(rows.begin(), rows.end());
  return rows;
}

template <Real T>
RowMatrix<T> take_rows(const RowMatrix<T>& m, const std::vector<Index>& rows) {
  RowMatrix<T> out(static_cast<Index>(rows.size()), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = m.row(rows[i]);
  return out;
}

/// Distances of a weighted sample (rows of x with weights w, empty = uniform) to the reference.
template <Real T>
Comparison compare(const RowMatrix<T>& x, const Vector<double>& w, const RowMatrix<T>& ref,
                   const RowMatrix<T>& zx, const RowMatrix<T>& zref, const AlignOptions& opt) {
  Comparison c;
  const Vector<double> none;
  c.w1 = metrics::column_wasserstein1<T>(x, ref, w, none);
  c.mean_gap = metrics::mean_gap<T>(x, ref, w, none);
  c.sd_gap = metrics::sd_gap<T>(x, ref, w, none);
  c.mean_w1 = c.w1.mean();
  metrics::SlicedOptions so;
  so.n_projections = opt.sliced_projections;
  so.seed = hash_string("popalign.align.sliced");
  c.sliced_w2 = metrics::sliced_wasserstein<T>(zx, zref, w, none, so);
  if (x.cols() > 1 && x.rows() > 2)
    c.correlation_distance = metrics::correlation_distance<T>(x, ref, w, none).normalized;
  return c;
}

/// Integer counts from expected counts e (sum N): systematic resampling, so each unit gets
/// floor(e_i) or ceil(e_i) copies.
inline std::vector<Index> round_counts(const Vector<double>& e, Index N, Rng& rng) {
  const std::vector<Index> draws = sampling::systematic_resample<double>(e, N, rng);
  std::vector<Index> c(static_cast<std::size_t>(e.size()), 0);
  for (Index i : draws) ++c[static_cast<std::size_t>(i)];
  return c;
}

/// N distinct units with P(i) = pi_i; `key` (may be empty) orders the units for the systematic
/// pass (ordered rounding), else a random order.
inline std::vector<Index> round_distinct(const Vector<double>& pi, const Vector<double>& key,
                                         Rng& rng) {
  if (key.size() == 0) return sampling::sample_fixed_size<double>(pi, rng);
  std::vector<Index> order(static_cast<std::size_t>(pi.size()));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return key[a] < key[b]; });
  Vector<double> sorted(pi.size());
  for (Index j = 0; j < pi.size(); ++j) sorted[j] = pi[order[static_cast<std::size_t>(j)]];
  const std::vector<Index> picked =
      sampling::sample_fixed_size<double>(sorted, rng, sampling::FixedSizeOptions{.randomize_order = false});
  std::vector<Index> out;
  out.reserve(picked.size());
  for (Index j : picked) out.push_back(order[static_cast<std::size_t>(j)]);
  std::sort(out.begin(), out.end());
  return out;
}

/// Z-order (Morton) curve position of every row of standardised points z: each coordinate is
/// clamped to [-4, 4], quantised to 2^b levels (b = min(10, 62 / d) bits) and the bits are
/// interleaved. Returned as doubles (exact below 2^53; keys above are only used for sorting).
template <Real T>
Vector<double> morton_keys(const RowMatrix<T>& z) {
  const Index n = z.rows(), d = z.cols();
  const int bits = static_cast<int>(std::max<Index>(1, std::min<Index>(10, 62 / std::max<Index>(d, 1))));
  const double levels = static_cast<double>((1u << bits) - 1);
  Vector<double> key(n);
  for (Index i = 0; i < n; ++i) {
    std::uint64_t k = 0;
    std::vector<std::uint64_t> q(static_cast<std::size_t>(d));
    for (Index c = 0; c < d; ++c) {
      const double v = std::clamp((static_cast<double>(z(i, c)) + 4.0) / 8.0, 0.0, 1.0);
      q[static_cast<std::size_t>(c)] = static_cast<std::uint64_t>(std::lround(v * levels));
    }
    for (int b = bits - 1; b >= 0; --b)
      for (Index c = 0; c < d; ++c) k = (k << 1) | ((q[static_cast<std::size_t>(c)] >> b) & 1u);
    key[i] = static_cast<double>(k);
  }
  return key;
}

/// Stage 4b: raking (iterative proportional fitting, Deming & Stephan 1940) of the shares s
/// (sum N, each <= cap) so that, for every trait, the s-weighted histogram of the candidates on
/// the reference's quantile bins matches the reference's histogram scaled to N; s_i never
/// exceeds cap. Where the pool has too little mass in a bin the cap binds and the fit stays
/// approximate. Returns the largest relative bin mismatch after the last sweep.
template <Real T>
double rake_to_marginals(Vector<double>& s, const RowMatrix<T>& zc, const RowMatrix<T>& zr,
                         double cap, Index bins, Index sweeps) {
  const Index K = zc.rows(), d = zc.cols(), m = zr.rows();
  const double N = s.sum();
  std::vector<std::vector<int>> bin_of(static_cast<std::size_t>(d));
  std::vector<std::vector<double>> target(static_cast<std::size_t>(d));
  for (Index k = 0; k < d; ++k) {
    std::vector<double> r(static_cast<std::size_t>(m));
    for (Index j = 0; j < m; ++j) r[static_cast<std::size_t>(j)] = static_cast<double>(zr(j, k));
    std::sort(r.begin(), r.end());
    std::vector<double> edges;  // upper edges of bins 0..B-2 (distinct)
    for (Index b = 1; b < bins; ++b) {
      const double q = r[static_cast<std::size_t>(std::min<Index>(m - 1, (b * m) / bins))];
      if (edges.empty() || q > edges.back()) edges.push_back(q);
    }
    auto bin = [&](double v) {
      return static_cast<int>(std::lower_bound(edges.begin(), edges.end(), v) - edges.begin());
    };
    std::vector<double>& t = target[static_cast<std::size_t>(k)];
    t.assign(edges.size() + 1, 0.0);
    for (double v : r) t[static_cast<std::size_t>(bin(v))] += N / static_cast<double>(m);
    std::vector<int>& bo = bin_of[static_cast<std::size_t>(k)];
    bo.resize(static_cast<std::size_t>(K));
    for (Index i = 0; i < K; ++i) bo[static_cast<std::size_t>(i)] = bin(static_cast<double>(zc(i, k)));
  }
  double worst = 0;
  for (Index sweep = 0; sweep < sweeps; ++sweep) {
    worst = 0;
    for (Index k = 0; k < d; ++k) {
      const std::vector<int>& bo = bin_of[static_cast<std::size_t>(k)];
      const std::vector<double>& t = target[static_cast<std::size_t>(k)];
      std::vector<double> mass(t.size(), 0.0);
      for (Index i = 0; i < K; ++i) mass[static_cast<std::size_t>(bo[static_cast<std::size_t>(i)])] += s[i];
      std::vector<double> f(t.size(), 1.0);
      for (std::size_t b = 0; b < t.size(); ++b) {
        if (mass[b] > 0) f[b] = t[b] / mass[b];
        if (t[b] > 0) worst = std::max(worst, std::abs(mass[b] - t[b]) / t[b]);
      }
      for (Index i = 0; i < K; ++i)
        s[i] = std::min(cap, s[i] * f[static_cast<std::size_t>(bo[static_cast<std::size_t>(i)])]);
    }
  }
  return worst;
}

}  // namespace detail

/// Aligns `pool` (n x d) to `reference` (m x d); see the file comment. Throws InvalidArgument
/// naming `pool`, `reference` or an option (N > n for distinct output, non-finite values, a
/// constant reference trait); transport non-convergence is a status plus a warning.
template <Real T>
AlignResult align(MatrixView<T> pool, MatrixView<T> reference, const AlignOptions& options) {
  options.validate();
  const auto t_start = detail::Clock::now();
  const Index n = pool.rows(), m = reference.rows(), d = pool.cols();
  const Index N = options.n;
  check_argument(n > 0, "pool", "is empty (no rows)");
  check_argument(m > 1, "reference", "needs at least 2 rows");
  check_argument(d > 0, "pool", "has no trait columns");
  check_argument(reference.cols() == d, "reference",
                 fmt::format("has {} trait columns but the pool has {}", reference.cols(), d));
  check_argument(pool.allFinite(), "pool", "contains NaN or infinite values");
  check_argument(reference.allFinite(), "reference", "contains NaN or infinite values");
  if (options.output == Output::distinct)
    check_argument(N <= n, "n",
                   fmt::format("asks for {} distinct personas but the pool has only {} (use the "
                               "multiset output to draw with replacement)",
                               N, n));
  const Execution& ex = options.execution;
  Rng root(options.seed);
  AlignResult res;
  Diagnostics& dg = res.diagnostics;
  dg.method = options.method;
  dg.output = options.output;
  dg.seed = options.seed;
  dg.pool_size = n;
  dg.reference_size = m;
  dg.dimension = d;
  dg.requested = N;
  auto stage_begin = detail::Clock::now();
  auto end_stage = [&](const char* name) {
    dg.stages.push_back({name, detail::seconds_since(stage_begin)});
    stage_begin = detail::Clock::now();
  };

  // 1. Standardise by the reference.
  ex.checkpoint("standardise", 0.0);
  const RowMatrix<double> refd = reference.template cast<double>();
  const Eigen::RowVectorXd mu = refd.colwise().mean();
  Eigen::RowVectorXd sd = ((refd.rowwise() - mu).array().square().colwise().sum() /
                           static_cast<double>(m)).sqrt();
  for (Index k = 0; k < d; ++k)
    check_argument(sd[k] > 0, "reference",
                   fmt::format("trait column {} is constant (zero standard deviation)", k + 1));
  const RowMatrix<T> zp = ((pool.template cast<double>().rowwise() - mu).array().rowwise() /
                           sd.array()).matrix().template cast<T>();
  const RowMatrix<T> zr = ((refd.rowwise() - mu).array().rowwise() / sd.array())
                              .matrix().template cast<T>();
  end_stage("standardise");

  // 2. Density ratio.
  Vector<double> iw;  // importance weights, sum 1
  if (options.method == Method::resample || options.method == Method::importance) {
    ex.checkpoint("density ratio", 0.0);
    Rng rk = root.split(1);
    const std::vector<Index> ps = detail::subsample_rows(n, options.kde_max_points, rk);
    const std::vector<Index> rs = detail::subsample_rows(m, options.kde_max_points, rk);
    const RowMatrix<T> zps = detail::take_rows<T>(zp, ps);
    const RowMatrix<T> zrs = detail::take_rows<T>(zr, rs);
    density::KdeOptions ko;
    if (options.bandwidth_factor > 0)
      ko.bandwidth = density::Bandwidth::with_factor(options.bandwidth_factor);
    ko.execution = ex;
    const density::Kde<T> kref(zrs, Vector<double>(), ko);
    const density::Kde<T> kpool(zps, Vector<double>(), ko);
    const Vector<double> lr = kref.log_density(zp) - kpool.log_density(zp);
    Vector<double> lr_clean = lr;
    for (Index i = 0; i < n; ++i)
      if (std::isnan(lr_clean[i])) lr_clean[i] = 0.0;  // both densities underflow: neutral
    const sampling::ImportanceWeights w =
        sampling::importance_weights<double>(lr_clean, options.truncation);
    iw = w.weights;
    dg.has_weights = true;
    dg.ess = w.ess;
    dg.raw_ess = w.raw_ess;
    dg.k_hat = w.k_hat;
    dg.truncated = w.truncated;
    // Coverage: where does the reference have mass but the pool almost none?
    const Vector<double> at_ref = kpool.log_density(zrs) - kref.log_density(zrs);
    const double lc = std::log(options.coverage_ratio);
    Index uncovered = 0;
    for (Index j = 0; j < at_ref.size(); ++j)
      if (!(at_ref[j] >= lc)) ++uncovered;
    dg.uncovered_reference = static_cast<double>(uncovered) / static_cast<double>(at_ref.size());
    for (const auto& s : kref.warnings()) dg.warnings.push_back("reference KDE: " + s);
    for (const auto& s : kpool.warnings()) dg.warnings.push_back("pool KDE: " + s);
    if (dg.raw_ess < options.ess_warn_fraction * static_cast<double>(N))
      dg.warnings.push_back(fmt::format(
          "the pool cannot cover the reference: the importance weights' effective sample size is "
          "{:.1f} (raw), less than {:.0f}% of the {} personas requested",
          dg.raw_ess, 100 * options.ess_warn_fraction, N));
    if (dg.uncovered_reference > options.coverage_warn_fraction)
      dg.warnings.push_back(fmt::format(
          "the pool cannot cover the reference: {:.1f}% of the reference lies where the pool's "
          "density is below {:g} x the reference's; those people have no counterpart",
          100 * dg.uncovered_reference, options.coverage_ratio));
    res.importance_weights = iw;
    end_stage("density ratio");
  }

  Vector<double> final_w = Vector<double>::Zero(n);  // sum 1 at the end
  res.inclusion = Vector<double>::Zero(n);
  std::vector<Index> counts(static_cast<std::size_t>(n), 0);
  Rng rsel = root.split(2);
  const Index cap_count =
      options.output == Output::multiset ? (options.max_count > 0 ? options.max_count : N) : 1;

  // Ordering key for ordered rounding: position along a Z-order (Morton) curve of the
  // standardised traits, so that the systematic pass stratifies the selection in every trait.
  Vector<double> key;
  if (options.rounding == Rounding::ordered && options.output == Output::distinct)
    key = detail::morton_keys<T>(zp);

  if (options.method == Method::random) {
    if (options.output == Output::distinct) {
      res.inclusion.setConstant(static_cast<double>(N) / static_cast<double>(n));
      for (Index i : detail::round_distinct(res.inclusion, Vector<double>(), rsel)) counts[i] = 1;
    } else if (options.output == Output::multiset) {
      res.inclusion.setConstant(static_cast<double>(N) / static_cast<double>(n));
      const auto draws = sampling::multinomial_resample<double>(
          Vector<double>::Constant(n, 1.0 / static_cast<double>(n)), N, rsel);
      for (Index i : draws) ++counts[static_cast<std::size_t>(i)];
    } else {
      final_w.setConstant(1.0 / static_cast<double>(n));
    }
    end_stage("selection");
  } else if (options.method == Method::importance) {
    if (options.output == Output::distinct) {
      res.inclusion = sampling::inclusion_probabilities<double>(iw, N);
      for (Index i : detail::round_distinct(res.inclusion, Vector<double>(), rsel)) counts[i] = 1;
    } else if (options.output == Output::multiset) {
      res.inclusion = iw * static_cast<double>(N);
      counts = detail::round_counts(res.inclusion, N, rsel);
    } else {
      final_w = iw;
    }
    end_stage("selection");
  } else {
    // 3. Candidates.
    std::vector<Index> cand;
    if (options.method == Method::resample) {
      const double kf = std::ceil(options.candidate_factor * static_cast<double>(N));
      Index K = static_cast<Index>(std::min<double>(static_cast<double>(n), kf));
      if (options.max_candidates > 0) K = std::min(K, std::max(N, options.max_candidates));
      const Index positive = (iw.array() > 0).count();
      K = std::min(K, positive);
      K = std::max(K, std::min(N, n));
      if (K >= n) {
        cand.resize(static_cast<std::size_t>(n));
        std::iota(cand.begin(), cand.end(), Index{0});
      } else {
        Rng rc = root.split(3);
        const Vector<double> pi = sampling::inclusion_probabilities<double>(iw, K);
        cand = sampling::sample_fixed_size<double>(pi, rc);
      }
    } else {
      cand.resize(static_cast<std::size_t>(n));
      std::iota(cand.begin(), cand.end(), Index{0});
    }
    const Index K = static_cast<Index>(cand.size());
    dg.candidates = K;
    check_argument(K * cap_count >= N, "n",
                   fmt::format("{} personas cannot be placed on {} candidates with at most {} "
                               "copies each",
                               N, K, cap_count));
    end_stage("candidates");

    // 4. Transport.
    ex.checkpoint("transport", 0.0);
    Rng rr = root.split(4);
    const std::vector<Index> rsub = detail::subsample_rows(m, options.ot_max_reference, rr);
    const RowMatrix<T> zc = detail::take_rows<T>(zp, cand);
    const RowMatrix<T> zrs = detail::take_rows<T>(zr, rsub);
    const Index mr = zrs.rows();
    // Mean cost in closed form: |mu_c - mu_r|^2 + tr Sigma_c + tr Sigma_r.
    const Eigen::RowVectorXd mc = zc.template cast<double>().colwise().mean();
    const Eigen::RowVectorXd mrr = zrs.template cast<double>().colwise().mean();
    const double tc = (zc.template cast<double>().rowwise() - mc).array().square().sum() /
                      static_cast<double>(K);
    const double tr = (zrs.template cast<double>().rowwise() - mrr).array().square().sum() /
                      static_cast<double>(mr);
    const double mean_cost = (mc - mrr).squaredNorm() + tc + tr;
    dg.eps = options.reg * std::max(mean_cost, 1e-12);
    Vector<double> a;
    if (options.method == Method::resample && options.weighted_prior) {
      a.resize(K);
      for (Index i = 0; i < K; ++i) a[i] = iw[cand[static_cast<std::size_t>(i)]];
      a /= a.sum();
    } else {
      a = Vector<double>::Constant(K, 1.0 / static_cast<double>(K));
    }
    const Vector<double> b = Vector<double>::Constant(mr, static_cast<double>(N) / static_cast<double>(mr));
    const Vector<double> cap = Vector<double>::Constant(K, static_cast<double>(cap_count));
    ot::SinkhornOptions so;
    so.reg = dg.eps;
    so.max_iter = options.max_iter;
    so.tol = 0.0;
    so.rtol = options.ot_tolerance;
    so.compute_cost = true;
    so.kernel_memory_budget = options.ot_kernel_memory;
    // eps-scaling from twice the mean cost (not the bound of the largest cost): the plan at that
    // eps is already close to the product measure, and the stages above it are wasted work.
    so.eps_start = std::max(2.0 * mean_cost, dg.eps);
    // Two iterations per stage (the solver's default is one): the capacity-constrained problem
    // then leaves the schedule closer to its solution (popalign_align_speed: 59 target-eps
    // iterations after 16 of schedule, against 92 after 8 with one).
    so.eps_scaling_iterations = 2;
    so.execution = ex;
    const ot::PointCloud<T> geom(zc, zrs, 1.0);
    const ot::SinkhornResult sr = ot::capacity_constrained_sinkhorn(geom, a, b, cap, so);
    dg.has_transport = true;
    dg.ot_status = sr.status;
    dg.ot_iterations = sr.iterations;
    dg.ot_total_iterations = sr.total_iterations;
    dg.ot_error = std::max(sr.error_a, sr.error_b) / static_cast<double>(N);
    dg.transport_cost = sr.cost / static_cast<double>(N);
    if (sr.status == ot::Status::numerical_error)
      throw NumericalError("align: the transport produced non-finite potentials (eps " +
                           fmt::format("{:g}", dg.eps) + "); increase reg");
    if (sr.status != ot::Status::converged)
      dg.warnings.push_back(fmt::format(
          "the transport stopped after {} iterations ({}) with a relative marginal error of "
          "{:.2g}; the selection is approximate (increase max_iter or reg)",
          sr.iterations, ot::to_string(sr.status), dg.ot_error));
    Vector<double> s = sr.row_mass.cwiseMax(0.0).cwiseMin(static_cast<double>(cap_count));
    end_stage("transport");
    if (options.method == Method::resample && options.calibrate) {
      s *= static_cast<double>(N) / s.sum();
      dg.calibration_error = detail::rake_to_marginals<T>(s, zc, zr, static_cast<double>(cap_count),
                                                          options.calibration_bins,
                                                          options.calibration_sweeps);
      end_stage("calibration");
    }
    for (Index i = 0; i < K; ++i)
      if (s[i] >= 0.999 * static_cast<double>(cap_count)) ++dg.saturated;

    // 5. Rounding.
    if (options.output == Output::distinct) {
      const Vector<double> pi = sampling::inclusion_probabilities<double>(s, N);
      Vector<double> ckey;
      if (key.size() > 0) {
        ckey.resize(K);
        for (Index i = 0; i < K; ++i) ckey[i] = key[cand[static_cast<std::size_t>(i)]];
      }
      for (Index i = 0; i < K; ++i) res.inclusion[cand[static_cast<std::size_t>(i)]] = pi[i];
      for (Index i : detail::round_distinct(pi, ckey, rsel)) counts[cand[static_cast<std::size_t>(i)]] = 1;
    } else if (options.output == Output::multiset) {
      const Vector<double> e = s * (static_cast<double>(N) / s.sum());
      for (Index i = 0; i < K; ++i) res.inclusion[cand[static_cast<std::size_t>(i)]] = e[i];
      const std::vector<Index> c = detail::round_counts(e, N, rsel);
      for (Index i = 0; i < K; ++i) counts[cand[static_cast<std::size_t>(i)]] = c[static_cast<std::size_t>(i)];
    } else {
      for (Index i = 0; i < K; ++i) final_w[cand[static_cast<std::size_t>(i)]] = s[i];
      final_w /= final_w.sum();
    }
    end_stage("rounding");
  }

  if (options.output != Output::weights) {
    Index total = 0;
    for (Index i = 0; i < n; ++i) {
      if (counts[static_cast<std::size_t>(i)] > 0) {
        res.indices.push_back(i);
        res.counts.push_back(counts[static_cast<std::size_t>(i)]);
        total += counts[static_cast<std::size_t>(i)];
      }
    }
    if (total != N)
      throw NumericalError(fmt::format("align: the rounding returned {} personas instead of {}", total, N));
    for (Index i = 0; i < n; ++i)
      final_w[i] = static_cast<double>(counts[static_cast<std::size_t>(i)]) / static_cast<double>(N);
  } else {
    for (Index i = 0; i < n; ++i)
      if (final_w[i] > 0) res.indices.push_back(i);
  }
  res.weights = final_w;
  dg.selected = static_cast<Index>(res.indices.size());

  if (options.compute_metrics) {
    ex.checkpoint("metrics", 0.0);
    const RowMatrix<T> pm = pool;
    const RowMatrix<T> rm = reference;
    dg.before = detail::compare<T>(pm, Vector<double>(), rm, zp, zr, options);
    // The selection as its own sample (rows with weight > 0), so sorting costs O(N log N).
    const RowMatrix<T> sel = detail::take_rows<T>(pm, res.indices);
    const RowMatrix<T> zsel = detail::take_rows<T>(zp, res.indices);
    Vector<double> sw(static_cast<Index>(res.indices.size()));
    for (std::size_t i = 0; i < res.indices.size(); ++i) sw[static_cast<Index>(i)] = final_w[res.indices[i]];
    dg.after = detail::compare<T>(sel, sw, rm, zsel, zr, options);
    end_stage("metrics");
  }
  dg.seconds = detail::seconds_since(t_start);
  return res;
}

}  // namespace popalign::align

template <>
struct fmt::formatter<popalign::align::Method> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(popalign::align::Method m, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(popalign::align::to_string(m), ctx);
  }
};
