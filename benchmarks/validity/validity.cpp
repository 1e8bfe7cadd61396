// Validity of the alignment on held-out real people (docs/validity.md).
//
// In-domain (BIG5, IPIP-50 domains): for every seed, split BIG5 in source / reference / test
// (demo::load_big5_split), and split the test part again in two halves: `dev` (for choosing
// options) and `held-out` (for reporting). For every bias profile (llm, squeezed, shifted,
// mixed), draw a biased pool from the source, select N people with each method against the
// reference and measure five population metrics against the evaluation half, all on the
// traits standardised by the reference (mean 0, sd 1):
//   W1        mean over traits of the 1-D Wasserstein-1 distance
//   Frechet   Frechet distance between Gaussian fits (metrics::frechet_distance: the squared
//             W2 between the fits, FID convention)
//   sliced    sliced Wasserstein-2, 64 seeded directions
//   MMD2      unbiased MMD^2, Gaussian kernel, median-heuristic bandwidth
//   corr MAE  mean absolute difference of the off-diagonal trait correlations
// Each cell is the median over the seeds with [min, max]. Seeds: held-out 1..S, dev 101..100+S
// (different people in every part). Methods are labels: random, is, ot, resample, paper, and
// variants `method:calibration` (resample:marginal, resample:none, resample:sliced), a
// refinement suffix `+swap` / `+none` (resample:marginal+none = the default before the swap
// refinement) and
// `method@items` (aligned on the 50 keyed IPIP-50 item answers instead of the 5 domain scores,
// measured on the domain scores).
//
// Out-of-domain (--ood-dir D, the ospp_ood folder with five OSPP datasets where the same people
// answered the TIPI and another scale; see ood.hpp): split reference / pool source / held-out,
// bias the pool on the TIPI Big Five, align on the TIPI Big Five only, and measure the other
// scale's mean per-item W1 and score W1 to the held-out people, next to the pool, a random
// selection and the noise floor (N fresh people from the same population).
//
//   popalign_validity [--seeds S] [--split heldout|dev] [--methods m1,m2,...] [--pool P] [--n N]
//                     [--quick] [--no-id] [--no-oi] [--ood-dir D] [--check-targets] [--reg R]
//                     [--candidates F] [--calibration pairwise|marginal|sliced|none] [--bins B]
//                     [--refine swap|none] [--refine-lambda W] [--refine-proposals P]
//                     [--data-dir D]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <popalign/demo/demo.hpp>
#include <popalign/metrics/correlation.hpp>
#include <popalign/metrics/frechet.hpp>
#include <popalign/metrics/mmd.hpp>
#include <popalign/metrics/sliced.hpp>
#include <popalign/metrics/univariate.hpp>

#include "ood.hpp"

using namespace popalign;
using namespace popalign::align;
using namespace popalign::demo;

