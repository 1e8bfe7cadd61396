// Where the compressed alignment gains or loses its errors to held-out people
// (docs/performance.md, "Alignment at 10^6 x 10^6"): runs the stages of align() with
// Scaling::compress one by one on BIG5-made data (big5_million.hpp) and prints, after each, the
// held-out errors (mean per-trait W1, correlation distance; sliced W2 with --sliced) of the
// weighted sample it has made so far, one JSON object per line:
//   pool              the pool, uniform
//   pool_oracle       the pool weighted by the true density ratio (the inverse of the tilt
//                     that made it; approximate: standardised by the reference)
//   reference_atoms   the reference atoms weighted by their people (the compression's own loss)
//   pool_iw           the pool weighted by the importance weights (atom KDEs)
//   candidates        the candidates, uniform
//   shares_even       the atom transport's shares spread evenly over each atom's candidates
//   shares            ... spread by the plan's row mass at each candidate (align()'s choice)
//   raked_<c>         shares raked by calibration c (marginal, pairwise, sliced)
//   rounded_<c>       raked_<c> rounded to N distinct personas (Z-order systematic)
//   refined_<c>       rounded_<c> after the swap refinement (stage 6, refine_rounded), with
//                     its own seconds ("refine_s"); refined_pairwise is align()'s default
//   align             align() itself (whatever its options do)
//
//   popalign_align_stages [--pool P] [--reference M] [--test T] [--n N] [--seed S] [--atoms K]
//                         [--sliced] [--profile P] [--refine swap|none] [--only-align] ...
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Cholesky>

#include <popalign/align/align.hpp>

#include "big5_million.hpp"
#include "heldout_errors.hpp"

using namespace popalign;
namespace ad = popalign::align::detail;

namespace {

struct Printer {
  const RowMatrix<double>& data;  // rows the weights index
  const RowMatrix<double>& test;
  bool sliced;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();

