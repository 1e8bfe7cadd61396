#pragma once
// Administering a questionnaire to personas through an LLM backend. The administer layer sits
// above psychometrics (instruments, scales) and llm (backends); psychometrics itself does not
// depend on llm.
//
// Modes (AdministerMode):
//  - generate: one item per call; the text is read with parse_likert_answer. An answer that
//    gives no single rating is asked again (up to max_retries times, each with a different but
//    deterministic seed) and then recorded as missing, with its raw text and the reason.
//  - logprobs: one item per call with logprobs and top_logprobs; the value is the expected score
//    over the option tokens found among the top alternatives, renormalised over the options
//    present (as PsyBORGS does); the option mass found is recorded. The answer position is the
//    first of the first `logprob_positions` generated tokens whose alternatives include an
//    option (models often emit a space or a quote first). No option found -> asked again like
//    an unparseable answer, then missing.
//  - batch: all items in one call, answered as a JSON object under a JSON schema; items missing
//    from the answer (partial, truncated or invalid JSON) are asked again in a smaller batch,
//    up to max_retries times, then recorded missing.
//
// Determinism: a persona's item order is a shuffle by popalign::Rng seeded from (seed, persona
// id), so it does not depend on the persona's position in a file; each call's Request::seed is
// derived from (seed, persona id, item id, attempt). The same inputs and seed give the same
// requests, hence (through the persistent cache) the same answers and output bytes.
//
// Backend failures: a call that fails (after whatever retry decorator the backend has) leaves
// its items missing with `error` set; PersonaResponses::failed() is then true. A failed item is
// not asked again by this layer. administer_file() stops before writing a failed persona by
// default, so a rerun (resume) asks again.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/administer/answer_parsing.hpp>
#include <popalign/administer/prompts.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/io/json.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/psychometrics/instrument.hpp>

namespace popalign::administer {

enum class AdministerMode { generate, logprobs, batch };

/// "generate", "logprobs", "batch".
std::string_view to_string(AdministerMode mode) noexcept;
/// Inverse of to_string; InvalidArgument("mode") for anything else.
AdministerMode administer_mode_from_string(std::string_view name);

struct AdministerOptions {
  AdministerMode mode = AdministerMode::generate;
  /// The prompt template; unset = "likert-v1" (generate, logprobs) or "likert-json-v1" (batch).
  std::optional<PromptTemplate> prompt;
  /// Request::model; empty = the backend's default model.
  std::string model;
  std::uint64_t seed = 0;
  /// Shuffle the item order per persona (seeded); false = instrument order.
  bool shuffle_items = true;
  /// Present the scale reversed (labels in opposite order against the same numbers).
  bool reverse_scale = false;
  /// Times an unparseable / missing answer is asked again (0 = never).
  int max_retries = 2;
  /// Sampling temperature; unset = 1.0 for generate (a respondent's answer distribution, and
  /// re-asks differ), 0.0 for logprobs and batch.
  std::optional<double> temperature;
  /// Completion token limit; 0 = 16 (generate), 3 (logprobs), 32 + 12 per item (batch).
  int max_tokens = 0;
  /// Alternatives per token in logprobs mode (1..20).
  int top_logprobs = 20;
  /// Generated positions searched for the option tokens in logprobs mode (>= 1).
  int logprob_positions = 3;
  /// Personas whose calls go to the backend together (one complete_batch per round); bounds
  /// memory and is the unit that administer_file writes at once.
  std::size_t personas_per_round = 16;
  /// Requests handed to the backend per complete() call (llm::BatchOptions::chunk_size);
  /// cancellation is checked between chunks. 0 = all at once. A cache decorator stores a
  /// chunk's answers when the chunk returns, so small chunks lose less work to a kill.
  std::size_t chunk_size = 64;
  /// Chunks sent at the same time from separate threads (llm::BatchOptions::parallel_chunks).
  /// chunk_size 1 with parallel_chunks K keeps K calls in flight, each stored on arrival.
  int parallel_chunks = 1;
  /// Progress ("administer", fraction of personas) and cancellation.
  Execution execution;

