// The pipeline runner (see include/popalign/pipeline/pipeline.hpp). One Runner object holds the
// config, the manifest, the LLM stacks (created on first use) and the plan; each stage is a
// function that (1) describes its options and inputs, (2) asks the manifest whether it can be
// skipped, (3) runs, resuming from its partial files, and (4) records its outputs' hashes.
#include <popalign/pipeline/pipeline.hpp>

#include <fmt/format.h>

#include "pipeline/stages.hpp"

namespace popalign::pipeline {

std::size_t RunPlan::calls() const {
  std::size_t n = 0;
  for (const auto& s : stages)
    if (!s.done) n += s.calls;
  return n;
}

double RunPlan::cost() const {
  double c = 0;
  for (const auto& s : stages)
    if (!s.done) c += s.cost;
  return c;
}

std::string RunPlan::table() const {
  std::string t = fmt::format("{:<30} {:<18} {:>10} {:>14} {:>16} {:>12}\n", "stage", "model",
                              "calls", "prompt tok.", "completion tok.", "cost");
  std::int64_t p = 0, q = 0;
  for (const auto& s : stages) {
    const std::string calls =
        s.done ? "done" : (s.upper_bound && s.calls ? "<= " : "") + std::to_string(s.calls);
    t += fmt::format("{:<30} {:<18} {:>10} {:>14} {:>16} {:>12.6f}\n", s.name, s.model, calls,
                     s.done ? 0 : s.prompt_tokens, s.done ? 0 : s.completion_tokens,
                     s.done ? 0.0 : s.cost);
    if (!s.done) {
      p += s.prompt_tokens;
      q += s.completion_tokens;
    }
  }
  t += fmt::format("{:<30} {:<18} {:>10} {:>14} {:>16} {:>12.6f}\n", "total", "", calls(), p, q,
                   cost());
  return t;
}

RunPlan plan_run(const PipelineConfig& config) {
  detail::Runner runner(config, RunOptions{});
  return runner.plan();
}

RunResult run_pipeline(const PipelineConfig& config, const RunOptions& options) {
  detail::Runner runner(config, options);
  return runner.run();
}

}  // namespace popalign::pipeline
