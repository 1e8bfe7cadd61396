#pragma once
// Group-description training queries written by an LLM (needs the llm layer; compiled when
// POPALIGN_HAS_OPENAI_EMBEDDER is defined).
//
// Retrieval for group-specific personas is driven by descriptions of groups ("someone who works
// in healthcare"), while the pairs that can be made from profiles alone (inverse cloze: a fact
// and the rest of its profile, make_profile_pairs) only teach which facts co-occur. Following
// the paper's route, an LLM reads each persona and writes a few short descriptions of groups the
// persona belongs to; each (description, persona text) becomes a TrainingPair for
// train_projection_head, so the head learns that "healthcare" should find "I am a nurse".
//
// One chat request per persona (and per attempt):
//   system: description_system_prompt()
//   user:   the persona's facts as a bulleted list, then the instruction to write
//           `per_persona` descriptions of groups it belongs to, as JSON
//           {"descriptions": ["...", ...]}
// With `json_schema` (default) the request carries a JSON Schema (array of exactly per_persona
// strings of at most max_characters), which servers that support structured output enforce.
// The answer is parsed leniently (a JSON object or array anywhere in the text; the complete
// strings of a JSON array cut short at max_tokens; else one description per line with bullets /
// numbering removed), and every candidate is checked:
//   empty | too short (< 2 words) | too long (> max_words) | not prose (< 80% letters among its
//   non-space characters) | several sentences (a '.', '!' or '?' followed by more text) |
//   copies a fact (same tokenize() tokens as one of the persona's facts) | duplicate (same
//   tokens as an earlier description of this persona).
// Candidates are trimmed (surrounding quotes or Markdown emphasis, one final period and extra
// spaces removed); accepted ones are kept in answer order, at most per_persona per persona. A
// persona whose answer yields no accepted description is asked again with seed + attempt, up to
// max_attempts asks. A failed call (transport, HTTP 5xx after
// the backend's own retries, ...) is reported and its persona skipped; when every call fails the
// backend is unusable and generate_description_pairs throws BackendError with the first failure.
//
// Resuming: put a llm::CachedBackend in front of the backend. Requests are deterministic
// (same persona, options and attempt -> same request bytes), so a rerun after a crash or
// Ctrl-C is served from the cache for every finished call and produces the same pairs.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/embedding/contrastive.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/llm/types.hpp>

namespace popalign::embedding {

struct DescriptionQueryOptions {
  int per_persona = 3;       ///< descriptions asked (and kept at most) per persona, 1..10
  std::string model;         ///< empty = the backend's default model
  double temperature = 0.7;  ///< [0, 2]
  int max_tokens = 256;      ///< per answer, >= 16
  std::uint64_t seed = 0;    ///< request seed of the first attempt; attempt a uses seed + a
  int max_attempts = 2;      ///< asks per persona while no description is accepted, >= 1
  bool json_schema = true;   ///< send the JSON Schema (structured output)
  int max_words = 24;        ///< longer candidates are rejected, >= 2
  int max_characters = 120;  ///< schema limit per description, >= 16
  /// Chunking, progress ("descriptions", fraction of calls done) and cancellation of each
  /// round of calls. Cancelled calls end the run with status "cancelled".
  llm::BatchOptions batch;

  /// Throws InvalidArgument naming the field.
  void validate() const;
};

/// The system message of every description request.
std::string_view description_system_prompt();

/// The request for one persona and attempt (0-based). Deterministic.
llm::Request description_request(const io::PersonaRecord& persona,
                                 const DescriptionQueryOptions& options, int attempt = 0);

/// One candidate description that was not accepted, and why.
struct RejectedDescription {
  std::string text;
  std::string reason;  ///< "empty", "too short", "too long", "not prose", "several sentences",
                       ///< "copies a fact", "duplicate", "beyond per_persona"
};

struct ParsedDescriptions {
  std::vector<std::string> accepted;
  std::vector<RejectedDescription> rejected;
  bool json = false;       ///< the answer held a usable JSON object / array (else lines were read)
  bool truncated = false;  ///< a JSON array cut short (e.g. at max_tokens) was read
};

/// Parses and checks one answer (rules at the top of this file).
ParsedDescriptions parse_descriptions(std::string_view answer, const io::PersonaRecord& persona,
                                      const DescriptionQueryOptions& options);

struct DescriptionQueryReport {
  std::string status = "ok";               ///< "ok" or "cancelled"
  std::size_t personas = 0;                ///< personas given
  std::size_t calls = 0;                   ///< requests sent to the backend (every attempt)
  std::size_t cached_calls = 0;            ///< of which answered from a cache
  std::size_t failed_calls = 0;            ///< Outcome failures (persona skipped)
  std::size_t accepted = 0;                ///< descriptions kept = pairs made
  std::size_t rejected = 0;                ///< candidates rejected by the checks
  std::size_t personas_without_pairs = 0;  ///< no description accepted (after every attempt)
  /// The first problems, e.g. "persona spc00012 (attempt 1): rejected 'Once. upon' (several
  /// sentences)" or "persona spc00013: call failed (server, HTTP 500): ..."; at most 20.
  std::vector<std::string> messages;
};

struct DescriptionPairs {
  std::vector<TrainingPair>
      pairs;  ///< (description, persona.facts_text()), personas in input order
  DescriptionQueryReport report;
};

/// Asks the backend for descriptions of every persona (personas with no facts are skipped and
/// counted in personas_without_pairs). Throws BackendError when every call failed, and
/// InvalidArgument for bad options.
DescriptionPairs generate_description_pairs(llm::LlmBackend& backend,
                                            std::span<const io::PersonaRecord> personas,
                                            const DescriptionQueryOptions& options = {});

}  // namespace popalign::embedding
