// Self-contained HTML report with inline SVG charts (see html_report.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <popalign/core/random.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/metrics/correlation.hpp>
#include <popalign/metrics/population.hpp>
#include <popalign/report/html_report.hpp>

#include "html_fragments.hpp"

namespace popalign::report {

namespace {

using detail::compare;
using detail::comparison_table;
using detail::esc;
using detail::normalized;
using detail::num;
using detail::population_table;
using detail::PopulationRow;
using detail::signed_num;

constexpr const char* kPoolColor = "#8c8c8c";
constexpr const char* kSelColor = "#1f6fd1";
constexpr const char* kRefColor = "#e07b00";

/// Density histogram of column k on [lo, hi] with `bins` bins.
std::vector<double> histogram(const RowMatrix<double>& x, const Vector<double>& w, Index k,
                              double lo, double hi, int bins) {
  std::vector<double> h(static_cast<std::size_t>(bins), 0.0);
  const double width = (hi - lo) / bins;
  for (Index i = 0; i < x.rows(); ++i) {
    int b = static_cast<int>(std::floor((x(i, k) - lo) / width));
    b = std::clamp(b, 0, bins - 1);
    h[static_cast<std::size_t>(b)] += w[i];
  }
  for (double& v : h) v /= width;
  return h;
}

struct Series {
  std::string name;
  const char* color;
  std::vector<double> values;
  bool filled;
};

std::string distribution_chart(const std::string& trait, double lo, double hi,
                               const std::vector<Series>& series, int W, int H) {
  const double ml = 36, mr = 8, mt = 22, mb = 26;
  const double pw = W - ml - mr, ph = H - mt - mb;
  double ymax = 0;
  for (const auto& s : series)
    for (double v : s.values) ymax = std::max(ymax, v);
  if (ymax <= 0) ymax = 1;
  ymax *= 1.08;
  const int bins = static_cast<int>(series.front().values.size());
  auto X = [&](double v) { return ml + (v - lo) / (hi - lo) * pw; };
  auto Y = [&](double v) { return mt + ph - v / ymax * ph; };
  std::string s = fmt::format(
      "<svg class=\"chart\" data-chart=\"distribution\" data-trait=\"{}\" width=\"{}\" "
      "height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"Distribution of {}\">\n",
      esc(trait), W, H, W, H, esc(trait));
  s += fmt::format("<text x=\"{}\" y=\"14\" class=\"ct\">{}</text>\n", ml, esc(trait));
  // Axes and ticks.
  s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"ax\"/>\n",
                   ml, mt + ph, ml + pw, mt + ph);
  s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"ax\"/>\n",
                   ml, mt, ml, mt + ph);
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4.0;
    s += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tk\" text-anchor=\"middle\">{}</text>\n", X(v),
        mt + ph + 14, fmt::format("{:.2f}", v));
  }
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tk\" text-anchor=\"end\">{}</text>\n",
                   ml - 3, mt + 8, fmt::format("{:.2f}", ymax));
  const double bw = (hi - lo) / bins;
  for (const auto& se : series) {
    std::string d = fmt::format("M{:.1f},{:.1f}", X(lo), Y(0));
    for (int b = 0; b < bins; ++b) {
      const double v = se.values[static_cast<std::size_t>(b)];
      d += fmt::format(" L{:.1f},{:.1f} L{:.1f},{:.1f}", X(lo + b * bw), Y(v), X(lo + (b + 1) * bw),
                       Y(v));
    }
    d += fmt::format(" L{:.1f},{:.1f}", X(hi), Y(0));
    if (se.filled)
      s += fmt::format(
          "<path d=\"{} Z\" fill=\"{}\" fill-opacity=\"0.28\" stroke=\"{}\" "
          "stroke-width=\"1\" data-series=\"{}\"/>\n",
          d, se.color, se.color, esc(se.name));
    else
      s += fmt::format(
          "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" "
          "data-series=\"{}\"/>\n",
          d, se.color, esc(se.name));
  }
  s += "</svg>\n";
  return s;
}

std::string legend() {
  return fmt::format(
      "<p class=\"legend\"><span style=\"background:{}\"></span> pool &nbsp; <span "
      "style=\"background:{}\"></span> selection &nbsp; <span style=\"background:{}\"></span> "
      "reference</p>\n",
      kPoolColor, kSelColor, kRefColor);
}

