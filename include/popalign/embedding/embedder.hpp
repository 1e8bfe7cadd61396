#pragma once
// Embedders: a batch of texts -> one row-major float matrix (row i embeds texts[i]).
//
// `Embedder` is the runtime-polymorphic interface every backend implements (the offline
// SIF word-vector embedder, the OpenAI-compatible /v1/embeddings backend, a projection head on
// top of another embedder). One virtual call per batch, never per text or per element.
//
// Any type with the same three members plugs in without inheriting, through the
// `EmbedderLike` concept and `EmbedderAdapter` / `make_embedder`:
//
//   struct Bag {                                   // a minimal conforming type
//     popalign::RowMatrix<float> embed(const std::vector<std::string>& t) const {
//       return popalign::RowMatrix<float>::Ones(static_cast<popalign::Index>(t.size()), 3);
//     }
//     popalign::Index dimension() const { return 3; }
//     bool normalized() const { return false; }
//   };
//   std::shared_ptr<popalign::embedding::Embedder> e = popalign::embedding::make_embedder(Bag{});
//
// Optional capability, token vectors: an embedder that also has one vector per vocabulary token
// (static word vectors, such as GloVe under SifEmbedder) says so by returning a TokenVectors from
// Embedder::token_vectors(); the default returns nullptr. The word-level retrieval scorings
// (max-sim, max-sim-profile: late_interaction.hpp) need it; max-fact and whole need embed() only,
// and fused uses token vectors when they are there (retrieval.hpp). An HTTP embedder (one vector
// per text) has none. A user type adds the capability by deriving from TokenVectors too and
// returning `this`; through EmbedderAdapter, by a member `const TokenVectors* token_vectors()
// const` (the adapter forwards it):
//
//   struct Words : popalign::embedding::TokenVectors {  // ... plus embed/dimension/normalized
//     std::vector<popalign::Index> token_rows(std::string_view text) const override;
//     const popalign::RowMatrix<float>& token_matrix() const override { return vectors; }
//     double token_weight(popalign::Index) const override { return 1.0; }
//     const TokenVectors* token_vectors() const { return this; }
//     popalign::RowMatrix<float> vectors;
//   };
//
// Decorators: CachingEmbedder forwards the inner embedder's token vectors (the cache holds text
// embeddings only); ProjectedEmbedder does not (its head maps text embeddings into a new space
// that the raw token vectors are not in).
//
// Thread safety: embed() is const and every embedder in popalign may be called from several
// threads at once (the caching decorator locks its table); so are the TokenVectors members.
#include <concepts>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/types.hpp>

namespace popalign::embedding {

/// The token-vector capability (file comment): a fixed vocabulary, one vector per token, and a
/// weight per token for queries. Rows are vocabulary indices.
class TokenVectors {
 public:
  virtual ~TokenVectors() = default;
  /// The vocabulary rows of the tokens of `text`, in text order, repeats kept; tokens outside
  /// the vocabulary are skipped (a text may give none).
  virtual std::vector<Index> token_rows(std::string_view text) const = 0;
  /// vocabulary x token dimension; one row per token, any norm (scorers use cosines).
  virtual const RowMatrix<float>& token_matrix() const = 0;
  /// How much vocabulary row `row` counts in a query (finite, >= 0; SifEmbedder: a / (a + p)).
  virtual double token_weight(Index row) const = 0;
};

class Embedder {
 public:
  virtual ~Embedder() = default;

  /// Embeds every text; row i of the result is texts[i]. The result has texts.size() rows and
  /// dimension() columns (an empty batch gives a 0 x dimension() matrix).
  /// Throws BackendError (or a subclass) when the backend fails.
  virtual RowMatrix<float> embed(const std::vector<std::string>& texts) const = 0;

  /// Number of columns of every embedding.
  virtual Index dimension() const = 0;

  /// True when every row has unit L2 norm (a text with no usable content may give a zero row;
  /// each embedder documents that case). Cosine similarity is then a dot product.
  virtual bool normalized() const = 0;

  /// A short identifier of the model and its settings ("glove-sif:...", "openai:model"); the
  /// caching decorator uses it to keep entries of different models apart.
  virtual std::string name() const { return "embedder"; }

