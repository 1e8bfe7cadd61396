#pragma once
// Group-specific persona sets: the method's third stage (docs/groups.md).
//
// From a globally aligned persona pool (io::PersonaRecord with a "traits" object each), build a
// set of N personas for a target group ("adults living in East Asia") whose trait distribution
// matches that group's human reference:
//
//   1. retrieve   the `depth` (default 3 N) pool personas that best fit the group's query text,
//                 with any embedding::Embedder through embedding::PersonaRetriever (ties: pool
//                 order);
//   2. revise     each retrieved persona with an LLM (template "group-revise-v1", JSON schema
//                 {"revised": "...", "changes": ["..."]}): a light rewrite that makes the person
//                 plausible for the group, keeps every grounded fact, never adds stereotypes as
//                 facts. Answers are read leniently (the first JSON object; a missing "changes"
//                 is an empty list) and an unusable answer is asked again with seed + 1 (up to
//                 revise_attempts asks);
//   3. judge      another (or the same) model compares the revision with the original
//                 (template "group-judge-v1", schema {"verdict": "pass" | "fail", "reasons":
//                 [...]}) for contradictions of the original's facts, dropped facts and
//                 stereotypes added as facts. A failed revision is revised again (a new seed)
//                 up to judge_retries times, then dropped; every drop has its reason;
//   4. administer the instrument to the kept revised personas (administer::administer) and score
//                 them (psychometrics::score_items): the group pool's traits X_g;
//   5. align      X_g to the group's human reference Y_g with align::align (N = spec.n, capped
//                 at the kept personas when fewer remain, with a warning);
//   6. compare    the group set with Y_g, and the global pool with Y_g (the baseline: what a user
//                 gets without group construction), and the group set with the global pool
//                 (metrics::compare, the same metrics as `align`).
//
// Determinism and resume: every request is a pure function of (spec, persona, options, seed,
// attempt), so with a persistent cache (llm::CachedBackend) a rerun after a kill pays nothing
// for finished calls and, the answers being the same, returns the same bytes. Cancellation
// (options.execution.cancel, or a progress callback returning true) ends the run after the
// calls in flight with status "cancelled" and no personas.
//
// Reference by group: group_reference_rows() selects the human rows of a ReferenceFilter — a
// region of data/regions ("East Asia"), a list of countries, or column = value on any CSV
// (the reference's own file or a user's file with a group column). A group reference with fewer
// than options.min_reference_rows people still works but the result carries a warning (the
// shipped BIG5 has 176 people in East Asia).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/administer/administer.hpp>
#include <popalign/align/align.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/embedding/embedder.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/metrics/compare.hpp>
#include <popalign/persona/prompts.hpp>
#include <popalign/persona/step_calls.hpp>
#include <popalign/psychometrics/instrument.hpp>
#include <popalign/psychometrics/reference.hpp>
#include <popalign/psychometrics/regions.hpp>
#include <popalign/psychometrics/scoring_core.hpp>

namespace popalign::persona {

// ---- The group spec -------------------------------------------------------------------------

/// Which human reference rows belong to a group.
struct ReferenceFilter {
  enum class Kind {
    all,        ///< every row (no filter)
    region,     ///< rows whose country lies in `region` of the region map (data/regions)
    countries,  ///< rows whose country code is in `countries` (case-insensitive)
    column,     ///< rows whose `column` cell equals `value` (exact text, trimmed)
  };
  Kind kind = Kind::all;
  std::string region{};
  std::vector<std::string> countries{};
  std::string column{};
  std::string value{};

  /// "all", "region:East Asia", "country:US,CA" (',' or ';'), "column:school=high school", or a
  /// bare region name. InvalidArgument("reference") for an empty list or a malformed column
  /// filter.
  static ReferenceFilter parse(std::string_view spec);
  /// The parse() form ("region:East Asia").
  std::string to_string() const;
  /// InvalidArgument naming the field ("reference.region", "reference.countries",
  /// "reference.column") when the member its kind needs is empty.
  void validate() const;
};

/// One target group.
struct GroupSpec {
  std::string name;   ///< identifier: letters, digits, '-', '_', '.' (file names use it)
  std::string query;  ///< natural-language description used for retrieval and revision
  ReferenceFilter reference{};
  Index n = 1000;          ///< personas in the group set
  Index depth = 0;         ///< personas retrieved and revised; 0 = 3 * n
  std::uint64_t seed = 0;  ///< added to GroupOptions::seed for this group's calls and alignment

