#include <popalign/persona/dedup.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <map>
#include <random>

#include <popalign/core/error.hpp>
#include <popalign/embedding/word_vectors.hpp>

namespace popalign::persona {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

// Test double: an embedder that looks each text up in a table (unknown text: a zero row).
class TableEmbedderDouble final : public embedding::Embedder {
 public:
  TableEmbedderDouble(std::map<std::string, std::vector<float>> table, Index dim, bool normalized,
                      Index extra_rows = 0)
      : table_(std::move(table)), dim_(dim), normalized_(normalized), extra_rows_(extra_rows) {}
  RowMatrix<float> embed(const std::vector<std::string>& texts) const override {
    RowMatrix<float> m =
        RowMatrix<float>::Zero(static_cast<Index>(texts.size()) + extra_rows_, dim_);
    for (std::size_t i = 0; i < texts.size(); ++i)
      if (auto it = table_.find(texts[i]); it != table_.end())
        for (Index j = 0; j < dim_; ++j)
          m(static_cast<Index>(i), j) = it->second[static_cast<std::size_t>(j)];
    ++calls;
    return m;
  }
  Index dimension() const override { return dim_; }
  bool normalized() const override { return normalized_; }
  std::string name() const override { return "table-double"; }
  mutable int calls = 0;

 private:
  std::map<std::string, std::vector<float>> table_;
  Index dim_;
  bool normalized_;
  Index extra_rows_;
};

std::vector<float> unit(double angle) {  // a unit vector in the plane at `angle`
  return {static_cast<float>(std::cos(angle)), static_cast<float>(std::sin(angle)), 0.0f};
}

TEST(PersonaDedup, FirstOccurrenceWinsAgainstKeptPersonasOnly) {
  // cos(x, y) = cos(0.25) = 0.969, cos(y, z) = 0.969, cos(x, z) = cos(0.5) = 0.878.
  const TableEmbedderDouble e(
      {{"x", unit(0.0)}, {"y", unit(0.25)}, {"z", unit(0.5)}, {"w", {0, 0, 1}}, {"x2", unit(0.0)}},
      3, true);
  const std::vector<std::string> texts{"x", "y", "z", "w", "x2"};
  const PersonaDedupResult r = dedup_personas(e, texts);
  EXPECT_THAT(r.kept, ElementsAre(0u, 2u, 3u));
  EXPECT_THAT(r.removed, ElementsAre(Pair(1u, 0u), Pair(4u, 0u)));
  ASSERT_EQ(r.similarity.size(), 5u);
  EXPECT_EQ(r.similarity[0], 0.0);
  EXPECT_NEAR(r.similarity[1], std::cos(0.25), 1e-6);
  EXPECT_NEAR(r.similarity[2], std::cos(0.5), 1e-6);  // y was removed, so x is the nearest kept
  EXPECT_NEAR(r.similarity[3], 0.0, 1e-6);
  EXPECT_NEAR(r.similarity[4], 1.0, 1e-6);
  EXPECT_EQ(e.calls, 1);
  // A lower bar removes z too; a bar of 1 removes only the exact copy.
  PersonaDedupOptions o;
  o.max_cosine = 0.85;
  EXPECT_THAT(dedup_personas(e, texts, o).kept, ElementsAre(0u, 3u));
  o.max_cosine = 1.0 - 1e-6;
  EXPECT_THAT(dedup_personas(e, texts, o).kept, ElementsAre(0u, 1u, 2u, 3u));
}

TEST(PersonaDedup, UnnormalizedEmbeddingsAreNormalizedAndZeroRowsKept) {
  const TableEmbedderDouble e({{"a", {3, 0, 0}}, {"b", {0.1f, 0, 0}}, {"c", {0, 5, 0}}}, 3, false);
  const std::vector<std::string> texts{"a", "zero", "b", "c", "zero"};
  const PersonaDedupResult r = dedup_personas(e, texts);
  EXPECT_THAT(r.kept, ElementsAre(0u, 1u, 3u, 4u));  // zero rows have cosine 0 with everything
  EXPECT_THAT(r.removed, ElementsAre(Pair(2u, 0u)));
  EXPECT_NEAR(r.similarity[2], 1.0, 1e-6);
}

TEST(PersonaDedup, MatchesABruteForceReferenceAcrossBlocks) {
  // 1300 texts (three blocks of 512): 900 random directions and 400 noisy copies of them.
  std::mt19937 rng(17);
  std::normal_distribution<double> g(0.0, 1.0);
  const Index dim = 16;
  std::map<std::string, std::vector<float>> table;
  std::vector<std::string> texts;
  std::vector<std::vector<double>> vecs;
  for (int i = 0; i < 1300; ++i) {
    std::vector<double> v(dim);
    if (i < 900) {
      for (auto& x : v) x = g(rng);
    } else {
      v = vecs[rng() % 900];
      const double noise = (i % 4) * 0.12;
      for (auto& x : v) x += noise * g(rng);
    }
    vecs.push_back(v);
    texts.push_back("t" + std::to_string(i));
    table[texts.back()] = std::vector<float>(v.begin(), v.end());
  }
  std::shuffle(texts.begin(), texts.end(), rng);
  const TableEmbedderDouble e(table, dim, false);
  PersonaDedupOptions o;
  o.max_cosine = 0.97;
  const PersonaDedupResult r = dedup_personas(e, texts, o);
  // Reference in double precision.
  const auto cosine = [&](const std::string& a, const std::string& b) {
    const auto& x = table.at(a);
    const auto& y = table.at(b);
    double dot = 0, nx = 0, ny = 0;
    for (Index k = 0; k < dim; ++k) {
      dot += static_cast<double>(x[k]) * y[k];
      nx += static_cast<double>(x[k]) * x[k];
      ny += static_cast<double>(y[k]) * y[k];
    }
    return dot / std::sqrt(nx * ny);
  };
  std::vector<std::size_t> kept;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    double best = -2;
    for (std::size_t j : kept) best = std::max(best, cosine(texts[i], texts[j]));
    if (kept.empty() || best < o.max_cosine) kept.push_back(i);
    if (!kept.empty() && kept.back() != i) {
      EXPECT_NEAR(r.similarity[i], best, 1e-5);
    }
  }
  EXPECT_EQ(r.kept, kept);
  EXPECT_EQ(r.kept.size() + r.removed.size(), texts.size());
  EXPECT_GT(r.removed.size(), 100u);
  EXPECT_LT(r.removed.size(), 400u);
  for (const auto& [removed, of] : r.removed) {
    EXPECT_LT(of, removed);
    EXPECT_GE(cosine(texts[removed], texts[of]), o.max_cosine - 1e-5);
  }
}

