// The whole-run report (see include/popalign/report/run_report.hpp). Alignment sections are
// render_html() pages cut to their body: everything between <body> and the page's closing
// <script>, headings moved one level down, the per-page chart counter renamed, so the plots are
// the single-alignment report's own and the page has one counter.
#include <popalign/report/run_report.hpp>

#include <fmt/format.h>

#include <cmath>

#include <popalign/core/error.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/metrics/population.hpp>

namespace popalign::report {

namespace {

std::string esc(std::string_view s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&':
        o += "&amp;";
        break;
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
    s.replace(at, from.size(), to);
}

std::string between(const std::string& s, std::string_view a, std::string_view b) {
  const auto i = s.find(a);
  if (i == std::string::npos) return {};
  const auto j = s.find(b, i + a.size());
  return s.substr(i + a.size(), j == std::string::npos ? std::string::npos : j - i - a.size());
}

/// render_html's body, one heading level down, without its script and chart counter.
std::string section_body(const ReportInput& in, const ReportOptions& opt) {
  const std::string page = render_html(in, opt);
  std::string body = between(page, "<body>\n", "<script>");
  for (int level = 5; level >= 1; --level) {
    replace_all(body, fmt::format("<h{}>", level), fmt::format("<h{}>", level + 1));
    replace_all(body, fmt::format("</h{}>", level), fmt::format("</h{}>", level + 1));
  }
  replace_all(body, " &middot; charts: <span id=\"chart-count\">(script not run)</span>", "");
  return body;
}

std::string metrics_rows(const std::vector<MetricsRow>& rows,
                         const std::vector<std::string>& traits) {
  std::string h = "<table class=\"distances\">\n<tr><th>set</th><th>mean W1</th>";
  for (const auto& t : traits) h += "<th>W1 " + esc(t) + "</th>";
  h += "<th>sliced W2</th><th>corr. RMS</th><th>note</th></tr>\n";
  for (const auto& r : rows) {
    h += "<tr><td>" + esc(r.name) + "</td><td>" + fmt::format("{:.4f}", r.comparison.mean_w1) +
         "</td>";
    for (Index k = 0; k < r.comparison.w1.size(); ++k)
      h += fmt::format("<td>{:.4f}</td>", r.comparison.w1[k]);
    h += fmt::format("<td>{:.4f}</td><td>{:.4f}</td><td>{}</td></tr>\n",
                     r.comparison.sliced_wasserstein, r.comparison.correlation.normalized,
                     esc(r.note));
  }
  return h + "</table>\n";
}

// The single report's comparison (report/html_report.cpp): per-trait W1 in trait units, sliced W2
// and correlation on traits standardised by the reference.
align::Comparison compare(const RowMatrix<double>& x, const Vector<double>& w,
                          const RowMatrix<double>& ref) {
  const Eigen::RowVectorXd mu = ref.colwise().mean();
  Eigen::RowVectorXd sd =
      ((ref.rowwise() - mu).array().square().colwise().sum() / static_cast<double>(ref.rows()))
          .sqrt();
  for (Index k = 0; k < sd.size(); ++k)
    if (!(sd[k] > 0)) sd[k] = 1;
  Vector<double> wn = w.size() == x.rows()
                          ? Vector<double>(w / w.sum())
                          : Vector<double>::Constant(x.rows(), 1.0 / static_cast<double>(x.rows()));
  const RowMatrix<double> zx = ((x.rowwise() - mu).array().rowwise() / sd.array()).matrix();
  const RowMatrix<double> zr = ((ref.rowwise() - mu).array().rowwise() / sd.array()).matrix();
  align::AlignOptions o;
  return align::detail::compare<double>(x, wn, ref, zx, zr, o);
}

struct NamedSet {
  std::string name;
  const RowMatrix<double>* x;
  Vector<double> w;  // empty = uniform
};

// The five population metrics of each set against `ref`, reference-standardised
// (metrics/population.hpp; fixed seeds, so the bytes repeat).
std::string population_table(const std::vector<NamedSet>& sets, const RowMatrix<double>& ref) {
  std::string h =
      "<table class=\"population\">\n<tr><th>set</th><th>mean W1</th><th>Fr&eacute;chet</th>"
      "<th>sliced W2</th><th>MMD&sup2; (unbiased)</th><th>correlation MAE</th></tr>\n";
  auto f = [](double v, int prec) {
    return std::isnan(v) ? std::string("&ndash;") : fmt::format("{:.{}f}", v, prec);
  };
  for (const auto& s : sets) {
    const metrics::PopulationMetrics p = metrics::population_metrics<double>(*s.x, ref, s.w);
    h += "<tr><td>" + esc(s.name) + "</td><td>" + f(p.mean_w1, 4) + "</td><td>" + f(p.frechet, 4) +
         "</td><td>" + f(p.sliced_wasserstein, 4) + "</td><td>" + f(p.mmd2, 6) + "</td><td>" +
         f(p.correlation_mae, 4) + "</td></tr>\n";
  }
  return h + "</table>\n";
}

}  // namespace

void RunReportInput::validate() const {
  try {
    global.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument("global." + e.argument(), e.what());
  }
  for (std::size_t i = 0; i < groups.size(); ++i) {
    check_argument(!groups[i].name.empty(), fmt::format("groups[{}].name", i).c_str(), "is empty");
    for (const auto& [name, x] : groups[i].compared)
      check_argument(x.rows() > 0 &&
                         x.cols() == static_cast<Index>(groups[i].alignment.traits.size()) &&
                         x.allFinite(),
                     fmt::format("groups[{}].compared", i).c_str(),
                     "'" + name + "' must have finite rows with the traits' columns");
    try {
      groups[i].alignment.validate();
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(fmt::format("groups[{}].alignment.{}", i, e.argument()), e.what());
    }
  }
}

std::string render_run_html(const RunReportInput& in, const ReportOptions& opt) {
  in.validate();
  opt.validate();
  // The style sheet of the single-alignment report.
  const std::string first = render_html(in.global, opt);
  const std::string style = "<style>" + between(first, "<style>", "</style>") + "</style>\n";

  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>" + esc(in.title) + "</title>\n" + style + "</head>\n<body>\n";
  h += "<h1>" + esc(in.title) + "</h1>\n";
  h += fmt::format(
      "<p>Global set: <b>{}</b> personas &middot; groups: <b>{}</b> &middot; charts: <span "
      "id=\"chart-count\">(script not run)</span></p>\n",
      in.global.selection.rows(), in.groups.size());
  h += "<nav><ul>\n<li><a href=\"#run\">Run</a></li>\n";
  if (!in.funnel.empty()) h += "<li><a href=\"#funnel\">Mining funnel</a></li>\n";
  h += "<li><a href=\"#global\">Global alignment</a></li>\n";
  for (const auto& g : in.groups)
    h += "<li><a href=\"#group-" + esc(g.name) + "\">Group " + esc(g.name) + "</a></li>\n";
  h += "</ul></nav>\n";
  for (const auto& n : in.notes) h += "<p class=\"muted\">" + esc(n) + "</p>\n";

  h += "<section id=\"run\">\n<h2>Run</h2>\n<table class=\"stages\">\n<tr><th>stage</th><th>"
       "result</th></tr>\n";
  for (const auto& [stage, summary] : in.stages)
    h += "<tr><td>" + esc(stage) + "</td><td>" + esc(summary) + "</td></tr>\n";
  h += "</table>\n</section>\n";

  if (!in.funnel.empty()) {
    h += "<section id=\"funnel\">\n<h2>Mining funnel</h2>\n<table class=\"funnel\">\n<tr><th>step"
         "</th><th>in</th><th>out</th><th>kept</th><th>dropped by reason</th></tr>\n";
    for (const auto& r : in.funnel) {
      std::string reasons;
      for (const auto& [why, n] : r.dropped)
        reasons += (reasons.empty() ? "" : "; ") + esc(why) + ": " + std::to_string(n);
      const std::string kept = r.in ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(r.out) /
                                                                 static_cast<double>(r.in))
                                    : "";
      h += fmt::format("<tr><td>{}</td><td>{} {}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>\n",
                       esc(r.step), r.in, esc(r.in_unit), r.out, esc(r.out_unit), kept, reasons);
    }
    h += "</table>\n</section>\n";
  }

