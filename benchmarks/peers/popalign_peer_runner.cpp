// popalign side of benchmarks/peers/run_peers.py: reads a problem written by the script
// (raw little-endian float64 row-major files), solves it `--repeats` times and prints one JSON
// object with the timings (seconds, wall clock) and diagnostics. Modes:
//   sinkhorn  --x X.f64 --y Y.f64 --n N --m M --d D --scale S --reg R --tol T [--max-iter K]
//             [--precision f32|f64] [--storage auto|online|stored] [--eps-scaling 0|1]
//             [--relax-window W] [--stored-cost 0|1] [--eps-factor F] [--eps-iters I]
//             [--kernel-f32 0|1] [--float-reductions 0|1]   (f64 only: float stored kernel /
//             float arithmetic in the online reductions on the double coordinates)
//             [--dump-potentials P.f64]   (f then g of the last solve, raw float64)
//   lse       --x X.f64 --y Y.f64 --n N --m M --d D --c C [--precision f32|f64]
// Common: --threads t (0 = all cores), --repeats r.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <popalign/kernels/gaussian_lse.hpp>
#include <popalign/ot/sinkhorn.hpp>

namespace {

using popalign::Index;
using popalign::RowMatrix;
using popalign::Vector;

std::map<std::string, std::string> parse(int argc, char** argv) {
  std::map<std::string, std::string> out;
  if (argc < 2)
    throw std::runtime_error("usage: popalign_peer_runner sinkhorn|lse --key value ...");
  out["mode"] = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) throw std::runtime_error("expected --key, got " + k);
    out[k.substr(2)] = argv[i + 1];
  }
  return out;
}

std::string get(const std::map<std::string, std::string>& a, const std::string& k,
                const std::string& def = "") {
  auto it = a.find(k);
  if (it != a.end()) return it->second;
  if (def.empty()) throw std::runtime_error("missing --" + k);
  return def;
}

template <class T>
RowMatrix<T> read_f64(const std::string& path, Index rows, Index cols) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<double> buf(static_cast<std::size_t>(rows * cols));
  in.read(reinterpret_cast<char*>(buf.data()),
          static_cast<std::streamsize>(buf.size() * sizeof(double)));
  if (in.gcount() != static_cast<std::streamsize>(buf.size() * sizeof(double)))
    throw std::runtime_error(path + ": expected " + std::to_string(rows * cols) +
                             " float64 values");
  RowMatrix<T> out(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index k = 0; k < cols; ++k)
      out(i, k) = static_cast<T>(buf[static_cast<std::size_t>(i * cols + k)]);
  return out;
}

// Peak resident set of this process image: VmHWM from /proc/self/status (getrusage's
// ru_maxrss would include the parent's pages at fork time, since Linux keeps it across exec).
double peak_rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) * 1024.0;
}

std::string times_json(const std::vector<double>& t) {
  std::string s = "[";
  for (std::size_t i = 0; i < t.size(); ++i) s += (i ? ", " : "") + fmt::format("{:.6f}", t[i]);
  return s + "]";
}

