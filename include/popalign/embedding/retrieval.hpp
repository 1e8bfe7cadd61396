#pragma once
// Persona retrieval: persona texts from JSONL, training pairs, and a retriever that ranks
// personas for free-text queries ("someone who works in healthcare").
//
// Persona files (JSONL, one object per line): {"id": ..., "persona": "text"} or the
// Synthetic-Persona-Chat form {"id": ..., "facts": ["I am a nurse.", ...]}. A "persona" string
// is split into sentences (facts) at '.', '!' or '?' followed by white space.
//
// Scoring a persona against a query (RetrieverOptions::scoring):
//   max_fact (default): the best cosine between the query and any one fact of the persona.
//     Profiles list unrelated facts ("I am a nurse. I love dogs. I hate winter."); averaging them
//     into one vector dilutes the fact a group query is about, the maximum does not.
//   whole: the cosine between the query and the embedding of all facts joined.
//   max_sim: late interaction over word vectors (late_interaction.hpp, MaxSimScorer): each
//     query word is matched with its most similar word of a fact, SIF-weighted average; the
//     persona scores by its best fact. Needs a SifEmbedder (InvalidArgument "embedder" else).
//     Handles "works in healthcare" -> "I am a nurse" far better than averaged vectors.
//   max_sim_profile: the same with all words of the persona pooled into one bag (a query word
//     may find its partner in any fact).
//   fused: score fusion of max_fact and max_sim_profile. For each query, each of the two score
//     vectors over the pool is standardised (minus its mean over the personas, divided by its
//     standard deviation; a constant vector becomes 0) and the two are added. The scorers fail
//     differently (max-fact: one vector per fact, dominated by the fact's overall topic;
//     max-sim-profile: word-level matches anywhere in the profile, fooled by template words
//     such as "works"), and standardising puts their scales on one footing without a tuned
//     weight. Chosen over reciprocal-rank fusion on the dev side (docs/retrieval.md). Needs a
//     SifEmbedder, like max_sim.
// Ties are broken by the lower persona index, so rankings are deterministic.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/embedding/contrastive.hpp>
#include <popalign/embedding/embedder.hpp>
#include <popalign/embedding/late_interaction.hpp>

namespace popalign::embedding {

struct PersonaText {
  std::string id;
  std::vector<std::string> facts;
  /// The facts joined by single spaces.
  std::string text() const;
};

/// Splits text into sentences at '.', '!' or '?' followed by white space (or the end); trims.
std::vector<std::string> split_sentences(std::string_view text);

/// Reads a persona file (see the file comment). Throws ParseError naming the file and line for a
/// malformed line, a missing id, or a line with neither "persona" nor "facts" (or an empty one).
std::vector<PersonaText> read_personas(const std::string& path);

/// Reads {"query": ..., "positive": ...} lines. ParseError with file and line on bad lines.
std::vector<TrainingPair> read_pairs(const std::string& path);
/// Writes pairs as JSONL (truncates the file).
void write_pairs(const std::vector<TrainingPair>& pairs, const std::string& path);

/// Inverse-cloze pairs from profiles: for every profile with >= 2 facts and every fact f,
/// (f, the other facts joined). Profiles in order, facts in order.
std::vector<TrainingPair> make_profile_pairs(const std::vector<PersonaText>& profiles);

enum class ProfileScoring { max_fact, whole, max_sim, max_sim_profile, fused };

/// "max-fact", "whole", "max-sim", "max-sim-profile", "fused" (the --scoring names).
std::string to_string(ProfileScoring scoring);
/// Inverse of to_string; InvalidArgument("scoring") for other names.
ProfileScoring parse_profile_scoring(const std::string& name);

struct RetrieverOptions {
  ProfileScoring scoring = ProfileScoring::max_fact;
  Execution execution{};
  void validate() const { execution.validate(); }
};

struct RetrievalHit {
  Index index = -1;  ///< position in personas()
  float score = 0;
};

/// Embeds the personas once (at construction) and answers queries. search() is const and
/// thread-safe if the embedder is.
class PersonaRetriever {
 public:
  PersonaRetriever(std::shared_ptr<const Embedder> embedder, std::vector<PersonaText> personas,
                   RetrieverOptions options = {});

  /// The k best personas per query (fewer when there are fewer personas), best first.
  std::vector<std::vector<RetrievalHit>> search(const std::vector<std::string>& queries,
                                                Index k) const;
  /// Scores of every persona for every query (queries x personas).
  RowMatrix<float> score_all(const std::vector<std::string>& queries) const;

  const std::vector<PersonaText>& personas() const noexcept { return personas_; }
  const Embedder& embedder() const noexcept { return *embedder_; }

 private:
  /// max_fact (also for fused) or whole cosines, queries x personas.
  RowMatrix<float> dense_scores(const std::vector<std::string>& queries) const;

  std::shared_ptr<const Embedder> embedder_;
  std::vector<PersonaText> personas_;
  RetrieverOptions options_;
  RowMatrix<float> vectors_;  ///< facts (max_fact, fused) or personas (whole), unit rows
  std::vector<Index> owner_;  ///< row -> persona (max_fact, max_sim, fused)
  std::shared_ptr<const MaxSimScorer> max_sim_;  ///< max_sim, max_sim_profile, fused
};

/// k best entries of each row of `scores` (higher first, lower index on ties).
std::vector<std::vector<RetrievalHit>> top_k_rows(const RowMatrix<float>& scores, Index k);

}  // namespace popalign::embedding
