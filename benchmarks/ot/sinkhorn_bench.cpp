// Sinkhorn iteration throughput: a fixed number of iterations (tol = 0, no eps-scaling) on two
// d = 5 point clouds, online (fused kernel) and stored-kernel paths, f32/f64, 1 and 2 threads.
// Counters: iterations/s and pairs/s (2 n m pair evaluations per iteration).
//   build/<dir>/benchmarks/popalign_bench_ot
#include <popalign/ot/sinkhorn.hpp>

#include <benchmark/benchmark.h>

#include <popalign/core/random.hpp>

namespace {

using popalign::Index;
using popalign::RowMatrix;
using popalign::Vector;

template <class T>
RowMatrix<T> cloud(Index n, std::uint64_t seed, double shift) {
  popalign::Rng rng(seed);
  RowMatrix<T> out(n, 5);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < 5; ++k) out(i, k) = static_cast<T>(rng.normal(shift, 1.0));
  return out;
}

template <class T>
void BM_SinkhornIterations(benchmark::State& state) {
  const Index n = state.range(0);
  const bool stored = state.range(1) != 0;
  const int threads = static_cast<int>(state.range(2));
  const RowMatrix<T> x = cloud<T>(n, 1, 0.0), y = cloud<T>(n, 2, 0.3);
  const popalign::ot::PointCloud<T> geom(x, y, 1.0 / 60.0);
  popalign::ot::SinkhornOptions opt;
  opt.reg = 0.01;
  opt.tol = 0;
  opt.max_iter = 20;
  opt.eps_scaling = false;
  opt.compute_cost = false;
  opt.storage = stored ? popalign::ot::KernelStorage::stored : popalign::ot::KernelStorage::online;
  opt.execution.threads = threads;
  Index iterations = 0;
  for (auto _ : state) {
    const auto r = popalign::ot::sinkhorn(geom, Vector<double>(), Vector<double>(), opt);
    iterations += r.iterations;
    benchmark::DoNotOptimize(r.f.data());
  }
  state.counters["iterations/s"] =
      benchmark::Counter(static_cast<double>(iterations), benchmark::Counter::kIsRate);
  state.counters["pairs/s"] = benchmark::Counter(
      2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(iterations),
      benchmark::Counter::kIsRate);
}

void args(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2})
    for (int stored : {0, 1}) b->Args({4000, stored, threads});
  b->ArgNames({"n", "stored", "threads"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK_TEMPLATE(BM_SinkhornIterations, float)->Apply(args);
BENCHMARK_TEMPLATE(BM_SinkhornIterations, double)->Apply(args);

}  // namespace
