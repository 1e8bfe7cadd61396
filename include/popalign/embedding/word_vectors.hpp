#pragma once
// Word vectors (word2vec binary and text formats), the tokenizer, and the offline SIF embedder.
//
// SIF ("smooth inverse frequency", Arora, Liang & Ma, ICLR 2017, "A simple but tough-to-beat
// baseline for sentence embeddings"):
//   1. v(s) = (1/|s|) * sum_{w in s} a / (a + p(w)) * u(w)      (u = word vector, a ~ 1e-3)
//   2. fit the first principal direction(s) c of {v(s)} over a corpus (uncentred, as in the
//      paper: the top singular vector(s) of the stacked sentence vectors);
//   3. e(s) = v(s) - sum_c (v(s).c) c, then (popalign's choice) e(s) / ||e(s)||.
// Word probabilities p(w): GloVe's files are sorted by corpus frequency but carry no counts, so
// by default p is derived from the rank r (1-based) with Zipf's law, p(r) = 1 / (r * H_N), with
// H_N the N-th harmonic number (the law's normalising constant over the N words kept). Zipf's
// law fits English well from rank ~10 on, which is the range where the weights a/(a+p) vary;
// `set_word_probabilities` accepts measured frequencies instead.
//
// Tokenizer: ASCII letters are lower-cased; a token is a maximal run of letters, digits and
// apostrophes; apostrophes then follow the Penn-Treebank convention GloVe was trained with:
// "don't" -> "do" "n't", "she's" -> "she" "'s", "dogs'" -> "dogs"; quote-like leading or
// trailing apostrophes are dropped. Non-ASCII bytes separate tokens. Tokens missing from the
// vocabulary (including "n't", "'s" for GloVe-6B's top-40k file) are skipped.
//
// Determinism: embedding is a fixed-order sum in double precision and the common component is
// computed by a fixed-start power iteration, so the same inputs give the same bytes.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <popalign/core/types.hpp>
#include <popalign/embedding/embedder.hpp>

namespace popalign::embedding {

/// A vocabulary with one vector per word. Rows are in file order (for GloVe: frequency order).
class WordVectors {
 public:
  WordVectors() = default;
  /// Throws InvalidArgument if sizes disagree, a word is empty or repeated.
  WordVectors(std::vector<std::string> words, RowMatrix<float> vectors);

  Index size() const noexcept { return vectors_.rows(); }
  Index dimension() const noexcept { return vectors_.cols(); }
  /// Row of `word`, or -1 when it is not in the vocabulary.
  Index find(std::string_view word) const;
  const std::vector<std::string>& words() const noexcept { return words_; }
  const RowMatrix<float>& vectors() const noexcept { return vectors_; }

 private:
  std::vector<std::string> words_;
  RowMatrix<float> vectors_;
  std::unordered_map<std::string, Index> index_;
};

enum class WordVectorFormat { automatic, binary, text };

/// Loads a word2vec file. Binary: header "N D\n", then N times `word` + ' ' + D little-endian
/// float32 (+ an optional '\n'). Text: optional header "N D", then lines "word x1 ... xD".
/// `automatic` decides from the bytes after the header. max_words > 0 keeps the first words
/// only. Throws IoError / ParseError naming the file and the record (line) at fault.
WordVectors load_word_vectors(const std::string& path,
                              WordVectorFormat format = WordVectorFormat::automatic,
                              Index max_words = 0);

/// Writes a word2vec file (binary or text); used to make fixtures and subsets.
void save_word_vectors(const WordVectors& vectors, const std::string& path,
                       WordVectorFormat format = WordVectorFormat::binary);

/// Tokenizes as described at the top of this file.
std::vector<std::string> tokenize(std::string_view text);

/// The tokenize() tokens joined by single spaces: the normalised form under which two facts
/// count as the same ("I am a nurse." and "i am a NURSE" both give "i am a nurse").
std::string normalized_text(std::string_view text);

/// p(r) = 1 / (r * H_n) for ranks r = 1..n.
Vector<double> zipf_probabilities(Index n);

struct SifOptions {
  double a = 1e-3;        ///< SIF smoothing; weights a / (a + p(w)) (Arora et al. use 1e-3..1e-4)
  Index components = 1;   ///< common components removed (0 = none)
  bool normalize = true;  ///< unit-length output rows (zero rows for texts without known words)
  int threads = 0;        ///< threads for large batches (0 = all cores); output is identical
  void validate() const {
    check_argument(threads >= 0, "threads", "must be >= 0 (0 = all cores)");
    check_argument(a > 0, "a", "must be > 0");
    check_argument(components >= 0, "components", "must be >= 0");
  }
};

/// The offline embedder. Thread-safe for concurrent embed() calls; fitting and setters are not.
/// It has the token-vector capability (embedder.hpp): the word vectors, tokenize() tokens and
/// the SIF weights, which the word-level retrieval scorings use.
class SifEmbedder final : public Embedder, public TokenVectors {
 public:
  /// Word probabilities default to zipf_probabilities(vectors->size()).
  explicit SifEmbedder(std::shared_ptr<const WordVectors> vectors, SifOptions options = {});

