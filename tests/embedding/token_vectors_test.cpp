// The token-vector capability (embedder.hpp, Embedder::token_vectors()): which embedders have
// it, that the word-level scorings use nothing else, and what `fused` does without it.
#include <gtest/gtest.h>

#include <cmath>
#include <popalign/embedding/late_interaction.hpp>
#include <popalign/embedding/projection_head.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/embedding/word_vectors.hpp>

#include "persona_fixture.hpp"

using namespace popalign;
using namespace popalign::embedding;

namespace {

// Hand-made 3-d word vectors (as in late_interaction_test.cpp).
std::shared_ptr<SifEmbedder> planted_sif() {
  std::vector<std::string> words = {"the", "healthcare", "job", "nurse", "flowers", "garden"};
  RowMatrix<float> v(6, 3);
  v << 0.3f, 0.3f, 0.3f,  //
      1.0f, 0.0f, 0.0f,   //
      0.0f, 1.0f, 0.0f,   //
      0.9f, 0.43589f, 0.0f, 0.6f, 0.6f, 0.52915f, 0.6f, 0.6f, -0.52915f;
  auto wv = std::make_shared<const WordVectors>(std::move(words), std::move(v));
  return std::make_shared<SifEmbedder>(wv, SifOptions{.components = 0});
}

// Test double: a user's embedder with its own token vectors (no SIF anywhere). Vocabulary of
// four words split at spaces; a text embeds as the sum of its token vectors; every token weighs
// the same in a query except "the" (weight 0.25).
struct UserTokensDouble : TokenVectors {
  UserTokensDouble() : vectors(4, 2) {
    vectors << 1, 0,  // cat
        0.8f, 0.6f,   // kitten
        0, 1,         // car
        0.5f, 0.5f;   // the
  }
  std::vector<Index> token_rows(std::string_view text) const override {
    std::vector<Index> out;
    std::size_t b = 0;
    while (b < text.size()) {
      std::size_t e = text.find(' ', b);
      if (e == std::string_view::npos) e = text.size();
      const std::string_view w = text.substr(b, e - b);
      for (Index r = 0; r < 4; ++r)
        if (w == words[static_cast<std::size_t>(r)]) out.push_back(r);
      b = e + 1;
    }
    return out;
  }
  const RowMatrix<float>& token_matrix() const override { return vectors; }
  double token_weight(Index row) const override { return row == 3 ? 0.25 : 1.0; }
  const TokenVectors* token_vectors() const { return this; }
  RowMatrix<float> embed(const std::vector<std::string>& t) const {
    RowMatrix<float> m = RowMatrix<float>::Zero(static_cast<Index>(t.size()), 2);
    for (std::size_t i = 0; i < t.size(); ++i)
      for (Index r : token_rows(t[i])) m.row(static_cast<Index>(i)) += vectors.row(r);
    return m;
  }
  Index dimension() const { return 2; }
  bool normalized() const { return false; }
  std::vector<std::string> words = {"cat", "kitten", "car", "the"};
  RowMatrix<float> vectors;
};

// Test double: an embedder as an HTTP one looks (embed() only): counts of marker words.
struct MarkersDouble {
  RowMatrix<float> embed(const std::vector<std::string>& t) const {
    const std::vector<std::string> words = {"nurse", "dog", "cat", "piano", "army"};
    RowMatrix<float> m = RowMatrix<float>::Zero(static_cast<Index>(t.size()), 5);
    for (std::size_t i = 0; i < t.size(); ++i)
      for (const auto& tok : tokenize(t[i]))
        for (std::size_t w = 0; w < words.size(); ++w)
          if (tok == words[w]) m(static_cast<Index>(i), static_cast<Index>(w)) += 1;
    return m;
  }
  Index dimension() const { return 5; }
  bool normalized() const { return false; }
};

// SIF's token vectors through a plain adapter: embed() from SIF, token_vectors() = SIF's.
struct SifThroughAdapterDouble {
  std::shared_ptr<const SifEmbedder> sif;
  RowMatrix<float> embed(const std::vector<std::string>& t) const { return sif->embed(t); }
  Index dimension() const { return sif->dimension(); }
  bool normalized() const { return sif->normalized(); }
  const TokenVectors* token_vectors() const { return sif.get(); }
};

// Reference z-score: (x - mean) / population sd per row, 0 for a constant row.
RowMatrix<float> standardized(const RowMatrix<float>& s) {
  RowMatrix<float> out(s.rows(), s.cols());
  for (Index q = 0; q < s.rows(); ++q) {
    const Eigen::RowVectorXd x = s.row(q).cast<double>();
    const double m = x.mean();
    const double sd = std::sqrt((x.array() - m).square().mean());
    for (Index j = 0; j < s.cols(); ++j)
      out(q, j) = sd > 0 ? static_cast<float>((x(j) - m) / sd) : 0.0f;
  }
  return out;
}

RetrieverOptions scoring(ProfileScoring s, Index feedback = 0, double weight = 0.25) {
  RetrieverOptions o{s, {}};
  o.feedback_personas = feedback;
  o.feedback_weight = weight;
  return o;
}

}  // namespace