  void operator()(const char* stage, const std::vector<Index>& rows, const Vector<double>& w,
                  const RowMatrix<double>* own = nullptr) const {
    RowMatrix<double> x;
    if (own) {
      x = *own;
    } else if (rows.empty()) {
      x = data;
    } else {
      x.resize(static_cast<Index>(rows.size()), data.cols());
      for (std::size_t i = 0; i < rows.size(); ++i)
        x.row(static_cast<Index>(i)) = data.row(rows[i]);
    }
    bench::Errors e;
    if (sliced) {
      e = bench::errors_to(x, w, test);
    } else {
      const Vector<double> none;
      e.w1 = metrics::column_wasserstein1<double>(x, test, w, none);
      e.mean_w1 = e.w1.mean();
      e.corr = metrics::correlation_distance<double>(x, test, w, none).normalized;
      e.sliced = std::numeric_limits<double>::quiet_NaN();
    }
    // Signed differences of the off-diagonal correlations (pairs k < l) against the test's.
    const Eigen::MatrixXd rd = metrics::weighted_correlation<double>(x, w) -
                               metrics::weighted_correlation<double>(test, Vector<double>());
    std::string diff = "[";
    for (Index k = 0; k < rd.rows(); ++k)
      for (Index l = k + 1; l < rd.cols(); ++l)
        diff += fmt::format("{}{:+.3f}", diff.size() > 1 ? ", " : "", rd(k, l));
    diff += "]";
    double ess = 0;
    if (w.size() > 0) ess = w.sum() * w.sum() / w.squaredNorm();
    fmt::print(
        "{{\"stage\": \"{}\", \"rows\": {}, \"ess\": {:.0f}, \"mean_w1\": {:.5f}, "
        "\"sliced_w2\": {:.5f}, \"corr\": {:.5f}, \"corr_diff\": {}, \"t\": {:.1f}}}\n",
        stage, x.rows(), w.size() > 0 ? ess : static_cast<double>(x.rows()), e.mean_w1, e.sliced,
        e.corr, diff, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    std::fflush(stdout);
  }
};

}  // namespace

int main(int argc, char** argv) {
  Index n = 1000000, m = 1000000, t = 200000, N = 0;
  std::uint64_t seed = 1;
  bool sliced = false, only_align = false, whiten = false;
  demo::BiasProfile profile = demo::BiasProfile::llm;
  align::AlignOptions o;
  o.scaling = align::Scaling::compress;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--pool")
      n = std::stol(next());
    else if (a == "--reference")
      m = std::stol(next());
    else if (a == "--test")
      t = std::stol(next());
    else if (a == "--n")
      N = std::stol(next());
    else if (a == "--seed")
      seed = std::stoull(next());
    else if (a == "--atoms")
      o.atoms = std::stol(next());
    else if (a == "--sliced")
      sliced = true;
    else if (a == "--only-align")
      only_align = true;
    else if (a == "--whiten")
      whiten = true;
    else if (a == "--reg")
      o.reg = std::stod(next());
    else if (a == "--candidate-factor")
      o.candidate_factor = std::stod(next());
    else if (a == "--weighted-prior")
      o.weighted_prior = true;
    else if (a == "--calibration")
      o.calibration = *align::parse_calibration(next());
    else if (a == "--no-calibration")
      o.calibrate = false;
    else if (a == "--refine") {
      const auto r = align::parse_refinement(next());
      if (!r) {
        fmt::print(stderr, "--refine: swap or none\n");
        return 2;
      }
      o.refine = *r;
    } else if (a == "--profile")
      profile = *demo::parse_bias_profile(next());
    else {
      fmt::print(
          stderr,
          "usage: popalign_align_stages [--pool P] [--reference M] [--test T] "
          "[--n N] [--seed S] [--atoms K] [--sliced] [--profile P] [--only-align] [--whiten] "
          "[--reg R] [--candidate-factor F] [--weighted-prior] [--calibration C] "
          "[--no-calibration] [--refine swap|none]\n");
      return 2;
    }
  }
  if (N == 0) N = std::min<Index>(100000, std::max<Index>(1, n / 10));
  o.n = N;
  o.seed = seed;
  const bench::MillionData data =
      bench::make_big5_million(POPALIGN_DATA_DIR, n, m, t, profile, seed);
  const Printer print{data.pool, data.test, sliced};
  const Vector<double> none;
  if (only_align) {
    align::AlignOptions ao = o;
    ao.compute_metrics = false;
    RowMatrix<double> pool = data.pool, ref = data.reference;
    if (whiten) {  // both in the reference's whitened coordinates (Mahalanobis cost)
      const Eigen::RowVectorXd mu = ref.colwise().mean();
      const Eigen::MatrixXd c =
          (ref.rowwise() - mu).transpose() * (ref.rowwise() - mu) / static_cast<double>(ref.rows());
      const Eigen::MatrixXd l = Eigen::LLT<Eigen::MatrixXd>(c).matrixL();
      const Eigen::MatrixXd li = l.inverse().transpose();
      pool = ((pool.rowwise() - mu) * li).eval();
      ref = ((ref.rowwise() - mu) * li).eval();
    }
    const align::AlignResult r = align::align<double>(pool, ref, ao);
    print("align", r.indices, Vector<double>());
    return 0;
  }
  print("pool", {}, none);

  const ad::Standardised<double> z = ad::standardise<double>(data.pool, data.reference);
  {
    const Vector<double> lw = demo::bias_log_weights(z.pool, demo::bias_spec(profile));
    Vector<double> w = (-(lw.array() - lw.maxCoeff())).exp();
    print("pool_oracle", {}, w);
  }
  align::Diagnostics dg;
  const ad::AtomSet at = ad::compress_inputs<double>(z, o, dg);
  {
    // Atom centres back in trait units.
    const Eigen::RowVectorXd mu = data.reference.colwise().mean();
    const Eigen::RowVectorXd sd =
        ((data.reference.rowwise() - mu).array().square().colwise().sum() / static_cast<double>(m))
            .sqrt();
    const RowMatrix<double> c =
        ((at.reference.centres.array().rowwise() * sd.array()).rowwise() + mu.array()).matrix();
    print("reference_atoms", {}, at.reference.mass, &c);
  }
  const Rng root(seed);
  const Vector<double> iw = ad::density_ratio_atoms<double>(z, at, o, root, dg);
  print("pool_iw", {}, iw);

