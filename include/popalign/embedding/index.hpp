#pragma once
// Nearest-neighbour search over embedding rows: exact top-k and an approximate HNSW index behind
// one interface.
//
// ExactIndex: scores = queries * base^T computed in fixed blocks (256 queries x base_block, each
// one Eigen float GEMM that fits in cache), and every block is scanned at once into a per-query
// k-element min-heap (partial selection: a score enters only when it beats the current k-th
// best, so the scan is one compare per score). The n x m score matrix is never stored. Tasks are
// (query block, base chunk) pairs run on Execution::threads; their heaps are merged in a fixed
// order, and the block sizes do not depend on the thread count, so results are identical for any
// number of threads. Ties are broken by the lower row id.
//
// HnswIndex: hnswlib's hierarchical navigable small-world graph (Malkov & Yashunin 2018) with the
// inner-product space (cosine = inner product of unit rows). Built by inserting rows in order on
// one thread, with a fixed level-generator seed, so the graph (and the results) are
// reproducible. Recall against ExactIndex is measured by `recall_at_k` (and in the tests).
//
// Scores: Metric::cosine returns cosine similarities (rows and queries are normalised; a zero
// row scores 0), Metric::dot returns raw inner products. Higher is better for both.
#include <cstdint>
#include <memory>
#include <string>

#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>

namespace popalign::embedding {

enum class Metric { cosine, dot };

/// k best rows per query, best first. ids(q, j) = -1 and scores(q, j) = -infinity pad the rows
/// when the index holds fewer than k rows.
struct Neighbors {
  RowMatrix<std::int64_t> ids;
  RowMatrix<float> scores;
  Index queries() const noexcept { return ids.rows(); }
  Index k() const noexcept { return ids.cols(); }
};

/// Runtime-polymorphic search interface. search() is const and thread-safe.
class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  /// queries: q x dim(). Throws InvalidArgument on a dimension mismatch or k < 1.
  virtual Neighbors search(MatrixView<float> queries, Index k,
                           const Execution& execution = {}) const = 0;
  virtual Index size() const = 0;
  virtual Index dimension() const = 0;
  virtual Metric metric() const = 0;
};

/// Queries per GEMM block (fixed, so that results never depend on the thread count). Each
/// block of base rows is packed by the GEMM once per 256 queries, which keeps packing cost small
/// next to the 256 x base_block x D multiply-adds.
inline constexpr Index kExactQueryBlock = 256;

struct ExactIndexOptions {
  Metric metric = Metric::cosine;
  Index base_block = 2048;   ///< base rows per GEMM block (scores block = 256 x base_block)
  Index chunk_rows = 16384;  ///< base rows per parallel task (a multiple of base_block is best)
  void validate() const {
    check_argument(base_block >= 1, "base_block", "must be >= 1");
    check_argument(chunk_rows >= 1, "chunk_rows", "must be >= 1");
  }
};

class ExactIndex final : public VectorIndex {
 public:
  /// Copies (and for cosine, normalises) the rows. Throws InvalidArgument on NaN/Inf.
  explicit ExactIndex(MatrixView<float> base, ExactIndexOptions options = {});
  Neighbors search(MatrixView<float> queries, Index k,
                   const Execution& execution = {}) const override;
  Index size() const override { return base_.rows(); }
  Index dimension() const override { return base_.cols(); }
  Metric metric() const override { return options_.metric; }
  const RowMatrix<float>& rows() const noexcept { return base_; }

 private:
  RowMatrix<float> base_;
  ExactIndexOptions options_;
};

struct HnswOptions {
  Metric metric = Metric::cosine;
  Index m = 16;                 ///< graph degree (hnswlib M)
  Index ef_construction = 200;  ///< candidate list while building
  Index ef_search = 64;         ///< candidate list while searching (raised to k when smaller)
  std::uint64_t seed = 100;     ///< level generator seed
  void validate() const {
    check_argument(m >= 2, "m", "must be >= 2");
    check_argument(ef_construction >= 1, "ef_construction", "must be >= 1");
    check_argument(ef_search >= 1, "ef_search", "must be >= 1");
  }
};

class HnswIndex final : public VectorIndex {
 public:
  explicit HnswIndex(MatrixView<float> base, HnswOptions options = {});
  ~HnswIndex() override;
  HnswIndex(const HnswIndex&) = delete;
  HnswIndex& operator=(const HnswIndex&) = delete;
  HnswIndex(HnswIndex&&) noexcept;
  HnswIndex& operator=(HnswIndex&&) noexcept;

  /// Queries run in parallel on execution.threads; each query is independent.
  Neighbors search(MatrixView<float> queries, Index k,
                   const Execution& execution = {}) const override;
  Index size() const override;
  Index dimension() const override;
  Metric metric() const override { return options_.metric; }
  /// Not thread-safe against concurrent searches.
  void set_ef_search(Index ef);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  HnswOptions options_;
};

/// Mean over queries of |approx ∩ exact| / |exact| over the first k columns (padding ignored).
double recall_at_k(const Neighbors& approx, const Neighbors& exact, Index k);

}  // namespace popalign::embedding
