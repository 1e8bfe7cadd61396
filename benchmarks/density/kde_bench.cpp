// Exact Gaussian KDE (Scott, full covariance): construction + evaluation of m queries over n
// sources, f32 and f64, d = 5 and 30, 1 and 2 threads. Counter "pairs/s" = n m / time.
// BM_KdeLogDensityF32OfF64: Kde<float> built from and evaluated at double data.
//   build/<dir>/benchmarks/popalign_bench_density --benchmark_filter=Kde
#include <popalign/density/kde.hpp>

#include <benchmark/benchmark.h>

#include <popalign/core/random.hpp>

namespace {

using popalign::Index;
using popalign::RowMatrix;

template <class T>
RowMatrix<T> cloud(Index n, Index d, std::uint64_t seed) {
  popalign::Rng rng(seed);
  RowMatrix<T> out(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) out(i, k) = static_cast<T>(rng.normal());
  return out;
}

template <class T>
void BM_KdeLogDensity(benchmark::State& state) {
  const Index n = state.range(0), d = state.range(1);
  const RowMatrix<T> x = cloud<T>(n, d, 1), q = cloud<T>(n, d, 2);
  popalign::density::KdeOptions opt;
  opt.execution.threads = static_cast<int>(state.range(2));
  for (auto _ : state) {
    const popalign::density::Kde<T> kde(x, opt);
    benchmark::DoNotOptimize(kde.log_density(q).data());
  }
  state.counters["pairs/s"] = benchmark::Counter(static_cast<double>(n) * static_cast<double>(n),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

// Kde<float> of double data and queries (the f32 path that agrees with SciPy to 1e-6).
void BM_KdeLogDensityF32OfF64(benchmark::State& state) {
  const Index n = state.range(0), d = state.range(1);
  const RowMatrix<double> x = cloud<double>(n, d, 1), q = cloud<double>(n, d, 2);
  popalign::density::KdeOptions opt;
  opt.execution.threads = static_cast<int>(state.range(2));
  for (auto _ : state) {
    const popalign::density::Kde<float> kde(x, opt);
    benchmark::DoNotOptimize(kde.log_density(q).data());
  }
  state.counters["pairs/s"] = benchmark::Counter(static_cast<double>(n) * static_cast<double>(n),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

template <class T>
void BM_DensityRatio(benchmark::State& state) {
  const Index n = state.range(0), d = state.range(1);
  const RowMatrix<T> ref = cloud<T>(n, d, 3), pool = cloud<T>(n, d, 4);
  popalign::density::DensityRatioOptions opt;
  opt.numerator.execution.threads = opt.denominator.execution.threads =
      static_cast<int>(state.range(2));
  for (auto _ : state) {
    auto r = popalign::density::log_density_ratio<T>(ref, pool, pool, opt);
    benchmark::DoNotOptimize(r.log_ratio.data());
  }
  state.counters["pairs/s"] =
      benchmark::Counter(2.0 * static_cast<double>(n) * static_cast<double>(n),
                         benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_KdeLogDensity<float>)
    ->ArgsProduct({{10000, 30000}, {5, 30}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_KdeLogDensityF32OfF64)
    ->ArgsProduct({{10000, 30000}, {5, 30}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_KdeLogDensity<double>)
    ->ArgsProduct({{10000, 30000}, {5, 30}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_DensityRatio<float>)
    ->Args({20000, 5, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_DensityRatio<double>)
    ->Args({20000, 5, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
