// hnswlib is used here only (it never appears in a public header).
#include <hnswlib/hnswlib.h>

#include <limits>

#include <popalign/embedding/embedder.hpp>
#include <popalign/embedding/index.hpp>

namespace popalign::embedding {

struct HnswIndex::Impl {
  Index dim = 0;
  Index size = 0;
  std::unique_ptr<hnswlib::InnerProductSpace> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
};

HnswIndex::HnswIndex(MatrixView<float> base, HnswOptions options)
    : impl_(std::make_unique<Impl>()), options_(options) {
  options_.validate();
  check_argument(base.cols() >= 1, "base", "needs at least one column");
  RowMatrix<float> rows = base;
  check_argument(rows.allFinite(), "base", "contains NaN or Inf");
  if (options_.metric == Metric::cosine) normalize_rows(rows);
  impl_->dim = rows.cols();
  impl_->size = rows.rows();
  impl_->space =
      std::make_unique<hnswlib::InnerProductSpace>(static_cast<std::size_t>(rows.cols()));
  impl_->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
      impl_->space.get(), static_cast<std::size_t>(std::max<Index>(1, rows.rows())),
      static_cast<std::size_t>(options_.m), static_cast<std::size_t>(options_.ef_construction),
      static_cast<std::size_t>(options_.seed));
  // In order, on one thread: the graph is reproducible.
  for (Index i = 0; i < rows.rows(); ++i)
    impl_->graph->addPoint(rows.row(i).data(), static_cast<hnswlib::labeltype>(i));
  impl_->graph->setEf(static_cast<std::size_t>(options_.ef_search));
}

HnswIndex::~HnswIndex() = default;
HnswIndex::HnswIndex(HnswIndex&&) noexcept = default;
HnswIndex& HnswIndex::operator=(HnswIndex&&) noexcept = default;

Index HnswIndex::size() const { return impl_->size; }
Index HnswIndex::dimension() const { return impl_->dim; }

void HnswIndex::set_ef_search(Index ef) {
  check_argument(ef >= 1, "ef", "must be >= 1");
  options_.ef_search = ef;
  impl_->graph->setEf(static_cast<std::size_t>(ef));
}

Neighbors HnswIndex::search(MatrixView<float> queries_in, Index k,
                            const Execution& execution) const {
  execution.validate();
  check_argument(k >= 1, "k", "must be >= 1");
  check_argument(queries_in.cols() == impl_->dim, "queries",
                 "have dimension " + std::to_string(queries_in.cols()) + ", index has " +
                     std::to_string(impl_->dim));
  RowMatrix<float> queries = queries_in;
  check_argument(queries.allFinite(), "queries", "contains NaN or Inf");
  if (options_.metric == Metric::cosine) normalize_rows(queries);
  Neighbors out;
  out.ids = RowMatrix<std::int64_t>::Constant(queries.rows(), k, -1);
  out.scores =
      RowMatrix<float>::Constant(queries.rows(), k, -std::numeric_limits<float>::infinity());
  if (impl_->size == 0) return out;
  // hnswlib's ef must be >= k for k results; searchKnn uses max(ef, k) itself.
  parallel_for(queries.rows(), execution.resolved_threads(), 16, [&](Index b, Index e) {
    for (Index q = b; q < e; ++q) {
      auto result = impl_->graph->searchKnn(queries.row(q).data(), static_cast<std::size_t>(k));
      Index j = static_cast<Index>(result.size()) - 1;
      while (!result.empty()) {
        const auto [dist, label] = result.top();
        result.pop();
        if (j < k) {
          out.ids(q, j) = static_cast<std::int64_t>(label);
          out.scores(q, j) = 1.0f - dist;  // InnerProductSpace distance = 1 - <a, b>
        }
        --j;
      }
    }
  });
  return out;
}

}  // namespace popalign::embedding
