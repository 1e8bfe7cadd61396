// Google Benchmark: exact top-k search (threads 1 and all), HNSW search, SIF embedding.
#include <benchmark/benchmark.h>

#include <popalign/core/random.hpp>
#include <popalign/embedding/index.hpp>
#include <popalign/embedding/word_vectors.hpp>

using namespace popalign;
using namespace popalign::embedding;

namespace {

popalign::Execution with_threads(int threads) {
  popalign::Execution e;
  e.threads = threads;
  return e;
}
RowMatrix<float> random_rows(Index n, Index d, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix<float> m(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j) m(i, j) = static_cast<float>(rng.normal());
  return m;
}

void BM_ExactSearch(benchmark::State& state) {
  const Index n = state.range(0), d = 384, q = 256;
  const int threads = static_cast<int>(state.range(1));
  const ExactIndex index(random_rows(n, d, 1));
  const RowMatrix<float> queries = random_rows(q, d, 2);
  for (auto _ : state) {
    Neighbors nb = index.search(queries, 10, with_threads(threads));
    benchmark::DoNotOptimize(nb.ids.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(n * d * q) * 1e-9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ExactSearch)->Args({20000, 1})->Args({20000, 0})->Unit(benchmark::kMillisecond);

void BM_HnswSearch(benchmark::State& state) {
  const Index n = 20000, d = 64, q = 256;
  const HnswIndex index(random_rows(n, d, 3), HnswOptions{.ef_search = state.range(0)});
  const RowMatrix<float> queries = random_rows(q, d, 4);
  for (auto _ : state) {
    Neighbors nb = index.search(queries, 10, with_threads(1));
    benchmark::DoNotOptimize(nb.ids.data());
  }
}
BENCHMARK(BM_HnswSearch)->Arg(32)->Arg(128)->Unit(benchmark::kMillisecond);

void BM_SifEmbed(benchmark::State& state) {
  const auto wv = std::make_shared<const WordVectors>(
      load_word_vectors(std::string(POPALIGN_DATA_DIR) + "/models/glove6b_100d_top40k.w2v.bin"));
  const SifEmbedder sif(wv, SifOptions{.threads = 1});
  const std::vector<std::string> texts(1000, "I am a nurse and I love my two dogs and hiking.");
  for (auto _ : state) {
    RowMatrix<float> e = sif.embed(texts);
    benchmark::DoNotOptimize(e.data());
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_SifEmbed)->Unit(benchmark::kMillisecond);
}  // namespace
