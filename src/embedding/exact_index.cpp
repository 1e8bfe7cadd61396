#include <algorithm>
#include <cmath>
#include <limits>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <popalign/embedding/embedder.hpp>
#include <popalign/embedding/index.hpp>

namespace popalign::embedding {

namespace {

struct Entry {
  float score;
  std::int64_t id;
};
constexpr std::int64_t kNoId = std::numeric_limits<std::int64_t>::max();

/// a is better than b: higher score, then lower id.
inline bool better(const Entry& a, const Entry& b) {
  return a.score > b.score || (a.score == b.score && a.id < b.id);
}
/// Heap ordered so the worst entry is at the front.
inline bool heap_cmp(const Entry& a, const Entry& b) { return better(a, b); }

using ScoreBlock = RowMatrix<float>;

RowMatrix<float> prepared(MatrixView<float> m, Metric metric, const char* what) {
  RowMatrix<float> out = m;
  check_argument(out.allFinite(), what, "contains NaN or Inf");
  if (metric == Metric::cosine) normalize_rows(out);
  return out;
}

}  // namespace

ExactIndex::ExactIndex(MatrixView<float> base, ExactIndexOptions options) : options_(options) {
  options_.validate();
  base_ = prepared(base, options_.metric, "base");
}

Neighbors ExactIndex::search(MatrixView<float> queries_in, Index k,
                             const Execution& execution) const {
  execution.validate();
  check_argument(k >= 1, "k", "must be >= 1");
  check_argument(queries_in.cols() == base_.cols(), "queries",
                 "have dimension " + std::to_string(queries_in.cols()) + ", index has " +
                     std::to_string(base_.cols()));
  const RowMatrix<float> queries = prepared(queries_in, options_.metric, "queries");
  const Index nq = queries.rows(), n = base_.rows();
  const Index qb = kExactQueryBlock;
  const Index n_qblocks = (nq + qb - 1) / qb;
  const Index chunk = std::max<Index>(1, options_.chunk_rows);
  const Index n_chunks = std::max<Index>(1, (n + chunk - 1) / chunk);
  const Index bb = options_.base_block;
  const auto ku = static_cast<std::size_t>(k);
  // partial[(q * n_chunks + c) * k + j]: heap of query q over chunk c.
  std::vector<Entry> partial(static_cast<std::size_t>(nq * n_chunks) * ku,
                             Entry{-std::numeric_limits<float>::infinity(), kNoId});
  const Index tasks = n_qblocks * n_chunks;
  const int threads = static_cast<int>(std::min<Index>(execution.resolved_threads(), tasks));
  auto run_task = [&](Index t, ScoreBlock& scores) {
    const Index qblock = t / n_chunks, c = t % n_chunks;
    const Index q0 = qblock * qb, q1 = std::min(nq, q0 + qb);
    const Index r0 = c * chunk, r1 = std::min(n, r0 + chunk);
    for (Index b0 = r0; b0 < r1; b0 += bb) {
      const Index b1 = std::min(r1, b0 + bb);
      scores.resize(q1 - q0, b1 - b0);
      scores.noalias() =
          queries.middleRows(q0, q1 - q0) * base_.middleRows(b0, b1 - b0).transpose();
      for (Index q = q0; q < q1; ++q) {
        Entry* heap = partial.data() + static_cast<std::size_t>(q * n_chunks + c) * ku;
        float threshold = heap[0].score;
        const float* row = scores.row(q - q0).data();
        const Index len = b1 - b0;
        for (Index j = 0; j < len; ++j) {
          if (row[j] > threshold) {  // equal scores never win: ids only grow within a task
            std::pop_heap(heap, heap + ku, heap_cmp);
            heap[ku - 1] = Entry{row[j], static_cast<std::int64_t>(b0 + j)};
            std::push_heap(heap, heap + ku, heap_cmp);
            threshold = heap[0].score;
          }
        }
      }
    }
  };
#if defined(_OPENMP)
  // Our own team even for one thread: inside it, omp_set_num_threads(1) applies to this team's
  // tasks only, so Eigen runs every GEMM on the calling thread (no nested team, no
  // oversubscription) and the block shapes, hence the scores, do not depend on the thread count.
#pragma omp parallel num_threads(threads)
  {
    omp_set_num_threads(1);
    ScoreBlock scores;
#pragma omp for schedule(dynamic, 1)
    for (Index t = 0; t < tasks; ++t) {
      if (!execution.cancel.cancelled()) run_task(t, scores);
    }
  }
#else
  {
    ScoreBlock scores;
    for (Index t = 0; t < tasks; ++t) run_task(t, scores);
  }
#endif
  if (execution.report("search", 1.0)) throw Cancelled("search");
  Neighbors out;
  out.ids.resize(nq, k);
  out.scores.resize(nq, k);
  parallel_for(nq, execution.resolved_threads(), 64, [&](Index b, Index e) {
    std::vector<Entry> all;
    for (Index q = b; q < e; ++q) {
      const Entry* first = partial.data() + static_cast<std::size_t>(q * n_chunks) * ku;
      all.assign(first, first + static_cast<std::size_t>(n_chunks) * ku);
      std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(ku), all.end(),
                        better);
      for (Index j = 0; j < k; ++j) {
        const Entry& en = all[static_cast<std::size_t>(j)];
        const bool real = en.id != kNoId;
        out.ids(q, j) = real ? en.id : -1;
        out.scores(q, j) = real ? en.score : -std::numeric_limits<float>::infinity();
      }
    }
  });
  return out;
}

double recall_at_k(const Neighbors& approx, const Neighbors& exact, Index k) {
  check_argument(approx.queries() == exact.queries(), "approx",
                 "has " + std::to_string(approx.queries()) + " queries, exact has " +
                     std::to_string(exact.queries()));
  check_argument(k >= 1 && k <= approx.k() && k <= exact.k(), "k",
                 "must be in [1, min(approx.k(), exact.k())]");
  if (exact.queries() == 0) return 1.0;
  double total = 0.0;
  for (Index q = 0; q < exact.queries(); ++q) {
    Index want = 0, hit = 0;
    for (Index j = 0; j < k; ++j) {
      const auto id = exact.ids(q, j);
      if (id < 0) continue;
      ++want;
      for (Index a = 0; a < k; ++a)
        if (approx.ids(q, a) == id) {
          ++hit;
          break;
        }
    }
    total += want == 0 ? 1.0 : static_cast<double>(hit) / static_cast<double>(want);
  }
  return total / static_cast<double>(exact.queries());
}

}  // namespace popalign::embedding