  /// Throws InvalidArgument naming the field.
  void validate() const;
  /// The template in effect (prompt or the mode's default); InvalidArgument when its format
  /// does not fit the mode (batch needs a batch template, the others a single-item one).
  PromptTemplate resolved_template() const;
  int resolved_max_tokens(std::size_t items) const;
  double resolved_temperature() const;
};

/// The answer to one item.
struct ItemResponse {
  std::string item_id;
  /// On the instrument's scale (reversal undone); fractional in logprobs mode. Empty = missing.
  std::optional<double> value;
  /// Why the last attempt gave no value (ok when value is set; logprobs mode: no_answer when
  /// no option token was found).
  ParseStatus status = ParseStatus::no_answer;
  /// Raw text of the last call that asked this item (batch mode: empty, see raw_calls).
  std::string raw;
  int attempts = 0;  ///< calls that asked this item
  int position = 0;  ///< 0-based position in the presented order
  /// logprobs mode: option mass found and renormalised option probabilities (min first).
  double option_mass = 0.0;
  std::vector<double> probabilities;
  /// Non-empty when a backend call failed for this item (the failure's description).
  std::string error;
  /// The failed call was cancelled (ErrorKind::cancelled).
  bool cancelled = false;
};

/// All answers of one persona.
struct PersonaResponses {
  std::string persona_id;
  std::vector<ItemResponse> items;     ///< instrument order
  std::vector<std::string> order;      ///< item ids in presented order
  std::vector<std::string> raw_calls;  ///< batch mode: raw text of every call, in order
  std::size_t calls = 0;               ///< requests sent to the backend (cache hits included)
  std::size_t cached_calls = 0;        ///< of which served from a cache
  llm::Usage usage;                    ///< summed over paid (non-cached) calls

  std::size_t answered() const noexcept;
  /// True when some call failed (some item has an error).
  bool failed() const noexcept;
  /// True when a call was cancelled.
  bool cancelled() const noexcept;
};

/// The presented item order for a persona (indices into instrument.items).
std::vector<std::size_t> presented_order(const psychometrics::Instrument& instrument,
                                         std::string_view persona_id,
                                         const AdministerOptions& options);

/// The seed sent with a call: derived from (seed, persona id, item key, attempt), < 2^31 so every
/// server accepts it. item key is the item id (batch: the ids asked, joined by ',').
std::uint64_t call_seed(std::uint64_t seed, std::string_view persona_id, std::string_view item_key,
                        int attempt) noexcept;

/// Administers the instrument to each persona (its `text` becomes the system prompt; facts and
/// fields are not used); result i belongs to personas[i]. Throws
/// InvalidArgument for bad options or an invalid instrument; backend failures are recorded
/// per item (see the file comment). Cancellation through options.execution: the personas
/// already finished are returned complete, the rest with cancelled calls.
std::vector<PersonaResponses> administer(llm::LlmBackend& backend,
                                         const psychometrics::Instrument& instrument,
                                         std::span<const io::PersonaRecord> personas,
                                         const AdministerOptions& options);

/// One persona.
PersonaResponses administer_one(llm::LlmBackend& backend,
                                const psychometrics::Instrument& instrument,
                                const io::PersonaRecord& persona, const AdministerOptions& options);

// ---- Files: personas JSONL in, one output line per persona, resumable -----------------------

enum class OnCallFailure { stop, record_missing };

struct AdministerFileOptions {
  std::filesystem::path personas;  ///< JSONL, one object per line
  std::filesystem::path out;       ///< JSONL output (resumed when it exists)
  std::string id_field = "id";
  /// The persona text field: a string, or an array of strings (joined with " "). When it is
  /// missing, a "facts" array (Synthetic-Persona-Chat) is the text (see read_options()).
  std::string text_field = "persona";
  io::OnBadLine on_bad_line = io::OnBadLine::fail;
  /// stop: a persona with a failed call is not written; the run stops with BackendError after
  /// writing the personas before it (rerun to resume). record_missing: written with nulls.
  OnCallFailure on_failure = OnCallFailure::stop;
  /// Copy the persona's other fields (io::PersonaRecord::fields) into the output line under
  /// "persona_fields".
  bool keep_fields = true;
  /// fsync after each line.
  bool fsync = false;
  /// Messages for the user (malformed lines, resume state); may be empty.
  std::function<void(const std::string&)> log;

