#include <gtest/gtest.h>

#include <cmath>
#include <popalign/embedding/late_interaction.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/embedding/word_vectors.hpp>

using namespace popalign;
using namespace popalign::embedding;

namespace {
// Hand-made 3-d vectors. "nurse" is a near-synonym of "healthcare" (cos 0.9); "flowers" and
// "garden" are each only mildly related to both query words, but their AVERAGE points exactly
// along the average of "healthcare job".
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

float cosine(const WordVectors& wv, const std::string& a, const std::string& b) {
  const auto x = wv.vectors().row(wv.find(a)), y = wv.vectors().row(wv.find(b));
  return x.dot(y) / (x.norm() * y.norm());
}
}  // namespace

TEST(MaxSim, MatchesTheFormula) {
  const auto sif = planted_sif();
  const WordVectors& wv = sif->word_vectors();
  const MaxSimScorer scorer(sif, std::vector<std::string>{"the nurse", "garden flowers", "zzz"});
  const RowMatrix<float> s = scorer.score({"healthcare job", "qqq unknown"});
  ASSERT_EQ(s.rows(), 2);
  ASSERT_EQ(s.cols(), 3);
  const double wh = sif->weight(wv.find("healthcare")), wj = sif->weight(wv.find("job"));
  auto best = [&](const std::string& q, std::initializer_list<const char*> doc) {
    float b = -2;
    for (const char* d : doc) b = std::max(b, cosine(wv, q, d));
    return static_cast<double>(b);
  };
  const double expect0 =
      (wh * best("healthcare", {"the", "nurse"}) + wj * best("job", {"the", "nurse"})) / (wh + wj);
  const double expect1 =
      (wh * best("healthcare", {"garden", "flowers"}) + wj * best("job", {"garden", "flowers"})) /
      (wh + wj);
  EXPECT_NEAR(s(0, 0), expect0, 1e-5);
  EXPECT_NEAR(s(0, 1), expect1, 1e-5);
  EXPECT_EQ(s(0, 2), 0.0f);  // document without known words
  EXPECT_EQ(s(1, 0), 0.0f);  // query without known words
  EXPECT_EQ(s(1, 1), 0.0f);
}

TEST(MaxSim, FindsTheSynonymThatAveragedVectorsRankLower) {
  const auto sif = planted_sif();
  const std::vector<PersonaText> ps = {{"gardener", {"garden flowers"}}, {"nurse", {"the nurse"}}};
  const PersonaRetriever averaged(sif, ps, RetrieverOptions{ProfileScoring::max_fact, {}});
  const PersonaRetriever late(sif, ps, RetrieverOptions{ProfileScoring::max_sim, {}});
  // SIF averages: "garden flowers" points along (1,1,0), exactly like the query.
  EXPECT_EQ(averaged.search({"healthcare job"}, 2)[0][0].index, 0);
  // MaxSim: "healthcare" finds "nurse" (0.9) and outweighs the loss on "job".
  const auto hits = late.search({"healthcare job"}, 2);
  EXPECT_EQ(hits[0][0].index, 1);
  EXPECT_GT(hits[0][0].score, hits[0][1].score);
}

TEST(MaxSim, BestFactVersusPooledProfile) {
  const auto sif = planted_sif();
  // "healthcare" and "job" are each matched exactly, but in different facts of persona 0.
  const std::vector<PersonaText> ps = {{"split", {"healthcare", "job"}}, {"one", {"nurse job"}}};
  const PersonaRetriever fact(sif, ps, RetrieverOptions{ProfileScoring::max_sim, {}});
  const PersonaRetriever pooled(sif, ps, RetrieverOptions{ProfileScoring::max_sim_profile, {}});
  const RowMatrix<float> f = fact.score_all({"healthcare job"});
  const RowMatrix<float> p = pooled.score_all({"healthcare job"});
  EXPECT_NEAR(p(0, 0), 1.0f, 1e-5f);     // pooled: both words found exactly
  EXPECT_LT(f(0, 0), 0.99f);             // best single fact matches one word only
  EXPECT_NEAR(f(0, 1), p(0, 1), 1e-6f);  // one-fact persona: both modes agree
  EXPECT_GT(f(0, 1), f(0, 0));
  EXPECT_GT(p(0, 0), p(0, 1));
}

