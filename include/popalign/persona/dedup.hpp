#pragma once
// Near-duplicate personas by embedding cosine (persona mining, step 6). The texts are embedded in
// one call of any Embedder; rows are L2-normalized here when the embedder does not promise it (a
// zero row has cosine 0 with everything). Personas are taken in input order: a persona whose
// cosine with an earlier KEPT persona is at least max_cosine is removed as a duplicate of the
// kept persona it is most similar to (ties: the earliest); otherwise it is kept. So the first
// occurrence wins and the result depends only on the input order and the embeddings.
// Similarities are computed block-wise with one matrix product per block of 512 personas.
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <popalign/embedding/embedder.hpp>

namespace popalign::persona {

struct PersonaDedupOptions {
  /// Cosine at or above which two personas are duplicates; in (-1, 1]. 0.95: paraphrases of
  /// one persona score above it with sentence embedders, different people of one demographic
  /// below (see docs/persona.md).
  double max_cosine = 0.95;
  /// InvalidArgument naming the field.
  void validate() const;
};

struct PersonaDedupResult {
  /// Indices of the kept texts, ascending.
  std::vector<std::size_t> kept;
  /// (index of a removed text, index of the kept text it duplicates), ascending by the first.
  std::vector<std::pair<std::size_t, std::size_t>> removed;
  /// One entry per input text: its highest cosine with an earlier kept text (0 for the first
  /// text); for a removed text, the cosine with the text it duplicates.
  std::vector<double> similarity;
};

/// See the file comment. BackendError from the embedder; InvalidArgument from validate().
PersonaDedupResult dedup_personas(const embedding::Embedder& embedder,
                                  std::span<const std::string> texts,
                                  const PersonaDedupOptions& options = {});

}  // namespace popalign::persona
