// Throughput of the fused Gaussian log-sum-exp kernel, in pair evaluations per second
// (counter "pairs/s"), for f32/f64, d in {5, 30}, on 1 and 2 threads.
//   BM_GaussianLse: the default path (expansion, common origin), as Sinkhorn and the metrics
//     call it.
//   BM_GaussianLseKde: the f32 KDE path (gaussian_lse_mixed<float> on double inputs, local
//     origins, LseDistance::direct, recompute_below = 4) on KDE-like data: whitened points with
//     sd 1 / 0.28 (Scott's factor at n = 1e5, d = 5) and c = 1/2.
//   build/<dir>/benchmarks/popalign_bench_kernels --benchmark_min_time=1
#include <popalign/kernels/gaussian_lse.hpp>

#include <benchmark/benchmark.h>

#include <cmath>

#include <popalign/core/random.hpp>

namespace {

using popalign::Index;
using popalign::RowMatrix;
using popalign::Vector;

template <class T>
RowMatrix<T> cloud(Index n, Index d, std::uint64_t seed) {
  popalign::Rng rng(seed);
  RowMatrix<T> out(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) out(i, k) = static_cast<T>(rng.normal());
  return out;
}

template <class T>
void BM_GaussianLse(benchmark::State& state) {
  const Index n = state.range(0), d = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const RowMatrix<T> x = cloud<T>(n, d, 1), y = cloud<T>(n, d, 2);
  Vector<double> h = Vector<double>::Zero(n);
  Vector<double> out(n);
  popalign::kernels::LseOptions opt;
  opt.execution.threads = threads;
  for (auto _ : state) {
    popalign::kernels::gaussian_lse<T>(x, y, h, 0.5, out, opt);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["pairs/s"] = benchmark::Counter(static_cast<double>(n) * static_cast<double>(n),
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = threads;
}

void BM_GaussianLseKde(benchmark::State& state) {
  const Index n = state.range(0), d = state.range(1);
  const int threads = static_cast<int>(state.range(2));
  const RowMatrix<double> x = cloud<double>(n, d, 1) / 0.28, y = cloud<double>(n, d, 2) / 0.28;
  Vector<double> h = Vector<double>::Constant(n, -std::log(static_cast<double>(n)));
  Vector<double> out(n);
  popalign::kernels::LseOptions opt{.local_origin = true,
                                    .distance = popalign::kernels::LseDistance::direct,
                                    .recompute_below = 4.0};
  opt.execution.threads = threads;
  for (auto _ : state) {
    popalign::kernels::gaussian_lse_mixed<float>(x, y, h, 0.5, out, opt);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["pairs/s"] = benchmark::Counter(static_cast<double>(n) * static_cast<double>(n),
                                                 benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = threads;
}

void args(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    b->Args({10000, 5, threads});
    b->Args({4000, 30, threads});
  }
  b->ArgNames({"n", "d", "threads"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK_TEMPLATE(BM_GaussianLse, float)->Apply(args);
BENCHMARK_TEMPLATE(BM_GaussianLse, double)->Apply(args);
BENCHMARK(BM_GaussianLseKde)->Apply(args);

}  // namespace
