// Validity of the alignment on held-out BIG5 data (docs/validity.md).
//
// For every bias profile (llm, squeezed, shifted, mixed) and seed: split BIG5 in source /
// reference / test, draw a biased pool from the source, select N people with each method
// (random, is, ot, resample) against the reference, and measure the mean per-trait W1 to the
// test part. Prints the reduction versus the unaligned pool per profile and method, averaged
// over seeds, as a Markdown table. Then the out-of-instrument check: align on the Mini-IPIP
// domain scores (20 items) and measure the per-item W1 of the other 30 IPIP-50 items.
//
//   popalign_validity [--seeds S] [--pool P] [--n N] [--quick] [--reg R] [--candidates F]
//                     [--rounding ordered|systematic] [--weighted-prior] [--data-dir D]
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <popalign/demo/demo.hpp>

using namespace popalign;
using namespace popalign::align;
using namespace popalign::demo;

namespace {
RowMatrix<double> rows_of(const RowMatrix<double>& m, const std::vector<Index>& rows) {
  RowMatrix<double> out(static_cast<Index>(rows.size()), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = m.row(rows[i]);
  return out;
}
double mean_w1(const RowMatrix<double>& a, const RowMatrix<double>& b, Index c0, Index c1) {
  return metrics::column_wasserstein1<double>(a.middleCols(c0, c1 - c0), b.middleCols(c0, c1 - c0))
      .mean();
}
}  // namespace

int main(int argc, char** argv) {
  int seeds = 5;
  Index pool = 4000, n = 400;
  bool quick = false, no_oi = false, verbose = false;
  std::string data_dir = POPALIGN_DATA_DIR;
  AlignOptions base;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seeds")
      seeds = std::stoi(next());
    else if (a == "--pool")
      pool = std::stol(next());
    else if (a == "--n")
      n = std::stol(next());
    else if (a == "--quick")
      quick = true;
    else if (a == "--no-oi")
      no_oi = true;
    else if (a == "--verbose")
      verbose = true;
    else if (a == "--reg")
      base.reg = std::stod(next());
    else if (a == "--candidates")
      base.candidate_factor = std::stod(next());
    else if (a == "--rounding")
      base.rounding = next() == "systematic" ? Rounding::systematic : Rounding::ordered;
    else if (a == "--weighted-prior")
      base.weighted_prior = true;
    else if (a == "--no-calibrate")
      base.calibrate = false;
    else if (a == "--bins")
      base.calibration_bins = std::stol(next());
    else if (a == "--bandwidth")
      base.bandwidth_factor = std::stod(next());
    else if (a == "--truncation") {
      const std::string t = next();
      base.truncation = t == "none"      ? sampling::Truncation::none
                        : t == "ionides" ? sampling::Truncation::ionides
                                         : sampling::Truncation::psis;
    } else if (a == "--data-dir")
      data_dir = next();
    else if (a == "--help" || a == "-h") {
      fmt::print(
          "usage: popalign_validity [--seeds S] [--pool P] [--n N] [--quick] [--reg R] "
          "[--candidates F] [--rounding ordered|systematic] [--weighted-prior] "
          "[--no-calibrate] [--bins B] [--bandwidth F] [--truncation none|ionides|psis] "
          "[--data-dir D]\n");
      return 0;
    } else {
      fmt::print(stderr, "unknown argument {}\n", a);
      return 2;
    }
  }
  if (quick) {
    pool = 600;
    n = 150;
  }
  base.compute_metrics = false;
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<Method> methods{Method::random, Method::importance, Method::ot,
                                    Method::resample};
  fmt::print(
      "## In-instrument: IPIP-50 domains, pool {} -> N {}, {} seed(s), reg {}, candidates "
      "{}x, calibration {}, rounding {}\n\n",
      pool, n, seeds, base.reg, base.candidate_factor,
      base.calibrate ? fmt::format("{} bins", base.calibration_bins) : std::string("off"),
      base.rounding == Rounding::ordered ? "ordered" : "systematic");
  fmt::print("| bias profile | pool mean W1 |");
  for (Method m : methods) fmt::print(" {} |", to_string(m));
  fmt::print("\n|---|---|");
  for (std::size_t k = 0; k < methods.size(); ++k) fmt::print("---|");
  fmt::print("\n");
  std::map<Method, double> avg;
  bool ok = true;
  for (BiasProfile p : all_bias_profiles()) {
    std::map<Method, double> red;
    double pool_w1 = 0;
    for (int s = 0; s < seeds; ++s) {
      DemoOptions o;
      o.data_dir = data_dir;
      o.seed = static_cast<std::uint64_t>(s + 1);
      o.profile = p;
      o.pool_size = pool;
      o.n = n;
      o.align = base;
      o.methods = methods;
      if (quick) o.max_part_size = 2000;
      const DemoResult r = run_demo(o);
      pool_w1 += r.pool_vs_test.mean_w1 / seeds;
      for (Method m : methods) red[m] += r.reduction(m) / seeds;
      if (verbose)
        for (const auto& mr : r.methods)
          fmt::print(
              stderr, "{} seed {} {}: {:.1f}%, ot {} it {} eps {:.3g} cand {} sat {} ess {:.0f}\n",
              to_string(p), s + 1, to_string(mr.method), 100 * r.reduction(mr.method),
              ot::to_string(mr.result.diagnostics.ot_status), mr.result.diagnostics.ot_iterations,
              mr.result.diagnostics.eps, mr.result.diagnostics.candidates,
              mr.result.diagnostics.saturated, mr.result.diagnostics.ess);
    }
    fmt::print("| {} | {:.4f} |", to_string(p), pool_w1);
    for (Method m : methods) {
      fmt::print(" {:.1f}% |", 100 * red[m]);
      avg[m] += red[m] / static_cast<double>(all_bias_profiles().size());
    }
    fmt::print("\n");
    ok = ok && red[Method::resample] > red[Method::random];
  }
  fmt::print("| **average** | |");
  for (Method m : methods) fmt::print(" **{:.1f}%** |", 100 * avg[m]);
  fmt::print("\n\n");

