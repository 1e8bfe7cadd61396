#pragma once
// Implementation of align/align.hpp (include that header; this one is included at its bottom).
// align() is the sequence of stage functions below, each with its own name:
//   check_inputs -> standardise -> density_ratio_weights (resample, is)
//   -> select_random | select_importance | select_by_transport
//        (select_candidates -> transport_shares -> rake_to_marginals -> round_shares
//         -> refine_selection)
//   -> store_selection -> compare_before_after (compute_metrics)
// Every random choice is a stream of Rng(seed) (1 KDE subsamples, 2 rounding, 3 candidates,
// 4 transport reference subsample, 7 swap refinement), so a stage draws the same numbers
// whatever ran before it.
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
#include <vector>

#include <popalign/align/align.hpp>
#include <popalign/core/error.hpp>
#include <popalign/core/random.hpp>
#include <popalign/core/types.hpp>
#include <popalign/density/kde.hpp>
#include <popalign/metrics/correlation.hpp>
#include <popalign/metrics/population.hpp>
#include <popalign/metrics/sliced.hpp>
#include <popalign/metrics/univariate.hpp>
#include <popalign/ot/geometry.hpp>
#include <popalign/ot/sinkhorn.hpp>
#include <popalign/sampling/importance.hpp>
#include <popalign/sampling/resample.hpp>

