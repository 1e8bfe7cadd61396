// The whole-run report (see include/popalign/report/run_report.hpp). Alignment sections are
// render_html() pages cut to their body: everything between <body> and the page's closing
// <script>, headings moved down, the per-page chart counter removed, so the plots are the
// single-alignment report's own and the page has one counter. Tables, escaping, the style sheet
// and the counter script are the single report's (html_fragments.hpp).
#include <popalign/report/run_report.hpp>

#include <fmt/format.h>

#include <cmath>

#include <popalign/core/error.hpp>
#include <popalign/io/csv.hpp>

#include "html_fragments.hpp"

namespace popalign::report {

namespace {

using detail::esc;
using detail::num;

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

/// render_html's body, `shift` heading levels down, without its script and chart counter.
std::string section_body(const ReportInput& in, const ReportOptions& opt, int shift) {
  const std::string page = render_html(in, opt);
  std::string body = between(page, "<body>\n", "<script>");
  for (int level = 6 - shift; level >= 1; --level) {
    replace_all(body, fmt::format("<h{}>", level), fmt::format("<h{}>", level + shift));
    replace_all(body, fmt::format("</h{}>", level), fmt::format("</h{}>", level + shift));
  }
  replace_all(body, detail::kChartCount, "");
  return body;
}

align::Comparison compare(const RowMatrix<double>& x, const Vector<double>& w,
                          const RowMatrix<double>& ref) {
  return detail::compare(x, detail::normalized(w, x.rows()), ref);
}

/// At most `max` bytes of `s`, cut at a space and never inside a UTF-8 sequence, "…" appended
/// when cut.
std::string shorten(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = s.rfind(' ', max);
  if (cut == std::string::npos || cut < max / 2) cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\xE2\x80\xA6";
}

std::string percent_change(double value, double base) {
  const double r = value / base - 1.0;
  return std::isfinite(r) ? fmt::format("{:+.1f}%", 100 * r) : std::string();
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
    check_argument(groups[i].alignment.traits == global.traits,
                   fmt::format("groups[{}].alignment.traits", i).c_str(),
                   "must be the global alignment's traits");
  }
}

std::string render_run_html(const RunReportInput& in, const ReportOptions& opt) {
  in.validate();
  opt.validate();
  const RowMatrix<double>& global_set = in.global.selection;
  const Vector<double>& global_w = in.global.selection_weights;

  // Text cells of the run's own tables read left to right.
  std::string h = detail::page_head(
      in.title,
      "<style>table.inputs td,table.stages td,table.groups td:nth-child(2),"
      "table.groups td:nth-child(3),table.members td:nth-child(2){text-align:left}</style>\n");
  h += "<h1>" + esc(in.title) + "</h1>\n";
  h += fmt::format("<p>Global set: <b>{}</b> personas &middot; groups: <b>{}</b>{}</p>\n",
                   global_set.rows(), in.groups.size(), detail::kChartCount);
  h += "<nav><ul>\n<li><a href=\"#run\">Run</a></li>\n";
  if (!in.funnel.empty()) h += "<li><a href=\"#funnel\">Mining funnel</a></li>\n";
  if (!in.groups.empty()) h += "<li><a href=\"#groups\">Groups at a glance</a></li>\n";
  h += "<li><a href=\"#global\">Global alignment</a></li>\n";
  for (const auto& g : in.groups)
    h += "<li><a href=\"#group-" + esc(g.name) + "\">Group " + esc(g.name) + "</a></li>\n";
  h += "</ul></nav>\n";
  for (const auto& n : in.notes) h += "<div class=\"warn\">" + esc(n) + "</div>\n";

  h += "<section id=\"run\">\n<h2>Run</h2>\n";
  if (!in.inputs.empty()) {
    h += "<table class=\"inputs\">\n";
    for (const auto& [what, value] : in.inputs)
      h += "<tr><td>" + esc(what) + "</td><td>" + esc(value) + "</td></tr>\n";
    h += "</table>\n";
  }
  h += "<table class=\"stages\">\n<tr><th>stage</th><th>result</th></tr>\n";
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

  // Per group: the distances to the group's reference and to the global set (computed once).
  struct GroupNumbers {
    std::vector<MetricsRow> to_reference, to_global;
  };
  std::vector<GroupNumbers> numbers;
  for (const auto& g : in.groups) {
    const ReportInput& a = g.alignment;
    GroupNumbers n;
    n.to_reference.push_back({"group set", compare(a.selection, a.selection_weights, a.reference),
                              "the group construction's result"});
    n.to_reference.push_back({"candidates", compare(a.pool, Vector<double>(), a.reference),
                              "the kept revisions, before alignment"});
    n.to_reference.push_back({"global set", compare(global_set, global_w, a.reference),
                              "what you have without the group stage"});
    for (const auto& [name, x] : g.compared)
      n.to_reference.push_back({name, compare(x, Vector<double>(), a.reference), ""});
    n.to_reference[0].note += fmt::format(
        "; mean W1 {} vs the global set",
        percent_change(n.to_reference[0].comparison.mean_w1, n.to_reference[2].comparison.mean_w1));
    if (global_set.rows() >= 2) {
      n.to_global.push_back(
          {"group set", compare(a.selection, a.selection_weights, global_set), ""});
      n.to_global.push_back({"candidates", compare(a.pool, Vector<double>(), global_set), ""});
    }
    numbers.push_back(std::move(n));
  }

  if (!in.groups.empty()) {
    h += "<section id=\"groups\">\n<h2>Groups at a glance</h2>\n";
    h += "<p class=\"muted\">Mean W1 (per-trait Wasserstein-1, averaged; in the traits' units) of "
         "each set against the group's reference people, and of the group set against the "
         "global set. Lower is closer.</p>\n";
    h += "<table class=\"groups\">\n<tr><th>group</th><th>description</th><th>reference</th>"
         "<th>retrieved</th><th>kept</th><th>selected</th><th>group set &rarr; group ref.</th>"
         "<th>global set &rarr; group ref.</th><th>candidates &rarr; group ref.</th><th>group set "
         "&rarr; global set</th><th>warnings</th></tr>\n";
    for (std::size_t i = 0; i < in.groups.size(); ++i) {
      const auto& g = in.groups[i];
      const auto& n = numbers[i];
      h += fmt::format(
          "<tr><td><a href=\"#group-{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
          "<td>{}</td><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
          esc(g.name), esc(g.name), esc(g.query), esc(g.reference), g.retrieved, g.kept,
          g.alignment.selection.rows(), num(n.to_reference[0].comparison.mean_w1),
          num(n.to_reference[2].comparison.mean_w1), num(n.to_reference[1].comparison.mean_w1),
          n.to_global.empty() ? std::string("&ndash;") : num(n.to_global[0].comparison.mean_w1),
          g.notes.size());
    }
    h += "</table>\n</section>\n";
  }

  h += "<section id=\"global\">\n" + section_body(in.global, opt, 1) + "</section>\n";
  for (std::size_t i = 0; i < in.groups.size(); ++i) {
    const auto& g = in.groups[i];
    const auto& n = numbers[i];
    h += "<section id=\"group-" + esc(g.name) + "\">\n<h2>Group " + esc(g.name) + "</h2>\n";
    h += "<p>Description: &ldquo;" + esc(g.query) +
         "&rdquo; &middot; reference: " + esc(g.reference) + "</p>\n";
    {
      std::string drops;
      for (const auto& [why, k] : g.drops)
        drops += (drops.empty() ? "" : "; ") + esc(why) + ": " + std::to_string(k);
      h += fmt::format(
          "<p>Retrieved and revised: <b>{}</b> &middot; kept: <b>{}</b> &middot; group set: "
          "<b>{}</b>{}</p>\n",
          g.retrieved, g.kept, g.alignment.selection.rows(),
          drops.empty() ? std::string() : " &middot; dropped: " + drops);
    }
    for (const auto& note : g.notes) h += "<div class=\"warn\">" + esc(note) + "</div>\n";
    h += "<h3>Distances to the group's reference</h3>\n";
    h += "<p class=\"muted\">Each set against the group's reference people: W1 and gaps in the "
         "traits' units, the other columns on traits standardised by the group's "
         "reference.</p>\n";
    h += detail::comparison_table(n.to_reference, g.alignment.traits);
    if (!n.to_global.empty()) {
      h += "<h3>Distance of the group set to the global set</h3>\n";
      h += "<p class=\"muted\">The global set taken as the reference: how far revising the "
           "personas toward the group and aligning them to the group's reference moved the set "
           "away from the global one.</p>\n";
      h += detail::comparison_table(n.to_global, g.alignment.traits);
    }
    if (!g.members.empty()) {
      h += "<h3>The group set</h3>\n<table class=\"members\">\n<tr><th>id</th><th>persona</th>"
           "<th></th></tr>\n";
      for (const auto& m : g.members)
        h += "<tr><td>" + esc(m.id) + "</td><td>" + esc(shorten(m.text, 240)) + "</td><td>" +
             esc(m.note) + "</td></tr>\n";
      h += "</table>\n";
    }
    h += section_body(g.alignment, opt, 2);
    h += "</section>\n";
  }
  h += detail::page_end();
  return h;
}

void write_run_html(const std::filesystem::path& path, const RunReportInput& input,
                    const ReportOptions& options) {
  io::write_file_atomically(path, render_run_html(input, options));
}

}  // namespace popalign::report