TEST(MaxSim, DeterministicAcrossThreadsAndCalls) {
  const auto sif = planted_sif();
  std::vector<std::string> docs, queries;
  const std::vector<std::string> vocab = {"the", "healthcare", "job", "nurse", "flowers", "garden"};
  for (int i = 0; i < 97; ++i) {
    docs.push_back(vocab[static_cast<std::size_t>(i % 6)] + " " +
                   vocab[static_cast<std::size_t>((i * 7 + 3) % 6)]);
    if (i < 41) queries.push_back(vocab[static_cast<std::size_t>((i * 5) % 6)] + " job");
  }
  const MaxSimScorer scorer(sif, docs);
  Execution one, two;
  one.threads = 1;
  two.threads = 2;
  const RowMatrix<float> a = scorer.score(queries, one);
  const RowMatrix<float> b = scorer.score(queries, two);
  const RowMatrix<float> c = scorer.score(queries, two);
  ASSERT_EQ(a.rows(), 41);
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(b == c);
  EXPECT_TRUE(a.allFinite());
  EXPECT_LE(a.maxCoeff(), 1.0f + 1e-6f);
  EXPECT_GE(a.minCoeff(), -1.0f - 1e-6f);
}

TEST(MaxSim, Errors) {
  EXPECT_THROW(MaxSimScorer(nullptr, std::vector<std::string>{"a"}), InvalidArgument);
  // max-sim needs word vectors: any other embedder is refused, naming the argument.
  struct Ones {
    RowMatrix<float> embed(const std::vector<std::string>& t) const {
      return RowMatrix<float>::Ones(static_cast<Index>(t.size()), 2);
    }
    Index dimension() const { return 2; }
    bool normalized() const { return false; }
  };
  try {
    PersonaRetriever r(make_embedder(Ones{}), {{"a", {"x"}}},
                       RetrieverOptions{ProfileScoring::max_sim, {}});
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("embedder"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_profile_scoring("max-sim"), ProfileScoring::max_sim);
  EXPECT_EQ(parse_profile_scoring("max-sim-profile"), ProfileScoring::max_sim_profile);
  EXPECT_EQ(to_string(ProfileScoring::whole), "whole");
  EXPECT_THROW(parse_profile_scoring("maxsim"), InvalidArgument);
}

TEST(Fused, IsTheSumOfStandardisedMaxFactAndMaxSimProfileScores) {
  const auto sif = planted_sif();
  const std::vector<PersonaText> ps = {{"a", {"the nurse", "garden"}},
                                       {"b", {"garden flowers"}},
                                       {"c", {"the job", "flowers"}},
                                       {"d", {"zzz unknown"}}};
  const std::vector<std::string> queries = {"healthcare job", "the garden"};
  auto scores = [&](ProfileScoring sc) {
    return PersonaRetriever(sif, ps, RetrieverOptions{sc, {}}).score_all(queries);
  };
  const RowMatrix<float> a = scores(ProfileScoring::max_fact);
  const RowMatrix<float> b = scores(ProfileScoring::max_sim_profile);
  const RowMatrix<float> f = scores(ProfileScoring::fused);
  ASSERT_EQ(f.rows(), 2);
  ASSERT_EQ(f.cols(), 4);
  auto z = [](Eigen::RowVectorXd x) {
    const double m = x.mean();
    const double sd = std::sqrt((x.array() - m).square().mean());
    return sd > 0 ? Eigen::RowVectorXd((x.array() - m) / sd) : Eigen::RowVectorXd::Zero(x.size());
  };
  for (Index q = 0; q < 2; ++q) {
    const Eigen::RowVectorXd expect = z(a.row(q).cast<double>()) + z(b.row(q).cast<double>());
    for (Index j = 0; j < 4; ++j) EXPECT_NEAR(f(q, j), expect[j], 1e-5) << q << " " << j;
  }
  // A pool where every persona scores the same contributes 0, not NaN.
  const std::vector<PersonaText> same = {{"x", {"zzz"}}, {"y", {"qqq"}}};
  const RowMatrix<float> g =
      PersonaRetriever(sif, same, RetrieverOptions{ProfileScoring::fused, {}}).score_all(queries);
  EXPECT_TRUE(g.allFinite());
  EXPECT_EQ(g.cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_EQ(parse_profile_scoring("fused"), ProfileScoring::fused);
  EXPECT_EQ(to_string(ProfileScoring::fused), "fused");
}