namespace popalign::align {

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

/// Distances of a weighted sample (rows of x with weights w, empty = uniform) to the reference:
/// per-trait W1 and mean / sd gaps on the traits' own units, sliced W2 on the standardised traits
/// (zx, zref), the correlation distance (NaN for one trait or fewer than 3 rows); no KS or
/// raw-unit MMD. `population` holds the five population metrics on the standardised traits
/// (metrics::population_metrics: standardised by the reference's mean and sd, as zx and zref
/// are); its sliced W2 is the one above, and its MMD^2 (unbiased, median heuristic) runs on at
/// most kMmdPoints rows per side (seeded subsample).
template <Real T>
Comparison compare(const RowMatrix<T>& x, const Vector<double>& w, const RowMatrix<T>& ref,
                   const RowMatrix<T>& zx, const RowMatrix<T>& zref, const AlignOptions& opt) {
  constexpr Index kMmdPoints = 2000;
  Comparison c;
  const Vector<double> none;
  c.w1 = metrics::column_wasserstein1<T>(x, ref, w, none);
  c.mean_gap = metrics::mean_gap<T>(x, ref, w, none);
  c.sd_gap = metrics::sd_gap<T>(x, ref, w, none);
  c.mean_w1 = c.w1.mean();
  metrics::SlicedOptions so;
  so.n_projections = opt.sliced_projections;
  so.seed = hash_string("popalign.align.sliced");
  c.sliced_wasserstein = metrics::sliced_wasserstein<T>(zx, zref, w, none, so);
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  c.correlation = {kNaN, kNaN, kNaN};
  if (x.cols() > 1 && x.rows() > 2)
    c.correlation = metrics::correlation_distance<T>(x, ref, w, none);
  metrics::PopulationOptions po;
  po.compute_sliced = false;  // the same directions as above: reuse the value
  po.mmd_max_points = kMmdPoints;
  po.subsample_seed = hash_string("popalign.align.mmd");
  po.mmd.seed = hash_string("popalign.align.mmd.median");
  po.mmd.execution = opt.execution;
  c.population = metrics::population_metrics<T>(x, ref, w, none, po);
  c.population.sliced_wasserstein = c.sliced_wasserstein;
  return c;
}

/// Columns of z scaled by sqrt(w_k), so that squared distances become sum_k w_k (.)^2; z itself
/// when w is empty.
template <Real T>
RowMatrix<T> weighted_columns(const RowMatrix<T>& z, const Vector<double>& w) {
  if (w.size() == 0) return z;
  check_argument(w.size() == z.cols(), "cost_weights",
                 fmt::format("has {} entries but the data has {} columns", w.size(), z.cols()));
  RowMatrix<T> out = z;
  for (Index k = 0; k < z.cols(); ++k) out.col(k) *= static_cast<T>(std::sqrt(w[k]));
  return out;
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
  const std::vector<Index> picked = sampling::sample_fixed_size<double>(
      sorted, rng, sampling::FixedSizeOptions{.randomize_order = false});
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
  const int bits =
      static_cast<int>(std::max<Index>(1, std::min<Index>(10, 62 / std::max<Index>(d, 1))));
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
    for (Index i = 0; i < K; ++i)
      bo[static_cast<std::size_t>(i)] = bin(static_cast<double>(zc(i, k)));
  }
  double worst = 0;
  for (Index sweep = 0; sweep < sweeps; ++sweep) {
    worst = 0;
    for (Index k = 0; k < d; ++k) {
      const std::vector<int>& bo = bin_of[static_cast<std::size_t>(k)];
      const std::vector<double>& t = target[static_cast<std::size_t>(k)];
      std::vector<double> mass(t.size(), 0.0);
      for (Index i = 0; i < K; ++i)
        mass[static_cast<std::size_t>(bo[static_cast<std::size_t>(i)])] += s[i];
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

/// Stage 4b's directions (d x P, unit columns): the d trait axes, then for
/// Calibration::pairwise the sum and difference directions (e_k +- e_l) / sqrt(2) of every pair
/// k < l, or for Calibration::sliced `calibration_projections` seeded random directions (also
/// the fallback when d > calibration_max_pairwise_dim, with a warning). Matching the 1-D
/// distribution of z_k - z_l on top of the two marginals fixes var(z_k - z_l) = 2 - 2 corr(k, l),
/// so pairwise raking holds every correlation (and more: the whole pairwise spread) to the
/// reference's, where per-trait raking leaves it free.
inline Eigen::MatrixXd calibration_directions(Index d, const AlignOptions& options,
                                              Diagnostics& dg) {
  Calibration kind = options.calibration;
  if (kind == Calibration::pairwise && d > options.calibration_max_pairwise_dim) {
    kind = Calibration::sliced;
    dg.warnings.push_back(fmt::format(
        "pairwise calibration on {} traits would need {} projections: using {} random "
        "directions instead (calibration_max_pairwise_dim = {})",
        d, d * d, options.calibration_projections, options.calibration_max_pairwise_dim));
  }
  Index extra = 0;
  if (kind == Calibration::pairwise) extra = d * (d - 1);
  if (kind == Calibration::sliced) extra = options.calibration_projections;
  Eigen::MatrixXd dirs = Eigen::MatrixXd::Zero(d, d + extra);
  for (Index k = 0; k < d; ++k) dirs(k, k) = 1.0;
  Index col = d;
  if (kind == Calibration::pairwise) {
    const double h = 1.0 / std::sqrt(2.0);
    for (Index k = 0; k < d; ++k)
      for (Index l = k + 1; l < d; ++l) {
        dirs(k, col) = h;
        dirs(l, col) = h;
        dirs(k, col + 1) = h;
        dirs(l, col + 1) = -h;
        col += 2;
      }
  } else if (kind == Calibration::sliced) {
    const RowMatrix<double> r =
        metrics::random_directions(options.calibration_projections, d,
                                   options.seed ^ hash_string("popalign.align.calibration"));
    dirs.rightCols(extra) = r.transpose();
  }
  return dirs;
}

/// Stage 4b: the shares raked to the reference's 1-D histograms along calibration_directions()
/// (rake_to_marginals on the projected candidates and reference). Returns the largest relative
/// bin mismatch.
template <Real T>
double calibrate_shares(Vector<double>& s, const RowMatrix<T>& zc, const RowMatrix<T>& zr,
                        double cap, const AlignOptions& options, Diagnostics& dg) {
  const Eigen::MatrixXd dirs = calibration_directions(zc.cols(), options, dg);
  if (dirs.cols() == zc.cols())
    return rake_to_marginals<T>(s, zc, zr, cap, options.calibration_bins,
                                options.calibration_sweeps);
  const RowMatrix<T> pc = (zc.template cast<double>() * dirs).template cast<T>();
  const RowMatrix<T> pr = (zr.template cast<double>() * dirs).template cast<T>();
  return rake_to_marginals<T>(s, pc, pr, cap, options.calibration_bins, options.calibration_sweeps);
}

/// Wall-clock seconds per stage, appended to Diagnostics::stages.
class StageClock {
 public:
  explicit StageClock(Diagnostics& dg) : dg_(dg), begin_(Clock::now()) {}
  void end(const char* name) {
    dg_.stages.push_back({name, seconds_since(begin_)});
    begin_ = Clock::now();
  }

 private:
  Diagnostics& dg_;
  Clock::time_point begin_;
};

/// Checks the inputs of align() (options, shapes, finiteness, N <= n for distinct output).
template <Real T>
void check_inputs(MatrixView<T> pool, MatrixView<T> reference, const AlignOptions& options) {
  options.validate();
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
}

/// Pool and reference in the reference's standard units.
template <Real T>
struct Standardised {
  RowMatrix<T> pool, reference;
};

/// Stage 1: z = (x - mean_ref) / sd_ref (population sd) for both; throws InvalidArgument naming
/// `reference` for a constant trait.
template <Real T>
Standardised<T> standardise(MatrixView<T> pool, MatrixView<T> reference) {
  const Index m = reference.rows(), d = pool.cols();
  const RowMatrix<double> refd = reference.template cast<double>();
  const Eigen::RowVectorXd mu = refd.colwise().mean();
  Eigen::RowVectorXd sd =
      ((refd.rowwise() - mu).array().square().colwise().sum() / static_cast<double>(m)).sqrt();
  for (Index k = 0; k < d; ++k)
    check_argument(sd[k] > 0, "reference",
                   fmt::format("trait column {} is constant (zero standard deviation)", k + 1));
  Standardised<T> z;
  z.pool = ((pool.template cast<double>().rowwise() - mu).array().rowwise() / sd.array())
               .matrix()
               .template cast<T>();
  z.reference = ((refd.rowwise() - mu).array().rowwise() / sd.array()).matrix().template cast<T>();
  return z;
}

/// Stage 2: importance weights w_i ~ p_ref(z_i) / p_pool(z_i) (sum 1) from two KDEs on seeded
/// subsamples (stream 1 of `root`), stabilised by options.truncation; fills the weight and
/// coverage fields and warnings of dg.
template <Real T>
Vector<double> density_ratio_weights(const Standardised<T>& z, const AlignOptions& options,
                                     const Rng& root, Diagnostics& dg) {
  const Index n = z.pool.rows(), m = z.reference.rows();
  const Index N = options.n;
  Rng rk = root.split(1);
  const std::vector<Index> ps = subsample_rows(n, options.kde_max_points, rk);
  const std::vector<Index> rs = subsample_rows(m, options.kde_max_points, rk);
  const RowMatrix<T> zps = take_rows<T>(z.pool, ps);
  const RowMatrix<T> zrs = take_rows<T>(z.reference, rs);
  density::KdeOptions ko;
  if (options.bandwidth_factor > 0)
    ko.bandwidth = density::Bandwidth::with_factor(options.bandwidth_factor);
  ko.execution = options.execution;
  const density::Kde<T> kref(zrs, Vector<double>(), ko);
  const density::Kde<T> kpool(zps, Vector<double>(), ko);
  const Vector<double> lr = kref.log_density(z.pool) - kpool.log_density(z.pool);
  Vector<double> lr_clean = lr;
  for (Index i = 0; i < n; ++i)
    if (std::isnan(lr_clean[i])) lr_clean[i] = 0.0;  // both densities underflow: neutral
  const sampling::ImportanceWeights w =
      sampling::importance_weights<double>(lr_clean, options.truncation);
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
  return w.weights;
}

/// The selection being built: per pool row, P(selected) or the expected count (`inclusion`),
/// integer copies (`counts`, distinct / multiset) or the weight (`weights`, weights output).
struct Selection {
  Vector<double> inclusion;
  std::vector<Index> counts;
  Vector<double> weights;

  explicit Selection(Index n)
      : inclusion(Vector<double>::Zero(n)),
        counts(static_cast<std::size_t>(n), 0),
        weights(Vector<double>::Zero(n)) {}
};

/// Method::random: N distinct uniformly, N uniform draws, or uniform weights.
inline void select_random(Index N, Output output, Rng& rsel, Selection& sel) {
  const Index n = sel.inclusion.size();
  if (output == Output::distinct) {
    sel.inclusion.setConstant(static_cast<double>(N) / static_cast<double>(n));
    for (Index i : round_distinct(sel.inclusion, Vector<double>(), rsel)) sel.counts[i] = 1;
  } else if (output == Output::multiset) {
    sel.inclusion.setConstant(static_cast<double>(N) / static_cast<double>(n));
    const auto draws = sampling::multinomial_resample<double>(
        Vector<double>::Constant(n, 1.0 / static_cast<double>(n)), N, rsel);
    for (Index i : draws) ++sel.counts[static_cast<std::size_t>(i)];
  } else {
    sel.weights.setConstant(1.0 / static_cast<double>(n));
  }
}

/// Method::importance: N distinct with pi_i = min(1, c w_i), N draws with counts ~ N w_i, or
/// the importance weights themselves.
inline void select_importance(const Vector<double>& iw, Index N, Output output, Rng& rsel,
                              Selection& sel) {
  if (output == Output::distinct) {
    sel.inclusion = sampling::inclusion_probabilities<double>(iw, N);
    for (Index i : round_distinct(sel.inclusion, Vector<double>(), rsel)) sel.counts[i] = 1;
  } else if (output == Output::multiset) {
    sel.inclusion = iw * static_cast<double>(N);
    sel.counts = round_counts(sel.inclusion, N, rsel);
  } else {
    sel.weights = iw;
  }
}

/// Stage 3: the candidates entering the transport (ascending pool rows). Method::resample:
/// K = min(n, ceil(candidate_factor N), max(N, max_candidates), #positive weights), at least
/// min(N, n), drawn with pi_i = min(1, c w_i) (stream 3 of `root`); Method::ot: the whole pool.
inline std::vector<Index> select_candidates(const Vector<double>& iw, Index n,
                                            const AlignOptions& options, const Rng& root) {
  const Index N = options.n;
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
  return cand;
}

/// Stage 4: capacity-constrained entropic OT of the candidates (standardised rows zc) against a
/// seeded reference subsample (stream 4 of `root`); returns the shares s = P 1 clipped to
/// [0, cap_count]. Fills the transport fields of dg; non-convergence is dg.ot_status plus a
/// warning; non-finite potentials throw NumericalError; cancellation throws Cancelled.
template <Real T>
Vector<double> transport_shares(const RowMatrix<T>& zc, const std::vector<Index>& cand,
                                const RowMatrix<T>& zr, const Vector<double>& iw, Index cap_count,
                                const AlignOptions& options, const Rng& root, Diagnostics& dg) {
  const Index K = zc.rows(), m = zr.rows();
  const Index N = options.n;
  Rng rr = root.split(4);
  const std::vector<Index> rsub = subsample_rows(m, options.ot_max_reference, rr);
  const RowMatrix<T> zrs = take_rows<T>(zr, rsub);
  const Index mr = zrs.rows();
  // Mean cost in closed form: |mu_c - mu_r|^2 + tr Sigma_c + tr Sigma_r (weighted columns).
  const RowMatrix<double> zcd =
      weighted_columns<T>(zc, options.cost_weights).template cast<double>();
  const RowMatrix<double> zrd =
      weighted_columns<T>(zrs, options.cost_weights).template cast<double>();
  const Eigen::RowVectorXd mc = zcd.colwise().mean();
  const Eigen::RowVectorXd mrr = zrd.colwise().mean();
  const double tc = (zcd.rowwise() - mc).array().square().sum() / static_cast<double>(K);
  const double tr = (zrd.rowwise() - mrr).array().square().sum() / static_cast<double>(mr);
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
  const Vector<double> b =
      Vector<double>::Constant(mr, static_cast<double>(N) / static_cast<double>(mr));
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
  so.execution = options.execution;
  const RowMatrix<T> zcw = weighted_columns<T>(zc, options.cost_weights);
  const RowMatrix<T> zrw = weighted_columns<T>(zrs, options.cost_weights);
  const ot::PointCloud<T> geom(zcw, zrw, 1.0);
  const ot::SinkhornResult sr = ot::capacity_constrained_sinkhorn(geom, a, b, cap, so);
  dg.has_transport = true;
  dg.ot_status = sr.status;
  dg.ot_iterations = sr.iterations;
  dg.ot_total_iterations = sr.total_iterations;
  dg.ot_error = std::max(sr.error_a, sr.error_b) / static_cast<double>(N);
  dg.transport_cost = sr.cost / static_cast<double>(N);
  // A NaN marginal error means non-finite potentials even when the solver only reports
  // max_iterations: never return a selection computed from them.
  if (sr.status == ot::Status::numerical_error || !std::isfinite(dg.ot_error))
    throw NumericalError("align: the transport produced non-finite potentials (eps " +
                         fmt::format("{:g}", dg.eps) + "); increase reg");
  if (sr.status != ot::Status::converged)
    dg.warnings.push_back(fmt::format(
        "the transport stopped after {} iterations ({}) with a relative marginal error of "
        "{:.2g}; the selection is approximate (increase max_iter or reg)",
        sr.iterations, ot::to_string(sr.status), dg.ot_error));
  return sr.row_mass.cwiseMax(0.0).cwiseMin(static_cast<double>(cap_count));
}

/// Stage 5: the shares s of the candidates to the output: N distinct (systematic sampling with
/// P(i) = s_i, ordered along `key` when it is not empty), N draws with counts (systematic
/// resampling of the expected counts), or weights (s normalised).
inline void round_shares(const Vector<double>& s, const std::vector<Index>& cand,
                         const Vector<double>& key, Index N, Output output, Rng& rsel,
                         Selection& sel) {
  const Index K = static_cast<Index>(cand.size());
  auto row = [&](Index i) { return cand[static_cast<std::size_t>(i)]; };
  if (output == Output::distinct) {
    const Vector<double> pi = sampling::inclusion_probabilities<double>(s, N);
    Vector<double> ckey;
    if (key.size() > 0) {
      ckey.resize(K);
      for (Index i = 0; i < K; ++i) ckey[i] = key[row(i)];
    }
    for (Index i = 0; i < K; ++i) sel.inclusion[row(i)] = pi[i];
    for (Index i : round_distinct(pi, ckey, rsel)) sel.counts[row(i)] = 1;
  } else if (output == Output::multiset) {
    const Vector<double> e = s * (static_cast<double>(N) / s.sum());
    for (Index i = 0; i < K; ++i) sel.inclusion[row(i)] = e[i];
    const std::vector<Index> c = round_counts(e, N, rsel);
    for (Index i = 0; i < K; ++i) sel.counts[row(i)] = c[static_cast<std::size_t>(i)];
  } else {
    for (Index i = 0; i < K; ++i) sel.weights[row(i)] = s[i];
    sel.weights /= sel.weights.sum();
  }
}

/// Stage 6 (Refinement::swap): the discrepancy of a selection of N of the K candidates zc to the
/// reference zr, with incremental updates for one swap. For trait k, the reference's quantile
/// bins (at most `bins`, distinct upper edges, as the calibration's) give target shares t_kb;
/// the selection's counts c_kb give chi2_k = sum_b (c_kb / N - t_kb)^2 / t_kb (t_kb floored at
/// 1 / m). With r the selection's correlation matrix (population moments from the running sums
/// sum z, sum z z^T) and R the reference's:
///   L = N / d sum_k chi2_k / (B_k - 1) + lambda N / P sum_{k<l} (r_kl - R_kl)^2,  P = d(d-1)/2.
/// Both terms are about 1 (and lambda) for a simple random sample of N from the reference.
template <Real T>
class SwapRefiner {
 public:
  SwapRefiner(const RowMatrix<T>& zc, const RowMatrix<T>& zr, Index bins, double lambda, Index N)
      : zc_(zc.template cast<double>()), K_(zc.rows()), d_(zc.cols()), N_(N) {
    const Index m = zr.rows();
    bin_of_.assign(static_cast<std::size_t>(d_), std::vector<int>(static_cast<std::size_t>(K_)));
    target_.resize(static_cast<std::size_t>(d_));
    scale_.resize(static_cast<std::size_t>(d_));
    for (Index k = 0; k < d_; ++k) {
      std::vector<double> r(static_cast<std::size_t>(m));
      for (Index j = 0; j < m; ++j) r[static_cast<std::size_t>(j)] = static_cast<double>(zr(j, k));
      std::sort(r.begin(), r.end());
      std::vector<double> edges;
      for (Index b = 1; b < bins; ++b) {
        const double q = r[static_cast<std::size_t>(std::min<Index>(m - 1, (b * m) / bins))];
        if (edges.empty() || q > edges.back()) edges.push_back(q);
      }
      auto bin_index = [&](double v) {
        return static_cast<int>(std::lower_bound(edges.begin(), edges.end(), v) - edges.begin());
      };
      std::vector<double>& t = target_[static_cast<std::size_t>(k)];
      t.assign(edges.size() + 1, 0.0);
      for (double v : r) t[static_cast<std::size_t>(bin_index(v))] += 1.0 / static_cast<double>(m);
      for (double& x : t) x = std::max(x, 1.0 / static_cast<double>(m));
      for (Index i = 0; i < K_; ++i)
        bin_of_[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)] = bin_index(zc_(i, k));
      scale_[static_cast<std::size_t>(k)] =
          static_cast<double>(N) /
          (static_cast<double>(d_) * std::max<double>(1.0, static_cast<double>(t.size()) - 1.0));
    }
    const Index P = d_ * (d_ - 1) / 2;
    corr_scale_ = P > 0 ? lambda * static_cast<double>(N) / static_cast<double>(P) : 0.0;
    const Eigen::MatrixXd zrd = zr.template cast<double>();
    const Eigen::RowVectorXd mu = zrd.colwise().mean();
    const Eigen::MatrixXd c = zrd.rowwise() - mu;
    ref_corr_ = correlation_of((c.transpose() * c) / static_cast<double>(m));
  }

  /// L of the selection `sel` (candidate positions), computed from scratch; also resets the
  /// running state to `sel`.
  double reset(const std::vector<Index>& sel) {
    counts_.assign(static_cast<std::size_t>(d_), {});
    for (Index k = 0; k < d_; ++k)
      counts_[static_cast<std::size_t>(k)].assign(target_[static_cast<std::size_t>(k)].size(), 0);
    s1_ = Eigen::VectorXd::Zero(d_);
    s2_ = Eigen::MatrixXd::Zero(d_, d_);
    for (Index i : sel) {
      for (Index k = 0; k < d_; ++k) ++counts_[static_cast<std::size_t>(k)][bin(k, i)];
      s1_ += zc_.row(i).transpose();
      s2_.noalias() += zc_.row(i).transpose() * zc_.row(i);
    }
    marg_ = 0;
    for (Index k = 0; k < d_; ++k) {
      const auto& t = target_[static_cast<std::size_t>(k)];
      const auto& c = counts_[static_cast<std::size_t>(k)];
      double chi = 0;
      for (std::size_t b = 0; b < t.size(); ++b) chi += term(static_cast<double>(c[b]), t[b]);
      marg_ += scale_[static_cast<std::size_t>(k)] * chi;
    }
    corr_ = corr_term(s1_, s2_);
    return marg_ + corr_;
  }

  /// Current L.
  double value() const { return marg_ + corr_; }

  /// Change of L if candidate `out` (selected) is replaced by `in` (not selected); when it is
  /// negative beyond rounding (< -1e-12 (1 + L)) the swap is applied and true returned.
  bool try_swap(Index out, Index in) {
    double dm = 0;
    for (Index k = 0; k < d_; ++k) {
      const std::size_t bo = bin(k, out), bi = bin(k, in);
      if (bo == bi) continue;
      const auto& t = target_[static_cast<std::size_t>(k)];
      const auto& c = counts_[static_cast<std::size_t>(k)];
      const double co = static_cast<double>(c[bo]), ci = static_cast<double>(c[bi]);
      dm += scale_[static_cast<std::size_t>(k)] *
            (term(co - 1, t[bo]) - term(co, t[bo]) + term(ci + 1, t[bi]) - term(ci, t[bi]));
    }
    Eigen::VectorXd s1 = s1_;
    Eigen::MatrixXd s2 = s2_;
    if (corr_scale_ > 0) {
      s1 += zc_.row(in).transpose() - zc_.row(out).transpose();
      s2.noalias() +=
          zc_.row(in).transpose() * zc_.row(in) - zc_.row(out).transpose() * zc_.row(out);
    }
    const double nc = corr_scale_ > 0 ? corr_term(s1, s2) : 0.0;
    const double delta = dm + (nc - corr_);
    if (!(delta < -1e-12 * (1.0 + value()))) return false;
    for (Index k = 0; k < d_; ++k) {
      --counts_[static_cast<std::size_t>(k)][bin(k, out)];
      ++counts_[static_cast<std::size_t>(k)][bin(k, in)];
    }
    marg_ += dm;
    corr_ = nc;
    s1_ = std::move(s1);
    s2_ = std::move(s2);
    return true;
  }

 private:
  std::size_t bin(Index k, Index i) const {
    return static_cast<std::size_t>(
        bin_of_[static_cast<std::size_t>(k)][static_cast<std::size_t>(i)]);
  }
  double term(double c, double t) const {
    const double p = c / static_cast<double>(N_) - t;
    return p * p / t;
  }
  static Eigen::MatrixXd correlation_of(const Eigen::MatrixXd& cov) {
    const Index d = cov.rows();
    Eigen::MatrixXd r = Eigen::MatrixXd::Identity(d, d);
    for (Index k = 0; k < d; ++k)
      for (Index l = k + 1; l < d; ++l) {
        const double v = cov(k, k) * cov(l, l);
        r(k, l) = r(l, k) = v > 0 ? cov(k, l) / std::sqrt(v) : 0.0;
      }
    return r;
  }
  double corr_term(const Eigen::VectorXd& s1, const Eigen::MatrixXd& s2) const {
    if (corr_scale_ <= 0) return 0.0;
    const double n = static_cast<double>(N_);
    const Eigen::VectorXd mu = s1 / n;
    double e = 0;
    for (Index k = 0; k < d_; ++k) {
      const double vk = s2(k, k) / n - mu[k] * mu[k];
      for (Index l = k + 1; l < d_; ++l) {
        const double vl = s2(l, l) / n - mu[l] * mu[l];
        const double v = vk * vl;
        const double r = v > 0 ? (s2(k, l) / n - mu[k] * mu[l]) / std::sqrt(v) : 0.0;
        const double g = r - ref_corr_(k, l);
        e += g * g;
      }
    }
    return corr_scale_ * e;
  }

  Eigen::MatrixXd zc_;
  Index K_, d_, N_;
  std::vector<std::vector<int>> bin_of_;
  std::vector<std::vector<double>> target_;
  std::vector<double> scale_;
  double corr_scale_ = 0;
  Eigen::MatrixXd ref_corr_;
  std::vector<std::vector<Index>> counts_;
  Eigen::VectorXd s1_;
  Eigen::MatrixXd s2_;
  double marg_ = 0, corr_ = 0;
};

/// What refine_selection() did.
struct RefineStats {
  double before = 0, after = 0;
  Index proposals = 0, swaps = 0;
};

/// Stage 6: seeded swap refinement of `selected` (N distinct candidate positions, changed in
/// place, returned ascending): `proposals` times, a selected position (uniform) and a candidate
/// (in proportion to its share s; skipped when already selected) are drawn from `rng` and
/// swapped when that lowers SwapRefiner's L. L never increases; the same inputs and rng give
/// the same selection.
template <Real T>
RefineStats refine_selection(std::vector<Index>& selected, const Vector<double>& s,
                             const RowMatrix<T>& zc, const RowMatrix<T>& zr, Index bins,
                             double lambda, Index proposals, Rng& rng, const Execution& ex) {
  const Index K = zc.rows(), N = static_cast<Index>(selected.size());
  SwapRefiner<T> r(zc, zr, bins, lambda, N);
  RefineStats st;
  st.before = st.after = r.reset(selected);
  std::vector<double> cum(static_cast<std::size_t>(K));
  double acc = 0;
  for (Index i = 0; i < K; ++i) cum[static_cast<std::size_t>(i)] = acc += std::max(0.0, s[i]);
  std::vector<char> is_sel(static_cast<std::size_t>(K), 0);
  for (Index i : selected) is_sel[static_cast<std::size_t>(i)] = 1;
  if (!(acc > 0) || N == 0 || N >= K) return st;
  for (Index p = 0; p < proposals; ++p) {
    if ((p & 0xFFFF) == 0)
      ex.checkpoint("refinement", static_cast<double>(p) / static_cast<double>(proposals));
    const std::size_t o = static_cast<std::size_t>(rng.uniform_int(static_cast<std::uint64_t>(N)));
    const double u = rng.uniform() * acc;
    const Index in = std::min<Index>(
        K - 1, static_cast<Index>(std::upper_bound(cum.begin(), cum.end(), u) - cum.begin()));
    ++st.proposals;
    if (is_sel[static_cast<std::size_t>(in)]) continue;
    if (r.try_swap(selected[o], in)) {
      is_sel[static_cast<std::size_t>(selected[o])] = 0;
      is_sel[static_cast<std::size_t>(in)] = 1;
      selected[o] = in;
      ++st.swaps;
    }
  }
  st.after = r.value();
  std::sort(selected.begin(), selected.end());
  return st;
}

/// Whether stage 6 runs: Refinement::swap on resample's distinct output (both the exact and the
/// compressed path).
inline bool refines(const AlignOptions& options) {
  return options.method == Method::resample && options.output == Output::distinct &&
         options.refine == Refinement::swap;
}

/// Stage 6 on the rounded distinct selection `sel` (one seat on some of the K candidates `cand`,
/// pool rows; zc their standardised traits, s their shares after calibration, zr the
/// standardised reference): refine_selection with options' bins, lambda and
/// refine_proposals x N proposals drawn from stream 7 of root; the refined selection replaces
/// the candidates' counts and dg's refine_* fields are filled. Shared by select_by_transport
/// and select_by_atom_transport (compressed_impl.hpp), so both refine the same way.
template <Real T>
void refine_rounded(const std::vector<Index>& cand, const Vector<double>& s, const RowMatrix<T>& zc,
                    const RowMatrix<T>& zr, const AlignOptions& options, const Rng& root,
                    Selection& sel, Diagnostics& dg) {
  const Index K = static_cast<Index>(cand.size()), N = options.n;
  std::vector<Index> chosen;
  for (Index i = 0; i < K; ++i)
    if (sel.counts[static_cast<std::size_t>(cand[static_cast<std::size_t>(i)])] > 0)
      chosen.push_back(i);
  Rng rr = root.split(7);
  const RefineStats st = refine_selection<T>(chosen, s, zc, zr, options.calibration_bins,
                                             options.refine_correlation_weight,
                                             options.refine_proposals * N, rr, options.execution);
  for (Index i = 0; i < K; ++i)
    sel.counts[static_cast<std::size_t>(cand[static_cast<std::size_t>(i)])] = 0;
  for (Index i : chosen)
    sel.counts[static_cast<std::size_t>(cand[static_cast<std::size_t>(i)])] = 1;
  dg.refine_before = st.before;
  dg.refine_after = st.after;
  dg.refine_proposals = st.proposals;
  dg.refine_swaps = st.swaps;
}

/// Stages 3-5 (Method::resample and Method::ot): candidates, transport, calibration (resample),
/// rounding.
template <Real T>
void select_by_transport(const Standardised<T>& z, const Vector<double>& iw,
                         const AlignOptions& options, const Rng& root, Rng& rsel, Selection& sel,
                         Diagnostics& dg, StageClock& clock) {
  const Index n = z.pool.rows(), N = options.n;
  const Index cap_count =
      options.output == Output::multiset ? (options.max_count > 0 ? options.max_count : N) : 1;
  // Ordering key for ordered rounding: position along a Z-order (Morton) curve of the
  // standardised traits, so that the systematic pass stratifies the selection in every trait.
  Vector<double> key;
  if (options.rounding == Rounding::ordered && options.output == Output::distinct)
    key = morton_keys<T>(z.pool);

  const std::vector<Index> cand = select_candidates(iw, n, options, root);
  const Index K = static_cast<Index>(cand.size());
  dg.candidates = K;
  check_argument(K * cap_count >= N, "n",
                 fmt::format("{} personas cannot be placed on {} candidates with at most {} "
                             "copies each",
                             N, K, cap_count));
  clock.end("candidates");

  options.execution.checkpoint("transport", 0.0);
  const RowMatrix<T> zc = take_rows<T>(z.pool, cand);
  Vector<double> s = transport_shares<T>(zc, cand, z.reference, iw, cap_count, options, root, dg);
  clock.end("transport");
  if (options.method == Method::resample && options.calibrate) {
    s *= static_cast<double>(N) / s.sum();
    dg.calibration_error =
        calibrate_shares<T>(s, zc, z.reference, static_cast<double>(cap_count), options, dg);
    clock.end("calibration");
  }
  for (Index i = 0; i < K; ++i)
    if (s[i] >= 0.999 * static_cast<double>(cap_count)) ++dg.saturated;

  round_shares(s, cand, key, N, options.output, rsel, sel);
  clock.end("rounding");
  if (refines(options)) {
    refine_rounded<T>(cand, s, zc, z.reference, options, root, sel, dg);
    clock.end("refinement");
  }
}

/// Median of C_ij = ||x_i - y_j||^2 over all pairs when there are at most 2^22, else over 2^22
/// pairs drawn with `rng` (the published eps rule needs only its scale).
template <Real T>
double median_cost(const RowMatrix<T>& x, const RowMatrix<T>& y, Rng& rng) {
  const Index n = x.rows(), m = y.rows();
  constexpr Index kMaxPairs = Index{1} << 22;
  std::vector<double> c;
  auto cost = [&](Index i, Index j) {
    return (x.row(i).template cast<double>() - y.row(j).template cast<double>()).squaredNorm();
  };
  if (n * m <= kMaxPairs) {
    c.reserve(static_cast<std::size_t>(n * m));
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j < m; ++j) c.push_back(cost(i, j));
  } else {
    c.reserve(static_cast<std::size_t>(kMaxPairs));
    for (Index t = 0; t < kMaxPairs; ++t)
      c.push_back(cost(static_cast<Index>(rng.uniform_int(static_cast<std::uint64_t>(n))),
                       static_cast<Index>(rng.uniform_int(static_cast<std::uint64_t>(m)))));
  }
  auto mid = c.begin() + static_cast<std::ptrdiff_t>(c.size() / 2);
  std::nth_element(c.begin(), mid, c.end());
  return *mid;
}

/// Method::paper after its density ratio (iw, computed with the paper's bandwidth and no
/// stabilisation): keep the top keep_fraction of the pool by weight (ties: lower row first),
/// split them in batches of `batch` (pool order), solve a balanced entropic OT of each batch
/// (uniform weights) against the reference subsample (stream 4, as the other methods) with the
/// item-weighted squared distance, eps = eps_median * the batch's median cost, at most
/// `iterations` plain Sinkhorn iterations (no eps-scaling, no acceleration); each batch's row
/// sums, scaled by the batch's share of the candidates, give r (sum 1). Then N draws with
/// replacement with P = r (multinomial, stream 2): duplicates possible, as published; the
/// weights output returns r.
template <Real T>
void select_paper(const Standardised<T>& z, const Vector<double>& iw, const AlignOptions& options,
                  const Rng& root, Rng& rsel, Selection& sel, Diagnostics& dg, StageClock& clock) {
  const Index n = z.pool.rows(), N = options.n;
  const PaperOptions& po = options.paper;
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return iw[a] > iw[b]; });
  const Index K = std::max<Index>(
      1, static_cast<Index>(std::ceil(po.keep_fraction * static_cast<double>(n) - 1e-9)));
  std::vector<Index> cand(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(K));
  std::sort(cand.begin(), cand.end());
  dg.candidates = K;
  clock.end("candidates");

  Rng rr = root.split(4);
  const std::vector<Index> rsub = subsample_rows(z.reference.rows(), options.ot_max_reference, rr);
  const RowMatrix<T> zrs =
      weighted_columns<T>(take_rows<T>(z.reference, rsub), options.cost_weights);
  const Index mr = zrs.rows();
  const RowMatrix<T> zcw = weighted_columns<T>(take_rows<T>(z.pool, cand), options.cost_weights);
  Rng rm = root.split(6);
  Vector<double> r = Vector<double>::Zero(K);
  dg.has_transport = true;
  dg.ot_status = ot::Status::converged;
  double cost = 0, eps_sum = 0, err = 0;
  Index batches = 0;
  for (Index start = 0; start < K; start += po.batch) {
    options.execution.checkpoint("transport", static_cast<double>(start) / static_cast<double>(K));
    const Index kb = std::min(po.batch, K - start);
    const RowMatrix<T> xb = zcw.middleRows(start, kb);
    const double eps = po.eps_median * std::max(median_cost<T>(xb, zrs, rm), 1e-12);
    ot::SinkhornOptions so;
    so.reg = eps;
    so.max_iter = po.iterations;
    so.tol = 0.0;
    so.rtol = options.ot_tolerance;
    so.eps_scaling = false;
    so.overrelaxation = false;
    so.newton = false;
    so.compute_cost = true;
    so.kernel_memory_budget = options.ot_kernel_memory;
    so.execution = options.execution;
    const ot::PointCloud<T> geom(xb, zrs, 1.0);
    const Vector<double> a = Vector<double>::Constant(kb, 1.0 / static_cast<double>(kb));
    const Vector<double> b = Vector<double>::Constant(mr, 1.0 / static_cast<double>(mr));
    const ot::SinkhornResult sr = ot::sinkhorn(geom, a, b, so);
    if (sr.status == ot::Status::numerical_error)
      throw NumericalError("align (paper): the transport produced non-finite potentials (eps " +
                           fmt::format("{:g}", eps) + ")");
    if (sr.status != ot::Status::converged) dg.ot_status = sr.status;
    const double share = static_cast<double>(kb) / static_cast<double>(K);
    r.segment(start, kb) = sr.row_mass.cwiseMax(0.0) * share;
    cost += sr.cost * share;
    eps_sum += eps;
    err = std::max(err, std::max(sr.error_a, sr.error_b));
    dg.ot_iterations = std::max(dg.ot_iterations, sr.iterations);
    dg.ot_total_iterations += sr.total_iterations;
    ++batches;
  }
  dg.eps = eps_sum / static_cast<double>(batches);
  dg.ot_error = err;
  dg.transport_cost = cost;
  if (dg.ot_status != ot::Status::converged)
    dg.warnings.push_back(fmt::format(
        "paper: the transport stopped after {} Sinkhorn iterations (as published) with a "
        "relative marginal error of {:.2g}",
        po.iterations, err));
  r /= r.sum();
  clock.end("transport");
  auto row = [&](Index i) { return cand[static_cast<std::size_t>(i)]; };
  if (options.output == Output::weights) {
    for (Index i = 0; i < K; ++i) sel.weights[row(i)] = r[i];
  } else {
    const std::vector<Index> draws = sampling::multinomial_resample<double>(r, N, rsel);
    for (Index i = 0; i < K; ++i) sel.inclusion[row(i)] = r[i] * static_cast<double>(N);
    for (Index i : draws) ++sel.counts[static_cast<std::size_t>(row(i))];
    Index dup = 0;
    for (Index i = 0; i < K; ++i) dup += sel.counts[static_cast<std::size_t>(row(i))] > 1;
    if (dup > 0)
      dg.warnings.push_back(fmt::format(
          "paper: the {} personas are drawn with replacement as published; {} of them appear "
          "more than once",
          N, dup));
  }
  clock.end("rounding");
}

