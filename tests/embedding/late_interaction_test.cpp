#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <popalign/embedding/late_interaction.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/embedding/word_vectors.hpp>

#include "persona_fixture.hpp"

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
  const std::vector<io::PersonaRecord> ps = {fixture::persona("gardener", {"garden flowers"}),
                                             fixture::persona("nurse", {"the nurse"})};
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
  const std::vector<io::PersonaRecord> ps = {fixture::persona("split", {"healthcare", "job"}),
                                             fixture::persona("one", {"nurse job"})};
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
    PersonaRetriever r(make_embedder(Ones{}), {fixture::persona("a", {"x"})},
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
  const std::vector<io::PersonaRecord> ps = {
      fixture::persona("a", {"the nurse", "garden"}), fixture::persona("b", {"garden flowers"}),
      fixture::persona("c", {"the job", "flowers"}), fixture::persona("d", {"zzz unknown"})};
  const std::vector<std::string> queries = {"healthcare job", "the garden"};
  auto scores = [&](ProfileScoring sc) {
    RetrieverOptions o{sc, {}};
    o.feedback_personas = 0;  // the plain fusion; feedback is tested below
    return PersonaRetriever(sif, ps, o).score_all(queries);
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
  const std::vector<io::PersonaRecord> same = {fixture::persona("x", {"zzz"}),
                                               fixture::persona("y", {"qqq"})};
  const RowMatrix<float> g =
      PersonaRetriever(sif, same, RetrieverOptions{ProfileScoring::fused, {}}).score_all(queries);
  // (with the default feedback too: the fed-back facts have no known words)
  EXPECT_TRUE(g.allFinite());
  EXPECT_EQ(g.cwiseAbs().maxCoeff(), 0.0f);
  EXPECT_EQ(parse_profile_scoring("fused"), ProfileScoring::fused);
  EXPECT_EQ(to_string(ProfileScoring::fused), "fused");
}

TEST(MaxSim, WeightedQueriesMatchTheFormulaAndTheTextForm) {
  const auto sif = planted_sif();
  const WordVectors& wv = sif->word_vectors();
  const MaxSimScorer scorer(sif, std::vector<std::string>{"the nurse", "garden flowers", "zzz"});
  // The text form is the weighted form with SIF weights, bytes included.
  const std::vector<std::string> texts = {"healthcare job", "the the garden", "qqq"};
  std::vector<WeightedQuery> wq;
  for (const auto& t : texts) wq.push_back(scorer.weighted_words(t));
  EXPECT_TRUE(scorer.score(texts) == scorer.score_weighted(wq));
  ASSERT_EQ(wq[1].rows.size(), 3u);  // repeats kept, in order
  EXPECT_EQ(wq[1].rows[0], wv.find("the"));
  EXPECT_EQ(wq[1].weights[2], sif->weight(wv.find("garden")));
  EXPECT_TRUE(wq[2].rows.empty());
  // Explicit weights: sum_i w_i max_j cos / sum_i w_i; a repeated row adds its weights.
  const Index h = wv.find("healthcare"), f = wv.find("flowers");
  const WeightedQuery x{{h, f, h}, {0.5, 2.0, 1.0}};
  const RowMatrix<float> s = scorer.score_weighted({x});
  auto best = [&](const std::string& q, std::initializer_list<const char*> doc) {
    float b = -2;
    for (const char* d : doc) b = std::max(b, cosine(wv, q, d));
    return static_cast<double>(b);
  };
  const double expect0 =
      (1.5 * best("healthcare", {"the", "nurse"}) + 2.0 * best("flowers", {"the", "nurse"})) / 3.5;
  const double expect1 = (1.5 * best("healthcare", {"garden", "flowers"}) + 2.0 * 1.0) / 3.5;
  EXPECT_NEAR(s(0, 0), expect0, 1e-5);
  EXPECT_NEAR(s(0, 1), expect1, 1e-5);
  EXPECT_EQ(s(0, 2), 0.0f);
  EXPECT_EQ(scorer.score_weighted({WeightedQuery{{h}, {0.0}}}).cwiseAbs().maxCoeff(), 0.0f);
  // Bad queries name the argument.
  for (const WeightedQuery& bad :
       {WeightedQuery{{h}, {}}, WeightedQuery{{wv.size()}, {1.0}}, WeightedQuery{{-1}, {1.0}},
        WeightedQuery{{h}, {-0.5}}, WeightedQuery{{h}, {std::nan("")}}}) {
    try {
      (void)scorer.score_weighted({bad});
      ADD_FAILURE() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("queries"), std::string::npos) << e.what();
    }
  }
}

