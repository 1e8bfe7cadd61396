#pragma once
// Retrieval quality measures on persona profiles (docs/retrieval.md reports them).
//
// Persona groups: data sets like Synthetic-Persona-Chat hold many variants of one persona (the
// same facts reordered, or a subset). persona_groups() joins profiles that share a fact
// (normalised: tokenize() tokens joined by spaces) into one group (union-find), so that
// evaluation never trains on one variant and tests on another.
//
// Split: split_profiles shuffles the persona GROUPS with popalign::Rng(seed) and holds out whole
// groups, in shuffled order, until round(holdout_fraction * n) profiles are held out; training
// uses the other groups only.
//
// Inverse cloze (Lee et al. 2019): for every held-out profile with >= 2 facts, one fact (chosen
// with Rng(seed)) is the query and the profile's OTHER facts are its document; the documents of
// all held-out profiles of OTHER persona groups compete with it (variants of the same persona
// are left out of its ranking: they contain the query fact verbatim). Reported: recall@1,
// recall@10 and the mean reciprocal rank of the own document (rank = 1 + number of competing
// documents scoring strictly higher).
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
  std::vector<io::PersonaRecord> train;
  std::vector<io::PersonaRecord> test;
};

/// Group id per profile (0-based, in order of first appearance); profiles sharing at least one
/// normalised fact get the same id.
std::vector<Index> persona_groups(const std::vector<io::PersonaRecord>& profiles);

/// The first profile of every persona group (persona_groups), in input order: the pool of
/// distinct personas the strict group-description measure is computed on.
std::vector<io::PersonaRecord> one_profile_per_persona(
    const std::vector<io::PersonaRecord>& profiles);

ProfileSplit split_profiles(const std::vector<io::PersonaRecord>& profiles, double holdout_fraction,
                            std::uint64_t seed);

struct ClozeMetrics {
  Index queries = 0;
  double recall_at_1 = 0;
  double recall_at_10 = 0;
  double mrr = 0;
};

ClozeMetrics evaluate_inverse_cloze(std::shared_ptr<const Embedder> embedder,
                                    const std::vector<io::PersonaRecord>& profiles,
                                    std::uint64_t seed,
                                    ProfileScoring scoring = ProfileScoring::whole,
                                    const Execution& execution = {});
/// The same with full retriever options (e.g. fused with or without feedback).
ClozeMetrics evaluate_inverse_cloze(std::shared_ptr<const Embedder> embedder,
                                    const std::vector<io::PersonaRecord>& profiles,
                                    std::uint64_t seed, const RetrieverOptions& options);

struct GroupSpec {
  std::string name;
  std::string description;            ///< the query
  std::vector<std::string> keywords;  ///< single words or short phrases
};

/// Reads {"name", "description", "keywords": [...]} lines. ParseError with file and line.
std::vector<GroupSpec> read_groups(const std::string& path);

/// True when a fact of `profile` contains one of the group's keywords (see the file comment).
bool profile_matches(const io::PersonaRecord& profile, const GroupSpec& group);

struct GroupMetrics {
  std::string name;
  Index relevant = 0;  ///< relevant profiles in the pool
  double precision_at_10 = 0;
  double precision_at_20 = 0;
  Index distinct_at_10 = 0;  ///< persona groups among the first 10 hits (variants collapse)
};

std::vector<GroupMetrics> evaluate_groups(const PersonaRetriever& retriever,
                                          const std::vector<GroupSpec>& groups);

}  // namespace popalign::embedding