std::string heat_color(double r) {
  // Diverging: -1 blue, 0 white, +1 red.
  r = std::clamp(r, -1.0, 1.0);
  int R, G, B;
  if (r >= 0) {
    R = 255;
    G = static_cast<int>(std::lround(255 - 160 * r));
    B = static_cast<int>(std::lround(255 - 190 * r));
  } else {
    R = static_cast<int>(std::lround(255 + 190 * r));
    G = static_cast<int>(std::lround(255 + 130 * r));
    B = 255;
  }
  return fmt::format("#{:02x}{:02x}{:02x}", R, G, B);
}

std::string correlation_chart(const std::string& name, const Eigen::MatrixXd& R,
                              const std::vector<std::string>& traits,
                              const std::string& subtitle = "") {
  const Index d = R.rows();
  const int cell = d <= 6 ? 40 : std::max(14, 240 / static_cast<int>(d));
  const int ml = 40, mt = 40;
  const int W = ml + cell * static_cast<int>(d) + 8, H = mt + cell * static_cast<int>(d) + 8;
  std::string s = fmt::format(
      "<svg class=\"chart\" data-chart=\"correlation\" data-set=\"{}\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"Correlation matrix of the {}\">\n",
      esc(name), W, H, W, H, esc(name));
  s += fmt::format("<text x=\"{}\" y=\"14\" class=\"ct\">{}</text>\n", ml, esc(name));
  if (!subtitle.empty())
    s += fmt::format("<text x=\"{}\" y=\"26\" class=\"tk\">{}</text>\n", ml, esc(subtitle));
  for (Index k = 0; k < d; ++k) {
    const std::string t = k < static_cast<Index>(traits.size())
                              ? traits[static_cast<std::size_t>(k)]
                              : std::to_string(k + 1);
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tk\" text-anchor=\"middle\">{}</text>\n",
                     ml + cell * k + cell / 2, mt - 6, esc(t));
    s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tk\" text-anchor=\"end\">{}</text>\n", ml - 4,
                     mt + cell * k + cell / 2 + 4, esc(t));
  }
  for (Index i = 0; i < d; ++i)
    for (Index j = 0; j < d; ++j) {
      const double r = R(i, j);
      s += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{} "
          "r = {:.3f}</title></rect>\n",
          ml + cell * j, mt + cell * i, cell, cell, std::isfinite(r) ? heat_color(r) : "#dddddd",
          esc(name), r);
      if (cell >= 30)
        s += fmt::format("<text x=\"{}\" y=\"{}\" class=\"cv\" text-anchor=\"middle\">{}</text>\n",
                         ml + cell * j + cell / 2, mt + cell * i + cell / 2 + 4,
                         std::isfinite(r) ? fmt::format("{:.2f}", r) : "-");
    }
  s += "</svg>\n";
  return s;
}

std::string weights_chart(const Vector<double>& w, int W, int H) {
  // Histogram of log10(n w_i) (1 = uniform weight), zero weights counted separately.
  const Index n = w.size();
  const int bins = 40;
  const double lo = -3, hi = 2;
  std::vector<double> h(bins, 0.0);
  Index zeros = 0;
  for (Index i = 0; i < n; ++i) {
    if (!(w[i] > 0)) {
      ++zeros;
      continue;
    }
    const double v = std::log10(w[i] * static_cast<double>(n));
    int b = static_cast<int>(std::floor((v - lo) / (hi - lo) * bins));
    h[static_cast<std::size_t>(std::clamp(b, 0, bins - 1))] += 1;
  }
  double ymax = 1;
  for (double v : h) ymax = std::max(ymax, v);
  const double ml = 44, mr = 8, mt = 22, mb = 28;
  const double pw = W - ml - mr, ph = H - mt - mb;
  std::string s = fmt::format(
      "<svg class=\"chart\" data-chart=\"weights\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} "
      "{}\" role=\"img\" aria-label=\"Importance weights\">\n",
      W, H, W, H);
  s += fmt::format(
      "<text x=\"{}\" y=\"14\" class=\"ct\">importance weight n&middot;w (log scale), "
      "{} zero</text>\n",
      ml, zeros);
  s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" class=\"ax\"/>\n",
                   ml, mt + ph, ml + pw, mt + ph);
  for (int b = 0; b < bins; ++b) {
    const double hh = h[static_cast<std::size_t>(b)] / ymax * ph;
    if (hh <= 0) continue;
    s += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "fill=\"{}\"/>\n",
        ml + pw * b / bins, mt + ph - hh, pw / bins - 0.5, hh, kSelColor);
  }
  for (int e = -3; e <= 2; ++e) {
    const double x = ml + pw * (e - lo) / (hi - lo);
    s += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tk\" text-anchor=\"middle\">{}</text>\n", x,
        mt + ph + 14, e == 0 ? std::string("1") : fmt::format("1e{}", e));
  }
  s += fmt::format(
      "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tk\" text-anchor=\"end\">{:.0f}</text>\n", ml - 3,
      mt + 8, ymax);
  s += "</svg>\n";
  return s;
}

