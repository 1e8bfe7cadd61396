#pragma once
// The report of a whole pipeline run (`popalign run`): one self-contained HTML file with
//   1. the run: one row per stage (what it produced)
//   2. the mining funnel (posts -> filtered -> quality-kept -> personas -> judged-kept -> ...)
//   3. the groups at a glance: per group its reference, retrieved / kept / selected counts, the
//      mean W1 of the group set, of the global set and of the candidates to the group's
//      reference, and of the group set to the global set
//   4. the global alignment: the single-alignment report (report/html_report.hpp: distances,
//      the five population metrics with the reference's noise floor, per-trait distributions,
//      correlations, weights)
//   5. one section per group: its description, reference filter and counts, its warnings (e.g. a
//      small reference), the distances to the group's reference (the group set, its candidates,
//      the global set and any other set), the distances of the group set and its candidates to
//      the global set (how far the group construction moved), the group set's personas, and the
//      single-alignment report of the group set against the group's reference (its plots)
// Each alignment section is render_html()'s page body with its headings moved down (one level in
// the global section, two in a group's), so every plot is the existing one; the page parts
// (style sheet, escaping, tables, chart counter) are shared with render_html
// (src/report/html_fragments.hpp). The bytes depend only on the inputs.
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <popalign/report/html_report.hpp>

namespace popalign::report {

/// One row of a funnel (persona::FunnelStep without the persona dependency).
struct FunnelRow {
  std::string step;
  std::string in_unit;
  std::size_t in = 0;
  std::string out_unit;
  std::size_t out = 0;
  std::map<std::string, std::size_t> dropped;
};

/// One persona of a group set as the report lists it.
struct GroupMember {
  std::string id;
  std::string text;  ///< shown up to ~240 characters
  std::string note;  ///< e.g. "retrieval rank 3"
};

/// One target group's section.
struct GroupSection {
  std::string name;
  std::string query;      ///< the group's description
  std::string reference;  ///< the reference filter, e.g. "region:Europe"
  ReportInput alignment;  ///< pool = the group's candidates, selection = the group set,
                          ///< reference = the group's reference people
  /// Other sets measured against the group's reference in the section's first table, after
  /// the group set, its candidates and the global set (always shown): rows with the
  /// alignment's traits.
  std::vector<std::pair<std::string, RowMatrix<double>>> compared;
  std::vector<std::string> notes;            ///< e.g. a warning about a small reference
  std::size_t retrieved = 0;                 ///< personas retrieved (and revised)
  std::size_t kept = 0;                      ///< revisions kept (passed the judge, scored)
  std::map<std::string, std::size_t> drops;  ///< dropped revisions by reason
  std::vector<GroupMember> members;          ///< the group set's personas, in order
};

struct RunReportInput {
  std::string title = "popalign run report";
  /// (what, value) of the run's inputs and settings: posts, instrument, reference, models, seed.
  std::vector<std::pair<std::string, std::string>> inputs;
  /// (stage, one-line summary) in run order.
  std::vector<std::pair<std::string, std::string>> stages;
  std::vector<FunnelRow> funnel;  ///< empty when the run started from a persona file
  ReportInput global;             ///< the global alignment
  std::vector<GroupSection> groups;
  std::vector<std::string> notes;

  /// InvalidArgument naming the member ("global.pool", "groups[1].alignment.selection").
  void validate() const;
};

std::string render_run_html(const RunReportInput& input, const ReportOptions& options = {});

/// Written atomically; IoError naming the file on failure.
void write_run_html(const std::filesystem::path& path, const RunReportInput& input,
                    const ReportOptions& options = {});

}  // namespace popalign::report
