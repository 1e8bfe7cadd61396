// Alignment at scale (docs/performance.md, "Alignment at 10^6 x 10^6"): one run of align() on
// BIG5-made data (big5_million.hpp) in its own process, so that the peak RSS (getrusage) is the
// run's. Prints one JSON object: sizes, scaling, seconds (total and per stage), peak RSS, the
// load average, the compression report, the swap refinement's discrepancy before / after with
// its proposals and swaps (null: not refined), and the errors of the selection to the held-out
// people (mean per-trait W1, sliced W2, correlation distance) next to the pool's.
//
//   popalign_align_scale [--pool P] [--reference M] [--test T] [--n N] [--seed S]
//                        [--scaling compress|subsample|auto] [--atoms K] [--profile llm|...]
//                        [--float] [--threads T] [--data-dir D] [--refine swap|none]
// Defaults: P = M = 10^6, T = 200,000, N = min(10^5, P / 10), compress, double, llm profile.
// scripts/align_cost_curve.py runs it over pool and reference sizes and draws the SVG.
#include <sys/resource.h>

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <popalign/align/align.hpp>

#include "big5_million.hpp"
#include "heldout_errors.hpp"

using namespace popalign;
using bench::Errors;
using bench::errors_to;

namespace {

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

double load_average() {
  std::ifstream in("/proc/loadavg");
  double l = -1;
  in >> l;
  return l;
}

/// A number for JSON: null when NaN.
std::string num(double v) { return std::isnan(v) ? std::string("null") : fmt::format("{:.3f}", v); }

std::string vec(const Vector<double>& v) {
  std::string s = "[";
  for (Index k = 0; k < v.size(); ++k) s += fmt::format("{}{:.5f}", k ? ", " : "", v[k]);
  return s + "]";
}

template <class T>
int run(const bench::MillionData& data, align::AlignOptions o, double gen_s, double rss_data) {
  const RowMatrix<T> pool = data.pool.template cast<T>();
  const RowMatrix<T> ref = data.reference.template cast<T>();
  const double load0 = load_average();
  const align::AlignResult r = align::align<T>(pool, ref, o);
  const double rss = peak_rss_mib();
  const double load1 = load_average();
  const auto& dg = r.diagnostics;
  RowMatrix<double> sel(static_cast<Index>(r.indices.size()), data.pool.cols());
  Vector<double> w(static_cast<Index>(r.indices.size()));
  for (std::size_t k = 0; k < r.indices.size(); ++k) {
    sel.row(static_cast<Index>(k)) = data.pool.row(r.indices[k]);
    w[static_cast<Index>(k)] = r.weights[r.indices[k]];
  }
  const Errors es = errors_to(sel, w, data.test);
  const Errors ep = errors_to(data.pool, Vector<double>(), data.test);
  const Errors er = errors_to(data.reference, Vector<double>(), data.test);
  std::string stages = "{";
  for (std::size_t k = 0; k < dg.stages.size(); ++k)
    stages +=
        fmt::format("{}\"{}\": {:.3f}", k ? ", " : "", dg.stages[k].name, dg.stages[k].seconds);
  stages += "}";
  const auto& c = dg.compression;
  fmt::print(
      "{{\"pool\": {}, \"reference\": {}, \"test\": {}, \"n\": {}, \"scaling\": \"{}\", "
      "\"atoms\": {}, \"precision\": \"{}\", \"threads\": {}, \"seconds\": {:.3f}, "
      "\"stages\": {}, \"peak_rss_mib\": {:.1f}, \"rss_before_align_mib\": {:.1f}, "
      "\"generate_s\": {:.2f}, \"load_before\": {:.2f}, \"load_after\": {:.2f}, "
      "\"ot_status\": \"{}\", \"ot_iterations\": {}, \"candidates\": {}, \"selected\": {}, "
      "\"compressed\": {}, \"pool_atoms\": {}, \"reference_atoms\": {}, \"candidate_atoms\": {}, "
      "\"pool_w2\": {:.4f}, \"reference_w2\": {:.4f}, \"candidate_w2\": {:.4f}, "
      "\"log_ratio_error\": {:.4f}, \"log_ratio_error_max\": {:.4f}, "
      "\"heldout_mean_w1\": {:.5f}, \"heldout_sliced_w2\": {:.5f}, \"heldout_corr\": {:.5f}, "
      "\"heldout_w1\": {}, \"pool_mean_w1\": {:.5f}, \"pool_sliced_w2\": {:.5f}, \"pool_corr\": "
      "{:.5f}, "
      "\"reference_mean_w1\": {:.5f}, \"reduction\": {:.4f}, \"acceptance\": {:.4f}, "
      "\"refine_before\": {}, \"refine_after\": {}, \"refine_proposals\": {}, "
      "\"refine_swaps\": {}, \"warnings\": {}}}\n",
      data.pool.rows(), data.reference.rows(), data.test.rows(), o.n, align::to_string(o.scaling),
      o.atoms, sizeof(T) == 4 ? "float" : "double", o.execution.threads, dg.seconds, stages, rss,
      rss_data, gen_s, load0, load1, ot::to_string(dg.ot_status), dg.ot_iterations, dg.candidates,
      dg.selected, c.used ? "true" : "false", c.pool_atoms, c.reference_atoms, c.candidate_atoms,
      c.pool_w2, c.reference_w2, c.candidate_w2, c.log_ratio_error, c.log_ratio_error_max,
      es.mean_w1, es.sliced, es.corr, vec(es.w1), ep.mean_w1, ep.sliced, ep.corr, er.mean_w1,
      1.0 - es.mean_w1 / ep.mean_w1, data.acceptance, num(dg.refine_before), num(dg.refine_after),
      dg.refine_proposals, dg.refine_swaps, dg.warnings.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Index n = 1000000, m = 1000000, t = 200000, N = 0;
  std::uint64_t seed = 1;
  bool use_float = false;
  std::string data_dir = POPALIGN_DATA_DIR;
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
    else if (a == "--threads")
      o.execution.threads = std::stoi(next());
    else if (a == "--float")
      use_float = true;
    else if (a == "--data-dir")
      data_dir = next();
    else if (a == "--scaling") {
      const auto s = align::parse_scaling(next());
      if (!s) {
        fmt::print(stderr, "--scaling: compress, subsample or auto\n");
        return 2;
      }
      o.scaling = *s;
    } else if (a == "--refine") {
      const auto r = align::parse_refinement(next());
      if (!r) {
        fmt::print(stderr, "--refine: swap or none\n");
        return 2;
      }
      o.refine = *r;
    } else if (a == "--profile") {
      const auto p = demo::parse_bias_profile(next());
      if (!p) {
        fmt::print(stderr, "--profile: llm, squeezed, shifted or mixed\n");
        return 2;
      }
      profile = *p;
    } else {
      fmt::print(stderr,
                 "usage: popalign_align_scale [--pool P] [--reference M] [--test T] [--n N] "
                 "[--seed S] [--scaling compress|subsample|auto] [--atoms K] [--profile P] "
                 "[--float] [--threads T] [--data-dir D] [--refine swap|none]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (N == 0) N = std::min<Index>(100000, std::max<Index>(1, n / 10));
  o.n = N;
  o.seed = seed;
  const auto t0 = std::chrono::steady_clock::now();
  const bench::MillionData data = bench::make_big5_million(data_dir, n, m, t, profile, seed);
  const double gen_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rss_data = peak_rss_mib();
  return use_float ? run<float>(data, o, gen_s, rss_data) : run<double>(data, o, gen_s, rss_data);
}
