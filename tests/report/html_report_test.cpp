// Tests of include/popalign/report/html_report.hpp, including a render in headless Chromium.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <popalign/align/align.hpp>
#include <popalign/metrics/population.hpp>
#include <popalign/report/html_report.hpp>

namespace popalign::report {
namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

ReportInput make_sample_input() {
  Rng rng(5);
  ReportInput in;
  in.traits = {"E", "N", "A", "C"};
  in.pool.resize(400, 4);
  in.reference.resize(600, 4);
  for (Index i = 0; i < 400; ++i)
    for (Index k = 0; k < 4; ++k) in.pool(i, k) = rng.normal(k == 2 ? 0.7 : 0.0, 0.6);
  for (Index i = 0; i < 600; ++i)
    for (Index k = 0; k < 4; ++k)
      in.reference(i, k) = rng.normal(0.0, 1.0) + (k == 1 ? 0.3 * in.reference(i, 0) : 0.0);
  align::AlignOptions o;
  o.n = 100;
  o.seed = 1;
  const align::AlignResult r = align::align<double>(in.pool, in.reference, o);
  in.selection.resize(static_cast<Index>(r.indices.size()), 4);
  for (std::size_t k = 0; k < r.indices.size(); ++k)
    in.selection.row(static_cast<Index>(k)) = in.pool.row(r.indices[k]);
  in.importance_weights = r.importance_weights;
  in.diagnostics = r.diagnostics;
  in.parameters = {{"pool file", "pool <test>.csv"}};
  in.comparison = {{"pool", r.diagnostics.before, ""}, {"resample", r.diagnostics.after, "better"}};
  in.comparison_caption = "caption & more";
  return in;
}

/// Built once (the alignment inside is the slow part).
const ReportInput& sample_input() {
  static const ReportInput in = make_sample_input();
  return in;
}

TEST(HtmlReport, HasEveryChartAndTable) {
  const ReportInput in = sample_input();
  const std::string h = render_html(in);
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count(h, "data-chart=\"distribution\""), 4u);
  EXPECT_EQ(count(h, "data-chart=\"correlation\""), 3u);
  EXPECT_EQ(count(h, "data-chart=\"weights\""), 1u);
  EXPECT_EQ(count(h, "<svg class=\"chart\""), 8u);
  // 4 x 4 cells per heatmap.
  EXPECT_EQ(count(h, "<rect x=") - count(h, "fill=\"#1f6fd1\"/>"), 48u);
  EXPECT_NE(h.find("<table class=\"metrics\">"), std::string::npos);
  EXPECT_NE(h.find("pool &lt;test&gt;.csv"), std::string::npos);  // escaped
  EXPECT_NE(h.find("caption &amp; more"), std::string::npos);
  EXPECT_NE(h.find("<td>seed</td><td>1</td>"), std::string::npos);
  EXPECT_NE(h.find("Effective sample size"), std::string::npos);
  // Offline: no external resources.
  EXPECT_EQ(h.find("http://"), std::string::npos);
  EXPECT_EQ(h.find("https://"), std::string::npos);
  EXPECT_EQ(h.find("src="), std::string::npos);
}

TEST(HtmlReport, ShowsTheFivePopulationMetricsForPoolSelectionAndReference) {
  const ReportInput& in = sample_input();
  const std::string h = render_html(in);
  const auto table = h.find("<table class=\"population\">");
  ASSERT_NE(table, std::string::npos);
  const std::string t = h.substr(table, h.find("</table>", table) - table);
  // The pool row equals metrics::population_metrics on the pool (same standardisation and
  // estimator; the MMD's subsample seeds are align's, and 400 x 600 rows are not subsampled).
  const metrics::PopulationMetrics p = metrics::population_metrics<double>(in.pool, in.reference);
  EXPECT_NE(
      t.find(fmt::format("<td>pool</td><td>{:.4f}</td><td>{:.4f}</td>", p.mean_w1, p.frechet)),
      std::string::npos)
      << t;
  EXPECT_NE(t.find(fmt::format("<td>{:.4f}</td><td></td></tr>", p.correlation_mae)),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("<td>selection</td>"), std::string::npos);
  EXPECT_NE(t.find("better than the pool on "), std::string::npos);
  EXPECT_NE(t.find("<td>reference (half vs half)</td>"), std::string::npos);
  EXPECT_EQ(count(t, "<tr>"), 4u);  // header + pool, selection, reference
  // The comparison tables carry Fréchet, MMD^2 and correlation MAE too; the heat maps put the
  // reference first and print each set's correlation MAE to it.
  EXPECT_EQ(count(h, "<th>corr. MAE</th>"), 3u);
  EXPECT_LT(h.find("data-set=\"reference\""), h.find("data-set=\"selection\""));
  EXPECT_NE(h.find(fmt::format("MAE {:.3f} vs reference", p.correlation_mae)), std::string::npos);
  // Negative control: a report whose selection is the reference itself has a selection MAE of 0.
  ReportInput same = in;
  same.selection = in.reference;
  same.selection_weights.resize(0);
  EXPECT_NE(render_html(same).find("MAE 0.000 vs reference"), std::string::npos);
}

TEST(HtmlReport, DeterministicBytesWithoutTimings) {
  const ReportInput in = sample_input();
  EXPECT_EQ(render_html(in), render_html(in));
  EXPECT_EQ(render_html(in).find(" s</td>"), std::string::npos);
  ReportOptions o;
  o.include_timings = true;
  EXPECT_NE(render_html(in, o).find("stage transport"), std::string::npos);
}

TEST(HtmlReport, RejectsInconsistentInput) {
  ReportInput in = sample_input();
  in.traits.pop_back();
  try {
    (void)render_html(in);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "pool");
  }
  in = sample_input();
  in.importance_weights.resize(3);
  EXPECT_THROW((void)render_html(in), InvalidArgument);
  ReportOptions o;
  o.bins = 2;
  EXPECT_THROW((void)render_html(sample_input(), o), InvalidArgument);
}

TEST(HtmlReport, RendersInHeadlessChromium) {
  const char* chromium = "/usr/bin/chromium";
  if (!std::filesystem::exists(chromium)) GTEST_SKIP() << "chromium is not installed";
  const auto dir = std::filesystem::temp_directory_path() /
                   ("popalign_report_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto html = dir / "report.html";
  write_html(html, sample_input());
  const auto dom = dir / "dom.html";
  const std::string cmd =
      std::string("timeout 120 ") + chromium +
      " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--disable-dev-shm-usage --user-data-dir='" +
      (dir / "profile").string() + "' --dump-dom 'file://" + html.string() + "' > '" +
      dom.string() + "' 2> '" + (dir / "err.txt").string() + "'";
  const int rc = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << "chromium failed: " << rc;
  std::ifstream in(dom);
  std::stringstream s;
  s << in.rdbuf();
  const std::string d = s.str();
  // The page's script counted the charts in the rendered DOM and wrote the count.
  EXPECT_NE(d.find("<span id=\"chart-count\">8</span>"), std::string::npos) << d.substr(0, 2000);
  EXPECT_NE(d.find("data-charts=\"8\""), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace popalign::report
