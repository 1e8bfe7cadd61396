#pragma once
// Retrieval quality measures on persona profiles (docs/retrieval.md reports them).
//
// Split: split_profiles shuffles profile indices with popalign::Rng(seed) and holds out the
// first round(holdout_fraction * n); training uses the rest only.
//
// Inverse cloze (Lee et al. 2019): for every held-out profile with >= 2 facts, one fact (chosen
// with Rng(seed)) is the query and the profile's OTHER facts are its document; all held-out
// documents compete. Reported: recall@1, recall@10 and the mean reciprocal rank of the own
// document (rank = 1 + number of documents scoring strictly higher).
//
// Group descriptions: a GroupSpec is a query ("someone who works in healthcare") and a keyword
// family; a profile is relevant when one of its facts contains a keyword as a whole token
// sequence (tokenize() rules, so "nurse" matches "I am a nurse." but not "nursery").
// precision@k = relevant profiles among the k retrieved, over k.
#include <cstdint>
#include <string>
#include <vector>

#include <popalign/embedding/retrieval.hpp>

namespace popalign::embedding {

struct ProfileSplit {
  std::vector<PersonaText> train;
  std::vector<PersonaText> test;
};

ProfileSplit split_profiles(const std::vector<PersonaText>& profiles, double holdout_fraction,
                            std::uint64_t seed);

struct ClozeMetrics {
  Index queries = 0;
  double recall_at_1 = 0;
  double recall_at_10 = 0;
  double mrr = 0;
};

ClozeMetrics evaluate_inverse_cloze(std::shared_ptr<const Embedder> embedder,
                                    const std::vector<PersonaText>& profiles, std::uint64_t seed,
                                    ProfileScoring scoring = ProfileScoring::whole,
                                    const Execution& execution = {});

struct GroupSpec {
  std::string name;
  std::string description;            ///< the query
  std::vector<std::string> keywords;  ///< single words or short phrases
};

/// Reads {"name", "description", "keywords": [...]} lines. ParseError with file and line.
std::vector<GroupSpec> read_groups(const std::string& path);

/// True when a fact of `profile` contains one of the group's keywords (see the file comment).
bool profile_matches(const PersonaText& profile, const GroupSpec& group);

struct GroupMetrics {
  std::string name;
  Index relevant = 0;  ///< relevant profiles in the pool
  double precision_at_10 = 0;
  double precision_at_20 = 0;
};

std::vector<GroupMetrics> evaluate_groups(const PersonaRetriever& retriever,
                                          const std::vector<GroupSpec>& groups);

}  // namespace popalign::embedding
