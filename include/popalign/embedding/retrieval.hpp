#pragma once
// Persona retrieval: training pairs, and a retriever that ranks personas for free-text queries
// ("someone who works in healthcare").
//
// Personas are io::PersonaRecord (popalign/io/persona_record.hpp), read with io::read_personas:
// {"id": ..., "persona": "text"} or the Synthetic-Persona-Chat form {"id": ..., "facts": ["I am
// a nurse.", ...]}. Retrieval works on the record's `facts` (a "persona" string is split into
// sentences at '.', '!' or '?' followed by white space); a persona "as a whole" is
// facts_text(), the facts joined by single spaces.
//
// Scoring a persona against a query (RetrieverOptions::scoring):
//   max_fact (the library's default; `retrieve` uses fused): the best cosine between the query
//     and any one fact of the persona.
//     Profiles list unrelated facts ("I am a nurse. I love dogs. I hate winter."); averaging them
//     into one vector dilutes the fact a group query is about, the maximum does not.
//   whole: the cosine between the query and the embedding of all facts joined.
//   max_sim: late interaction over word vectors (late_interaction.hpp, MaxSimScorer): each
//     query word is matched with its most similar word of a fact, SIF-weighted average; the
//     persona scores by its best fact. Needs an embedder with token vectors (embedder.hpp,
//     Embedder::token_vectors(): SifEmbedder, or a user's embedder that offers them);
//     InvalidArgument("embedder") naming the scoring otherwise (an HTTP embedder, a head).
//     Handles "works in healthcare" -> "I am a nurse" far better than averaged vectors.
//   max_sim_profile: the same with all words of the persona pooled into one bag (a query word
//     may find its partner in any fact).
//   fused: score fusion of max_fact and max_sim_profile. For each query, each of the two score
//     vectors over the pool is standardised (minus its mean over the personas, divided by its
//     standard deviation; a constant vector becomes 0) and the two are added. The scorers fail
//     differently (max-fact: one vector per fact, dominated by the fact's overall topic;
//     max-sim-profile: word-level matches anywhere in the profile, fooled by template words
//     such as "works"), and standardising puts their scales on one footing without a tuned
//     weight. Chosen over reciprocal-rank fusion on the dev side (docs/retrieval.md).
//     Without token vectors (an HTTP embedder, a head) the second channel is `whole` instead:
//     z(max_fact) + z(whole), the fact-level and the profile-level view of the same embedder,
//     with the feedback below on the max-fact query vector only (re-scoring both channels).
//     Measured on the dev pools (docs/retrieval.md) it is level with max_fact (P@10 a little
//     higher, P@20 a little lower); `retrieve --scoring auto` therefore keeps max_fact for such
//     embedders, and fused is there for whoever asks for it.
//
// Pseudo-relevance feedback for `fused` (RetrieverOptions::feedback_personas = m,
// feedback_weight = beta; Rocchio 1971, in the form of query-side feedback without judgements):
//   1. fuse as above and take the m best personas (ties: lower index); for each, its best fact
//      for the query (the fact with the highest max-fact cosine, ties: the earlier fact);
//   2. max-fact channel: q' = q + beta * mean of those m fact vectors (q and the fact vectors
//      are the unit SIF vectors already used), re-normalised; every persona is re-scored by its
//      best-fact cosine with q';
//   3. max-sim-profile channel (with token vectors; without them the whole channel is re-scored
//      with q'): the query's words keep their SIF weights w(t) (sum W); the words
//      of each fed-back fact f are added with weight beta * W * w(u) / sum_{u' in f} w(u') / m,
//      i.e. each fact contributes a SIF-weighted word distribution, the m facts are averaged,
//      and the feedback carries beta times the query's own mass (MaxSimScorer::score_weighted);
//   4. the two re-scored channels are standardised and added, as in step 1.
// Why: a group description names the group by a general word ("healthcare", "pets"), while the
// personas that belong to it mention specific ones ("nurse", "my dog"). When the first
// retrieved personas are right, their best facts carry those specific words, and adding them to
// the query lets other personas that mention the same specifics rise; when they are wrong (small
// pools with few group members), the query drifts off topic, hence the light weight. Only the
// retrieved texts are used: no keyword list, no topic list. m = 3 and beta = 0.25 were chosen on
// the dev split among m in {3, 5, 10} x beta in {0.25, 0.5, 1}; the measured gain is small and
// was seen on pools of 100+ personas only (docs/retrieval.md). feedback_personas = 0 switches
// feedback off (plain fusion). A query without known words gets no feedback. Cost: a second
// scoring pass (about twice the plain fusion). The other scorings ignore these options.
// Ties are broken by the lower persona index, so rankings are deterministic.
#include <cmath>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/embedding/contrastive.hpp>
#include <popalign/embedding/embedder.hpp>
#include <popalign/embedding/late_interaction.hpp>
#include <popalign/io/persona_record.hpp>

