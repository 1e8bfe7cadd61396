#pragma once
// Step 5 of persona mining: the critique, an LLM judge (may be another model than the writer).
//
// The judge sees the window's posts and the persona (template "critique-v1", placeholders
// {posts}, {persona}) and answers, under a JSON Schema,
//   {"hallucination": n, "coverage": n, "conciseness": n, "relevance": n, "overall": n,
//    "explanation": "..."}
// with integer scores 1-10 (hallucination 10 = every fact is explicit in the posts). The answer
// is read leniently: the first JSON object in the text; a score may be a number (rounded) or a
// string starting with one ("9", "9/10"); the explanation may be missing. A score missing or
// outside 1-10 makes the answer off-schema: asked again with seed + 1 (up to max_attempts), then
// dropped as "off-schema answer".
//
// A persona is kept when overall >= min_overall (default 9) and every other score >= min_other
// (default 8): the method keeps overall > 8 and all others > 7 on its 1-10 scale. The drop
// reason names the first score below its threshold, in the order hallucination, coverage,
// conciseness, relevance, overall ("low hallucination score"); the detail lists all of them
// ("hallucination 6 < 8; overall 7 < 9").
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/llm/backend.hpp>
#include <popalign/persona/post.hpp>
#include <popalign/persona/prompts.hpp>
#include <popalign/persona/step_calls.hpp>

namespace popalign::persona {

struct CritiqueScores {
  int hallucination = 0, coverage = 0, conciseness = 0, relevance = 0, overall = 0;
  std::string explanation;
  friend bool operator==(const CritiqueScores&, const CritiqueScores&) = default;
};

struct CritiqueOptions {
  std::string model;         ///< the judge; empty = the backend's default model
  double temperature = 0.0;  ///< [0, 2]; greedy by default
  int max_tokens = 256;      ///< per answer, >= 32
  std::uint64_t seed = 0;    ///< request seed of the first ask; ask a uses seed + a
  int max_attempts = 2;      ///< asks per persona while the answer is off-schema, >= 1
  bool json_schema = true;   ///< send the JSON Schema (structured output)
  int min_overall = 9;       ///< kept: overall >= this (1..10)
  int min_other = 8;         ///< and every other score >= this (1..10)
  PromptTemplate prompt = builtin_prompt("critique-v1");  ///< {posts}, {persona}
  llm::BatchOptions batch;  ///< chunking, progress and cancellation of the calls
  /// InvalidArgument naming the field.
  void validate() const;
};

/// What the judge sees: the persona and the posts it was written from.
struct CritiqueInput {
  std::string id;
  std::string persona;
  std::vector<Post> posts;
};

llm::Request critique_request(const CritiqueInput& input, const CritiqueOptions& options,
                              int attempt = 0);
std::string critique_schema();
/// Parses one answer (rules at the top); nullopt when off-schema.
std::optional<CritiqueScores> parse_critique(std::string_view answer);
/// "" when the scores keep the persona, else the reason; `detail` gets every failing score.
std::string critique_drop_reason(const CritiqueScores& scores, const CritiqueOptions& options,
                                 std::string* detail = nullptr);

struct PersonaCritique {
  std::string id;
  std::optional<CritiqueScores> scores;
  bool kept = false;
  bool finished = true;  ///< false: its call was cancelled
  std::string reason;    ///< "low <score> score", "off-schema answer", "call failed", "cancelled"
  std::string detail;
  int attempts = 0;
};

struct CritiqueResult {
  std::vector<PersonaCritique> critiques;  ///< one per input, in order
  std::size_t kept = 0;
  StepCalls report;
};

/// Asks the judge about every persona. BackendError when every call failed.
CritiqueResult critique_personas(llm::LlmBackend& backend, std::span<const CritiqueInput> inputs,
                                 const CritiqueOptions& options = {});

}  // namespace popalign::persona