TEST(TokenVectors, WhoHasThem) {
  const auto sif = planted_sif();
  const TokenVectors* t = sif->token_vectors();
  ASSERT_EQ(t, static_cast<const TokenVectors*>(sif.get()));
  const WordVectors& wv = sif->word_vectors();
  // tokenize() tokens found in the vocabulary, in order, repeats kept, unknown ones skipped.
  EXPECT_EQ(t->token_rows("The NURSE zzz the"),
            (std::vector<Index>{wv.find("the"), wv.find("nurse"), wv.find("the")}));
  EXPECT_EQ(t->token_matrix().rows(), wv.size());
  EXPECT_TRUE(t->token_matrix().isApprox(wv.vectors()));
  EXPECT_EQ(t->token_weight(wv.find("job")), sif->weight(wv.find("job")));
  // The cache forwards them; a head does not (its space is not the tokens' space).
  EXPECT_EQ(std::make_shared<CachingEmbedder>(sif)->token_vectors(), t);
  EXPECT_EQ(ProjectedEmbedder(sif, ProjectionHead::identity(3)).token_vectors(), nullptr);
  // Adapters forward a member token_vectors() and have none otherwise.
  EXPECT_EQ(make_embedder(MarkersDouble{})->token_vectors(), nullptr);
  const auto user = make_embedder(UserTokensDouble{});
  ASSERT_NE(user->token_vectors(), nullptr);
  EXPECT_EQ(user->token_vectors()->token_rows("the kitten"), (std::vector<Index>{3, 1}));
}

TEST(TokenVectors, AUserEmbedderGetsTheWordLevelScorings) {
  const auto user = make_embedder(UserTokensDouble{});
  const std::vector<io::PersonaRecord> ps = {fixture::persona("a", {"the kitten", "car"}),
                                             fixture::persona("b", {"car car"}),
                                             fixture::persona("c", {"the", "cat"})};
  // By hand, query "the cat" (weights 0.25 and 1, sum 1.25). Cosines: cat.kitten 0.8, cat.car 0,
  // cat.the = the.car = 1/sqrt(2), the.kitten 0.7 * sqrt(2).
  const double r = 1 / std::sqrt(2.0);
  const double a_kitten = (0.25 * 1 + 1 * 0.8) / 1.25;  // the -> the, cat -> kitten
  const double a_car = (0.25 * r + 1 * 0) / 1.25;
  const double c_the = (0.25 * 1 + 1 * r) / 1.25, c_cat = (0.25 * r + 1 * 1) / 1.25;
  const RowMatrix<float> fact =
      PersonaRetriever(user, ps, scoring(ProfileScoring::max_sim)).score_all({"the cat"});
  EXPECT_NEAR(fact(0, 0), std::max(a_kitten, a_car), 1e-6);
  EXPECT_NEAR(fact(0, 1), a_car, 1e-6);
  EXPECT_NEAR(fact(0, 2), std::max(c_the, c_cat), 1e-6);
  const RowMatrix<float> pooled =
      PersonaRetriever(user, ps, scoring(ProfileScoring::max_sim_profile)).score_all({"the cat"});
  EXPECT_NEAR(pooled(0, 0), a_kitten, 1e-6);  // {the, kitten, car}
  EXPECT_NEAR(pooled(0, 1), a_car, 1e-6);
  EXPECT_NEAR(pooled(0, 2), 1.0, 1e-6);  // {the, cat}: both words found exactly
  // fused (no feedback) = z(max-fact) + z(max-sim-profile), per query over the pool.
  const RowMatrix<float> maxf =
      PersonaRetriever(user, ps, scoring(ProfileScoring::max_fact)).score_all({"the cat", "car"});
  const RowMatrix<float> prof = PersonaRetriever(user, ps, scoring(ProfileScoring::max_sim_profile))
                                    .score_all({"the cat", "car"});
  const RowMatrix<float> want = standardized(maxf) + standardized(prof);
  const RowMatrix<float> got =
      PersonaRetriever(user, ps, scoring(ProfileScoring::fused)).score_all({"the cat", "car"});
  EXPECT_TRUE(got.isApprox(want, 1e-5f)) << got << "\n" << want;
  // With feedback the fused scores run through both channels and stay finite.
  EXPECT_TRUE(PersonaRetriever(user, ps, scoring(ProfileScoring::fused, 2, 0.5))
                  .score_all({"the cat", "car", "zzz"})
                  .allFinite());
}

