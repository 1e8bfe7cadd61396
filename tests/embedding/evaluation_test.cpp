#include <gtest/gtest.h>

#include <popalign/embedding/contrastive.hpp>
#include <popalign/embedding/evaluation.hpp>
#include <popalign/embedding/projection_head.hpp>
#include <popalign/embedding/word_vectors.hpp>

#include "persona_fixture.hpp"

using namespace popalign;
using namespace popalign::embedding;

namespace {
const std::string kData = POPALIGN_DATA_DIR;
std::vector<std::string> facts_of(const std::vector<io::PersonaRecord>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.insert(out.end(), p.facts.begin(), p.facts.end());
  return out;
}
}  // namespace

TEST(Evaluation, SplitIsSeededAndDisjoint) {
  std::vector<io::PersonaRecord> ps;
  for (int i = 0; i < 100; ++i)
    ps.push_back(fixture::persona(std::to_string(i), {"fact " + std::to_string(i)}));
  const auto a = split_profiles(ps, 0.2, 7), b = split_profiles(ps, 0.2, 7),
             c = split_profiles(ps, 0.2, 8);
  ASSERT_EQ(a.test.size(), 20u);
  ASSERT_EQ(a.train.size(), 80u);
  std::vector<std::string> ids_a, ids_b, ids_c;
  for (const auto& p : a.test) ids_a.push_back(p.id);
  for (const auto& p : b.test) ids_b.push_back(p.id);
  for (const auto& p : c.test) ids_c.push_back(p.id);
  EXPECT_EQ(ids_a, ids_b);
  EXPECT_NE(ids_a, ids_c);
  for (const auto& t : a.train) EXPECT_EQ(std::find(ids_a.begin(), ids_a.end(), t.id), ids_a.end());
  EXPECT_THROW(split_profiles(ps, 1.5, 1), InvalidArgument);
}

TEST(Evaluation, VariantsOfOnePersonaStayOnOneSide) {
  // Profiles 0, 3, 5 are variants (shared facts, reordered / subset; case and punctuation
  // differ); 1 and 4 share a fact; 2 is alone.
  std::vector<io::PersonaRecord> ps = {fixture::persona("0", {"I am a nurse.", "I love dogs."}),
                                       fixture::persona("1", {"I fish.", "I am tall."}),
                                       fixture::persona("2", {"I paint."}),
                                       fixture::persona("3", {"i love dogs", "I hike."}),
                                       fixture::persona("4", {"I am tall!", "I sing."}),
                                       fixture::persona("5", {"I hike.", "I am a nurse."})};
  const auto g = persona_groups(ps);
  EXPECT_EQ(g, (std::vector<Index>{0, 1, 2, 0, 1, 0}));
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const auto split = split_profiles(ps, 0.5, seed);
    auto side = [&](const std::string& id) {
      for (const auto& p : split.test)
        if (p.id == id) return 1;
      return 0;
    };
    EXPECT_EQ(side("0"), side("3"));
    EXPECT_EQ(side("0"), side("5"));
    EXPECT_EQ(side("1"), side("4"));
    EXPECT_EQ(split.test.size() + split.train.size(), ps.size());
  }
}

TEST(Evaluation, KeywordFamiliesMatchWholeTokens) {
  const GroupSpec g{"health", "someone in healthcare", {"nurse", "health care"}};
  EXPECT_TRUE(profile_matches(fixture::persona("a", {"I love dogs.", "I am a Nurse."}), g));
  EXPECT_TRUE(profile_matches(fixture::persona("a", {"I work in health care."}), g));
  EXPECT_FALSE(profile_matches(fixture::persona("a", {"I run a nursery."}), g));
  EXPECT_FALSE(profile_matches(fixture::persona("a", {"health is wealth", "I care"}), g));
  const auto groups = read_groups(kData + "/embedding/groups.jsonl");
  EXPECT_GE(groups.size(), 10u);
  for (const auto& gr : groups) {
    EXPECT_FALSE(gr.description.empty());
    EXPECT_FALSE(gr.keywords.empty());
  }
}

// The fast version of docs/retrieval.md: on a subset of Synthetic-Persona-Chat (persona-group
// split, so no variant of a held-out persona is trained on), a head trained for two epochs must
// beat the untrained SIF embedder on held-out inverse cloze, and the default (untrained,
// max-fact) retriever must find group members well above their base rate.
TEST(Evaluation, TrainedHeadBeatsUntrainedOnHeldOutSubset) {
  auto wv = std::make_shared<const WordVectors>(
      load_word_vectors(kData + "/models/glove6b_100d_top40k.w2v.bin"));
  auto profiles =
      io::read_personas(kData + "/personas/synthetic_persona_chat_valid_test.jsonl").personas;
  profiles.resize(1500);
  const ProfileSplit split = split_profiles(profiles, 0.2, 2026);
  auto sif = std::make_shared<SifEmbedder>(wv);
  sif->fit_common_components(facts_of(split.train));
  const auto pairs = make_profile_pairs(split.train);
  ContrastiveOptions o{.epochs = 2, .batch_size = 64, .seed = 1};
  const ContrastiveResult r = train_projection_head(*sif, pairs, o);
  EXPECT_LT(r.epoch_loss.back(), r.epoch_loss.front());
  const ClozeMetrics before = evaluate_inverse_cloze(sif, split.test, 2027);
  const ClozeMetrics after =
      evaluate_inverse_cloze(std::make_shared<ProjectedEmbedder>(sif, r.head), split.test, 2027);
  EXPECT_EQ(before.queries, static_cast<Index>(split.test.size()));
  EXPECT_GT(after.recall_at_10, before.recall_at_10)
      << before.recall_at_10 << " -> " << after.recall_at_10;

  // Group descriptions with the default (untrained, max-fact) retriever, one profile per
  // persona group of the subset: far above the base rate.
  const std::vector<io::PersonaRecord> dedup = one_profile_per_persona(profiles);
  const PersonaRetriever retriever(sif, dedup);
  const auto groups = read_groups(kData + "/embedding/groups.jsonl");
  const auto gm = evaluate_groups(retriever, groups);
  double p10 = 0, base_rate = 0;
  for (const auto& m : gm) {
    p10 += m.precision_at_10;
    base_rate += static_cast<double>(m.relevant) / static_cast<double>(dedup.size());
  }
  p10 /= static_cast<double>(gm.size());
  base_rate /= static_cast<double>(gm.size());
  EXPECT_GT(p10, 2 * base_rate) << "mean precision@10 " << p10 << ", base rate " << base_rate;
}

