// Metrics on two samples of n = 20,000 rows, d = 5 (the comparison record's parts).
//   build/<dir>/benchmarks/popalign_bench_metrics
#include <popalign/metrics/compare.hpp>
#include <popalign/metrics/energy.hpp>

#include <benchmark/benchmark.h>

namespace {

using popalign::Index;
using popalign::RowMatrix;

RowMatrix<float> cloud(Index n, Index d, std::uint64_t seed, double shift) {
  popalign::Rng rng(seed);
  RowMatrix<float> out(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) out(i, k) = static_cast<float>(rng.normal() + shift);
  return out;
}

void BM_Compare(benchmark::State& state) {
  const Index n = state.range(0);
  const RowMatrix<float> a = cloud(n, 5, 1, 0.0), b = cloud(n, 5, 2, 0.1);
  for (auto _ : state) benchmark::DoNotOptimize(popalign::metrics::compare<float>(a, b).mmd2);
}

void BM_Sliced(benchmark::State& state) {
  const Index n = state.range(0);
  const RowMatrix<float> a = cloud(n, 5, 1, 0.0), b = cloud(n, 5, 2, 0.1);
  for (auto _ : state) benchmark::DoNotOptimize(popalign::metrics::sliced_wasserstein<float>(a, b));
}

void BM_Mmd(benchmark::State& state) {
  const Index n = state.range(0);
  const RowMatrix<float> a = cloud(n, 5, 1, 0.0), b = cloud(n, 5, 2, 0.1);
  popalign::metrics::MmdOptions opt;
  opt.bandwidth = 1.0;
  for (auto _ : state)
    benchmark::DoNotOptimize(popalign::metrics::gaussian_mmd<float>(
        a, b, popalign::Vector<double>(), popalign::Vector<double>(), opt));
}

void BM_Energy(benchmark::State& state) {
  const Index n = state.range(0);
  const RowMatrix<float> a = cloud(n, 5, 1, 0.0), b = cloud(n, 5, 2, 0.1);
  for (auto _ : state) benchmark::DoNotOptimize(popalign::metrics::energy_distance<float>(a, b));
}

BENCHMARK(BM_Compare)->Arg(20000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Sliced)->Arg(20000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Mmd)->Arg(20000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Energy)->Arg(5000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