/// The selection into the result: indices (ascending) with counts, and weights per pool row
/// (counts / N, or the weights output); checks that the rounding returned N personas.
inline void store_selection(const Selection& sel, Index N, Output output, AlignResult& res) {
  const Index n = sel.inclusion.size();
  Vector<double> final_w = sel.weights;
  if (output != Output::weights) {
    Index total = 0;
    for (Index i = 0; i < n; ++i) {
      if (sel.counts[static_cast<std::size_t>(i)] > 0) {
        res.indices.push_back(i);
        res.counts.push_back(sel.counts[static_cast<std::size_t>(i)]);
        total += sel.counts[static_cast<std::size_t>(i)];
      }
    }
    if (total != N)
      throw NumericalError(
          fmt::format("align: the rounding returned {} personas instead of {}", total, N));
    for (Index i = 0; i < n; ++i)
      final_w[i] =
          static_cast<double>(sel.counts[static_cast<std::size_t>(i)]) / static_cast<double>(N);
  } else {
    for (Index i = 0; i < n; ++i)
      if (final_w[i] > 0) res.indices.push_back(i);
  }
  res.weights = final_w;
  res.inclusion = sel.inclusion;
  res.diagnostics.selected = static_cast<Index>(res.indices.size());
}

/// Diagnostics: the pool and the selection compared with the reference (Diagnostics::before /
/// after).
template <Real T>
void compare_before_after(MatrixView<T> pool, MatrixView<T> reference, const Standardised<T>& z,
                          const AlignOptions& options, AlignResult& res) {
  Diagnostics& dg = res.diagnostics;
  const RowMatrix<T> pm = pool;
  const RowMatrix<T> rm = reference;
  dg.before = compare<T>(pm, Vector<double>(), rm, z.pool, z.reference, options);
  // The selection as its own sample (rows with weight > 0), so sorting costs O(N log N).
  const RowMatrix<T> sel = take_rows<T>(pm, res.indices);
  const RowMatrix<T> zsel = take_rows<T>(z.pool, res.indices);
  Vector<double> sw(static_cast<Index>(res.indices.size()));
  for (std::size_t i = 0; i < res.indices.size(); ++i)
    sw[static_cast<Index>(i)] = res.weights[res.indices[i]];
  dg.after = compare<T>(sel, sw, rm, zsel, z.reference, options);
}

}  // namespace detail

}  // namespace popalign::align

