#pragma once
// The pipeline's Runner (pipeline-private; see include/popalign/pipeline/pipeline.hpp and
// src/pipeline/stages.cpp).
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <popalign/core/types.hpp>
#include <popalign/llm/usage_meter.hpp>
#include <popalign/persona/post_readers.hpp>
#include <popalign/pipeline/manifest.hpp>
#include <popalign/pipeline/pipeline.hpp>
#include <popalign/psychometrics/instrument.hpp>

namespace popalign::pipeline::detail {

/// A stage's identity: options text and input hashes (role -> sha256).
struct StageSpec {
  std::string name;
  std::string options;
  std::map<std::string, std::string> inputs;
  bool inputs_ready = true;  ///< every input file exists (plan: else the stage is not done)
};

struct StageRun {
  StageEntry entry;
  bool skip = false;
  bool resumed = false;
  std::chrono::steady_clock::time_point start;
  llm::ModelUsage usage_before;
};

class Runner {
 public:
  Runner(const PipelineConfig& config, const RunOptions& options);
  RunPlan plan();
  RunResult run();

 private:
  // Paths.
  std::filesystem::path at(const std::string& rel) const { return config_.run_dir / rel; }
  std::filesystem::path personas_file() const;
  /// The file a column group filter reads ("column:school=high school"): the reference file.
  std::filesystem::path reference_table_path() const;

  // Stage bookkeeping.
  StageSpec spec_mine();
  StageSpec spec_administer();
  StageSpec spec_score();
  StageSpec spec_reference();
  StageSpec spec_align();
  StageSpec spec_group(const GroupSettings& group);
  StageSpec spec_report();
  bool is_done(const StageSpec& spec) const;
  StageRun begin(const StageSpec& spec, const std::vector<std::string>& folders);
  void finish(StageRun& run, const std::vector<std::string>& outputs, std::string summary);
  void skipped(const StageRun& run);

  // Stages; false = cancelled.
  bool stage_mine();
  bool stage_administer();
  bool stage_score();
  bool stage_reference();
  bool stage_align();
  bool stage_group(const GroupSettings& group);
  bool stage_report();
  /// A group's reference people (rows of reference/traits.csv its filter selects, finite).
  RowMatrix<double> group_reference(const GroupSettings& group, std::string* description);

  // LLM stacks (created on first use) and usage.
  std::shared_ptr<llm::LlmBackend> backend(const std::string& role);
  llm::ModelUsage usage() const;
  void log(const std::string& message) const;
  bool tick(const std::string& stage, std::size_t done, std::size_t total);
  void enter(const std::string& stage_name);
  /// How far into the current stage a tick of `stage` (the stage or one of its steps) at
  /// fraction `frac` is, in plan weight; never less than before (progress never goes back).
  double position_in_stage(const std::string& stage, double frac);

  const psychometrics::Instrument& instrument();
  const persona::PostCorpus& corpus();
  std::string instrument_hash();

  const PipelineConfig& config_;
  const RunOptions& options_;
  Manifest manifest_;
  std::map<std::string, std::shared_ptr<llm::UsageMeter>> meters_;
  std::optional<psychometrics::Instrument> instrument_;
  std::optional<persona::PostCorpus> corpus_;
  RunPlan plan_;
  bool planned_ = false;
  std::map<std::string, double> weight_;  // plan weight per stage (calls + 1)
  double weight_total_ = 1, weight_done_ = 0;
  double position_ = 0;  // weight reached within the current stage
  std::string current_;
  RunResult result_;
  std::map<std::string, std::string> summaries_;  // stage -> one line (deterministic)
};

}  // namespace popalign::pipeline::detail