  void validate() const;
  /// The persona reader's options: id_field, text_field, on_bad_line, keep_fields and log as
  /// given, unique ids, facts_field "facts" (none when id_field or text_field is "facts").
  io::PersonaReadOptions read_options() const;
};

struct AdministerFileReport {
  std::size_t personas = 0;      ///< valid persona lines
  std::size_t malformed = 0;     ///< skipped persona lines
  std::size_t already_done = 0;  ///< lines found in an existing output (resume)
  std::size_t written = 0;       ///< lines written by this run
  std::size_t calls = 0;
  std::size_t cached_calls = 0;
  std::size_t missing_answers = 0;  ///< items without a value in the lines written
  llm::Usage usage;
};

// Personas are read with io::read_personas(options.personas, options.read_options()): one
// io::PersonaRecord per valid line; a bad line (not JSON, no id, no text, a duplicate id) is
// reported with its line number through options.log and skipped, or fails with
// ParseError(file, line), per options.on_bad_line.

/// Number of personas already answered in an existing options.out (0 when it does not exist),
/// after checking every line against the persona at its position and the run's settings
/// (InvalidArgument("out", ...) naming the file and line on a mismatch). Reads only.
std::size_t completed_personas(const psychometrics::Instrument& instrument,
                               const io::PersonaFile& personas, const AdministerOptions& options,
                               const AdministerFileOptions& file_options, std::string_view model);

/// Administers to every persona of options.personas and writes options.out: one JSON line per
/// persona, in input order:
///   {"id","instrument","template","mode","model","seed","reverse_scale","order":[...],
///    "answers":{item_id: number|null},"raw":{item_id: text} (generate, logprobs) |
///    "raw_calls":[text,...] (batch), "missing":{item_id: reason} (if any),
///    "attempts":{item_id: n} (items asked more than once),
///    "option_mass":{...},"probabilities":{item_id:[...]} (logprobs),
///    "persona_fields":{...} (if any)}
/// Resume: when `out` exists, a partial last line is removed, every line must match the
/// persona at the same position and the run's settings (else InvalidArgument naming "out"),
/// and only the remaining personas are administered; the final file equals an uninterrupted
/// run's byte for byte (given the same answers, which the persistent cache guarantees).
/// Throws Cancelled (after writing the finished personas) when cancelled, BackendError when a
/// call failed under OnCallFailure::stop.
AdministerFileReport administer_file(llm::LlmBackend& backend,
                                     const psychometrics::Instrument& instrument,
                                     const AdministerOptions& options,
                                     const AdministerFileOptions& file_options);

/// The JSON line administer_file writes for one persona (no trailing newline).
std::string response_line(const PersonaResponses& responses,
                          const psychometrics::Instrument& instrument,
                          const AdministerOptions& options, std::string_view model,
                          const io::JsonValue& fields = {});

// ---- Dry run: what a run would cost ---------------------------------------------------------

struct AdministerEstimate {
  std::size_t personas = 0;                ///< personas still to do
  std::size_t calls = 0;                   ///< first-attempt calls (re-asks come on top)
  std::int64_t prompt_tokens = 0;          ///< estimated: ceil(characters / 4) + 4 per message
  std::int64_t max_completion_tokens = 0;  ///< upper bound: calls x max_tokens
  std::optional<double> cost;  ///< with prices given: prompt and completion per 1e6 tokens
  RenderedPrompt example;      ///< the first call's prompt
};

/// Renders every first-attempt request without calling anything and estimates tokens with
/// the documented rule of thumb of about 4 characters per token (English text; real tokenizers
/// differ by +-25%).
AdministerEstimate estimate_administration(const psychometrics::Instrument& instrument,
                                           std::span<const io::PersonaRecord> personas,
                                           const AdministerOptions& options,
                                           std::optional<double> prompt_price_per_million = {},
                                           std::optional<double> completion_price_per_million = {});

/// The estimated token count of a text: ceil(bytes / 4).
std::int64_t estimate_tokens(std::string_view text) noexcept;

}  // namespace popalign::administer
