// Speed of align(): a 100,000-persona pool against 20,000 reference people (d = 5), N = 10,000
// distinct personas, method resample, float storage. Prints the stage times of each repetition
// and the best total. Target (issue 4): under 10 s on the 2-core reference machine.
//
//   popalign_align_speed [--pool P] [--reference M] [--n N] [--d D] [--reps R] [--threads T]
//                        [--double] [--method resample|is|ot|random]
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <popalign/align/align.hpp>

using namespace popalign;

namespace {
// Synthetic persona-like data: a correlated Gaussian reference and a pool that is shifted and
// squeezed like an LLM persona set.
template <class T>
void make_data(Index n, Index m, Index d, RowMatrix<T>& pool, RowMatrix<T>& ref) {
  Rng rng(2026);
  pool.resize(n, d);
  ref.resize(m, d);
  for (Index i = 0; i < m; ++i) {
    const double common = rng.normal();
    for (Index k = 0; k < d; ++k)
      ref(i, k) = static_cast<T>(3.0 + 0.6 * (0.3 * common + rng.normal()));
  }
  for (Index i = 0; i < n; ++i) {
    const double common = rng.normal();
    for (Index k = 0; k < d; ++k)
      pool(i, k) =
          static_cast<T>(3.0 + 0.2 * (k % 2 == 0 ? 1 : -1) + 0.45 * (0.3 * common + rng.normal()));
  }
}

template <class T>
int run(Index n, Index m, Index N, Index d, int reps, int threads, align::Method method) {
  RowMatrix<T> pool, ref;
  make_data<T>(n, m, d, pool, ref);
  align::AlignOptions o;
  o.n = N;
  o.method = method;
  o.seed = 1;
  o.execution.threads = threads;
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const align::AlignResult res = align::align<T>(pool, ref, o);
    const auto& dg = res.diagnostics;
    fmt::print("rep {}: total {:.2f} s |", r + 1, dg.seconds);
    for (const auto& s : dg.stages) fmt::print(" {} {:.2f}", s.name, s.seconds);
    fmt::print(" | ot {} it {} (total {}), mean W1 {:.4f} -> {:.4f}\n", ot::to_string(dg.ot_status),
               dg.ot_iterations, dg.ot_total_iterations, dg.before.mean_w1, dg.after.mean_w1);
    best = std::min(best, dg.seconds);
  }
  fmt::print("best total: {:.2f} s (pool {}, reference {}, d {}, N {}, {}, threads {})\n", best, n,
             m, d, N, sizeof(T) == 4 ? "float" : "double", threads);
  return 0;
}
}  // namespace

int main(int argc, char** argv) {
  Index n = 100000, m = 20000, N = 10000, d = 5;
  int reps = 2, threads = 0;
  bool dbl = false;
  align::Method method = align::Method::resample;
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
    else if (a == "--n")
      N = std::stol(next());
    else if (a == "--d")
      d = std::stol(next());
    else if (a == "--reps")
      reps = std::stoi(next());
    else if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--double")
      dbl = true;
    else if (a == "--method") {
      const auto mm = align::parse_method(next());
      if (!mm) {
        fmt::print(stderr, "unknown method\n");
        return 2;
      }
      method = *mm;
    } else {
      fmt::print(
          stderr,
          "usage: popalign_align_speed [--pool P] [--reference M] [--n N] [--d D] [--reps R] "
          "[--threads T] [--double] [--method M]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  return dbl ? run<double>(n, m, N, d, reps, threads, method)
             : run<float>(n, m, N, d, reps, threads, method);
}