  // Out-of-instrument: align on Mini-IPIP, measure the other 30 items.
  if (no_oi) return ok ? 0 : 1;
  fmt::print(
      "## Out-of-instrument: align on Mini-IPIP domain scores, measure the 30 other IPIP-50 "
      "items (mean per-item W1 to the test part)\n\n");
  fmt::print("| bias profile | pool items W1 |");
  for (Method m : methods) fmt::print(" {} |", to_string(m));
  fmt::print("\n|---|---|");
  for (std::size_t k = 0; k < methods.size(); ++k) fmt::print("---|");
  fmt::print("\n");
  std::map<Method, double> avg_oi;
  for (BiasProfile p : all_bias_profiles()) {
    std::map<Method, double> red;
    double pool_w1 = 0;
    for (int s = 0; s < seeds; ++s) {
      const auto seed = static_cast<std::uint64_t>(s + 1);
      Big5Split sp = load_big5_split(data_dir, seed, Big5Extra::mini_ipip_and_items);
      if (quick) {
        Rng r(seed);
        const std::vector<std::pair<RowMatrix<double>*, RowMatrix<double>*>> parts{
            {&sp.source, &sp.source_extra},
            {&sp.reference, &sp.reference_extra},
            {&sp.test, &sp.test_extra}};
        for (const auto& pr : parts) {
          const auto rows = align::detail::subsample_rows(pr.first->rows(), 2000, r);
          *pr.first = rows_of(*pr.first, rows);
          *pr.second = rows_of(*pr.second, rows);
        }
      }
      // The pool is biased on the (true) IPIP-50 domains; alignment sees only Mini-IPIP.
      const auto prow = draw_biased_pool(sp.source, sp.reference, p, pool, seed);
      const RowMatrix<double> pe = rows_of(sp.source_extra, prow);
      const RowMatrix<double> pool_mini = pe.leftCols(5);
      const RowMatrix<double> ref_mini = sp.reference_extra.leftCols(5);
      const Index c1 = pe.cols();
      const double w_pool = mean_w1(pe, sp.test_extra, 5, c1);
      pool_w1 += w_pool / seeds;
      for (Method m : methods) {
        AlignOptions ao = base;
        ao.n = n;
        ao.method = m;
        ao.seed = seed;
        const AlignResult ar = align::align<double>(pool_mini, ref_mini, ao);
        const RowMatrix<double> sel = rows_of(pe, ar.indices);
        red[m] += (1.0 - mean_w1(sel, sp.test_extra, 5, c1) / w_pool) / seeds;
      }
    }
    fmt::print("| {} | {:.4f} |", to_string(p), pool_w1);
    for (Method m : methods) {
      fmt::print(" {:.1f}% |", 100 * red[m]);
      avg_oi[m] += red[m] / static_cast<double>(all_bias_profiles().size());
    }
    fmt::print("\n");
  }
  fmt::print("| **average** | |");
  for (Method m : methods) fmt::print(" **{:.1f}%** |", 100 * avg_oi[m]);
  fmt::print("\n\n");
  fmt::print("total {:.1f} s\n",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return ok ? 0 : 1;
}
