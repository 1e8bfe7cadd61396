#pragma once
// Contrastive training of a projection head with InfoNCE, mined hard negatives and semantic
// filtering of likely false negatives.
//
// Data: pairs (query_i, positive_i) as base-embedder vectors. For a batch of B pairs, with
// z = head(x) / ||head(x)|| and temperature tau, query i is scored against
//   * every in-batch positive p_j (j != i are the in-batch negatives), and
//   * its own K mined hard negatives h_i1..h_iK,
// and the loss is  L_i = -z_qi.z_pi / tau + log sum_{c in C_i} exp(z_qi.z_c / tau)  averaged
// over the batch, C_i = {p_i} ∪ kept negatives.
//
// Symmetric InfoNCE (options.symmetric, as in CLIP): the loss also scores every positive p_j
// against the in-batch queries, L'_j = -z_pj.z_qj / tau + log sum_{i kept} exp(z_qi.z_pj / tau)
// (the same filter mask), and the objective is (mean L + mean L') / 2. Both texts of a pair then
// have to single out their partner, which keeps the head from specialising to one side.
//
// Hard negatives are mined at the start of every epoch with the current head: the positives
// most similar to query i (exact top-k over all positives, its own excluded), best first.
//
// Semantic filtering (the false-negative problem: a "negative" that says the same thing as the
// positive must not be pushed away): a candidate c of query i is dropped when
//   cos(z_qi, z_c) > filter_threshold   or   cos(z_pi, z_c) > filter_threshold,
// for in-batch negatives at every step and for mined negatives at mining time (the next-best
// candidates take their place). The filter's cosines are those of the frozen BASE vectors:
// judged with the head being trained, dropped negatives stop pushing embeddings apart, more
// candidates cross the threshold, and the head collapses (we observed exactly that).
//
// Optimiser: AdamW (Loshchilov & Hutter 2019): Adam moments with bias correction, decoupled
// weight decay on the weight matrices (not on biases), toward 0 or (decay_to_identity) toward
// the identity for W. Gradients are computed by hand (Eigen):
// through the InfoNCE softmax, the row normalisation (dz -> (dz - z (z.dz)) / ||y||) and the head.
//
// Determinism: pair order per epoch is a seeded shuffle (popalign::Rng); the same inputs, options
// and thread count give the same head bytes.
#include <cstdint>
#include <string>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/embedding/embedder.hpp>
#include <popalign/embedding/projection_head.hpp>

namespace popalign::embedding {

struct TrainingPair {
  std::string query;
  std::string positive;
};

struct ContrastiveOptions {
  HeadKind kind = HeadKind::linear;
  Index hidden = 0;  ///< mlp hidden width (0 = input dimension)
  Index epochs = 10;
  Index batch_size = 64;
  double learning_rate = 2e-3;
  double weight_decay = 1e-4;  ///< AdamW decoupled decay (weights only)
  /// Decay the first weight matrix W toward the identity (its starting point, the base
  /// geometry) instead of toward 0: W <- I + (W - I)(1 - lr * weight_decay). A strong decay then
  /// keeps the head a small correction of the base embedder. W1, W2 (mlp) still decay to 0.
  bool decay_to_identity = false;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double temperature = 0.05;
  /// Add the positive -> query direction to the loss (see the file comment).
  bool symmetric = false;
  Index hard_negatives = 4;  ///< mined per query (0 = in-batch negatives only)
  /// Candidates examined per query when mining (>= hard_negatives + 1).
  Index mining_candidates = 32;
  bool filter_negatives = true;
  double filter_threshold = 0.8;  ///< cosine above which a candidate is a likely false negative
  std::uint64_t seed = 0;
  Execution execution{};

  /// Throws InvalidArgument naming the field.
  void validate() const;
};

struct ContrastiveResult {
  ProjectionHead head;
  std::vector<double> epoch_loss;  ///< mean batch loss per epoch
  Index steps = 0;
  Index dropped_in_batch = 0;  ///< in-batch negatives removed by the filter (all epochs)
  Index dropped_mined = 0;     ///< mining candidates removed by the filter (all epochs)
  Index mined = 0;             ///< hard negatives used (all epochs)
  std::string status = "ok";   ///< "ok" or "cancelled"
};

/// Mines up to `count` hard negatives per query among `positives` (rows of unit length): the
/// most similar positives to query i, own positive i excluded, skipping candidates the filter
/// drops (when filter_threshold < 1 and `filter` is true). Returns row indices (best first,
/// fewer than `count` when the candidates run out); `dropped` counts filtered candidates.
std::vector<std::vector<Index>> mine_hard_negatives(MatrixView<float> queries,
                                                    MatrixView<float> positives, Index count,
                                                    Index candidates, bool filter,
                                                    double filter_threshold, Index* dropped,
                                                    const Execution& execution = {});

/// As above, but the filter judges with other vectors (one row per query / positive, unit
/// rows): training ranks with the current head and filters with the frozen base embedder.
std::vector<std::vector<Index>> mine_hard_negatives(
    MatrixView<float> queries, MatrixView<float> positives, Index count, Index candidates,
    bool filter, MatrixView<float> filter_queries, MatrixView<float> filter_positives,
    double filter_threshold, Index* dropped, const Execution& execution = {});

/// Trains a head on precomputed base vectors (rows of query_vectors and positive_vectors pair
/// up). Throws InvalidArgument on bad options or shapes; a cancelled run returns the head so
/// far with status "cancelled".
ContrastiveResult train_projection_head(MatrixView<float> query_vectors,
                                        MatrixView<float> positive_vectors,
                                        const ContrastiveOptions& options);

/// Embeds the pairs with `base` (one batch call each for queries and positives) and trains.
/// The head records base.name().
ContrastiveResult train_projection_head(const Embedder& base,
                                        const std::vector<TrainingPair>& pairs,
                                        const ContrastiveOptions& options);

}  // namespace popalign::embedding
