#pragma once
// HTML fragments shared by the single-alignment report (html_report.cpp) and the whole-run report
// (run_report.cpp), so both pages escape, format, measure and style alike: the escaping, the
// number formats, the comparison of a set with a reference (per-trait W1 in the traits' units;
// sliced W2, correlation distance and the population metrics on traits standardised by the
// reference), the comparison and population tables, the style sheet, the page head and the
// script that counts the page's charts. Library-private (not installed).
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/align/align.hpp>
#include <popalign/core/types.hpp>
#include <popalign/metrics/population.hpp>
#include <popalign/report/html_report.hpp>

namespace popalign::report::detail {

/// Escapes & < > " ' for text and attribute values.
inline std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// Fixed digits; "–" for NaN, "∞" for infinities.
inline std::string num(double v, int digits = 4) {
  if (std::isnan(v)) return "&ndash;";
  if (std::isinf(v)) return v > 0 ? "&infin;" : "-&infin;";
  return fmt::format("{:.{}f}", v, digits);
}

inline std::string signed_num(double v, int digits = 3) {
  if (std::isnan(v)) return "&ndash;";
  return fmt::format("{:+.{}f}", v, digits);
}

/// Weights summing to 1 (uniform when `w` is empty or sums to 0).
inline Vector<double> normalized(const Vector<double>& w, Index n) {
  if (w.size() == 0)
    return Vector<double>::Constant(n, 1.0 / static_cast<double>(std::max<Index>(n, 1)));
  const double s = w.sum();
  return s > 0 ? Vector<double>(w / s) : Vector<double>::Constant(n, 1.0 / static_cast<double>(n));
}

/// `x` (weights `w`, normalised) against `ref`: W1 per trait in the traits' units, the rest on
/// both sets standardised by the reference's mean and sd (align::detail::compare).
inline align::Comparison compare(const RowMatrix<double>& x, const Vector<double>& w,
                                 const RowMatrix<double>& ref) {
  const Eigen::RowVectorXd mu = ref.colwise().mean();
  Eigen::RowVectorXd sd =
      ((ref.rowwise() - mu).array().square().colwise().sum() / static_cast<double>(ref.rows()))
          .sqrt();
  for (Index k = 0; k < sd.size(); ++k)
    if (!(sd[k] > 0)) sd[k] = 1;
  const RowMatrix<double> zx = ((x.rowwise() - mu).array().rowwise() / sd.array()).matrix();
  const RowMatrix<double> zr = ((ref.rowwise() - mu).array().rowwise() / sd.array()).matrix();
  align::AlignOptions o;
  return align::detail::compare<double>(x, w, ref, zx, zr, o);
}

/// One row per set: W1 per trait, mean W1, mean and sd gaps per trait, sliced W2, correlation
/// distance, Fréchet, MMD², correlation MAE, note.
inline std::string comparison_table(const std::vector<MetricsRow>& rows,
                                    const std::vector<std::string>& traits) {
  std::string s = "<table class=\"metrics\">\n<thead><tr><th>set</th>";
  for (const auto& t : traits) s += "<th>W1 " + esc(t) + "</th>";
  s += "<th>mean W1</th>";
  for (const auto& t : traits) s += "<th>mean gap " + esc(t) + "</th>";
  for (const auto& t : traits) s += "<th>sd gap " + esc(t) + "</th>";
  s += "<th>sliced W2</th><th>corr. distance</th><th>Fr&eacute;chet</th><th>MMD&sup2;</th>"
       "<th>corr. MAE</th><th></th></tr></thead>\n<tbody>\n";
  for (const auto& r : rows) {
    const auto& c = r.comparison;
    s += "<tr><td>" + esc(r.name) + "</td>";
    for (Index k = 0; k < c.w1.size(); ++k) s += "<td>" + num(c.w1[k]) + "</td>";
    s += "<td><b>" + num(c.mean_w1) + "</b></td>";
    for (Index k = 0; k < c.mean_gap.size(); ++k) s += "<td>" + signed_num(c.mean_gap[k]) + "</td>";
    for (Index k = 0; k < c.sd_gap.size(); ++k) s += "<td>" + signed_num(c.sd_gap[k]) + "</td>";
    s += "<td>" + num(c.sliced_wasserstein) + "</td><td>" + num(c.correlation.normalized) +
         "</td><td>" + num(c.population.frechet) + "</td><td>" + num(c.population.mmd2, 5) +
         "</td><td>" + num(c.population.correlation_mae) + "</td><td>" + esc(r.note) +
         "</td></tr>\n";
  }
  s += "</tbody></table>\n";
  return s;
}

/// The five population metrics (metrics::PopulationMetrics), one row per set.
struct PopulationRow {
  std::string name;
  metrics::PopulationMetrics p;
  std::string note;
};

inline std::string population_table(const std::vector<PopulationRow>& rows) {
  std::string s =
      "<table class=\"population\">\n<thead><tr><th>set</th><th>mean W1</th>"
      "<th>Fr&eacute;chet</th><th>sliced W2</th><th>MMD&sup2; (unbiased)</th>"
      "<th>corr. MAE</th><th></th></tr></thead>\n<tbody>\n";
  for (const auto& r : rows)
    s += "<tr><td>" + esc(r.name) + "</td><td>" + num(r.p.mean_w1) + "</td><td>" +
         num(r.p.frechet) + "</td><td>" + num(r.p.sliced_wasserstein) + "</td><td>" +
         num(r.p.mmd2, 5) + "</td><td>" + num(r.p.correlation_mae) + "</td><td>" + esc(r.note) +
         "</td></tr>\n";
  s += "</tbody></table>\n";
  return s;
}

inline constexpr const char* kStyle = R"(<style>
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:10px}.chart{background:#fff;border:1px solid #eee}
.ct{font-size:12px;font-weight:600;fill:#222}.tk{font-size:10px;fill:#555}.cv{font-size:10px;fill:#111}
.ax{stroke:#999;stroke-width:1}.legend span{display:inline-block;width:12px;height:12px;vertical-align:middle}
.warn{background:#fff4e0;border-left:4px solid #e07b00;padding:6px 10px;margin:4px 0}
.muted{color:#666;font-size:.9em}
</style>
)";

/// From <!DOCTYPE> to the opening <body> line: charset, viewport, title, style sheet.
inline std::string page_head(std::string_view title, std::string_view extra_style = {}) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + esc(title) + "</title>\n" + kStyle;
  h += extra_style;
  h += "</head>\n<body>\n";
  return h;
}

/// The summary's chart counter (filled in by page_end()'s script).
inline constexpr const char* kChartCount =
    " &middot; charts: <span id=\"chart-count\">(script not run)</span>";

/// The script that counts the page's charts into the counter, and the closing tags.
inline std::string page_end() {
  return "<script>\n(function(){var n=document.querySelectorAll('svg.chart').length;"
         "var e=document.getElementById('chart-count');if(e){e.textContent=String(n);}"
         "document.body.setAttribute('data-charts',String(n));})();\n</script>\n"
         "</body>\n</html>\n";
}

}  // namespace popalign::report::detail