  /// The token-vector capability (file comment), or nullptr (the default) when the embedder has
  /// none. The pointer lives as long as the embedder.
  virtual const TokenVectors* token_vectors() const noexcept { return nullptr; }

  /// One text -> one row vector (a thin wrapper over embed()).
  Vector<float> embed_one(const std::string& text) const {
    RowMatrix<float> m = embed(std::vector<std::string>{text});
    return m.row(0).transpose();
  }
};

/// What a type needs to be used as an embedder: const embed(batch) returning something
/// convertible to RowMatrix<float>, dimension() and normalized().
template <class T>
concept EmbedderLike = requires(const T& e, const std::vector<std::string>& texts) {
  { e.embed(texts) } -> std::convertible_to<RowMatrix<float>>;
  { e.dimension() } -> std::convertible_to<Index>;
  { e.normalized() } -> std::convertible_to<bool>;
};

/// Wraps any EmbedderLike value as an Embedder (owns the value).
template <EmbedderLike T>
class EmbedderAdapter final : public Embedder {
 public:
  explicit EmbedderAdapter(T value, std::string name = "adapter")
      : value_(std::move(value)), name_(std::move(name)) {}
  RowMatrix<float> embed(const std::vector<std::string>& texts) const override {
    RowMatrix<float> out = value_.embed(texts);
    if (out.rows() != static_cast<Index>(texts.size()) || out.cols() != value_.dimension())
      throw BackendError("embedder '" + name_ + "' returned a " + std::to_string(out.rows()) + "x" +
                         std::to_string(out.cols()) + " matrix for " +
                         std::to_string(texts.size()) + " texts of dimension " +
                         std::to_string(value_.dimension()));
    return out;
  }
  Index dimension() const override { return static_cast<Index>(value_.dimension()); }
  bool normalized() const override { return static_cast<bool>(value_.normalized()); }
  std::string name() const override { return name_; }
  /// Forwards T's token vectors when T has `token_vectors()` returning a TokenVectors pointer.
  const TokenVectors* token_vectors() const noexcept override {
    if constexpr (requires(const T& v) {
                    { v.token_vectors() } -> std::convertible_to<const TokenVectors*>;
                  })
      return value_.token_vectors();
    else
      return nullptr;
  }
  const T& value() const noexcept { return value_; }

 private:
  T value_;
  std::string name_;
};

template <EmbedderLike T>
std::shared_ptr<Embedder> make_embedder(T value, std::string name = "adapter") {
  return std::make_shared<EmbedderAdapter<T>>(std::move(value), std::move(name));
}

struct CacheOptions {
  /// Most entries kept (least recently used are evicted first); 0 = unbounded.
  std::size_t max_entries = 100'000;
  void validate() const {}
};

/// Caching decorator: texts seen before are answered from memory, the rest go to the wrapped
/// embedder in ONE batch call (duplicates within a batch are embedded once). Keys are the exact
/// text. Thread-safe (a mutex guards the table; the inner call runs without the lock, so two
/// threads may both embed the same new text once).
class CachingEmbedder final : public Embedder {
 public:
  explicit CachingEmbedder(std::shared_ptr<const Embedder> inner, CacheOptions options = {});

  RowMatrix<float> embed(const std::vector<std::string>& texts) const override;
  Index dimension() const override { return inner_->dimension(); }
  bool normalized() const override { return inner_->normalized(); }
  std::string name() const override { return inner_->name(); }
  /// The inner embedder's token vectors (not cached: they are a lookup already).
  const TokenVectors* token_vectors() const noexcept override { return inner_->token_vectors(); }

  std::size_t hits() const;
  std::size_t misses() const;
  std::size_t size() const;
  void clear();

 private:
  using Lru = std::list<std::string>;
  struct Entry {
    std::vector<float> row;
    Lru::iterator position;
  };
  void insert_locked(const std::string& text, std::vector<float> row) const;

  std::shared_ptr<const Embedder> inner_;
  CacheOptions options_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, Entry> table_;
  mutable Lru lru_;
  mutable std::size_t hits_ = 0;
  mutable std::size_t misses_ = 0;
};

/// Scales every non-zero row of m to unit L2 norm (zero rows stay zero).
void normalize_rows(RowMatrix<float>& m);

}  // namespace popalign::embedding