  h += "<section id=\"global\">\n<h2>Population metrics of the global set</h2>\n";
  h += "<p class=\"muted\">The five population metrics against the reference, with both samples "
       "standardised by the reference's mean and sd.</p>\n";
  h += population_table({{"pool", &in.global.pool, Vector<double>()},
                         {"global set", &in.global.selection, in.global.selection_weights}},
                        in.global.reference);
  h += section_body(in.global, opt) + "</section>\n";
  for (const auto& g : in.groups) {
    h += "<section id=\"group-" + esc(g.name) + "\">\n<h2>Group " + esc(g.name) + "</h2>\n";
    h += "<p>Description: &ldquo;" + esc(g.query) +
         "&rdquo; &middot; reference: " + esc(g.reference) + "</p>\n";
    for (const auto& n : g.notes) h += "<div class=\"warn\">" + esc(n) + "</div>\n";
    {
      const ReportInput& a = g.alignment;
      std::vector<MetricsRow> rows;
      rows.push_back({"group set", compare(a.selection, a.selection_weights, a.reference), ""});
      rows.push_back({"candidates", compare(a.pool, Vector<double>(), a.reference), ""});
      for (const auto& [name, x] : g.compared)
        rows.push_back({name, compare(x, Vector<double>(), a.reference), ""});
      h += "<h3>Distances to the group's reference</h3>\n";
      h += metrics_rows(rows, a.traits);
      std::vector<NamedSet> sets{{"group set", &a.selection, a.selection_weights},
                                 {"candidates", &a.pool, Vector<double>()}};
      for (const auto& [name, x] : g.compared) sets.push_back({name, &x, Vector<double>()});
      h += "<h3>Population metrics against the group's reference</h3>\n";
      h += population_table(sets, a.reference);
    }
    h += section_body(g.alignment, opt);
    h += "</section>\n";
  }
  h += "<script>\n(function(){var n=document.querySelectorAll('svg.chart').length;"
       "var e=document.getElementById('chart-count');if(e){e.textContent=String(n);}"
       "document.body.setAttribute('data-charts',String(n));})();\n</script>\n";
  h += "</body>\n</html>\n";
  return h;
}

void write_run_html(const std::filesystem::path& path, const RunReportInput& input,
                    const ReportOptions& options) {
  io::write_file_atomically(path, render_run_html(input, options));
}

}  // namespace popalign::report
