#pragma once
// The whole method in one call: run_pipeline(config) chains
//   mine (read -> pre-filter -> LLM post quality -> LLM persona -> LLM critique -> PII, dedup)
//   -> administer (the instrument, asked of every persona by the respondent model)
//   -> score (trait scores) and reference (the human reference, scored with the same keys)
//   -> align (the global set of N personas aligned to the reference)
//   -> one stage per group (persona::build_group: retrieve, revise, judge, re-administer, align to
//      the group's reference)
//   -> report (report.html for the whole run, personas/<set>.jsonl per set)
// in one run directory, with a manifest (pipeline/manifest.hpp) that lets a rerun skip finished
// stages and resume an interrupted one.
//
// Resume without repeated paid calls: every LLM call goes through one llm::CachedBackend on
// <run_dir>/llm-cache.sqlite, one request per complete() call, so each answer is stored as it
// arrives; the LLM stages also keep their finished units in files (mining's work files, the
// administer output), so a rerun after kill -9 asks only what was in flight or not yet asked and
// writes the same bytes as an uninterrupted run.
//
// Layout of the run directory:
//   manifest.json  llm-cache.sqlite  report.html
//   mine/personas.jsonl mine/funnel.json mine/work/   (with input.posts)
//   administer/answers.jsonl  score/traits.csv  reference/traits.csv
//   align/selection.csv  groups/<name>/...  personas/global.jsonl  personas/<group>.jsonl
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/embedding/embedder.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/pipeline/config.hpp>

namespace popalign::pipeline {

/// What one stage will cost (the dry run), or cost.
struct StagePlan {
  std::string name;
  std::string model;                   ///< the endpoint's model ("" for stages without LLM calls)
  std::size_t calls = 0;               ///< first asks still to make (an upper bound where marked)
  bool upper_bound = false;            ///< depends on earlier stages' results
  std::int64_t prompt_tokens = 0;      ///< estimated, about 4 characters per token
  std::int64_t completion_tokens = 0;  ///< upper bound: calls x max_tokens
  double cost = 0;                     ///< with the endpoints' prices
  bool done = false;                   ///< finished in the manifest with the same key
};

struct RunPlan {
  std::vector<StagePlan> stages;
  std::size_t calls() const;
  double cost() const;
  /// A fixed-width table: one row per stage, then the total.
  std::string table() const;
};

/// Progress of a run, reported after every unit of work.
struct Progress {
  std::string stage;       ///< "mine.quality", "administer", "align", "group europe", ...
  std::size_t done = 0;    ///< units of the stage done
  std::size_t total = 0;   ///< units of the stage (0 = unknown)
  double overall = 0;      ///< fraction of the whole run, [0, 1]
  double cost_so_far = 0;  ///< paid this run
  double cost_rest = 0;    ///< estimated for what is left
};

struct RunOptions {
  /// Called often from the running thread; return true to stop (as a cancellation).
  std::function<bool(const Progress&)> progress;
  /// Messages for the user (stage skipped, resumed, warnings); may be empty.
  std::function<void(const std::string&)> log;
  /// Cancels the calls in flight.
  CancellationToken cancel;
  /// Backends used instead of the HTTP clients built from the config's endpoints (an in-process
  /// model, the Python binding's callables, a test double); null = the endpoint's HTTP client.
  /// An override still sits behind the run's CachedBackend on <run_dir>/llm-cache.sqlite and the
  /// cost meter, so a rerun or resume asks it nothing twice. The endpoint's model name still
  /// names the requests (cache keys, stage keys, and mining's routing between generator and
  /// judge, which goes by model name: give the two different models). It must be thread-safe
  /// (up to the endpoint's concurrency calls at once). The manifest does not know which
  /// backend answered: a finished stage is not rerun when only the backend changes.
  std::shared_ptr<llm::LlmBackend> generator, judge, respondent;
  /// The embedder of mining's deduplication and of group retrieval, instead of the shipped
  /// GloVe vectors with SIF weighting (null). Thread-safe; not part of the stage keys either.
  std::shared_ptr<const embedding::Embedder> embedder;
};

/// One stage of a run as it went.
struct StageOutcome {
  std::string name;
  std::string action;  ///< "ran", "resumed", "skipped" (unchanged inputs and options)
  double seconds = 0;
  std::uint64_t calls = 0, cached_calls = 0;
  double cost = 0;
  std::string summary;  ///< one line (counts)
};

struct RunResult {
  std::string status = "ok";  ///< "ok" | "cancelled" (rerun to resume)
  std::vector<StageOutcome> stages;
  std::filesystem::path report;                      ///< <run_dir>/report.html
  std::vector<std::filesystem::path> persona_files;  ///< global first, then one per group
  double cost = 0;
};

/// The plan (what --dry-run prints): reads the inputs and the manifest, sends nothing.
RunPlan plan_run(const PipelineConfig& config);

/// Runs (or resumes) the pipeline. Throws InvalidArgument / IoError / ParseError for bad input
/// (naming the file), BackendError when a server is unusable; a cancellation returns status
/// "cancelled" after writing what is finished.
RunResult run_pipeline(const PipelineConfig& config, const RunOptions& options = {});

}  // namespace popalign::pipeline