TEST(PersonaDedup, OptionsEmptyInputAndBackendErrors) {
  const TableEmbedderDouble e({}, 3, true);
  EXPECT_TRUE(dedup_personas(e, std::vector<std::string>{}).kept.empty());
  EXPECT_EQ(e.calls, 0);
  PersonaDedupOptions o;
  for (double bad : {1.5, -1.0, std::nan("")}) {
    o.max_cosine = bad;
    try {
      o.validate();
      FAIL() << bad;
    } catch (const InvalidArgument& err) {
      EXPECT_EQ(err.argument(), "max_cosine");
    }
  }
  const TableEmbedderDouble wrong({}, 3, true, 1);
  EXPECT_THROW(dedup_personas(wrong, std::vector<std::string>{"a"}), BackendError);
}

}  // namespace
}  // namespace popalign::persona

namespace popalign::persona {
namespace {

TEST(PersonaDedup, WithTheShippedSifEmbedder) {
  // A real embedder (GloVe SIF, shipped): a light paraphrase of a persona is removed at the
  // default 0.95, different people of one demographic are kept.
  const auto sif = embedding::make_sif_embedder(
      embedding::default_word_vectors_path(),
      std::string(POPALIGN_DATA_DIR) + "/embedding/glove_sif_pc1.bin", {});
  const std::vector<std::string> texts{
      "She is a retired nurse in her sixties who lives with two dogs. She loves gardening, bakes "
      "for the church sale and worries about her son who moved abroad.",
      "She is a retired nurse in her sixties who lives with her two dogs. She loves gardening, "
      "bakes for the church bake sale, and worries about her son, who moved abroad.",
      "She is a retired teacher in her sixties who lives alone in a small flat. She reads crime "
      "novels, volunteers at the library and calls her grandchildren every Sunday.",
      "He is a college student who plays guitar in a band, works night shifts at a diner and "
      "dreams of moving to the city.",
  };
  const PersonaDedupResult r = dedup_personas(*sif, texts);
  std::cout << "SIF cosines:";
  for (double s : r.similarity) std::cout << " " << s;
  std::cout << "\n";
  EXPECT_THAT(r.kept, ElementsAre(0u, 2u, 3u));
  EXPECT_THAT(r.removed, ElementsAre(Pair(1u, 0u)));
  EXPECT_GT(r.similarity[1], 0.95);  // measured 0.956: SIF is close to the bar for a rewording
  EXPECT_LT(r.similarity[2], 0.8);   // measured 0.595
}

}  // namespace
}  // namespace popalign::persona