// The word-level scorings use nothing of SifEmbedder but its token vectors: the same vectors
// behind an adapter give the same bytes, for every scoring and with feedback.
TEST(TokenVectors, SifTokensBehindAnAdapterGiveTheSameBytes) {
  const auto sif = planted_sif();
  const auto adapted = make_embedder(SifThroughAdapterDouble{sif});
  const std::vector<io::PersonaRecord> ps = {
      fixture::persona("a", {"the nurse", "garden"}), fixture::persona("b", {"garden flowers"}),
      fixture::persona("c", {"the job", "flowers"}), fixture::persona("d", {"nurse job"})};
  const std::vector<std::string> queries = {"healthcare job", "the garden", "zzz"};
  for (const auto& o : {scoring(ProfileScoring::max_sim), scoring(ProfileScoring::max_sim_profile),
                        scoring(ProfileScoring::fused), scoring(ProfileScoring::fused, 2, 0.5)}) {
    const RowMatrix<float> a = PersonaRetriever(sif, ps, o).score_all(queries);
    const RowMatrix<float> b = PersonaRetriever(adapted, ps, o).score_all(queries);
    ASSERT_EQ(a.rows(), b.rows());
    for (Index q = 0; q < a.rows(); ++q)
      for (Index j = 0; j < a.cols(); ++j) EXPECT_EQ(a(q, j), b(q, j)) << to_string(o.scoring);
  }
}

TEST(FusedWithoutTokenVectors, FusesMaxFactWithTheWholeProfile) {
  const auto e = make_embedder(MarkersDouble{});
  const std::vector<io::PersonaRecord> ps = {
      fixture::persona("a", {"I am a nurse.", "I love my cat."}),
      fixture::persona("b", {"I play piano.", "I have a dog.", "I have a dog."}),
      fixture::persona("c", {"army army", "nurse"}), fixture::persona("d", {"my dog and my cat"})};
  const std::vector<std::string> queries = {"nurse", "dog cat", "piano army"};
  const RowMatrix<float> maxf =
      PersonaRetriever(e, ps, scoring(ProfileScoring::max_fact)).score_all(queries);
  const RowMatrix<float> whole =
      PersonaRetriever(e, ps, scoring(ProfileScoring::whole)).score_all(queries);
  const RowMatrix<float> want = standardized(maxf) + standardized(whole);
  const RowMatrix<float> plain =
      PersonaRetriever(e, ps, scoring(ProfileScoring::fused)).score_all(queries);
  EXPECT_TRUE(plain.isApprox(want, 1e-5f)) << plain << "\n" << want;
  // Feedback weight 0 feeds nothing back: the plain fusion, to the bit.
  const RowMatrix<float> zero =
      PersonaRetriever(e, ps, scoring(ProfileScoring::fused, 3, 0.0)).score_all(queries);
  EXPECT_TRUE(zero == plain);
  // Feedback (the defaults): the best facts of the top personas move the query. For "nurse" the
  // top personas a and c feed back "I am a nurse." and "nurse": the query keeps its direction,
  // so the ranking of the first query is the plain one.
  const PersonaRetriever fb(e, ps, RetrieverOptions{ProfileScoring::fused, {}});
  const RowMatrix<float> with = fb.score_all(queries);
  EXPECT_TRUE(with.allFinite());
  EXPECT_FALSE(with == plain);
  EXPECT_EQ(fb.search(queries, 2)[0][0].index, top_k_rows(plain, 2)[0][0].index);
}

TEST(FusedWithoutTokenVectors, WordLevelScoringsAreRefusedNamingTheCapability) {
  for (const auto& e : {make_embedder(MarkersDouble{}),
                        std::shared_ptr<Embedder>(std::make_shared<ProjectedEmbedder>(
                            planted_sif(), ProjectionHead::identity(3)))}) {
    for (auto sc : {ProfileScoring::max_sim, ProfileScoring::max_sim_profile}) {
      try {
        PersonaRetriever r(e, {fixture::persona("a", {"x"})}, scoring(sc));
        ADD_FAILURE() << "expected InvalidArgument";
      } catch (const InvalidArgument& x) {
        const std::string m = x.what();
        EXPECT_NE(m.find("'embedder'"), std::string::npos) << m;
        EXPECT_NE(m.find(to_string(sc) + " scoring needs token vectors"), std::string::npos) << m;
        EXPECT_NE(m.find(e->name()), std::string::npos) << m;
      }
    }
    // The others work.
    for (auto sc : {ProfileScoring::max_fact, ProfileScoring::whole, ProfileScoring::fused})
      EXPECT_EQ(PersonaRetriever(e, {fixture::persona("a", {"x"})}, scoring(sc))
                    .search({"x"}, 1)[0]
                    .size(),
                1u);
  }
  try {
    MaxSimScorer s(make_embedder(MarkersDouble{}), std::vector<std::string>{"a"});
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const InvalidArgument& x) {
    EXPECT_NE(std::string(x.what()).find("token vectors"), std::string::npos) << x.what();
  }
}
