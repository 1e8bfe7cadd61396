// Times exact top-k search on random data, for benchmarks/peers/retrieval_cases.py.
//   popalign_embedding_search_runner N D Q K THREADS [REPEATS]
// Prints one JSON line: {"n":..,"d":..,"q":..,"k":..,"threads":..,"seconds":median of REPEATS,
// "best":fastest, "checksum":...}. Data: standard normal (popalign::Rng, seed 7), cosine metric.
// The time includes normalising the queries and the selection, not building the index (the peers'
// fit() is likewise excluded).
#include <fmt/core.h>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#include <popalign/core/random.hpp>
#include <popalign/embedding/index.hpp>

using namespace popalign;
using namespace popalign::embedding;

namespace {
popalign::Execution with_threads(int threads) {
  popalign::Execution e;
  e.threads = threads;
  return e;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    fmt::print(stderr, "usage: {} N D Q K THREADS [REPEATS]\n", argv[0]);
    return 2;
  }
  const Index n = std::atol(argv[1]), d = std::atol(argv[2]), q = std::atol(argv[3]),
              k = std::atol(argv[4]);
  const int threads = std::atoi(argv[5]);
  const int repeats = std::max(1, argc > 6 ? std::atoi(argv[6]) : 3);
  Rng rng(7);
  RowMatrix<float> base(n, d), queries(q, d);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j) base(i, j) = static_cast<float>(rng.normal());
  for (Index i = 0; i < q; ++i)
    for (Index j = 0; j < d; ++j) queries(i, j) = static_cast<float>(rng.normal());
  const ExactIndex index(base);
  std::vector<double> times;
  double checksum = 0;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const Neighbors nb = index.search(queries, k, with_threads(threads));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    times.push_back(s);
    checksum = static_cast<double>(nb.ids.cast<double>().sum());
  }
  std::sort(times.begin(), times.end());
  const std::size_t m = times.size();
  const double median = m % 2 ? times[m / 2] : 0.5 * (times[m / 2 - 1] + times[m / 2]);
  fmt::print(
      "{{\"n\":{},\"d\":{},\"q\":{},\"k\":{},\"threads\":{},\"seconds\":{:.6f},"
      "\"best\":{:.6f},\"checksum\":{}}}\n",
      n, d, q, k, threads, median, times.front(), checksum);
  return 0;
}