namespace popalign::embedding {

/// Reads {"query": ..., "positive": ...} lines. ParseError with file and line on bad lines.
std::vector<TrainingPair> read_pairs(const std::string& path);
/// Writes pairs as JSONL (truncates the file).
void write_pairs(const std::vector<TrainingPair>& pairs, const std::string& path);

/// Inverse-cloze pairs from profiles: for every profile with >= 2 facts and every fact f,
/// (f, the other facts joined). Profiles in order, facts in order.
std::vector<TrainingPair> make_profile_pairs(const std::vector<io::PersonaRecord>& profiles);

enum class ProfileScoring { max_fact, whole, max_sim, max_sim_profile, fused };

/// "max-fact", "whole", "max-sim", "max-sim-profile", "fused" (the --scoring names).
std::string to_string(ProfileScoring scoring);
/// Inverse of to_string; InvalidArgument("scoring") for other names.
ProfileScoring parse_profile_scoring(const std::string& name);

struct RetrieverOptions {
  ProfileScoring scoring = ProfileScoring::max_fact;
  Execution execution{};
  /// Pseudo-relevance feedback of `fused` (file comment): the m best personas feed back their
  /// best facts; 0 = no feedback. Dev-chosen default 3.
  Index feedback_personas = 3;
  /// beta, the weight of the fed-back facts relative to the query (>= 0). Dev-chosen 0.25.
  double feedback_weight = 0.25;
  void validate() const {
    execution.validate();
    check_argument(feedback_personas >= 0, "feedback_personas", "must be >= 0 (0 = no feedback)");
    check_argument(std::isfinite(feedback_weight) && feedback_weight >= 0, "feedback_weight",
                   "must be finite and >= 0");
  }
};

struct RetrievalHit {
  Index index = -1;  ///< position in personas()
  float score = 0;
};

/// Embeds the personas once (at construction) and answers queries. search() is const and
/// thread-safe if the embedder is.
class PersonaRetriever {
 public:
  PersonaRetriever(std::shared_ptr<const Embedder> embedder,
                   std::vector<io::PersonaRecord> personas, RetrieverOptions options = {});

  /// The k best personas per query (fewer when there are fewer personas), best first.
  std::vector<std::vector<RetrievalHit>> search(const std::vector<std::string>& queries,
                                                Index k) const;
  /// Scores of every persona for every query (queries x personas).
  RowMatrix<float> score_all(const std::vector<std::string>& queries) const;

  const std::vector<io::PersonaRecord>& personas() const noexcept { return personas_; }
  const Embedder& embedder() const noexcept { return *embedder_; }

 private:
  /// max_fact (also for fused) or whole cosines, queries x personas.
  RowMatrix<float> dense_scores(const std::vector<std::string>& queries) const;
  /// The same for unit query vectors; `best` (max_fact, fused) receives the row of vectors_
  /// holding each persona's best fact.
  RowMatrix<float> dense_scores(
      const RowMatrix<float>& query_vectors,
      Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>* best = nullptr) const;
  /// Cosines against `vectors`: per persona the best of its rows (per_fact, rows of owner_) or
  /// one row per persona.
  RowMatrix<float> dense_scores(
      const RowMatrix<float>& query_vectors, const RowMatrix<float>& vectors, bool per_fact,
      Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>* best = nullptr) const;
  /// fused with pseudo-relevance feedback (file comment).
  RowMatrix<float> fused_scores(const std::vector<std::string>& queries) const;

  std::shared_ptr<const Embedder> embedder_;
  std::vector<io::PersonaRecord> personas_;
  RetrieverOptions options_;
  RowMatrix<float> vectors_;  ///< facts (max_fact, fused) or personas (whole), unit rows
  std::vector<Index> owner_;  ///< row -> persona (max_fact, max_sim, fused)
  /// fused without token vectors: the personas (facts_text()), unit rows
  RowMatrix<float> profile_vectors_;
  std::shared_ptr<const MaxSimScorer> max_sim_;  ///< max_sim, max_sim_profile, fused (tokens)
  std::vector<WeightedQuery> fact_words_;        ///< fused (tokens): words of each row of vectors_
};

/// k best entries of each row of `scores` (higher first, lower index on ties).
std::vector<std::vector<RetrievalHit>> top_k_rows(const RowMatrix<float>& scores, Index k);

}  // namespace popalign::embedding
