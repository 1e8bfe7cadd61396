// Importance weights and resampling over n = 1e6 weights (m = n draws / N = n/10 selections).
//   build/<dir>/benchmarks/popalign_bench_sampling
#include <popalign/sampling/importance.hpp>
#include <popalign/sampling/resample.hpp>

#include <benchmark/benchmark.h>

namespace {

using popalign::Index;
using popalign::Vector;

Vector<double> log_weights(Index n) {
  popalign::Rng rng(1);
  Vector<double> lw(n);
  for (Index i = 0; i < n; ++i) lw[i] = 0.5 * rng.normal();
  return lw;
}

void BM_Psis(benchmark::State& state) {
  const Vector<double> lw = log_weights(state.range(0));
  for (auto _ : state)
    benchmark::DoNotOptimize(popalign::sampling::pareto_smooth<double>(lw).k_hat);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

template <int Scheme>
void BM_Resample(benchmark::State& state) {
  const Index n = state.range(0);
  const Vector<double> w = popalign::sampling::normalize_log_weights<double>(log_weights(n));
  const Vector<double> pi = popalign::sampling::inclusion_probabilities<double>(w, n / 10);
  popalign::Rng rng(2);
  for (auto _ : state) {
    std::vector<Index> idx;
    if constexpr (Scheme == 0) idx = popalign::sampling::multinomial_resample<double>(w, n, rng);
    if constexpr (Scheme == 1) idx = popalign::sampling::systematic_resample<double>(w, n, rng);
    if constexpr (Scheme == 2) idx = popalign::sampling::residual_resample<double>(w, n, rng);
    if constexpr (Scheme == 3)
      idx = popalign::sampling::sample_without_replacement<double>(w, n / 10, rng);
    if constexpr (Scheme == 4) idx = popalign::sampling::sample_fixed_size<double>(pi, rng);
    benchmark::DoNotOptimize(idx.data());
  }
  state.SetItemsProcessed(state.iterations() * n);
}

BENCHMARK(BM_Psis)->Arg(1000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Resample<0>)->Name("BM_Multinomial")->Arg(1000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Resample<1>)->Name("BM_Systematic")->Arg(1000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Resample<2>)->Name("BM_Residual")->Arg(1000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Resample<3>)
    ->Name("BM_WithoutReplacement")
    ->Arg(1000000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Resample<4>)->Name("BM_FixedSize")->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace
