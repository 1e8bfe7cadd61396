#pragma once
// Late-interaction scoring over word vectors: ColBERT-style MaxSim (Khattab & Zaharia, SIGIR
// 2020) with static tokens (GloVe) instead of contextual ones, weighted by SIF.
//
// The scorer works with any embedder that has the token-vector capability (embedder.hpp,
// Embedder::token_vectors()): its tokens, token vectors and token weights. For SifEmbedder these
// are the tokenize() tokens found in the GloVe vocabulary, the raw GloVe rows and the SIF
// weights. For a query q with known tokens t_1..t_m (unknown tokens skipped) and a text d with
// known tokens u_1..u_n,
//
//     maxsim(q, d) = sum_i w(t_i) * max_j cos(t_i, u_j) / sum_i w(t_i),
//     w(t) = token_weight(t)  (SifEmbedder: a / (a + p(t)), its SIF weight).
//
// Why: averaging word vectors into one sentence vector blurs a short query into its frequent
// words, and a profile fact into its own topic; "someone who works in healthcare" and "I am a
// nurse" are far apart as averages. MaxSim lets each content word of the query find its best
// partner in the text ("healthcare" -> "nurse", "hospital"), and the SIF weights make the
// function words ("who", "in") count for little. Raw word vectors are used (cosines of
// unit-normalised GloVe rows); no common component is removed at word level.
//
// A text without known tokens scores 0 against every query; a query without known tokens
// scores 0 against every text. Repeated query tokens count once per occurrence (as in SIF).
//
// Cost: per query, one (query tokens x distinct pool words) cosine matrix (a small GEMM), then
// one max per (query token, text token). Deterministic: fixed-order sums, no randomness; the
// result does not depend on the thread count.
#include <memory>
#include <string>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/embedding/word_vectors.hpp>

namespace popalign::embedding {

/// A query given directly as weighted vocabulary rows, for query expansion and feedback
/// (PersonaRetriever's pseudo-relevance feedback adds the words of fed-back facts this way):
///
///     maxsim(q, d) = sum_i weights[i] * max_j cos(rows[i], u_j) / sum_i weights[i].
///
/// A row may repeat (its weights then add up). All weights zero (or no rows): score 0.
struct WeightedQuery {
  std::vector<Index> rows;      ///< vocabulary rows of the scorer's token vectors
  std::vector<double> weights;  ///< one finite, non-negative weight per row
};

/// MaxSim scorer over a fixed collection of texts (the "documents"), prepared once.
class MaxSimScorer {
 public:
  /// Uses embedder->token_vectors() (for a SifEmbedder: the word vectors and SIF weights; its
  /// common components play no role). Throws InvalidArgument("embedder") when `embedder` is null
  /// or has no token vectors. The scorer keeps the embedder alive.
  MaxSimScorer(std::shared_ptr<const Embedder> embedder, const std::vector<std::string>& texts);
  /// Documents given as token groups: each document is the union of the tokens of its texts
  /// (e.g. all facts of one profile pooled).
  MaxSimScorer(std::shared_ptr<const Embedder> embedder,
               const std::vector<std::vector<std::string>>& documents);

  /// queries x documents scores in [-1, 1] (see the file comment).
  RowMatrix<float> score(const std::vector<std::string>& queries,
                         const Execution& execution = {}) const;
  /// queries x documents scores of weighted queries (see WeightedQuery). score(texts) equals
  /// score_weighted of weighted_words(text) for each text, bytes included. Throws
  /// InvalidArgument("queries") when rows and weights differ in length, a row is outside the
  /// vocabulary, or a weight is negative or not finite.
  RowMatrix<float> score_weighted(const std::vector<WeightedQuery>& queries,
                                  const Execution& execution = {}) const;
  /// The known tokens of `text` (TokenVectors::token_rows: in order, repeats kept) with their
  /// token weights.
  WeightedQuery weighted_words(const std::string& text) const;

  Index documents() const noexcept { return static_cast<Index>(doc_words_.size()); }
  const Embedder& embedder() const noexcept { return *embedder_; }
  const TokenVectors& token_vectors() const noexcept { return *tokens_; }

 private:
  void prepare(const std::vector<std::vector<std::string>>& documents);
  std::shared_ptr<const Embedder> embedder_;
  const TokenVectors* tokens_ = nullptr;       ///< embedder_->token_vectors()
  std::vector<std::vector<Index>> doc_words_;  ///< per document: distinct local word ids
  RowMatrix<float> pool_;                      ///< distinct pool words, unit rows
  std::vector<Index> pool_rows_;               ///< local id -> vocabulary row
};

}  // namespace popalign::embedding
