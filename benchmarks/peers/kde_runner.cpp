// KDE runner for benchmarks/peers/kde_cases.py: times popalign's exact Gaussian KDE (Scott's
// rule with the full weighted covariance, i.e. SciPy's gaussian_kde defaults) on data given as
// raw little-endian float64 files, and writes the log densities for the accuracy check.
//
//   kde_runner --data x.f64 --queries q.f64 --n N --m M --d D [--threads 2] [--precision f64]
//              [--repeats 3] [--out logpdf.f64]
//
// --precision: f64 (Kde<double>), f32 (Kde<float> of the double data and queries: f32
// evaluation, no input rounding) or f32in (data and queries rounded to float first, then
// Kde<float>: shows the input-rounding floor).
// --recompute-below t: KdeOptions::recompute_below for f32 (default: the KdeOptions default, 4;
// 0 = never recompute isolated queries in double).
//
// Prints one JSON line: {"min_s", "times", "build_s", "eval_s", "n", "m", "d", "threads",
// "precision", "pairs_per_s", "factor"}. min_s is the best of `repeats` full runs (construction
// including the covariance, Cholesky and whitening, plus evaluation of all queries).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <popalign/density/kde.hpp>

namespace {

using popalign::Index;
using popalign::RowMatrix;

RowMatrix<double> read_f64(const std::string& path, Index rows, Index cols) {
  RowMatrix<double> m(rows, cols);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw popalign::IoError(path, "cannot open");
  in.read(reinterpret_cast<char*>(m.data()),
          static_cast<std::streamsize>(sizeof(double) * m.size()));
  if (!in) throw popalign::IoError(path, "file shorter than the given shape");
  return m;
}

// T: the KDE's evaluation precision; In: the type the data and queries are handed over in
// (double: Kde<float> of the double data, no input rounding; float: the inputs are rounded to
// float first, which alone limits agreement with a double reference, see docs/density.md).
template <class T, class In>
int run(const RowMatrix<double>& xd, const RowMatrix<double>& qd, int threads, int repeats,
        const std::string& out, const char* precision, double recompute_below) {
  const RowMatrix<In> x = xd.cast<In>(), q = qd.cast<In>();
  popalign::density::KdeOptions opt;
  opt.execution.threads = threads;
  if (recompute_below >= 0) opt.recompute_below = recompute_below;
  std::vector<double> times;
  double best = 1e300, build_s = 0, eval_s = 0, factor = 0;
  popalign::Vector<double> ld;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const popalign::density::Kde<T> kde(x, opt);
    const auto t1 = std::chrono::steady_clock::now();
    ld = kde.log_density(q);
    const auto t2 = std::chrono::steady_clock::now();
    const double total = std::chrono::duration<double>(t2 - t0).count();
    times.push_back(total);
    if (total < best) {
      best = total;
      build_s = std::chrono::duration<double>(t1 - t0).count();
      eval_s = std::chrono::duration<double>(t2 - t1).count();
    }
    factor = kde.factor();
  }
  if (!out.empty()) {
    std::ofstream o(out, std::ios::binary);
    o.write(reinterpret_cast<const char*>(ld.data()),
            static_cast<std::streamsize>(sizeof(double) * ld.size()));
  }
  std::string ts;
  for (std::size_t i = 0; i < times.size(); ++i)
    ts += (i ? ", " : "") + fmt::format("{:.6f}", times[i]);
  fmt::print(
      "{{\"min_s\": {:.6f}, \"times\": [{}], \"build_s\": {:.6f}, \"eval_s\": {:.6f}, \"n\": {}, "
      "\"m\": {}, \"d\": {}, \"threads\": {}, \"precision\": \"{}\", \"pairs_per_s\": {:.6g}, "
      "\"factor\": {:.17g}}}\n",
      best, ts, build_s, eval_s, x.rows(), q.rows(), x.cols(), threads, precision,
      static_cast<double>(x.rows()) * static_cast<double>(q.rows()) / eval_s, factor);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data, queries, out, precision = "f64";
  Index n = 0, m = 0, d = 0;
  int threads = 2, repeats = 3;
  double recompute_below = -1;  // < 0: the KdeOptions default
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--data")
      data = v;
    else if (k == "--queries")
      queries = v;
    else if (k == "--out")
      out = v;
    else if (k == "--precision")
      precision = v;
    else if (k == "--n")
      n = std::stoll(v);
    else if (k == "--m")
      m = std::stoll(v);
    else if (k == "--d")
      d = std::stoll(v);
    else if (k == "--threads")
      threads = std::stoi(v);
    else if (k == "--repeats")
      repeats = std::stoi(v);
    else if (k == "--recompute-below")
      recompute_below = std::stod(v);
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  try {
    if (data.empty() || queries.empty() || n <= 0 || m <= 0 || d <= 0 || repeats < 1)
      throw popalign::InvalidArgument("arguments", "need --data --queries --n --m --d (> 0)");
    const RowMatrix<double> x = read_f64(data, n, d), q = read_f64(queries, m, d);
    if (precision == "f32")
      return run<float, double>(x, q, threads, repeats, out, "f32", recompute_below);
    if (precision == "f32in")
      return run<float, float>(x, q, threads, repeats, out, "f32in", recompute_below);
    if (precision == "f64")
      return run<double, double>(x, q, threads, repeats, out, "f64", recompute_below);
    throw popalign::InvalidArgument("precision", "must be f32, f32in or f64");
  } catch (const std::exception& e) {
    std::cerr << "kde_runner: " << e.what() << "\n";
    return 1;
  }
}