/// The reference split in two seeded random halves, compared with each other: the sampling
/// noise of the five metrics at half the reference's size (what "0" looks like with finite data).
metrics::PopulationMetrics reference_noise_floor(const RowMatrix<double>& ref) {
  std::vector<Index> idx(static_cast<std::size_t>(ref.rows()));
  for (Index i = 0; i < ref.rows(); ++i) idx[static_cast<std::size_t>(i)] = i;
  Rng rng(hash_string("popalign.report.reference_halves"));
  rng.shuffle(idx);
  const Index h = ref.rows() / 2;
  RowMatrix<double> a(h, ref.cols()), b(ref.rows() - h, ref.cols());
  for (Index i = 0; i < ref.rows(); ++i) {
    if (i < h)
      a.row(i) = ref.row(idx[static_cast<std::size_t>(i)]);
    else
      b.row(i - h) = ref.row(idx[static_cast<std::size_t>(i)]);
  }
  metrics::PopulationOptions o;
  o.mmd_max_points = 2000;
  o.subsample_seed = hash_string("popalign.align.mmd");
  o.mmd.seed = hash_string("popalign.align.mmd.median");
  o.sliced.seed = hash_string("popalign.align.sliced");
  o.sliced.n_projections = align::AlignOptions{}.sliced_projections;
  return metrics::population_metrics<double>(a, b, Vector<double>(), Vector<double>(), o);
}

}  // namespace

void ReportInput::validate() const {
  const Index d = static_cast<Index>(traits.size());
  check_argument(d > 0, "traits", "is empty");
  check_argument(
      pool.rows() > 0 && pool.cols() == d, "pool",
      fmt::format("must have rows and {} columns (has {} x {})", d, pool.rows(), pool.cols()));
  check_argument(selection.rows() > 0 && selection.cols() == d, "selection",
                 fmt::format("must have rows and {} columns (has {} x {})", d, selection.rows(),
                             selection.cols()));
  check_argument(reference.rows() > 1 && reference.cols() == d, "reference",
                 fmt::format("must have 2+ rows and {} columns (has {} x {})", d, reference.rows(),
                             reference.cols()));
  check_argument(selection_weights.size() == 0 || selection_weights.size() == selection.rows(),
                 "selection_weights", "must be empty or have one entry per selection row");
  check_argument(importance_weights.size() == 0 || importance_weights.size() == pool.rows(),
                 "importance_weights", "must be empty or have one entry per pool row");
  check_argument(pool.allFinite() && selection.allFinite() && reference.allFinite(), "pool",
                 "pool, selection and reference must be finite");
}

void ReportOptions::validate() const {
  check_argument(bins >= 5 && bins <= 200, "bins", "must be in [5, 200]");
  check_argument(chart_width >= 120 && chart_width <= 2000, "chart_width",
                 "must be in [120, 2000]");
  check_argument(chart_height >= 80 && chart_height <= 2000, "chart_height",
                 "must be in [80, 2000]");
}

