#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <popalign/embedding/late_interaction.hpp>

namespace popalign::embedding {

MaxSimScorer::MaxSimScorer(std::shared_ptr<const SifEmbedder> sif,
                           const std::vector<std::string>& texts)
    : sif_(std::move(sif)) {
  check_argument(sif_ != nullptr, "sif", "must not be null");
  std::vector<std::vector<std::string>> docs;
  docs.reserve(texts.size());
  for (const auto& t : texts) docs.push_back({t});
  prepare(docs);
}

MaxSimScorer::MaxSimScorer(std::shared_ptr<const SifEmbedder> sif,
                           const std::vector<std::vector<std::string>>& documents)
    : sif_(std::move(sif)) {
  check_argument(sif_ != nullptr, "sif", "must not be null");
  prepare(documents);
}

void MaxSimScorer::prepare(const std::vector<std::vector<std::string>>& documents) {
  const WordVectors& wv = sif_->word_vectors();
  std::unordered_map<Index, Index> local;  // vocabulary row -> local id
  doc_words_.resize(documents.size());
  for (std::size_t d = 0; d < documents.size(); ++d) {
    auto& ids = doc_words_[d];
    for (const auto& text : documents[d])
      for (const auto& tok : tokenize(text)) {
        const Index r = wv.find(tok);
        if (r < 0) continue;
        auto [it, inserted] = local.emplace(r, static_cast<Index>(pool_rows_.size()));
        if (inserted) pool_rows_.push_back(r);
        ids.push_back(it->second);
      }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  pool_.resize(static_cast<Index>(pool_rows_.size()), wv.dimension());
  for (std::size_t i = 0; i < pool_rows_.size(); ++i) {
    auto row = pool_.row(static_cast<Index>(i));
    row = wv.vectors().row(pool_rows_[i]);
    const float n = row.norm();
    if (n > 0) row /= n;
  }
}

WeightedQuery MaxSimScorer::weighted_words(const std::string& text) const {
  const WordVectors& wv = sif_->word_vectors();
  WeightedQuery out;
  for (const auto& tok : tokenize(text)) {
    const Index r = wv.find(tok);
    if (r < 0) continue;
    out.rows.push_back(r);
    out.weights.push_back(sif_->weight(r));
  }
  return out;
}

RowMatrix<float> MaxSimScorer::score(const std::vector<std::string>& queries,
                                     const Execution& execution) const {
  std::vector<WeightedQuery> wq;
  wq.reserve(queries.size());
  for (const auto& q : queries) wq.push_back(weighted_words(q));
  return score_weighted(wq, execution);
}

RowMatrix<float> MaxSimScorer::score_weighted(const std::vector<WeightedQuery>& queries,
                                              const Execution& execution) const {
  execution.validate();
  const WordVectors& wv = sif_->word_vectors();
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const auto& x = queries[q];
    check_argument(x.rows.size() == x.weights.size(), "queries",
                   "query " + std::to_string(q) + " has " + std::to_string(x.rows.size()) +
                       " rows but " + std::to_string(x.weights.size()) + " weights");
    for (std::size_t i = 0; i < x.rows.size(); ++i) {
      check_argument(x.rows[i] >= 0 && x.rows[i] < wv.size(), "queries",
                     "query " + std::to_string(q) + ": row " + std::to_string(x.rows[i]) +
                         " is outside the vocabulary of " + std::to_string(wv.size()) + " words");
      check_argument(std::isfinite(x.weights[i]) && x.weights[i] >= 0, "queries",
                     "query " + std::to_string(q) + ": weights must be finite and >= 0");
    }
  }
  const auto nq = static_cast<Index>(queries.size());
  const auto nd = static_cast<Index>(doc_words_.size());
  RowMatrix<float> out = RowMatrix<float>::Zero(nq, nd);
  parallel_for(nq, execution.resolved_threads(), 1, [&](Index b, Index e) {
    for (Index q = b; q < e; ++q) {
      const WeightedQuery& x = queries[static_cast<std::size_t>(q)];
      if (x.rows.empty() || pool_.rows() == 0) continue;
      const auto m = static_cast<Index>(x.rows.size());
      RowMatrix<float> qv(m, wv.dimension());
      double wsum = 0;
      for (Index i = 0; i < m; ++i) {
        auto row = qv.row(i);
        row = wv.vectors().row(x.rows[static_cast<std::size_t>(i)]);
        const float n = row.norm();
        if (n > 0) row /= n;
        wsum += x.weights[static_cast<std::size_t>(i)];
      }
      if (!(wsum > 0)) continue;
      // Row-by-row products (no GEMM blocking choices) so the bytes never depend on threads.
      RowMatrix<float> cos(m, pool_.rows());
      for (Index i = 0; i < m; ++i)
        cos.row(i).noalias() = (pool_ * qv.row(i).transpose()).transpose();
      for (Index d = 0; d < nd; ++d) {
        const auto& ids = doc_words_[static_cast<std::size_t>(d)];
        if (ids.empty()) continue;
        double s = 0;
        for (Index i = 0; i < m; ++i) {
          float best = -std::numeric_limits<float>::infinity();
          for (Index id : ids) best = std::max(best, cos(i, id));
          s += x.weights[static_cast<std::size_t>(i)] * static_cast<double>(best);
        }
        out(q, d) = static_cast<float>(s / wsum);
      }
    }
  });
  return out;
}

}  // namespace popalign::embedding