// docs/retrieval.md, strict group measure: one profile per persona group of the whole data set
// (173 personas; no training involved), mean precision@10 over the 14 group descriptions. The
// default scoring of `retrieve` (fused with pseudo-relevance feedback, m = 3, beta = 0.25)
// measured 0.621 there (once, after the choice on dev), the plain fusion 0.593, max-fact 0.543;
// this fails if either fusion regresses toward max-fact or below.
TEST(Evaluation, FusedScoringBeatsMaxFactOnDistinctPersonas) {
  auto wv = std::make_shared<const WordVectors>(
      load_word_vectors(kData + "/models/glove6b_100d_top40k.w2v.bin"));
  const auto profiles =
      io::read_personas(kData + "/personas/synthetic_persona_chat_valid_test.jsonl").personas;
  const std::vector<io::PersonaRecord> dedup = one_profile_per_persona(profiles);
  ASSERT_EQ(dedup.size(), 173u);
  auto sif = std::make_shared<SifEmbedder>(wv);
  sif->fit_common_components(facts_of(profiles));
  const auto groups = read_groups(kData + "/embedding/groups.jsonl");
  auto mean_p10 = [&](const RetrieverOptions& o) {
    const auto gm = evaluate_groups(PersonaRetriever(sif, dedup, o), groups);
    double p = 0;
    for (const auto& m : gm) p += m.precision_at_10;
    return p / static_cast<double>(gm.size());
  };
  RetrieverOptions plain{ProfileScoring::fused, {}};
  plain.feedback_personas = 0;
  const double fused = mean_p10(plain);
  const double feedback = mean_p10(RetrieverOptions{ProfileScoring::fused, {}});
  const double max_fact = mean_p10(RetrieverOptions{ProfileScoring::max_fact, {}});
  EXPECT_GE(fused, 0.59) << "fused " << fused << ", max-fact " << max_fact;
  EXPECT_GE(fused, max_fact + 0.04) << "fused " << fused << ", max-fact " << max_fact;
  EXPECT_GE(feedback, 0.62) << "fused + feedback " << feedback << ", fused " << fused;
}

// docs/retrieval.md, "query-side candidates": pseudo-relevance feedback became the default of
// `fused` because it beat the plain fusion on BOTH dev pools (one profile per persona of the
// dev-train and dev-test sides of the training side of the persona-group split): P@10 0.507 vs
// 0.493 and 0.250 vs 0.243, P@20 0.346 vs 0.336 and 0.143 vs 0.143. Fails if that regresses.
TEST(Evaluation, FeedbackBeatsPlainFusionOnBothDevPools) {
  auto wv = std::make_shared<const WordVectors>(
      load_word_vectors(kData + "/models/glove6b_100d_top40k.w2v.bin"));
  const auto profiles =
      io::read_personas(kData + "/personas/synthetic_persona_chat_valid_test.jsonl").personas;
  const ProfileSplit outer = split_profiles(profiles, 0.2, 2026);
  const ProfileSplit dev = split_profiles(outer.train, 0.25, 2028);
  const auto groups = read_groups(kData + "/embedding/groups.jsonl");
  double gain10 = 0;
  for (const auto* side : {&dev.train, &dev.test}) {
    const std::vector<io::PersonaRecord> dedup = one_profile_per_persona(*side);
    auto sif = std::make_shared<SifEmbedder>(wv);
    sif->fit_common_components(facts_of(*side));
    auto mean_p = [&](const RetrieverOptions& o) {
      const auto gm = evaluate_groups(PersonaRetriever(sif, dedup, o), groups);
      std::pair<double, double> p{0, 0};
      for (const auto& m : gm) {
        p.first += m.precision_at_10;
        p.second += m.precision_at_20;
      }
      p.first /= static_cast<double>(gm.size());
      p.second /= static_cast<double>(gm.size());
      return p;
    };
    RetrieverOptions plain{ProfileScoring::fused, {}};
    plain.feedback_personas = 0;
    const auto before = mean_p(plain);
    const auto after = mean_p(RetrieverOptions{ProfileScoring::fused, {}});
    EXPECT_GE(after.first, before.first) << dedup.size() << " personas";
    EXPECT_GE(after.second, before.second - 1e-9) << dedup.size() << " personas";
    gain10 += after.first - before.first;
  }
  EXPECT_GT(gain10, 0.01);
}