std::string render_html(const ReportInput& in, const ReportOptions& opt) {
  in.validate();
  opt.validate();
  const Index d = static_cast<Index>(in.traits.size());
  const Vector<double> pw = normalized(Vector<double>(), in.pool.rows());
  const Vector<double> sw = normalized(in.selection_weights, in.selection.rows());
  const Vector<double> rw = normalized(Vector<double>(), in.reference.rows());

  std::string h = detail::page_head(in.title);
  h += "<h1>" + esc(in.title) + "</h1>\n";
  h += fmt::format(
      "<p>Pool: <b>{}</b> personas &middot; selection: <b>{}</b> rows &middot; "
      "reference: <b>{}</b> people &middot; traits: {}{}</p>\n",
      in.pool.rows(), in.selection.rows(), in.reference.rows(), d, detail::kChartCount);
  for (const auto& n : in.notes) h += "<p class=\"muted\">" + esc(n) + "</p>\n";

  // Parameters.
  h += "<h2>Parameters</h2>\n<table class=\"params\">\n";
  if (in.diagnostics) {
    const auto& dg = *in.diagnostics;
    h += fmt::format(
        "<tr><td>method</td><td>{}</td></tr>\n<tr><td>output</td><td>{}</td></tr>\n"
        "<tr><td>seed</td><td>{}</td></tr>\n<tr><td>N requested</td><td>{}</td></tr>\n",
        align::to_string(dg.method), align::to_string(dg.output), dg.seed, dg.requested);
  }
  for (const auto& [k, v] : in.parameters)
    h += "<tr><td>" + esc(k) + "</td><td>" + esc(v) + "</td></tr>\n";
  h += "</table>\n";

  // Metrics.
  h += "<h2>Distances to the reference</h2>\n";
  std::vector<MetricsRow> rows;
  rows.push_back({"pool", compare(in.pool, pw, in.reference), ""});
  {
    MetricsRow sel{"selection", compare(in.selection, sw, in.reference), ""};
    const double red = 1.0 - sel.comparison.mean_w1 / rows[0].comparison.mean_w1;
    if (std::isfinite(red)) sel.note = fmt::format("mean W1 {:+.1f}% vs pool", -100 * red);
    rows.push_back(std::move(sel));
  }
  h += "<p class=\"muted\">W1: Wasserstein-1 distance per trait (in the trait's units); gaps: "
       "set minus reference; sliced W2 on traits standardised by the reference; correlation "
       "distance: RMS difference of the off-diagonal correlations.</p>\n";
  h += comparison_table(rows, in.traits);
  {
    h += "<h2>Population metrics</h2>\n";
    h += "<p class=\"muted\">The five metrics of the population-alignment literature, in "
         "reference-standardised units (both sets standardised by the reference's mean and sd): "
         "mean per-trait Wasserstein-1, Fr&eacute;chet distance of Gaussian fits (squared W2, "
         "as FID), sliced W2, unbiased Gaussian MMD&sup2; (median-heuristic bandwidth; can be "
         "slightly negative) and the mean absolute difference of the trait correlations. "
         "Reference row: two random halves of the reference against each other, the sampling "
         "noise (a set cannot be expected to do better at that size).</p>\n";
    std::vector<PopulationRow> pr;
    pr.push_back({"pool", rows[0].comparison.population, ""});
    pr.push_back({"selection", rows[1].comparison.population, ""});
    const auto& pp = rows[0].comparison.population;
    const auto& sp = rows[1].comparison.population;
    int better = 0;
    for (const auto& [x, y] :
         {std::pair{sp.mean_w1, pp.mean_w1}, std::pair{sp.frechet, pp.frechet},
          std::pair{sp.sliced_wasserstein, pp.sliced_wasserstein}, std::pair{sp.mmd2, pp.mmd2},
          std::pair{sp.correlation_mae, pp.correlation_mae}})
      better += x < y ? 1 : 0;
    pr[1].note = fmt::format("better than the pool on {} of 5", better);
    if (in.reference.rows() >= 4)
      pr.push_back(
          {"reference (half vs half)", reference_noise_floor(in.reference), "noise floor"});
    else
      pr.push_back({"reference", metrics::PopulationMetrics{}, "too few rows to split"});
    h += population_table(pr);
  }
  if (!in.comparison.empty()) {
    h += "<h2>Comparison</h2>\n";
    if (!in.comparison_caption.empty()) h += "<p>" + esc(in.comparison_caption) + "</p>\n";
    h += comparison_table(in.comparison, in.traits);
  }

  // Distributions.
  h += "<h2>Trait distributions</h2>\n" + legend() + "<div class=\"grid\">\n";
  for (Index k = 0; k < d; ++k) {
    double lo = std::min({in.pool.col(k).minCoeff(), in.reference.col(k).minCoeff(),
                          in.selection.col(k).minCoeff()});
    double hi = std::max({in.pool.col(k).maxCoeff(), in.reference.col(k).maxCoeff(),
                          in.selection.col(k).maxCoeff()});
    if (!(hi > lo)) {
      lo -= 0.5;
      hi += 0.5;
    }
    const double pad = (hi - lo) * 1e-9;
    hi += pad;
    std::vector<Series> series{
        {"reference", kRefColor, histogram(in.reference, rw, k, lo, hi, opt.bins), true},
        {"pool", kPoolColor, histogram(in.pool, pw, k, lo, hi, opt.bins), false},
        {"selection", kSelColor, histogram(in.selection, sw, k, lo, hi, opt.bins), false}};
    h += distribution_chart(in.traits[static_cast<std::size_t>(k)], lo, hi, series, opt.chart_width,
                            opt.chart_height);
  }
  h += "</div>\n";

  // Correlations.
  if (d > 1) {
    h += "<h2>Correlation matrices</h2>\n<p class=\"muted\">Pearson correlations; blue negative, "
         "red positive.</p>\n<div class=\"grid\">\n";
    const Eigen::MatrixXd r_ref = metrics::weighted_correlation<double>(in.reference, rw);
    const Eigen::MatrixXd r_sel = metrics::weighted_correlation<double>(in.selection, sw);
    const Eigen::MatrixXd r_pool = metrics::weighted_correlation<double>(in.pool, pw);
    auto mae = [&](const Eigen::MatrixXd& r) {
      double acc = 0.0;
      for (Index i = 0; i < d; ++i)
        for (Index j = i + 1; j < d; ++j) acc += std::abs(r(i, j) - r_ref(i, j));
      return acc / (static_cast<double>(d) * static_cast<double>(d - 1) / 2.0);
    };
    h += correlation_chart("reference", r_ref, in.traits);
    h += correlation_chart("selection", r_sel, in.traits,
                           fmt::format("MAE {:.3f} vs reference", mae(r_sel)));
    h += correlation_chart("pool", r_pool, in.traits,
                           fmt::format("MAE {:.3f} vs reference", mae(r_pool)));
    h += "</div>\n";
  }

  // Weights and diagnostics.
  h += "<h2>Weights and diagnostics</h2>\n";
  if (in.importance_weights.size() > 0) {
    const double ess = 1.0 / normalized(in.importance_weights, in.pool.rows()).squaredNorm();
    h += fmt::format(
        "<p>Effective sample size of the importance weights: <b>{:.1f}</b> of {} "
        "({:.1f}%).</p>\n",
        ess, in.pool.rows(), 100 * ess / static_cast<double>(in.pool.rows()));
    h += weights_chart(normalized(in.importance_weights, in.pool.rows()), 2 * opt.chart_width,
                       opt.chart_height);
  } else {
    h += "<p class=\"muted\">No importance weights (the method does not use them).</p>\n";
  }
  if (in.diagnostics) {
    const auto& dg = *in.diagnostics;
    h += "<table class=\"diag\">\n";
    if (dg.has_weights)
      h += fmt::format(
          "<tr><td>ESS (after / before stabilising)</td><td>{:.1f} / {:.1f}</td></tr>\n"
          "<tr><td>PSIS k&#770;</td><td>{}</td></tr>\n<tr><td>uncovered reference "
          "share</td><td>{:.1f}%</td></tr>\n",
          dg.ess, dg.raw_ess, num(dg.k_hat, 2), 100 * dg.uncovered_reference);
    if (dg.has_transport)
      h += fmt::format(
          "<tr><td>transport status</td><td>{}</td></tr>\n<tr><td>iterations (at "
          "target eps / total)</td><td>{} / {}</td></tr>\n<tr><td>eps (cost "
          "units)</td><td>{}</td></tr>\n<tr><td>relative marginal error</td><td>{:.2e}"
          "</td></tr>\n<tr><td>candidates / saturated</td><td>{} / {}</td></tr>\n",
          ot::to_string(dg.ot_status), dg.ot_iterations, dg.ot_total_iterations, num(dg.eps, 5),
          dg.ot_error, dg.candidates, dg.saturated);
    if (opt.include_timings) {
      for (const auto& st : dg.stages)
        h += fmt::format("<tr><td>stage {}</td><td>{:.3f} s</td></tr>\n", esc(st.name), st.seconds);
      h += fmt::format("<tr><td>total</td><td>{:.3f} s</td></tr>\n", dg.seconds);
    }
    h += "</table>\n";
    if (!dg.warnings.empty()) {
      h += "<h2>Warnings</h2>\n";
      for (const auto& w : dg.warnings) h += "<div class=\"warn\">" + esc(w) + "</div>\n";
    }
  }
  h += "<p class=\"muted\">Generated by popalign. Self-contained: no external resources.</p>\n";
  h += detail::page_end();
  return h;
}

void write_html(const std::filesystem::path& path, const ReportInput& input,
                const ReportOptions& options) {
  io::write_file_atomically(path, render_html(input, options));
}

}  // namespace popalign::report