namespace {

RowMatrix<double> rows_of(const RowMatrix<double>& m, const std::vector<Index>& rows) {
  RowMatrix<double> out(static_cast<Index>(rows.size()), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = m.row(rows[i]);
  return out;
}

/// The five metrics of a (weighted) sample a against b, both already standardised.
struct Five {
  double w1 = 0, frechet = 0, sliced = 0, mmd2 = 0, corr_mae = 0;
};
constexpr int kMetrics = 5;
const char* kMetricNames[kMetrics] = {"mean W1", "Frechet", "sliced W2", "MMD2 (unbiased)",
                                      "corr MAE"};
double get(const Five& f, int k) {
  switch (k) {
    case 0:
      return f.w1;
    case 1:
      return f.frechet;
    case 2:
      return f.sliced;
    case 3:
      return f.mmd2;
    default:
      return f.corr_mae;
  }
}

Five five(const RowMatrix<double>& a, const Vector<double>& wa, const RowMatrix<double>& b) {
  Five f;
  f.w1 = metrics::column_wasserstein1<double>(a, b, wa, Vector<double>()).mean();
  f.frechet = metrics::frechet_distance<double>(a, b, wa, Vector<double>());
  metrics::SlicedOptions so;
  so.n_projections = 64;
  so.seed = hash_string("popalign.validity.sliced");
  f.sliced = metrics::sliced_wasserstein<double>(a, b, wa, Vector<double>(), so);
  f.mmd2 = metrics::gaussian_mmd<double>(a, b, wa, Vector<double>()).mmd2_unbiased;
  f.corr_mae = metrics::correlation_distance<double>(a, b, wa, Vector<double>()).mae;
  return f;
}

struct Standardiser {
  Eigen::RowVectorXd mu, sd;
  explicit Standardiser(const RowMatrix<double>& ref) {
    mu = ref.colwise().mean();
    sd = ((ref.rowwise() - mu).array().square().colwise().sum() / static_cast<double>(ref.rows()))
             .sqrt();
  }
  RowMatrix<double> operator()(const RowMatrix<double>& x) const {
    return ((x.rowwise() - mu).array().rowwise() / sd.array()).matrix();
  }
};

/// A method label: a Method plus the calibration and the space it aligns in.
struct Variant {
  std::string label;
  Method method = Method::resample;
  bool calibrate = true;
  Calibration calibration = align::AlignOptions{}.calibration;  ///< the library's default
  bool items = false;
  Refinement refine = Refinement::swap;
};

Variant parse_variant(const std::string& label, const AlignOptions& base) {
  Variant v;
  v.label = label;
  v.calibrate = base.calibrate;
  v.calibration = base.calibration;
  v.refine = base.refine;
  std::string s = label;
  if (const auto at = s.find('@'); at != std::string::npos) {
    if (s.substr(at + 1) != "items") {
      fmt::print(stderr, "--methods: unknown space in '{}' (only @items)\n", label);
      std::exit(2);
    }
    v.items = true;
    s = s.substr(0, at);
  }
  if (const auto plus = s.find('+'); plus != std::string::npos) {
    const auto r = parse_refinement(s.substr(plus + 1));
    if (!r) {
      fmt::print(stderr, "--methods: unknown refinement in '{}' (+swap or +none)\n", label);
      std::exit(2);
    }
    v.refine = *r;
    s = s.substr(0, plus);
  }
  if (const auto colon = s.find(':'); colon != std::string::npos) {
    const std::string c = s.substr(colon + 1);
    s = s.substr(0, colon);
    if (c == "none") {
      v.calibrate = false;
    } else if (const auto k = parse_calibration(c)) {
      v.calibrate = true;
      v.calibration = *k;
    } else {
      fmt::print(stderr, "--methods: unknown calibration in '{}'\n", label);
      std::exit(2);
    }
  }
  const auto m = parse_method(s);
  if (!m) {
    fmt::print(stderr, "--methods: unknown method '{}'\n", label);
    std::exit(2);
  }
  v.method = *m;
  return v;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= s.size()) {
    const std::size_t e = std::min(s.find(',', b), s.size());
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string cell(const std::vector<double>& v, const char* f = "{:.4f}") {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  if (v.size() == 1) return fmt::format(fmt::runtime(f), v[0]);
  return fmt::format(fmt::runtime(std::string(f) + " [" + f + ", " + f + "]"), median(v), *lo, *hi);
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 5;
  Index pool = 4000, n = 400;
  bool quick = false, no_oi = false, no_id = false, dev = false, verbose = false;
  bool check_targets = false;  // exit 1 when `resample` misses an in-domain target
  std::string data_dir = POPALIGN_DATA_DIR, ood_dir;
  std::string methods_arg = "random,is,ot,resample,paper";
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
    else if (a == "--split") {
      const std::string s = next();
      if (s != "dev" && s != "heldout") {
        fmt::print(stderr, "--split must be dev or heldout\n");
        return 2;
      }
      dev = s == "dev";
    } else if (a == "--methods")
      methods_arg = next();
    else if (a == "--pool")
      pool = std::stol(next());
    else if (a == "--n")
      n = std::stol(next());
    else if (a == "--quick")
      quick = true;
    else if (a == "--no-oi")
      no_oi = true;
    else if (a == "--no-id")
      no_id = true;
    else if (a == "--check-targets")
      check_targets = true;
    else if (a == "--ood-dir")
      ood_dir = next();
    else if (a == "--verbose")
      verbose = true;
    else if (a == "--reg")
      base.reg = std::stod(next());
    else if (a == "--candidates")
      base.candidate_factor = std::stod(next());
    else if (a == "--calibration") {
      const std::string c = next();
      if (c == "none") {
        base.calibrate = false;
      } else if (const auto k = parse_calibration(c)) {
        base.calibration = *k;
      } else {
        fmt::print(stderr, "--calibration must be pairwise, marginal, sliced or none\n");
        return 2;
      }
    } else if (a == "--refine") {
      const auto r = parse_refinement(next());
      if (!r) {
        fmt::print(stderr, "--refine must be swap or none\n");
        return 2;
      }
      base.refine = *r;
    } else if (a == "--refine-lambda")
      base.refine_correlation_weight = std::stod(next());
    else if (a == "--refine-proposals")
      base.refine_proposals = std::stol(next());
    else if (a == "--bins")
      base.calibration_bins = std::stol(next());
    else if (a == "--projections")
      base.calibration_projections = std::stol(next());
    else if (a == "--data-dir")
      data_dir = next();
    else if (a == "--help" || a == "-h") {
      fmt::print(
          "usage: popalign_validity [--seeds S] [--split heldout|dev] [--methods m1,m2,...] "
          "[--pool P] [--n N] [--quick] [--no-id] [--no-oi] [--ood-dir D] [--check-targets] "
          "[--reg R] "
          "[--candidates F] [--calibration pairwise|marginal|sliced|none] [--bins B] "
          "[--projections L] [--refine swap|none] [--refine-lambda W] [--refine-proposals P] "
          "[--data-dir D]\n"
          "methods: random is ot resample paper, variants resample:marginal resample:none "
          "resample:sliced, a refinement suffix +swap / +none (resample:marginal+none = the "
          "default before the swap refinement), and name@items (align on the 50 IPIP-50 "
          "items)\n");
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
  std::vector<Variant> variants;
  for (const auto& l : split_list(methods_arg)) variants.push_back(parse_variant(l, base));
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t seed0 = dev ? 100 : 0;
  std::vector<std::uint64_t> seed_list;
  for (int s = 1; s <= seeds; ++s) seed_list.push_back(seed0 + static_cast<std::uint64_t>(s));
  bool ok = true;

  if (!no_id) {
    bool need_items = false;
    for (const auto& v : variants) need_items = need_items || v.items;
    // results[profile][label][seed] ("pool" is the unaligned pool)
    std::map<BiasProfile, std::map<std::string, std::vector<Five>>> res;
    std::map<BiasProfile, std::map<std::string, std::vector<double>>> red;
    for (std::uint64_t seed : seed_list) {
      Big5Split sp =
          load_big5_split(data_dir, seed, need_items ? Big5Extra::items : Big5Extra::none);
      Rng rq(seed);
      if (quick) {
        Rng rs = rq.split(hash_string("popalign.demo.quick"));
        const std::vector<std::pair<RowMatrix<double>*, RowMatrix<double>*>> parts{
            {&sp.source, &sp.source_extra},
            {&sp.reference, &sp.reference_extra},
            {&sp.test, &sp.test_extra}};
        for (const auto& pr : parts) {
          const auto rows = align::detail::subsample_rows(pr.first->rows(), 2000, rs);
          *pr.first = rows_of(*pr.first, rows);
          if (need_items) *pr.second = rows_of(*pr.second, rows);
        }
      }
      // The test part in two halves: dev (first) and held-out (second), seeded.
      std::vector<Index> perm(static_cast<std::size_t>(sp.test.rows()));
      std::iota(perm.begin(), perm.end(), Index{0});
      Rng rh = rq.split(hash_string("popalign.validity.halves"));
      rh.shuffle(perm);
      const std::size_t half = perm.size() / 2;
      std::vector<Index> eval_rows = dev ? std::vector<Index>(perm.begin(), perm.begin() + half)
                                         : std::vector<Index>(perm.begin() + half, perm.end());
      std::sort(eval_rows.begin(), eval_rows.end());
      const Standardiser st(sp.reference);
      const RowMatrix<double> zeval = st(rows_of(sp.test, eval_rows));
      for (BiasProfile p : all_bias_profiles()) {
        const auto prow = draw_biased_pool(sp.source, sp.reference, p, pool, seed);
        const RowMatrix<double> pm = rows_of(sp.source, prow);
        const RowMatrix<double> zpool = st(pm);
        const Five fp = five(zpool, Vector<double>(), zeval);
        res[p]["pool"].push_back(fp);
        RowMatrix<double> pitems, ritems;
        if (need_items) {
          pitems = rows_of(sp.source_extra, prow);
          ritems = sp.reference_extra;
        }
        for (const Variant& v : variants) {
          AlignOptions ao = base;
          ao.n = n;
          ao.method = v.method;
          ao.seed = seed;
          ao.calibrate = v.calibrate;
          ao.calibration = v.calibration;
          ao.refine = v.refine;
          const AlignResult ar = v.items ? align::align<double>(pitems, ritems, ao)
                                         : align::align<double>(pm, sp.reference, ao);
          Vector<double> w(static_cast<Index>(ar.indices.size()));
          for (std::size_t i = 0; i < ar.indices.size(); ++i)
            w[static_cast<Index>(i)] = ar.weights[ar.indices[i]];
          const Five f = five(rows_of(zpool, ar.indices), w, zeval);
          res[p][v.label].push_back(f);
          red[p][v.label].push_back(1.0 - f.w1 / fp.w1);
          if (verbose)
            fmt::print(stderr, "{} seed {} {}: {}\n", to_string(p), seed, v.label,
                       ar.diagnostics.brief());
        }
      }
    }
    fmt::print(
        "## In-domain: IPIP-50 domains, pool {} -> N {}, {} split, seeds {}..{}, reg {}, "
        "candidates {}x, calibration {}\n\n",
        pool, n, dev ? "dev" : "held-out", seed_list.front(), seed_list.back(), base.reg,
        base.candidate_factor,
        base.calibrate ? std::string(to_string(base.calibration)) : std::string("none"));
    std::vector<std::string> cols{"pool"};
    for (const auto& v : variants) cols.push_back(v.label);
    for (int k = 0; k < kMetrics; ++k) {
      fmt::print("### {} to the {} people (median [min, max] over {} seeds; lower is better)\n\n",
                 kMetricNames[k], dev ? "dev" : "held-out", seeds);
      fmt::print("| profile |");
      for (const auto& c : cols) fmt::print(" {} |", c);
      fmt::print("\n|---|");
      for (std::size_t c = 0; c < cols.size(); ++c) fmt::print("---|");
      fmt::print("\n");
      for (BiasProfile p : all_bias_profiles()) {
        fmt::print("| {} |", to_string(p));
        for (const auto& c : cols) {
          std::vector<double> v;
          for (const Five& f : res[p][c]) v.push_back(get(f, k));
          fmt::print(" {} |", cell(v, k == 3 ? "{:.5f}" : "{:.4f}"));
        }
        fmt::print("\n");
      }
      fmt::print("\n");
    }
    fmt::print("### Mean per-trait W1 reduction vs the pool (median [min, max])\n\n| profile |");
    for (const auto& v : variants) fmt::print(" {} |", v.label);
    fmt::print("\n|---|");
    for (std::size_t c = 0; c < variants.size(); ++c) fmt::print("---|");
    fmt::print("\n");
    std::map<std::string, double> avg;
    for (BiasProfile p : all_bias_profiles()) {
      fmt::print("| {} |", to_string(p));
      for (const auto& v : variants) {
        std::vector<double> r = red[p][v.label];
        for (double& x : r) x *= 100;
        fmt::print(" {} |", cell(r, "{:.1f}%"));
        avg[v.label] += median(red[p][v.label]) / 4.0;
      }
      fmt::print("\n");
    }
    fmt::print("| **average** |");
    for (const auto& v : variants) fmt::print(" **{:.1f}%** |", 100 * avg[v.label]);
    fmt::print("\n\n");
    // The rules per method (medians): every metric below random's, corr MAE <= pool's,
    // average W1 reduction >= 70 %.
    const bool have_random = res.begin()->second.count("random") > 0;
    fmt::print(
        "### Targets (medians): all five < random, corr MAE <= pool, avg reduction >= 70%\n\n");
    for (const auto& v : variants) {
      if (v.label == "random") continue;
      std::string fails;
      for (BiasProfile p : all_bias_profiles()) {
        for (int k = 0; k < kMetrics && have_random; ++k) {
          std::vector<double> a, r;
          for (const Five& f : res[p][v.label]) a.push_back(get(f, k));
          for (const Five& f : res[p]["random"]) r.push_back(get(f, k));
          if (!(median(a) < median(r)))
            fails += fmt::format(" {}:{}>=random", to_string(p), kMetricNames[k]);
        }
        std::vector<double> a, q;
        for (const Five& f : res[p][v.label]) a.push_back(f.corr_mae);
        for (const Five& f : res[p]["pool"]) q.push_back(f.corr_mae);
        if (!(median(a) <= median(q))) fails += fmt::format(" {}:corrMAE>pool", to_string(p));
      }
      if (avg[v.label] < 0.70) fails += fmt::format(" avg reduction {:.1f}%", 100 * avg[v.label]);
      fmt::print("- {}: {}\n", v.label, fails.empty() ? std::string("all met") : "FAIL" + fails);
      if (check_targets && v.label == "resample" && !fails.empty()) ok = false;
    }
    fmt::print("\n");
  }

  // Out-of-instrument: align on Mini-IPIP, measure the other 30 items.
  if (!no_oi) {
    fmt::print(
        "## Out-of-instrument: align on Mini-IPIP domain scores, measure the 30 other IPIP-50 "
        "items (mean per-item W1 to the test part; reduction vs the pool, median [min, max])\n\n");
    fmt::print("| bias profile | pool items W1 |");
    for (const auto& v : variants) fmt::print(" {} |", v.label);
    fmt::print("\n|---|---|");
    for (std::size_t k = 0; k < variants.size(); ++k) fmt::print("---|");
    fmt::print("\n");
    std::map<BiasProfile, std::map<std::string, std::vector<double>>> red;
    std::map<BiasProfile, std::vector<double>> pool_w1;
    for (std::uint64_t seed : seed_list) {
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
      const Index c1 = sp.source_extra.cols();
      const RowMatrix<double> test_items = sp.test_extra.rightCols(c1 - 5);
      for (BiasProfile p : all_bias_profiles()) {
        // The pool is biased on the (true) IPIP-50 domains; alignment sees only Mini-IPIP.
        const auto prow = draw_biased_pool(sp.source, sp.reference, p, pool, seed);
        const RowMatrix<double> pe = rows_of(sp.source_extra, prow);
        const RowMatrix<double> pool_mini = pe.leftCols(5);
        const RowMatrix<double> ref_mini = sp.reference_extra.leftCols(5);
        const RowMatrix<double> pool_items = pe.rightCols(c1 - 5);
        const double w_pool = metrics::column_wasserstein1<double>(pool_items, test_items).mean();
        pool_w1[p].push_back(w_pool);
        for (const Variant& v : variants) {
          if (v.items) continue;
          AlignOptions ao = base;
          ao.n = n;
          ao.method = v.method;
          ao.seed = seed;
          ao.calibrate = v.calibrate;
          ao.calibration = v.calibration;
          ao.refine = v.refine;
          const AlignResult ar = align::align<double>(pool_mini, ref_mini, ao);
          Vector<double> w(static_cast<Index>(ar.indices.size()));
          for (std::size_t i = 0; i < ar.indices.size(); ++i)
            w[static_cast<Index>(i)] = ar.weights[ar.indices[i]];
          const double ws = metrics::column_wasserstein1<double>(rows_of(pool_items, ar.indices),
                                                                 test_items, w, Vector<double>())
                                .mean();
          red[p][v.label].push_back(100 * (1.0 - ws / w_pool));
        }
      }
    }
    std::map<std::string, double> avg;
    for (BiasProfile p : all_bias_profiles()) {
      fmt::print("| {} | {:.4f} |", to_string(p), median(pool_w1[p]));
      for (const auto& v : variants) {
        if (v.items) {
          fmt::print(" – |");
          continue;
        }
        fmt::print(" {} |", cell(red[p][v.label], "{:.1f}%"));
        avg[v.label] += median(red[p][v.label]) / 4.0;
      }
      fmt::print("\n");
    }
    fmt::print("| **average** | |");
    for (const auto& v : variants) fmt::print(" **{:.1f}%** |", avg[v.label]);
    fmt::print("\n\n");
  }

  if (!ood_dir.empty()) {
    validity::OodOptions oo;
    oo.seeds = seed_list;
    oo.base = base;
    oo.quick = quick;
    for (const auto& v : variants)
      if (!v.items) oo.methods.push_back({v.label, v.method, v.calibrate, v.calibration, v.refine});
    validity::run_ood(ood_dir, oo);
  }
  fmt::print("total {:.1f} s\n",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return ok ? 0 : 1;
}