namespace {
Eigen::RowVectorXd zscore(Eigen::RowVectorXd x) {
  const double m = x.mean();
  const double sd = std::sqrt((x.array() - m).square().mean());
  return sd > 0 ? Eigen::RowVectorXd((x.array() - m) / sd) : Eigen::RowVectorXd::Zero(x.size());
}

const std::vector<io::PersonaRecord>& feedback_pool() {
  static const std::vector<io::PersonaRecord> ps = {
      fixture::persona("a", {"the nurse", "garden"}),
      fixture::persona("b", {"garden flowers"}),
      fixture::persona("c", {"the job", "flowers"}),
      fixture::persona("d", {"nurse job", "the the"}),
      fixture::persona("e", {"flowers flowers garden"}),
      fixture::persona("f", {"zzz unknown"})};
  return ps;
}
}  // namespace

// retrieval.hpp, pseudo-relevance feedback: recomputed here from the public pieces (max-fact and
// max-sim-profile scores, SIF fact vectors, MaxSimScorer::score_weighted).
TEST(Fused, FeedbackMatchesTheRocchioFormula) {
  const auto sif = planted_sif();
  const auto& ps = feedback_pool();
  const std::vector<std::string> queries = {"healthcare", "the garden", "qqq unknown"};
  const Index m = 2;
  const double beta = 0.5;
  RetrieverOptions fo{ProfileScoring::fused, {}};
  fo.feedback_personas = m;
  fo.feedback_weight = beta;
  const RowMatrix<float> got = PersonaRetriever(sif, ps, fo).score_all(queries);
  RetrieverOptions plain = fo;
  plain.feedback_personas = 0;
  const RowMatrix<float> before = PersonaRetriever(sif, ps, plain).score_all(queries);

  // Fact vectors and the pooled-profile scorer.
  std::vector<std::string> facts;
  std::vector<Index> owner;
  std::vector<std::vector<std::string>> docs;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    docs.push_back(ps[i].facts);
    for (const auto& f : ps[i].facts) {
      facts.push_back(f);
      owner.push_back(static_cast<Index>(i));
    }
  }
  const RowMatrix<float> fv = sif->embed(facts);
  const MaxSimScorer pooled(sif, docs);
  const auto np = static_cast<Index>(ps.size());
  auto max_fact = [&](const Eigen::RowVectorXf& q, std::vector<Index>* arg) {
    Eigen::RowVectorXd out = Eigen::RowVectorXd::Constant(np, -1e30);
    if (arg) arg->assign(ps.size(), -1);
    for (Index j = 0; j < fv.rows(); ++j) {
      const double c = fv.row(j).dot(q);
      if (c > out[owner[static_cast<std::size_t>(j)]]) {
        out[owner[static_cast<std::size_t>(j)]] = c;
        if (arg) (*arg)[static_cast<std::size_t>(owner[static_cast<std::size_t>(j)])] = j;
      }
    }
    return out;
  };
  bool changed = false;
  for (std::size_t q = 0; q < queries.size(); ++q) {
    const Eigen::RowVectorXf qv = sif->embed({queries[q]}).row(0);
    std::vector<Index> arg;
    const Eigen::RowVectorXd a = max_fact(qv, &arg);
    const Eigen::RowVectorXd b = pooled.score({queries[q]}).row(0).cast<double>();
    const Eigen::RowVectorXd f = zscore(a) + zscore(b);
    for (Index j = 0; j < np; ++j) ASSERT_NEAR(before(static_cast<Index>(q), j), f[j], 1e-5);
    if (qv.squaredNorm() == 0) {  // no known words: no feedback
      EXPECT_TRUE(got.row(static_cast<Index>(q)) == before.row(static_cast<Index>(q)));
      continue;
    }
    // The m best fused personas (ties: lower index) and their best facts.
    std::vector<Index> order(ps.size());
    for (Index j = 0; j < np; ++j) order[static_cast<std::size_t>(j)] = j;
    const auto fr = before.row(static_cast<Index>(q));
    std::stable_sort(order.begin(), order.end(), [&](Index x, Index y) { return fr[x] > fr[y]; });
    Eigen::RowVectorXd centroid = Eigen::RowVectorXd::Zero(qv.size());
    WeightedQuery wq = pooled.weighted_words(queries[q]);
    const double wsum = std::accumulate(wq.weights.begin(), wq.weights.end(), 0.0);
    for (Index k = 0; k < m; ++k) {
      const Index fact = arg[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])];
      centroid += fv.row(fact).cast<double>();
      const WeightedQuery fw = pooled.weighted_words(facts[static_cast<std::size_t>(fact)]);
      const double fsum = std::accumulate(fw.weights.begin(), fw.weights.end(), 0.0);
      for (std::size_t i = 0; i < fw.rows.size(); ++i) {
        wq.rows.push_back(fw.rows[i]);
        wq.weights.push_back(beta * wsum * fw.weights[i] / fsum / static_cast<double>(m));
      }
    }
    Eigen::RowVectorXd q2 = qv.cast<double>() + beta * centroid / static_cast<double>(m);
    q2 /= q2.norm();
    const Eigen::RowVectorXd a2 = max_fact(q2.cast<float>(), nullptr);
    const Eigen::RowVectorXd b2 = pooled.score_weighted({wq}).row(0).cast<double>();
    const Eigen::RowVectorXd expect = zscore(a2) + zscore(b2);
    for (Index j = 0; j < np; ++j) {
      EXPECT_NEAR(got(static_cast<Index>(q), j), expect[j], 1e-4) << q << " " << j;
      if (std::abs(got(static_cast<Index>(q), j) - before(static_cast<Index>(q), j)) > 1e-3)
        changed = true;
    }
  }
  EXPECT_TRUE(changed) << "feedback must change the scores of this pool";
}

