#pragma once
// The funnel record of persona mining: for every step the count in and out, the count of drops
// by reason, and every drop (the unit: a post id, an author, a window or persona id; its reason;
// a detail). Printed as a table and written as JSON, so that a run reproduces the method's funnel
// table (posts -> filtered -> quality-kept -> personas -> judged-kept) and every unit that fell
// out can be traced.
//
// JSON: {"steps": [{"step", "in_unit", "in", "out_unit", "out", "dropped": {reason: n, ...},
//                   "changed": {what: n, ...}}, ...],
//        "drops": [{"step", "unit", "reason", "detail"}, ...]}
// Only counts and reasons: no timings, no cache statistics, so the same inputs give the same
// bytes however often a run was interrupted and resumed.
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <popalign/io/json.hpp>

namespace popalign::persona {

struct FunnelStep {
  std::string name;
  std::string in_unit;  ///< "posts", "authors", "personas"
  std::size_t in = 0;
  std::string out_unit;
  std::size_t out = 0;
  std::map<std::string, std::size_t> dropped;  ///< drops by reason
  std::map<std::string, std::size_t> changed;  ///< units changed, not dropped (e.g. redactions)
};

struct FunnelDrop {
  std::string step;
  std::string unit;
  std::string reason;
  std::string detail;
};

struct Funnel {
  std::vector<FunnelStep> steps;
  std::vector<FunnelDrop> drops;

  /// Appends a step and returns it.
  FunnelStep& add_step(std::string name, std::string in_unit, std::size_t in, std::string out_unit);
  /// The step named so; InvalidArgument("step") when there is none.
  FunnelStep& step(const std::string& name);
  const FunnelStep& step(const std::string& name) const;
  /// Records a drop in step `step` (counted under its reason).
  void drop(const std::string& step, std::string unit, std::string reason, std::string detail = "");

  io::JsonValue to_json() const;
  /// The steps as a fixed-width text table, one row per step, the reasons indented below it.
  std::string table() const;
};

/// Writes funnel.to_json() (one line and '\n') to `path` atomically (temporary file + rename).
void write_funnel(const std::filesystem::path& path, const Funnel& funnel);

}  // namespace popalign::persona
