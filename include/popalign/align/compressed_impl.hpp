#pragma once
// The stages of align() on weighted atoms (Scaling::compress; included by align_impl.hpp after
// its own stages, whose helpers it reuses). Every person of the pool and of the reference
// counts; the O(n m) parts of the pipeline run on atoms instead of subsamples:
//
//   compress_inputs       pool and reference (standardised) -> at most `atoms` weighted atoms
//                         each (align/compress.hpp: greedy bisection; W2 bound reported)
//   density_ratio_atoms   the two KDEs are built on the atoms (weights = people per atom) and
//                         evaluated at the pool atoms; every person gets its atom's ratio. The
//                         error of both steps is measured on `probes` seeded pool people against
//                         the exact KDEs over all people with the same kernel
//   select_by_atom_transport
//                         candidates are drawn per person (stage 3 without max_candidates); the
//                         transport runs between the pool atoms that hold candidates (centred on
//                         those candidates, capacity = candidates x cap, prior ~ candidates) and
//                         all reference atoms (mass N x people / m); each candidate gets its
//                         atom's share spread by the plan's row mass at its own position;
//                         calibration (raking to the whole reference's 1-D histograms along
//                         options.calibration's directions, as calibrate_shares), rounding
//                         (Z-order systematic sampling) and the swap refinement (stage 6,
//                         refine_rounded: the candidates against the whole reference's quantile
//                         bins and correlation matrix) then run per person, as in the exact
//                         pipeline
//
// Why it is the same problem: entropic OT with a capacity constraint and a product prior is
// invariant under merging coincident points (their shares split evenly, the merged point's
// capacity and prior are the sums), so the only approximation is moving each person to the
// mean of its cell, i.e. the W2 bounds reported. Costs: O((n + m) d log k) to compress, O(k^2)
// per Sinkhorn iteration and per KDE, O(n log n) for the rest (the refinement: O(d m log m) for
// the reference's bins and correlations, O(d^2) per proposal; O(K d) memory for the candidates
// plus O(m d) temporaries for the reference, freed when it returns).
#include <fmt/format.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <popalign/align/align.hpp>
#include <popalign/align/compress.hpp>
#include <popalign/core/random.hpp>
#include <popalign/density/kde.hpp>
#include <popalign/kernels/gaussian_lse.hpp>
#include <popalign/ot/geometry.hpp>
#include <popalign/ot/sinkhorn.hpp>
#include <popalign/sampling/importance.hpp>

