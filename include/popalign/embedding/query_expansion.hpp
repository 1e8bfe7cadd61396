#pragma once
// Query expansion for descriptions that share no word with the personas they mean ("a person
// with a green thumb" -> personas who mention "gardening"; docs/retrieval.md, docs/groups.md).
//
// neighbour_expansion(): for each content word of the query (a word whose SIF weight
// a / (a + p(w)) is at least min_query_weight, so function words such as "a", "who", "the" are
// skipped), the `neighbours` words of the pool's vocabulary (the tokens of `pool_texts`, minus
// the query's own words and words below min_query_weight) with the highest GloVe cosine to it,
// kept when the cosine is at least min_cosine. The result is the union in order of first
// appearance (query word order, then cosine, ties by vocabulary row). Restricting candidates to
// the pool's own words keeps the expansion on words that can match something, and the cosine
// floor keeps it near the query's meaning. It uses the word vectors only: no LLM, no topic list.
// Deterministic.
//
// expanded_query(): the query followed by the expansion words (one text, so every scoring of
// PersonaRetriever can use it; SIF weights the added words like any other).
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/types.hpp>
#include <popalign/embedding/word_vectors.hpp>

namespace popalign::embedding {

struct NeighbourExpansionOptions {
  // Defaults chosen on the dev descriptions (docs/groups.md): the best of 36 settings there
  // (0.313 vs 0.225 without expansion); on the held-out descriptions it gained one hit of 160.
  Index neighbours = 10;          ///< pool words added per query content word (>= 1)
  double min_cosine = 0.5;        ///< in [-1, 1]
  double min_query_weight = 0.7;  ///< SIF weight below which a word is a function word, [0, 1]
  void validate() const {
    check_argument(neighbours >= 1, "neighbours", "must be >= 1");
    check_argument(min_cosine >= -1 && min_cosine <= 1, "min_cosine", "must be in [-1, 1]");
    check_argument(min_query_weight >= 0 && min_query_weight <= 1, "min_query_weight",
                   "must be in [0, 1]");
  }
};

/// See the file comment.
std::vector<std::string> neighbour_expansion(const SifEmbedder& sif, std::string_view query,
                                             const std::vector<std::string>& pool_texts,
                                             const NeighbourExpansionOptions& options = {});

/// query + " " + the words joined by spaces (the query alone when there are none).
std::string expanded_query(std::string_view query, const std::vector<std::string>& words);

}  // namespace popalign::embedding
