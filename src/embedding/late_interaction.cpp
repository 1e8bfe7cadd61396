#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <popalign/embedding/late_interaction.hpp>

namespace popalign::embedding {

namespace {
const TokenVectors* checked_tokens(const std::shared_ptr<const Embedder>& embedder) {
  check_argument(embedder != nullptr, "embedder", "must not be null");
  const TokenVectors* t = embedder->token_vectors();
  check_argument(t != nullptr, "embedder",
                 "word-level (MaxSim) scoring needs token vectors (Embedder::token_vectors()), "
                 "and '" +
                     embedder->name() + "' has none");
  return t;
}
}  // namespace

MaxSimScorer::MaxSimScorer(std::shared_ptr<const Embedder> embedder,
                           const std::vector<std::string>& texts)
    : embedder_(std::move(embedder)), tokens_(checked_tokens(embedder_)) {
  std::vector<std::vector<std::string>> docs;
  docs.reserve(texts.size());
  for (const auto& t : texts) docs.push_back({t});
  prepare(docs);
}

MaxSimScorer::MaxSimScorer(std::shared_ptr<const Embedder> embedder,
                           const std::vector<std::vector<std::string>>& documents)
    : embedder_(std::move(embedder)), tokens_(checked_tokens(embedder_)) {
  prepare(documents);
}

void MaxSimScorer::prepare(const std::vector<std::vector<std::string>>& documents) {
  const RowMatrix<float>& vocab = tokens_->token_matrix();
  std::unordered_map<Index, Index> local;  // vocabulary row -> local id
  doc_words_.resize(documents.size());
  for (std::size_t d = 0; d < documents.size(); ++d) {
    auto& ids = doc_words_[d];
    for (const auto& text : documents[d])
      for (const Index r : tokens_->token_rows(text)) {
        auto [it, inserted] = local.emplace(r, static_cast<Index>(pool_rows_.size()));
        if (inserted) pool_rows_.push_back(r);
        ids.push_back(it->second);
      }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  pool_.resize(static_cast<Index>(pool_rows_.size()), vocab.cols());
  for (std::size_t i = 0; i < pool_rows_.size(); ++i) {
    auto row = pool_.row(static_cast<Index>(i));
    row = vocab.row(pool_rows_[i]);
    const float n = row.norm();
    if (n > 0) row /= n;
  }
}

WeightedQuery MaxSimScorer::weighted_words(const std::string& text) const {
  WeightedQuery out;
  out.rows = tokens_->token_rows(text);
  out.weights.reserve(out.rows.size());
  for (const Index r : out.rows) out.weights.push_back(tokens_->token_weight(r));
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
  const RowMatrix<float>& vocab = tokens_->token_matrix();
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const auto& x = queries[q];
    check_argument(x.rows.size() == x.weights.size(), "queries",
                   "query " + std::to_string(q) + " has " + std::to_string(x.rows.size()) +
                       " rows but " + std::to_string(x.weights.size()) + " weights");
    for (std::size_t i = 0; i < x.rows.size(); ++i) {
      check_argument(x.rows[i] >= 0 && x.rows[i] < vocab.rows(), "queries",
                     "query " + std::to_string(q) + ": row " + std::to_string(x.rows[i]) +
                         " is outside the vocabulary of " + std::to_string(vocab.rows()) +
                         " words");
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
      RowMatrix<float> qv(m, vocab.cols());
      double wsum = 0;
      for (Index i = 0; i < m; ++i) {
        auto row = qv.row(i);
        row = vocab.row(x.rows[static_cast<std::size_t>(i)]);
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
