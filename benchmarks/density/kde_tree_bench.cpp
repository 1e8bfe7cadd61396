// KD-tree truncated KDE against the exact KDE, d = 2 and 5, tolerance 1e-8 (peak-relative).
#include <popalign/density/kde_tree.hpp>

#include <benchmark/benchmark.h>

#include <popalign/core/random.hpp>

namespace {

using popalign::Index;
using popalign::RowMatrix;

RowMatrix<double> tree_cloud(Index n, Index d, std::uint64_t seed) {
  popalign::Rng rng(seed);
  RowMatrix<double> out(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) out(i, k) = rng.normal();
  return out;
}

void BM_TreeKde(benchmark::State& state) {
  const Index n = state.range(0), d = state.range(1);
  const RowMatrix<double> x = tree_cloud(n, d, 1), q = tree_cloud(n, d, 2);
  popalign::density::KdeOptions opt;
  opt.execution.threads = 2;
  const popalign::density::Kde<double> kde(x, opt);
  popalign::density::TreeKdeOptions topt;
  topt.execution.threads = 2;
  const popalign::density::TreeKde<double> tree(kde, topt);
  double neighbours = 0;
  for (auto _ : state) {
    auto r = tree.log_density(q);
    neighbours = r.mean_neighbours;
    benchmark::DoNotOptimize(r.log_density.data());
  }
  state.counters["mean_neighbours"] = neighbours;
}

BENCHMARK(BM_TreeKde)
    ->Args({30000, 2})
    ->Args({30000, 5})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
