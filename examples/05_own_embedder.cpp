// 05: plug your own text embedder into persona retrieval.
//
// An embedder is a subclass of popalign::embedding::Embedder with one batch call,
//   RowMatrix<float> embed(const std::vector<std::string>& texts) const   (row i = texts[i])
// plus dimension() and normalized() (and optionally name(), which caches use to keep models
// apart). embed() is const and must be safe to call from several threads. A type that does not
// inherit plugs in through make_embedder (the EmbedderLike concept), as in embedder.hpp.
//
// The embedder below needs no model file: feature hashing of words and character trigrams into
// 512 signed buckets, L2-normalised. It knows no synonyms (the shipped GloVe + SIF embedder of
// example 03 does), so it finds personas by the words they share with the query. It is wrapped
// in popalign's CachingEmbedder and used by PersonaRetriever with the max-fact scoring (a
// persona's score is the cosine of its best fact), over the shipped Synthetic-Persona-Chat
// profiles.
//
// Checked by ctest (examples/run_example.cmake): exit status 0 and the output matches
// ctest-expect: spc[0-9]+  .*I work as a nurse\.
// ctest-expect: spc[0-9]+  .*play the guitar\.
// ctest-expect: 3773 personas embedded by hashing-512 .dimension 512.
#include <fmt/core.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <popalign/embedding.hpp>
#include <popalign/io/persona_record.hpp>

namespace emb = popalign::embedding;
using popalign::Index;

namespace {

class HashingEmbedder final : public emb::Embedder {
 public:
  popalign::RowMatrix<float> embed(const std::vector<std::string>& texts) const override {
    popalign::RowMatrix<float> out =
        popalign::RowMatrix<float>::Zero(static_cast<Index>(texts.size()), kDimension);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      auto row = out.row(static_cast<Index>(i));
      std::string word;
      const std::string text = texts[i] + " ";
      for (char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c))) {
          word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          continue;
        }
        if (word.size() > 2) {  // skip "i", "a", "my", ...
          add(row, "w:" + word, 1.0f);
          const std::string padded = "<" + word + ">";
          for (std::size_t k = 0; k + 3 <= padded.size(); ++k)
            add(row, "t:" + padded.substr(k, 3), 0.3f);
        }
        word.clear();
      }
      const float norm = row.norm();
      if (norm > 0) row /= norm;  // a text without usable words stays a zero row
    }
    return out;
  }
  Index dimension() const override { return kDimension; }
  bool normalized() const override { return true; }
  std::string name() const override { return "hashing-512"; }

 private:
  static constexpr Index kDimension = 512;

  // FNV-1a: the same bucket on every platform and run (std::hash is not specified).
  static std::uint64_t fnv1a(const std::string& s) {
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
  }
  template <class Row>
  static void add(Row& row, const std::string& feature, float weight) {
    const std::uint64_t h = fnv1a(feature);
    const auto bucket = static_cast<Index>(h % static_cast<std::uint64_t>(kDimension));
    row[bucket] += (h >> 63) != 0 ? -weight : weight;  // the sign halves collisions' bias
  }
};

}  // namespace

int main() {
  const std::string data = POPALIGN_DATA_DIR;
  std::vector<popalign::io::PersonaRecord> personas =
      popalign::io::read_personas(data + "/personas/synthetic_persona_chat_valid_test.jsonl")
          .personas;

  auto embedder = std::make_shared<emb::CachingEmbedder>(std::make_shared<HashingEmbedder>());
  const emb::PersonaRetriever retriever(embedder, personas,
                                        emb::RetrieverOptions{emb::ProfileScoring::max_fact});
  const std::vector<std::string> queries = {"I work as a nurse", "I play the guitar in a band"};
  const std::vector<std::string> must_contain = {"nurse", "guitar"};
  const auto hits = retriever.search(queries, 3);

  int status = 0;
  for (std::size_t q = 0; q < queries.size(); ++q) {
    fmt::print("{}\n", queries[q]);
    for (const auto& h : hits[q]) {
      const auto& p = retriever.personas()[static_cast<std::size_t>(h.index)];
      fmt::print("  {:.3f}  {}  {}\n", h.score, p.id, p.facts_text());
      // Every hit must contain the query's rare word (an exact-word embedder finds it).
      if (p.facts_text().find(must_contain[q]) == std::string::npos) status = 1;
    }
  }
  fmt::print("{} personas embedded by {} (dimension {})\n", retriever.personas().size(),
             embedder->name(), embedder->dimension());
  return status;
}