TEST(Fused, FeedbackIsDeterministicValidatedAndOffAtZero) {
  const auto sif = planted_sif();
  const auto& ps = feedback_pool();
  std::vector<std::string> queries;
  const std::vector<std::string> vocab = {"the", "healthcare", "job", "nurse", "flowers", "garden"};
  for (int i = 0; i < 23; ++i)
    queries.push_back(vocab[static_cast<std::size_t>(i % 6)] + " " +
                      vocab[static_cast<std::size_t>((i * 5 + 1) % 6)]);
  RetrieverOptions one{ProfileScoring::fused, {}}, two{ProfileScoring::fused, {}};
  one.execution.threads = 1;
  two.execution.threads = 2;
  EXPECT_EQ(one.feedback_personas, 3);  // the dev-chosen defaults (docs/retrieval.md)
  EXPECT_EQ(one.feedback_weight, 0.25);
  const PersonaRetriever r1(sif, ps, one), r2(sif, ps, two);
  const RowMatrix<float> a = r1.score_all(queries), b = r2.score_all(queries),
                         c = r2.score_all(queries);
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(b == c);
  EXPECT_TRUE(a.allFinite());
  // beta = 0 is the plain fusion (up to the re-normalisation of the unit query).
  RetrieverOptions zero = one, off = one;
  zero.feedback_weight = 0;
  off.feedback_personas = 0;
  const RowMatrix<float> z = PersonaRetriever(sif, ps, zero).score_all(queries);
  const RowMatrix<float> o = PersonaRetriever(sif, ps, off).score_all(queries);
  EXPECT_LT((z - o).cwiseAbs().maxCoeff(), 1e-5f);
  // m larger than the pool feeds back every persona.
  RetrieverOptions big = one;
  big.feedback_personas = 1000;
  EXPECT_TRUE(PersonaRetriever(sif, ps, big).score_all(queries).allFinite());
  // Options are validated, naming the field.
  for (auto bad : {std::pair<Index, double>{-1, 0.25}, {3, -0.1}, {3, std::nan("")}}) {
    RetrieverOptions o2{ProfileScoring::fused, {}};
    o2.feedback_personas = bad.first;
    o2.feedback_weight = bad.second;
    try {
      PersonaRetriever r(sif, ps, o2);
      ADD_FAILURE() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(bad.first < 0 ? "feedback_personas" : "feedback_weight"),
                std::string::npos)
          << e.what();
    }
  }
}