  Index resolved_depth() const noexcept { return depth > 0 ? depth : 3 * n; }
  /// InvalidArgument naming the field ("name", "query", "n", "depth", "reference.region", ...).
  void validate() const;
};

/// Group specs from JSON: a file holding a JSON array of spec objects, or JSON Lines (one object
/// per line; blank lines and lines starting with '#' are skipped). Members: "name", "query"
/// (required), "reference" (a parse() string, or an object {"region"} / {"countries": [...]} /
/// {"column", "value"}), "n", "depth", "seed". ParseError(file, line) names the line of the bad
/// object (arrays: the line where the object starts) and what is wrong (unknown member, wrong
/// type, a repeated name, a failed validate()).
std::vector<GroupSpec> read_group_specs(const std::filesystem::path& path);
std::vector<GroupSpec> parse_group_specs(std::string_view text,
                                         const std::string& source = "<string>");

// ---- The group reference --------------------------------------------------------------------

/// Rows of `data` that `filter` selects, in order. `columns` (only for Kind::column) is a table
/// with the filter's column and an id column (`id_column`, empty: "id" if present, else the
/// 1-based data row numbers, which is what the BIG5 loader uses as ids); a data row belongs to
/// the group when the table row with its id has `value` in `column`. InvalidArgument
/// ("reference.region" listing the regions, "reference.column" naming the table) on a bad
/// filter.
std::vector<Index> group_reference_rows(const psychometrics::ReferenceData& data,
                                        const ReferenceFilter& filter,
                                        const psychometrics::RegionMap& regions,
                                        const io::Table* columns = nullptr,
                                        const std::string& id_column = "");

/// A group's human reference: the trait scores of its people.
struct GroupReference {
  std::string description;    ///< e.g. "BIG5, region:East Asia (176 people)"
  TraitTable<double> traits;  ///< one row per person, columns named as the pool's traits
};

// ---- Building a group set -------------------------------------------------------------------

/// The LLMs the stage uses. `reviser` is required; `judge` and `respondent` default to it.
struct GroupBackends {
  llm::LlmBackend* reviser = nullptr;
  llm::LlmBackend* judge = nullptr;       ///< nullptr = reviser
  llm::LlmBackend* respondent = nullptr;  ///< nullptr = reviser
};

struct GroupOptions {
  /// Retrieval scoring. fused (max-fact + word-level or whole-profile channel, with feedback)
  /// works with every embedder (docs/retrieval.md).
  embedding::RetrieverOptions retrieval{.scoring = embedding::ProfileScoring::fused};
  /// Query expansion: the query is extended by these texts (e.g. an LLM's paraphrases, or the
  /// group's own words), each scored as a query of its own, the persona scores averaged over
  /// the query and its expansions (docs/groups.md). Empty: the query alone.
  std::vector<std::string> query_expansions{};

  // Revision (step 2).
  bool revise = true;               ///< false: the retrieved personas are used as they are
  PromptTemplate revise_prompt{};   ///< empty id = the built-in "group-revise-v1"
  std::string revise_model{};       ///< Request::model; empty = the backend's default
  double revise_temperature = 0.3;  ///< the persona writer's temperature
  int revise_max_tokens = 600;
  int revise_attempts = 2;              ///< asks per revision while the answer is unusable (>= 1)
  std::size_t max_revised_words = 300;  ///< a longer revision is unusable (asked again)

  // Judge (step 3).
  bool judge = true;              ///< false: every usable revision is kept
  PromptTemplate judge_prompt{};  ///< empty id = the built-in "group-judge-v1"
  std::string judge_model{};      ///< Request::model; empty = the backend's default
  int judge_max_tokens = 300;
  int judge_attempts = 2;  ///< asks per verdict while the answer is unusable (>= 1)
  int judge_retries = 1;   ///< a failed revision is revised again this many times (>= 0)

  // Administering and scoring (step 4); administer.seed is replaced by the group's seed.
  administer::AdministerOptions administer{};
  psychometrics::ScoringOptions scoring{};

