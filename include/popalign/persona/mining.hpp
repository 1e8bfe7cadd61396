#pragma once
// Seed persona mining, the whole pipeline: posts -> grounded narrative personas.
//
//   1. read        (persona/post_readers.hpp; the caller reads, the funnel records it)
//   2. prefilter   (persona/prefilter.hpp: tokens, first person, noise, duplicate posts)
//   3. quality     (persona/post_quality.hpp: LLM, keep high-quality harmless posts)
//   4. windows     (persona/persona_writer.hpp: authors with >= 6 kept posts, time windows)
//      personas    (persona/persona_writer.hpp: LLM, one narrative persona per window)
//   5. critique    (persona/critique.hpp: LLM judge, keep overall >= 9 and every other >= 8)
//   6. privacy     (persona/privacy.hpp: PII redacted in the persona texts)
//      dedup       (persona/dedup.hpp: near-duplicate personas removed by embedding cosine)
// and a Funnel (persona/funnel.hpp) with the counts in and out of every step and every drop.
//
// Resume. With a work directory, every finished unit of an LLM step (a post's verdict, a
// window's persona or refusal, a persona's scores) is appended, as soon as its round of
// `round_size` units is answered, to <work_dir>/quality.jsonl, personas.jsonl, critique.jsonl
// (io::JsonlWriter: one write per line, a partial last line of a killed run is repaired). Each
// line carries its unit's key: the SHA-256 of the unit's first request (the model filled in from
// the backend's default) and of max_attempts, so a line is reused only for the same post or
// window, prompt, model, sampling and seed. A rerun takes every finished unit from the files
// and asks only the rest; with a llm::CachedBackend in front of the backend, calls finished
// inside a killed round are answered from the cache too, so nothing paid is asked twice. Keep
// rules (thresholds) are applied when the files are read, so changing a threshold needs no call.
// Units whose call failed (after the backend's retries) are dropped as "call failed" in this run
// and not written: a rerun asks them again. Steps 1, 2 and 6 are recomputed (no LLM). The output
// depends only on the units' results, so a resumed run writes the same bytes as an uninterrupted
// one (given the same answers: a deterministic server or the cache).
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/embedding/embedder.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/persona/critique.hpp>
#include <popalign/persona/dedup.hpp>
#include <popalign/persona/funnel.hpp>
#include <popalign/persona/persona_writer.hpp>
#include <popalign/persona/post_quality.hpp>
#include <popalign/persona/post_readers.hpp>
#include <popalign/persona/prefilter.hpp>

namespace popalign::persona {

struct MiningOptions {
  PrefilterOptions prefilter;
  PostQualityOptions quality;
  PersonaWriterOptions writer;
  CritiqueOptions critique;
  bool redact = true;       ///< step 6: redact PII in the persona texts
  bool deduplicate = true;  ///< step 6: remove near-duplicate personas (needs an embedder)
  PersonaDedupOptions dedup;
  /// Step files for resume (created if missing); empty = no files (nothing to resume from).
  std::filesystem::path work_dir;
  /// Units asked together before their results are appended to the step file, >= 1.
  std::size_t round_size = 64;
  bool fsync = false;  ///< fsync the step files after every line
  /// Called after every round: (step, units done, units of the step); true = stop (cancelled).
  std::function<bool(std::string_view step, std::size_t done, std::size_t total)> progress;
  /// Cancels the calls in flight (it is put into every step's batch options).
  CancellationToken cancel;
  /// Messages for the user; may be empty.
  std::function<void(const std::string&)> log;
  /// InvalidArgument naming the field, prefixed by its step ("quality.max_tokens").
  void validate() const;
};

/// Calls and reuse of one LLM step.
struct MiningStepCalls {
  std::string step;
  StepCalls calls;
  std::size_t units = 0;    ///< units the step had
  std::size_t resumed = 0;  ///< of which taken from the work directory
};

struct MiningResult {
  std::string status = "ok";  ///< "ok", or "cancelled" (no personas; rerun to resume)
  std::vector<io::PersonaRecord> personas;
  Funnel funnel;
  std::vector<MiningStepCalls> calls;  ///< quality, personas, critique
  std::vector<std::string> messages;   ///< the first problems of each step
};

/// Runs steps 2-6 on a corpus read by read_posts (step 1 goes into the funnel from its counts).
/// `embedder` may be null when !options.deduplicate. Throws InvalidArgument for bad options,
/// BackendError when every call of a round failed (an unusable server), IoError for the work
/// directory.
MiningResult mine_personas(llm::LlmBackend& backend, const embedding::Embedder* embedder,
                           const PostCorpus& corpus, const MiningOptions& options);

/// The estimate of one LLM step before anything is sent.
struct StepEstimate {
  std::string step;
  std::size_t calls = 0;          ///< first asks still to make (upper bound for later steps)
  std::size_t done = 0;           ///< units already in the work directory
  std::size_t prompt_tokens = 0;  ///< of those calls, about 4 bytes per token
  std::size_t max_completion_tokens = 0;  ///< calls x max_tokens
};

struct MiningEstimate {
  Funnel funnel;                    ///< read and prefilter (computed; no LLM)
  std::vector<StepEstimate> steps;  ///< quality, personas, critique
  int max_attempts_quality = 1, max_attempts_writer = 1, max_attempts_critique = 1;
};

/// What a run would ask (the --dry-run): quality exactly (the prefiltered posts not yet done);
/// personas and critique as upper bounds, as if every post passed the quality step.
/// `default_model` is the model requests without one go to (for the work-file keys).
MiningEstimate estimate_mining(const PostCorpus& corpus, const MiningOptions& options,
                               const std::string& default_model = "");

/// The persona record of a kept persona as mine_personas writes it (exposed for tests).
io::PersonaRecord mined_record(const PersonaDraft& draft, const CritiqueScores& scores,
                               const io::JsonValue& meta);

}  // namespace popalign::persona
