#pragma once
// A self-contained HTML report of an alignment: one file, no external resources (inline CSS and
// inline SVG drawn here; no CDN, no fonts to fetch), so it opens offline in any browser.
//
// Sections:
//   1. summary and the run's parameters (method, N, seed, options, input files)
//   2. metrics table: per-trait W1, mean and sd gaps of the pool and of the selection versus the
//      reference, sliced W2 and correlation distance; optional comparison rows (e.g. the demo's
//      methods measured on held-out people)
//   3. per-trait distributions: densities (histograms on a shared grid) of pool, selection and
//      reference overlaid, one chart per trait
//   4. correlation matrices of pool, selection and reference side by side (heatmaps)
//   5. importance weights: histogram of n * w_i on a log scale, with the ESS, and the transport
//      diagnostics
//   6. warnings
// Every chart is an <svg class="chart" data-chart="..."> element. A small inline script counts
// the charts and writes the count into <span id="chart-count">, which lets a headless browser
// test check that the page rendered (tests/report/html_report_test.cpp).
//
// Deterministic bytes: numbers are printed with fixed precision, nothing depends on time, and
// stage timings are left out unless ReportOptions::include_timings is set.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <popalign/align/align.hpp>
#include <popalign/core/types.hpp>

namespace popalign::report {

/// One row of a comparison table: a named set measured against some target.
struct MetricsRow {
  std::string name;
  align::Comparison comparison;
  std::string note;  ///< e.g. "reduction 72%"
};

struct ReportInput {
  std::string title = "popalign alignment report";
  std::vector<std::string> traits;    ///< d names
  RowMatrix<double> pool;             ///< n x d, original units
  RowMatrix<double> selection;        ///< rows of the aligned set (k x d)
  Vector<double> selection_weights;   ///< k weights (counts or weights); empty = uniform
  RowMatrix<double> reference;        ///< m x d
  Vector<double> importance_weights;  ///< n weights (sum 1), optional
  std::optional<align::Diagnostics> diagnostics;                ///< from align(); optional
  std::vector<std::pair<std::string, std::string>> parameters;  ///< shown as given
  std::vector<MetricsRow> comparison;                           ///< extra table (optional)
  std::string comparison_caption;
  std::vector<std::string> notes;  ///< paragraphs shown under the summary

  /// Throws InvalidArgument naming the inconsistent member.
  void validate() const;
};

struct ReportOptions {
  int bins = 30;                 ///< histogram bins per trait, in [5, 200]
  int chart_width = 340;         ///< px
  int chart_height = 200;        ///< px
  bool include_timings = false;  ///< stage seconds make the bytes differ between runs
  void validate() const;
};

/// The HTML text.
std::string render_html(const ReportInput& input, const ReportOptions& options = {});

/// render_html written atomically to `path`. IoError naming the file on failure.
void write_html(const std::filesystem::path& path, const ReportInput& input,
                const ReportOptions& options = {});

}  // namespace popalign::report