#include <popalign/align/compressed_impl.hpp>

namespace popalign::align {

template <Real T>
AlignResult align(MatrixView<T> pool, MatrixView<T> reference, const AlignOptions& options) {
  detail::check_inputs<T>(pool, reference, options);
  const auto t_start = detail::Clock::now();
  const Execution& ex = options.execution;
  const Rng root(options.seed);
  AlignResult res;
  Diagnostics& dg = res.diagnostics;
  dg.method = options.method;
  dg.output = options.output;
  dg.seed = options.seed;
  dg.pool_size = pool.rows();
  dg.reference_size = reference.rows();
  dg.dimension = pool.cols();
  dg.requested = options.n;
  detail::StageClock clock(dg);

  ex.checkpoint("standardise", 0.0);
  const detail::Standardised<T> z = detail::standardise<T>(pool, reference);
  clock.end("standardise");
  std::optional<detail::AtomSet> atoms;  // Scaling::compress (compressed_impl.hpp)
  if (detail::use_compression(pool.rows(), reference.rows(), options)) {
    ex.checkpoint("compress", 0.0);
    atoms = detail::compress_inputs<T>(z, options, dg);
    clock.end("compress");
  }

  Vector<double> iw;  // importance weights, sum 1
  if (options.method == Method::resample || options.method == Method::importance ||
      options.method == Method::paper) {
    ex.checkpoint("density ratio", 0.0);
    AlignOptions ko = options;
    if (options.method == Method::paper) {  // as published: fixed bandwidth, raw ratios
      ko.bandwidth_factor = options.paper.bandwidth;
      ko.truncation = sampling::Truncation::none;
    }
    iw = atoms ? detail::density_ratio_atoms<T>(z, *atoms, ko, root, dg)
               : detail::density_ratio_weights<T>(z, ko, root, dg);
    res.importance_weights = iw;
    clock.end("density ratio");
  }

  detail::Selection sel(pool.rows());
  Rng rsel = root.split(2);
  switch (options.method) {
    case Method::random:
      detail::select_random(options.n, options.output, rsel, sel);
      clock.end("selection");
      break;
    case Method::importance:
      detail::select_importance(iw, options.n, options.output, rsel, sel);
      clock.end("selection");
      break;
    case Method::resample:
    case Method::ot:
      if (atoms)
        detail::select_by_atom_transport<T>(z, *atoms, iw, options, root, rsel, sel, dg, clock);
      else
        detail::select_by_transport<T>(z, iw, options, root, rsel, sel, dg, clock);
      break;
    case Method::paper:
      detail::select_paper<T>(z, iw, options, root, rsel, sel, dg, clock);
      break;
  }
  detail::store_selection(sel, options.n, options.output, res);

  if (options.compute_metrics) {
    ex.checkpoint("metrics", 0.0);
    if (atoms)
      detail::compare_before_after_sampled<T>(pool, reference, z, options, root, res);
    else
      detail::compare_before_after<T>(pool, reference, z, options, res);
    clock.end("metrics");
  }
  dg.seconds = detail::seconds_since(t_start);
  return res;
}

}  // namespace popalign::align