  align::AlignOptions co = o;
  co.max_candidates = 0;
  const std::vector<Index> cand = ad::select_candidates(iw, n, co, root);
  print("candidates", cand, Vector<double>());
  const Index cap = 1;
  const Vector<double> s = ad::atom_transport_shares<double>(z, at, cand, iw, cap, o, dg);
  {
    // Even split: atom totals of s spread with lk empty.
    std::vector<Index> row_of_atom(static_cast<std::size_t>(at.pool.size()), -1);
    Index kc = 0;
    std::vector<char> has(static_cast<std::size_t>(at.pool.size()), 0);
    for (Index i : cand)
      has[static_cast<std::size_t>(at.pool.atom_of[static_cast<std::size_t>(i)])] = 1;
    for (Index a = 0; a < at.pool.size(); ++a)
      if (has[static_cast<std::size_t>(a)]) row_of_atom[static_cast<std::size_t>(a)] = kc++;
    Vector<double> tot = Vector<double>::Zero(kc), capv = Vector<double>::Zero(kc);
    for (std::size_t k = 0; k < cand.size(); ++k) {
      const Index r =
          row_of_atom[static_cast<std::size_t>(at.pool.atom_of[static_cast<std::size_t>(cand[k])])];
      tot[r] += s[static_cast<Index>(k)];
      capv[r] += 1.0;
    }
    const Vector<double> even = ad::spread_atom_shares(tot, capv, row_of_atom, at.pool.atom_of,
                                                       cand, Vector<double>(), 1.0);
    print("shares_even", cand, even);
  }
  print("shares", cand, s);

  const RowMatrix<double> zc = ad::take_rows<double>(z.pool, cand);
  const Vector<double> key = ad::morton_keys<double>(z.pool);
  for (align::Calibration c :
       {align::Calibration::marginal, align::Calibration::pairwise, align::Calibration::sliced}) {
    Vector<double> sc = s * (static_cast<double>(N) / s.sum());
    align::AlignOptions ko = o;
    ko.calibration = c;
    ad::calibrate_shares<double>(sc, zc, z.reference, 1.0, ko, dg);
    print(fmt::format("raked_{}", align::to_string(c)).c_str(), cand, sc);
    ad::Selection sel(n);
    Rng rsel = root.split(2);
    ad::round_shares(sc, cand, key, N, align::Output::distinct, rsel, sel);
    std::vector<Index> picked;
    for (Index i = 0; i < n; ++i)
      if (sel.counts[static_cast<std::size_t>(i)] > 0) picked.push_back(i);
    print(fmt::format("rounded_{}", align::to_string(c)).c_str(), picked, Vector<double>());
    if (ad::refines(ko)) {
      const auto t_refine = std::chrono::steady_clock::now();
      ad::refine_rounded<double>(cand, sc, zc, z.reference, ko, root, sel, dg);
      const double refine_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t_refine).count();
      picked.clear();
      for (Index i = 0; i < n; ++i)
        if (sel.counts[static_cast<std::size_t>(i)] > 0) picked.push_back(i);
      fmt::print(
          "{{\"stage\": \"refine_{}\", \"refine_s\": {:.2f}, \"before\": {:.2f}, "
          "\"after\": {:.2f}, \"swaps\": {}, \"proposals\": {}}}\n",
          align::to_string(c), refine_s, dg.refine_before, dg.refine_after, dg.refine_swaps,
          dg.refine_proposals);
      print(fmt::format("refined_{}", align::to_string(c)).c_str(), picked, Vector<double>());
    }
  }
  {
    align::AlignOptions ao = o;
    ao.compute_metrics = false;
    const align::AlignResult r = align::align<double>(data.pool, data.reference, ao);
    print("align", r.indices, Vector<double>());
  }
  return 0;
}