  // Alignment and comparison (steps 5-6); align.n and align.seed come from the spec.
  align::AlignOptions align{.n = 1};
  metrics::CompareOptions compare{};
  Index min_reference_rows = 500;  ///< warn when the group reference is smaller

  std::uint64_t seed = 0;
  llm::BatchOptions batch{};  ///< chunking / parallelism of the revise and judge calls
  Execution execution{};      ///< progress ("retrieve", "revise", "judge", "administer",
                              ///< "align") and cancellation

  /// InvalidArgument naming the field ("revise_attempts", "administer.max_retries", ...).
  void validate() const;
};

/// What happened to one retrieved persona.
struct RevisionRecord {
  std::string persona_id;  ///< the pool persona's id
  Index rank = 0;          ///< 0-based retrieval rank
  float score = 0;         ///< retrieval score
  std::string original;    ///< the pool persona's text
  std::string revised;     ///< the accepted (or last) revision; empty when none was usable
  std::vector<std::string> changes;  ///< as the reviser listed them
  std::string verdict;               ///< "pass", "fail", "" (not judged)
  std::vector<std::string> judge_reasons;
  int revisions = 0;      ///< revisions made (1 + retries after a failed verdict)
  int calls = 0;          ///< LLM calls for this persona (revise + judge, re-asks included)
  bool kept = false;      ///< entered the group pool (revised, judged and administered)
  bool selected = false;  ///< chosen by the alignment
  /// Why it was dropped: "off-schema revision", "judge rejected", "off-schema verdict",
  /// "call failed", "no scores" (too few items answered); empty when kept.
  std::string drop_reason;
  std::string drop_detail;
};

struct GroupResult {
  std::string status = "ok";  ///< "ok" or "cancelled" (no personas)
  GroupSpec spec;
  /// The group set: N personas (pool ids; text = the revision), fields "traits" (the
  /// re-administered scores), "group", "source_persona" (the original text), "changes",
  /// "retrieval" {rank, score}, plus the pool record's other fields except its old "traits".
  std::vector<io::PersonaRecord> personas;
  /// Every kept revised persona with its traits (the group pool the alignment chose from).
  std::vector<io::PersonaRecord> pool;
  std::vector<RevisionRecord> revisions;  ///< one per retrieved persona, in retrieval order
  align::Diagnostics alignment;
  metrics::Comparison against_reference;         ///< group set vs the group reference
  metrics::Comparison global_against_reference;  ///< the global pool vs the group reference
  metrics::Comparison against_global;            ///< group set vs the global pool
  std::vector<std::string> traits;               ///< trait names (pool order)
  StepCalls revise_calls, judge_calls;
  std::size_t administer_calls = 0, administer_cached_calls = 0;
  std::vector<std::string> warnings;  ///< small reference, fewer kept than N, ...

  std::size_t kept() const noexcept { return pool.size(); }
  /// Drops by reason ("judge rejected": 12, ...), sorted by reason.
  std::vector<std::pair<std::string, std::size_t>> drops() const;
  /// A multi-line summary: counts, drops, and mean W1 against the reference (group vs global).
  std::string summary() const;
};

/// Builds one group set (see the file comment). `pool`: the aligned global personas, each with a
/// "traits" object whose names are the scoring's columns (ParseError(persona line) otherwise);
/// `reference`: the group's human trait scores with the same columns. Throws InvalidArgument for
/// bad options / spec / sizes, BackendError when every revise call failed (an unusable server).
GroupResult build_group(std::span<const io::PersonaRecord> pool,
                        std::shared_ptr<const embedding::Embedder> embedder,
                        const GroupBackends& backends, const psychometrics::Instrument& instrument,
                        const GroupReference& reference, const GroupSpec& spec,
                        const GroupOptions& options = {});

/// The traits of personas (their "traits" objects) as a table with columns `traits` (empty: the
/// first persona's trait names). ParseError(source, line) for a persona without them.
TraitTable<double> persona_traits(std::span<const io::PersonaRecord> personas,
                                  const std::vector<std::string>& traits = {},
                                  const std::string& source = "personas");

/// The JSON report of a result: spec, counts, drops, per-persona revision records, alignment
/// brief and warnings, and the three comparisons. Deterministic (no timings).
io::JsonValue group_report_json(const GroupResult& result);

}  // namespace popalign::persona