template <class T>
int run_sinkhorn(const std::map<std::string, std::string>& a) {
  const Index n = std::stol(get(a, "n")), m = std::stol(get(a, "m")), d = std::stol(get(a, "d"));
  const RowMatrix<T> x = read_f64<T>(get(a, "x"), n, d);
  const RowMatrix<T> y = read_f64<T>(get(a, "y"), m, d);
  popalign::ot::SinkhornOptions opt;
  opt.reg = std::stod(get(a, "reg"));
  opt.tol = std::stod(get(a, "tol"));
  opt.max_iter = std::stol(get(a, "max-iter", "100000"));
  opt.execution.threads = std::stoi(get(a, "threads", "0"));
  opt.eps_scaling = get(a, "eps-scaling", "1") == "1";
  opt.compute_cost = get(a, "cost", "1") == "1";
  if (a.count("eps-iters")) opt.eps_scaling_iterations = std::stol(get(a, "eps-iters"));
  if (a.count("eps-start")) opt.eps_start = std::stod(get(a, "eps-start"));
  if (a.count("eps-factor")) opt.eps_scaling_factor = std::stod(get(a, "eps-factor"));
  if (a.count("relax-window")) opt.overrelaxation_window = std::stol(get(a, "relax-window"));
  if (a.count("stored-cost")) opt.stored_kernel_cost = get(a, "stored-cost") == "1";
  const std::string storage = get(a, "storage", "auto");
  opt.storage = storage == "online"   ? popalign::ot::KernelStorage::online
                : storage == "stored" ? popalign::ot::KernelStorage::stored
                                      : popalign::ot::KernelStorage::automatic;
  if (a.count("budget-mib")) opt.kernel_memory_budget = std::stoull(get(a, "budget-mib")) << 20;
  const int repeats = std::stoi(get(a, "repeats", "3"));
  if (get(a, "kernel-f32", "0") == "1") opt.kernel_precision = popalign::ot::KernelPrecision::f32;
  popalign::ot::PointCloud<T> geom(x, y, std::stod(get(a, "scale")));
  geom.float_reductions = get(a, "float-reductions", "0") == "1";
  std::vector<double> times;
  popalign::ot::SinkhornResult r;
  for (int rep = 0; rep < repeats; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    r = popalign::ot::sinkhorn(geom, Vector<double>(), Vector<double>(), opt);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (a.count("dump-potentials")) {
    std::ofstream out(get(a, "dump-potentials"), std::ios::binary);
    out.write(reinterpret_cast<const char*>(r.f.data()),
              static_cast<std::streamsize>(r.f.size() * sizeof(double)));
    out.write(reinterpret_cast<const char*>(r.g.data()),
              static_cast<std::streamsize>(r.g.size() * sizeof(double)));
    if (!out) throw std::runtime_error("cannot write " + get(a, "dump-potentials"));
  }
  double best = times[0];
  for (double t : times) best = std::min(best, t);
  fmt::print(
      "{{\"mode\": \"sinkhorn\", \"times\": {}, \"min_s\": {:.6f}, \"status\": \"{}\", "
      "\"iterations\": {}, \"total_iterations\": {}, \"error_a\": {:.6g}, \"error_b\": {:.6g}, "
      "\"cost\": {:.12g}, \"objective\": {:.12g}, \"stored_kernel\": {}, \"absorptions\": {}, "
      "\"newton_steps\": {}, \"cg_iterations\": {}, \"threads\": {}, \"peak_rss_bytes\": "
      "{:.0f}}}\n",
      times_json(times), best, popalign::ot::to_string(r.status), r.iterations, r.total_iterations,
      r.error_a, r.error_b, r.cost, r.objective, r.stored_kernel ? "true" : "false", r.absorptions,
      r.newton_steps, r.cg_iterations, opt.execution.resolved_threads(), peak_rss_bytes());
  return 0;
}

template <class T>
int run_lse(const std::map<std::string, std::string>& a) {
  const Index n = std::stol(get(a, "n")), m = std::stol(get(a, "m")), d = std::stol(get(a, "d"));
  const RowMatrix<T> x = read_f64<T>(get(a, "x"), n, d);
  const RowMatrix<T> y = read_f64<T>(get(a, "y"), m, d);
  popalign::kernels::LseOptions opt;
  opt.execution.threads = std::stoi(get(a, "threads", "0"));
  const double c = std::stod(get(a, "c"));
  const int repeats = std::stoi(get(a, "repeats", "3"));
  Vector<double> h = Vector<double>::Zero(m), out(n);
  std::vector<double> times;
  for (int rep = 0; rep < repeats; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    popalign::kernels::gaussian_lse<T>(x, y, h, c, out, opt);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  double best = times[0];
  for (double t : times) best = std::min(best, t);
  fmt::print(
      "{{\"mode\": \"lse\", \"times\": {}, \"min_s\": {:.6f}, \"pairs_per_s\": {:.6g}, "
      "\"threads\": {}, \"checksum\": {:.12g}, \"peak_rss_bytes\": {:.0f}}}\n",
      times_json(times), best, static_cast<double>(n) * static_cast<double>(m) / best,
      opt.execution.resolved_threads(), out.sum(), peak_rss_bytes());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto a = parse(argc, argv);
    const bool f32 = get(a, "precision", "f32") == "f32";
    if (a.at("mode") == "sinkhorn") return f32 ? run_sinkhorn<float>(a) : run_sinkhorn<double>(a);
    if (a.at("mode") == "lse") return f32 ? run_lse<float>(a) : run_lse<double>(a);
    throw std::runtime_error("unknown mode " + a.at("mode"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "popalign_peer_runner: %s\n", e.what());
    return 2;
  }
}