  RowMatrix<float> embed(const std::vector<std::string>& texts) const override;
  Index dimension() const override { return vectors_->dimension(); }
  bool normalized() const override { return options_.normalize; }
  std::string name() const override;

  /// Step 1 only (weighted averages, no removal, no normalisation).
  RowMatrix<float> embed_weighted_average(const std::vector<std::string>& texts) const;

  /// Replaces p(w); one non-negative entry per vocabulary row (normalised to sum 1 here).
  void set_word_probabilities(const Vector<double>& p);
  /// SIF weight of vocabulary row r.
  double weight(Index row) const { return weights_[row]; }

  /// TokenVectors: `this`.
  const TokenVectors* token_vectors() const noexcept override { return this; }
  /// The vocabulary rows of the tokenize() tokens of `text` found in the word vectors.
  std::vector<Index> token_rows(std::string_view text) const override;
  /// The word vectors (raw GloVe rows).
  const RowMatrix<float>& token_matrix() const override { return vectors_->vectors(); }
  /// weight(row).
  double token_weight(Index row) const override { return weight(row); }

  /// Fits options.components common directions on the weighted averages of `corpus` (texts
  /// without known words are ignored) and stores them. Throws InvalidArgument if the corpus
  /// has fewer usable texts than components.
  void fit_common_components(const std::vector<std::string>& corpus);
  /// components x dimension, orthonormal rows (empty before fitting or loading).
  const RowMatrix<float>& common_components() const noexcept { return components_; }
  void set_common_components(RowMatrix<float> components);
  /// Saves / loads the components as a small binary file ("PASIFPC1", version, rows, cols,
  /// float32 data, little-endian). load checks the dimension against the word vectors.
  void save_common_components(const std::string& path) const;
  void load_common_components(const std::string& path);

  const SifOptions& options() const noexcept { return options_; }
  const WordVectors& word_vectors() const noexcept { return *vectors_; }

 private:
  std::shared_ptr<const WordVectors> vectors_;
  SifOptions options_;
  std::vector<float> weights_;
  RowMatrix<float> components_;
};

/// The shipped word vectors: <data dir>/models/glove6b_100d_top40k.w2v.bin (see
/// io::data_dir(): $POPALIGN_DATA_DIR, the source tree's data/, or the installed share/popalign).
std::string default_word_vectors_path();
/// The common component shipped with those vectors (<data dir>/embedding/glove_sif_pc1.bin,
/// fitted on a general English corpus): the one to remove when there is no corpus to fit on, as
/// in mining's dedup, whose 0.95 cosine bar was calibrated with it (docs/persona.md). Without it
/// every English text shares one dominant direction and different people score 0.95+.
std::string default_common_component_path();

/// Loads word vectors and builds a SIF embedder. The common components come from
/// `components_path` when it is not empty, else are fitted on `fit_corpus` when that is not
/// empty, else none are removed.
std::shared_ptr<SifEmbedder> make_sif_embedder(const std::string& vectors_path,
                                               const std::string& components_path,
                                               const std::vector<std::string>& fit_corpus,
                                               SifOptions options = {});

}  // namespace popalign::embedding
