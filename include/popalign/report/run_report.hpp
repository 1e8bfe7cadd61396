#pragma once
// The report of a whole pipeline run (`popalign run`): one self-contained HTML file with
//   1. the run: one row per stage (what it produced)
//   2. the mining funnel (posts -> filtered -> quality-kept -> personas -> judged-kept -> ...)
//   3. the global alignment: the five population metrics (metrics/population.hpp: mean W1,
//      Fréchet, sliced W2, unbiased MMD^2, correlation MAE, reference-standardised) of the pool
//      and of the global set, then the full single-alignment report (report/html_report.hpp:
//      distances, per-trait distributions, correlations, weights)
//   4. one section per group: its description and reference filter, a distance table (the group
//      set, its candidates and any other set, e.g. the global set, each against the group's
//      reference; same metrics as the single report, then the five population metrics), and the
//      same plots as the global section
// Each alignment section is render_html()'s page body, nested one heading level down, so every
// plot is the existing one; the style sheet is render_html()'s. One inline script counts the
// charts of the whole page into <span id="chart-count">. The bytes depend only on the inputs.
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

/// One target group's section.
struct GroupSection {
  std::string name;
  std::string query;      ///< the group's description
  std::string reference;  ///< the reference filter, e.g. "region:Europe"
  ReportInput alignment;  ///< pool = the group's candidates, selection = the group set,
                          ///< reference = the group's reference people
  /// Other sets measured against the group's reference in the section's first table, e.g.
  /// {"global set", X}: rows with the alignment's traits.
  std::vector<std::pair<std::string, RowMatrix<double>>> compared;
  std::vector<std::string> notes;  ///< e.g. a warning about a small reference
};

struct RunReportInput {
  std::string title = "popalign run report";
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