namespace popalign::align::detail {

/// Whether align() compresses (options.scaling; automatic: n or m above compress_above).
inline bool use_compression(Index n, Index m, const AlignOptions& options) {
  switch (options.scaling) {
    case Scaling::subsample:
      return false;
    case Scaling::compress:
      return true;
    case Scaling::automatic:
      return std::max(n, m) > options.compress_above;
  }
  return false;
}

/// Pool and reference atoms (of the standardised rows).
struct AtomSet {
  Atoms pool, reference;
};

/// Compresses the standardised pool and reference into at most options.atoms atoms each.
template <Real T>
AtomSet compress_inputs(const Standardised<T>& z, const AlignOptions& options, Diagnostics& dg) {
  CompressOptions co;
  co.max_atoms = options.atoms;
  AtomSet at;
  at.pool = compress_points<T>(z.pool, Vector<double>(), co);
  options.execution.checkpoint("compress", 0.5);
  at.reference = compress_points<T>(z.reference, Vector<double>(), co);
  CompressionReport& cr = dg.compression;
  cr.used = true;
  cr.pool_atoms = at.pool.size();
  cr.reference_atoms = at.reference.size();
  cr.pool_w2 = at.pool.w2;
  cr.reference_w2 = at.reference.w2;
  return at;
}

/// log r(x) = log p_ref(x) - log p_pool(x) at each row of q (NaN, both underflow: 0).
template <Real T>
Vector<double> log_ratio_at(const density::Kde<T>& kref, const density::Kde<T>& kpool,
                            const RowMatrix<double>& q) {
  Vector<double> lr = kref.log_density(q) - kpool.log_density(q);
  for (Index i = 0; i < lr.size(); ++i)
    if (std::isnan(lr[i])) lr[i] = 0.0;
  return lr;
}

/// Stage 2 on atoms: importance weights (sum 1, one per person) from the two KDEs over the atoms,
/// evaluated at the pool atoms; fills the weight, coverage and compression-error fields of dg.
template <Real T>
Vector<double> density_ratio_atoms(const Standardised<T>& z, const AtomSet& at,
                                   const AlignOptions& options, const Rng& root, Diagnostics& dg) {
  const Index n = z.pool.rows(), N = options.n;
  density::KdeOptions ko;
  if (options.bandwidth_factor > 0)
    ko.bandwidth = density::Bandwidth::with_factor(options.bandwidth_factor);
  ko.execution = options.execution;
  const density::Kde<T> kref(at.reference.centres, at.reference.mass, ko);
  const density::Kde<T> kpool(at.pool.centres, at.pool.mass, ko);
  const Vector<double> lr_atom = log_ratio_at<T>(kref, kpool, at.pool.centres);
  Vector<double> lr(n);
  for (Index i = 0; i < n; ++i) lr[i] = lr_atom[at.pool.atom_of[static_cast<std::size_t>(i)]];
  const sampling::ImportanceWeights w =
      sampling::importance_weights<double>(lr, options.truncation);
  dg.has_weights = true;
  dg.ess = w.ess;
  dg.raw_ess = w.raw_ess;
  dg.k_hat = w.k_hat;
  dg.truncated = w.truncated;

  // Coverage: reference mass (of the atoms) where the pool density is below coverage_ratio x
  // the reference density.
  const Vector<double> at_ref = -log_ratio_at<T>(kref, kpool, at.reference.centres);
  const double lc = std::log(options.coverage_ratio);
  double uncovered = 0;
  for (Index j = 0; j < at_ref.size(); ++j)
    if (!(at_ref[j] >= lc)) uncovered += at.reference.mass[j];
  dg.uncovered_reference = uncovered / at.reference.mass.sum();

  // The approximation's own error: exact KDEs over all people with the same kernels, at seeded
  // pool people (stream 5 of root).
  options.execution.checkpoint("density ratio", 0.7);
  {
    Rng rp = root.split(5);
    const std::vector<Index> probe = subsample_rows(n, 256, rp);
    RowMatrix<double> q(static_cast<Index>(probe.size()), z.pool.cols());
    for (std::size_t p = 0; p < probe.size(); ++p)
      q.row(static_cast<Index>(p)) = z.pool.row(probe[p]).template cast<double>();
    density::KdeOptions fo;
    fo.execution = options.execution;
    fo.bandwidth = density::Bandwidth::with_full(RowMatrix<double>(kref.kernel_covariance()));
    // Kde<float> (of T data; ~1e-6 relative to double, docs/density.md): 256 x (n + m) pairs.
    const density::Kde<float> fref(z.reference, Vector<double>(), fo);
    fo.bandwidth = density::Bandwidth::with_full(RowMatrix<double>(kpool.kernel_covariance()));
    const density::Kde<float> fpool(z.pool, Vector<double>(), fo);
    const Vector<double> exact = log_ratio_at<float>(fref, fpool, q);
    double sum = 0, mx = 0;
    for (std::size_t p = 0; p < probe.size(); ++p) {
      const double e = std::abs(exact[static_cast<Index>(p)] - lr[probe[p]]);
      sum += e;
      mx = std::max(mx, e);
    }
    dg.compression.probes = static_cast<Index>(probe.size());
    dg.compression.log_ratio_error = sum / static_cast<double>(probe.size());
    dg.compression.log_ratio_error_max = mx;
  }

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

/// Shares of the candidates from their atoms' shares: within each atom, s_i proportional to
/// exp(lk_i) (lk: log row mass at the candidate, up to a constant per atom), each at most
/// `cap_each`, summing to the atom's share (water-filling: candidates at the cap are fixed and
/// the rest is spread again, at most 50 rounds). lk empty: an even split.
inline Vector<double> spread_atom_shares(const Vector<double>& atom_share,
                                         const Vector<double>& atom_cap,
                                         const std::vector<Index>& row_of_atom,
                                         const std::vector<Index>& atom_of,
                                         const std::vector<Index>& cand, const Vector<double>& lk,
                                         double cap_each) {
  const Index K = static_cast<Index>(cand.size()), kc = atom_share.size();
  // Candidates grouped by transport row.
  std::vector<Index> start(static_cast<std::size_t>(kc) + 1, 0),
      members(static_cast<std::size_t>(K));
  std::vector<Index> row_of(static_cast<std::size_t>(K));
  for (Index k = 0; k < K; ++k) {
    const Index a = atom_of[static_cast<std::size_t>(cand[static_cast<std::size_t>(k)])];
    row_of[static_cast<std::size_t>(k)] = row_of_atom[static_cast<std::size_t>(a)];
    ++start[static_cast<std::size_t>(row_of[static_cast<std::size_t>(k)]) + 1];
  }
  for (Index r = 0; r < kc; ++r)
    start[static_cast<std::size_t>(r) + 1] += start[static_cast<std::size_t>(r)];
  {
    std::vector<Index> fill(start.begin(), start.end() - 1);
    for (Index k = 0; k < K; ++k)
      members[static_cast<std::size_t>(
          fill[static_cast<std::size_t>(row_of[static_cast<std::size_t>(k)])]++)] = k;
  }
  Vector<double> s = Vector<double>::Zero(K);
  std::vector<double> wgt;
  std::vector<char> fixed;
  for (Index r = 0; r < kc; ++r) {
    const Index b0 = start[static_cast<std::size_t>(r)],
                b1 = start[static_cast<std::size_t>(r) + 1];
    const Index len = b1 - b0;
    double total = std::clamp(atom_share[r], 0.0, atom_cap[r]);
    wgt.assign(static_cast<std::size_t>(len), 1.0);
    if (lk.size() > 0) {
      double mx = -std::numeric_limits<double>::infinity();
      for (Index p = 0; p < len; ++p)
        mx = std::max(mx, lk[members[static_cast<std::size_t>(b0 + p)]]);
      if (std::isfinite(mx))
        for (Index p = 0; p < len; ++p)
          wgt[static_cast<std::size_t>(p)] =
              std::exp(lk[members[static_cast<std::size_t>(b0 + p)]] - mx);
    }
    fixed.assign(static_cast<std::size_t>(len), 0);
    for (int round = 0; round < 50 && total > 0; ++round) {
      double wsum = 0;
      for (Index p = 0; p < len; ++p)
        if (!fixed[static_cast<std::size_t>(p)]) wsum += wgt[static_cast<std::size_t>(p)];
      if (!(wsum > 0)) break;
      bool clipped = false;
      for (Index p = 0; p < len; ++p) {
        if (fixed[static_cast<std::size_t>(p)]) continue;
        if (total * wgt[static_cast<std::size_t>(p)] / wsum >= cap_each) {
          fixed[static_cast<std::size_t>(p)] = 1;
          s[members[static_cast<std::size_t>(b0 + p)]] = cap_each;
          clipped = true;
        }
      }
      if (clipped) {
        total = std::clamp(atom_share[r], 0.0, atom_cap[r]);
        for (Index p = 0; p < len; ++p)
          if (fixed[static_cast<std::size_t>(p)]) total -= cap_each;
        total = std::max(total, 0.0);
        continue;
      }
      for (Index p = 0; p < len; ++p)
        if (!fixed[static_cast<std::size_t>(p)])
          s[members[static_cast<std::size_t>(b0 + p)]] =
              total * wgt[static_cast<std::size_t>(p)] / wsum;
      break;
    }
  }
  return s;
}

/// Stage 4 on atoms: capacity-constrained entropic OT between the pool atoms holding candidates
/// and all reference atoms; returns the share of every candidate (order of `cand`), in
/// [0, cap_count]. Fills the transport and compression fields of dg.
template <Real T>
Vector<double> atom_transport_shares(const Standardised<T>& z, const AtomSet& at,
                                     const std::vector<Index>& cand, const Vector<double>& iw,
                                     Index cap_count, const AlignOptions& options,
                                     Diagnostics& dg) {
  const Index n = z.pool.rows(), d = z.pool.cols(), m = z.reference.rows();
  const Index K = static_cast<Index>(cand.size()), N = options.n;
  std::vector<char> keep(static_cast<std::size_t>(n), 0);
  for (Index i : cand) keep[static_cast<std::size_t>(i)] = 1;
  const auto [centres, count] = subset_centres<T>(z.pool, at.pool, keep);
  // Rows of the transport: atoms with candidates.
  std::vector<Index> row_of_atom(static_cast<std::size_t>(at.pool.size()), -1);
  std::vector<Index> atoms_used;
  for (Index a = 0; a < at.pool.size(); ++a)
    if (count[a] > 0) {
      row_of_atom[static_cast<std::size_t>(a)] = static_cast<Index>(atoms_used.size());
      atoms_used.push_back(a);
    }
  const Index kc = static_cast<Index>(atoms_used.size());
  RowMatrix<float> zc(kc, d);  // the atom transport runs in float whatever T (see below)
  Vector<double> prior = Vector<double>::Zero(kc), cap(kc);
  for (Index r = 0; r < kc; ++r) {
    const Index a = atoms_used[static_cast<std::size_t>(r)];
    zc.row(r) = centres.row(a).template cast<float>();
    cap[r] = count[a] * static_cast<double>(cap_count);
    if (!(options.method == Method::resample && options.weighted_prior)) prior[r] = count[a];
  }
  // The candidates' own statistics: W2 bound to their atoms, mean and total variance (the mean
  // cost of the uncompressed problem in closed form: |mu_c - mu_r|^2 + tr S_c + tr S_r).
  Eigen::RowVectorXd mc = Eigen::RowVectorXd::Zero(d);
  for (Index i : cand) mc += z.pool.row(i).template cast<double>();
  mc /= static_cast<double>(K);
  double sse = 0, tc = 0;
  for (Index i : cand) {
    const Index a = at.pool.atom_of[static_cast<std::size_t>(i)];
    sse += (z.pool.row(i).template cast<double>() - centres.row(a)).squaredNorm();
    tc += (z.pool.row(i).template cast<double>() - mc).squaredNorm();
    if (options.method == Method::resample && options.weighted_prior)
      prior[row_of_atom[static_cast<std::size_t>(a)]] += iw[i];
  }
  tc /= static_cast<double>(K);
  const Eigen::RowVectorXd mr = z.reference.template cast<double>().colwise().mean();
  const double tr = (z.reference.template cast<double>().rowwise() - mr).array().square().sum() /
                    static_cast<double>(m);
  const double mean_cost = (mc - mr).squaredNorm() + tc + tr;
  dg.compression.candidate_atoms = kc;
  dg.compression.candidate_w2 = std::sqrt(sse / static_cast<double>(K));
  dg.eps = options.reg * std::max(mean_cost, 1e-12);
  prior /= prior.sum();
  const Vector<double> b = at.reference.mass * (static_cast<double>(N) / at.reference.mass.sum());

  ot::SinkhornOptions so;
  so.reg = dg.eps;
  so.max_iter = options.max_iter;
  so.tol = 0.0;
  so.rtol = options.ot_tolerance;
  so.compute_cost = true;
  so.kernel_memory_budget = options.ot_kernel_memory;
  so.eps_start = std::max(2.0 * mean_cost, dg.eps);  // as transport_shares
  so.eps_scaling_iterations = 2;
  so.execution = options.execution;
  // Float storage: the kernel of k x k atoms (256 MiB at k = 8192) is stored once and read twice
  // per iteration at twice the speed of double; its f32 error (~1e-7 C / eps relative in the
  // exponent, docs/kernels.md) is far below the compression's.
  const RowMatrix<float> zr = at.reference.centres.cast<float>();
  const ot::PointCloud<float> geom(zc, zr, 1.0);
  const ot::SinkhornResult sr = ot::capacity_constrained_sinkhorn(geom, prior, b, cap, so);
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
  // Within an atom, the atom's share goes to its candidates in proportion to the plan's row
  // mass at each candidate's own position (the out-of-sample extension of the potentials: row x
  // carries a_x exp(f/eps) sum_j b_j exp((g_j - |x - y_j|^2) / eps), f being the atom's), filled
  // up to the capacity; so the pool side keeps its resolution and only the reference is
  // quantised. One kernel pass of K candidates x k reference atoms.
  options.execution.checkpoint("transport", 0.9);
  RowMatrix<float> zk(K, d);
  for (Index k = 0; k < K; ++k)
    zk.row(k) = z.pool.row(cand[static_cast<std::size_t>(k)]).template cast<float>();
  Vector<double> h(b.size());
  for (Index j = 0; j < b.size(); ++j)
    h[j] = b[j] > 0 ? std::log(b[j]) + sr.g[j] / dg.eps : -std::numeric_limits<double>::infinity();
  kernels::LseOptions lo;
  lo.execution = options.execution;
  const Vector<double> lk = kernels::gaussian_lse<float>(zk, zr, h, 1.0 / dg.eps, lo);
  return spread_atom_shares(sr.row_mass, cap, row_of_atom, at.pool.atom_of, cand, lk,
                            static_cast<double>(cap_count));
}

/// Stages 3-6 on atoms (Method::resample and Method::ot with Scaling::compress): candidates per
/// person (no max_candidates cap), the atom transport, calibration (resample), rounding and the
/// swap refinement (resample, distinct output) per person.
template <Real T>
void select_by_atom_transport(const Standardised<T>& z, const AtomSet& at, const Vector<double>& iw,
                              const AlignOptions& options, const Rng& root, Rng& rsel,
                              Selection& sel, Diagnostics& dg, StageClock& clock) {
  const Index n = z.pool.rows(), N = options.n;
  const Index cap_count =
      options.output == Output::multiset ? (options.max_count > 0 ? options.max_count : N) : 1;
  Vector<double> key;
  if (options.rounding == Rounding::ordered && options.output == Output::distinct)
    key = morton_keys<T>(z.pool);
  AlignOptions co = options;
  co.max_candidates = 0;  // the transport's size no longer depends on the candidates
  const std::vector<Index> cand = select_candidates(iw, n, co, root);
  const Index K = static_cast<Index>(cand.size());
  dg.candidates = K;
  check_argument(K * cap_count >= N, "n",
                 fmt::format("{} personas cannot be placed on {} candidates with at most {} "
                             "copies each",
                             N, K, cap_count));
  clock.end("candidates");

  options.execution.checkpoint("transport", 0.0);
  Vector<double> s = atom_transport_shares<T>(z, at, cand, iw, cap_count, options, dg);
  clock.end("transport");
  const bool calibrates = options.method == Method::resample && options.calibrate;
  RowMatrix<T> zc;  // the candidates' standardised traits (calibration, refinement)
  if (calibrates || refines(options)) zc = take_rows<T>(z.pool, cand);
  if (calibrates) {
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

/// Rows of a matrix view (a seeded subsample's), as a matrix.
template <Real T>
RowMatrix<T> gather_rows(MatrixView<T> x, const std::vector<Index>& rows) {
  RowMatrix<T> out(static_cast<Index>(rows.size()), x.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = x.row(rows[i]);
  return out;
}

/// Rows the before / after metrics use of the pool and of the reference when compressing.
inline constexpr Index kMetricsMaxRows = 100000;

/// Diagnostics with compression: compare_before_after on seeded subsamples (stream 6 of root)
/// of at most kMetricsMaxRows pool and reference rows; the selection is used whole. At 10^6 rows
/// the exact metrics (64 sorted projections of both clouds for the sliced W2) would cost more
/// than the alignment; the subsamples' own sampling error is ~1 / sqrt(10^5) (W1 ~0.003 sd).
template <Real T>
void compare_before_after_sampled(MatrixView<T> pool, MatrixView<T> reference,
                                  const Standardised<T>& z, const AlignOptions& options,
                                  const Rng& root, AlignResult& res) {
  Diagnostics& dg = res.diagnostics;
  Rng rm = root.split(6);
  const std::vector<Index> ps = subsample_rows(pool.rows(), kMetricsMaxRows, rm);
  const std::vector<Index> rs = subsample_rows(reference.rows(), kMetricsMaxRows, rm);
  const RowMatrix<T> pm = gather_rows<T>(pool, ps), rm_rows = gather_rows<T>(reference, rs);
  const RowMatrix<T> zp = take_rows<T>(z.pool, ps), zr = take_rows<T>(z.reference, rs);
  dg.before = compare<T>(pm, Vector<double>(), rm_rows, zp, zr, options);
  const RowMatrix<T> sel = gather_rows<T>(pool, res.indices);
  const RowMatrix<T> zsel = take_rows<T>(z.pool, res.indices);
  Vector<double> sw(static_cast<Index>(res.indices.size()));
  for (std::size_t i = 0; i < res.indices.size(); ++i)
    sw[static_cast<Index>(i)] = res.weights[res.indices[i]];
  dg.after = compare<T>(sel, sw, rm_rows, zsel, zr, options);
}

}  // namespace popalign::align::detail
