// Tests of `popalign compare` (src/cli/cmd_compare.cpp), run as a child process. Expected values
// come from metrics::population_metrics / compare on the same numbers (the metrics themselves are
// checked against SciPy / NumPy in tests/metrics).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include <popalign/core/random.hpp>
#include <popalign/metrics/compare.hpp>
#include <popalign/metrics/population.hpp>

#include "align/test_util.hpp"

namespace popalign {
namespace {

using test::read_text;
using test::run_popalign;
using test::temp_dir;
using test::write_text;

struct Data {
  RowMatrix<double> a, b;
  Vector<double> wa, wb;
};

/// A (id, x, y, z, w) shifted and less correlated than B (x, y, z, note, wt), numbers written
/// shortest round-trip so the program reads exactly these doubles.
Data write_inputs(const std::filesystem::path& dir) {
  Rng rng(3);
  Data d;
  d.a.resize(120, 3);
  d.b.resize(200, 3);
  d.wa.resize(120);
  d.wb.resize(200);
  std::ostringstream a, b;
  a << "id,x,y,z,w\n";
  for (Index i = 0; i < d.a.rows(); ++i) {
    const double u = rng.normal();
    d.a.row(i) << 3.0 + 0.4 + u, 10.0 * (0.2 * u + rng.normal()), rng.normal();
    d.wa[i] = 0.5 + rng.uniform();
    a << "p" << i << "," << fmt::format("{},{},{},{}", d.a(i, 0), d.a(i, 1), d.a(i, 2), d.wa[i])
      << "\n";
  }
  b << "x\ty\tz\tnote\twt\n";
  for (Index i = 0; i < d.b.rows(); ++i) {
    const double u = rng.normal();
    d.b.row(i) << 3.0 + u, 10.0 * (0.8 * u + 0.6 * rng.normal()), rng.normal();
    d.wb[i] = 0.5 + rng.uniform();
    b << fmt::format("{}\t{}\t{}\tUS\t{}", d.b(i, 0), d.b(i, 1), d.b(i, 2), d.wb[i]) << "\n";
  }
  write_text(dir / "a.csv", a.str());
  write_text(dir / "b.tsv", b.str());
  return d;
}

double json_value(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\": ";
  const auto p = json.find(k);
  if (p == std::string::npos) return std::nan("");
  if (json.compare(p + k.size(), 4, "null") == 0) return std::nan("");
  return std::stod(json.substr(p + k.size()));
}

TEST(CliCompare, PrintsTheFiveMetricsAndMatchesTheLibrary) {
  const auto dir = temp_dir("compare_ok");
  const Data d = write_inputs(dir);
  const std::string files = "'" + (dir / "a.csv").string() + "' '" + (dir / "b.tsv").string() + "'";
  // Text: the default trait set is x, y, z (w is a number too, but not in B; id excluded).
  auto r = run_popalign("compare " + files, dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const metrics::PopulationMetrics p = metrics::population_metrics<double>(d.a, d.b);
  for (const std::string s :
       {fmt::format("mean W1            {:.4f}", p.mean_w1),
        fmt::format("Fréchet distance   {:.4f}", p.frechet),
        fmt::format("sliced W2          {:.4f}", p.sliced_wasserstein),
        fmt::format("MMD^2 (unbiased)   {:.6f}", p.mmd2),
        fmt::format("correlation MAE    {:.4f}", p.correlation_mae), std::string("3 traits")})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  const metrics::Comparison c = metrics::compare<double>(d.a, d.b);
  EXPECT_NE(r.out.find(fmt::format("y      {:>9.4f}", c.w1[1])), std::string::npos) << r.out;

  // JSON with weights and a seed: every number equals the library's.
  auto j = run_popalign("compare " + files + " --weight-a w --weight-b wt --json --seed 9", dir);
  ASSERT_EQ(j.exit_code, 0) << j.err;
  metrics::PopulationOptions po;
  po.sliced.seed = 9;
  po.mmd.seed = 9;
  po.subsample_seed = 9;
  const metrics::PopulationMetrics pw =
      metrics::population_metrics<double>(d.a, d.b, d.wa, d.wb, po);
  EXPECT_NEAR(json_value(j.out, "mean_w1"), pw.mean_w1, 1e-12) << j.out;
  EXPECT_NEAR(json_value(j.out, "frechet"), pw.frechet, 1e-12);
  EXPECT_NEAR(json_value(j.out, "sliced_wasserstein"), pw.sliced_wasserstein, 1e-12);
  EXPECT_NEAR(json_value(j.out, "mmd2"), pw.mmd2, 1e-12);
  EXPECT_NEAR(json_value(j.out, "mmd2_biased"), pw.mmd2_biased, 1e-12);
  EXPECT_NEAR(json_value(j.out, "correlation_mae"), pw.correlation_mae, 1e-12);
  EXPECT_NE(j.out.find("\"name\": \"z\""), std::string::npos);
  // Weighted differs from unweighted (the weights are really read).
  EXPECT_GT(std::abs(json_value(j.out, "frechet") - p.frechet), 1e-6);
  // Same seed, same bytes; another seed, other directions.
  auto j2 = run_popalign("compare " + files + " --weight-a w --weight-b wt --json --seed 9", dir);
  EXPECT_EQ(j.out, j2.out);
  auto j3 = run_popalign("compare " + files +
                             " --weight-a w --weight-b wt --json --seed 10 --projections 16 "
                             "--mmd-points 50 --threads 1",
                         dir);
  ASSERT_EQ(j3.exit_code, 0) << j3.err;
  EXPECT_NE(json_value(j3.out, "sliced_wasserstein"), json_value(j.out, "sliced_wasserstein"));
  EXPECT_EQ(json_value(j3.out, "frechet"), json_value(j.out, "frechet"));

  // --traits, one trait: no correlation (null / "-").
  auto t = run_popalign("compare " + files + " --traits x --json", dir);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("\"correlation_mae\": null"), std::string::npos) << t.out;
  EXPECT_EQ(t.out.find("\"name\": \"y\""), std::string::npos);
}

TEST(CliCompare, NegativeControlSameFileIsZero) {
  const auto dir = temp_dir("compare_same");
  write_inputs(dir);
  const std::string b = "'" + (dir / "b.tsv").string() + "'";
  auto r = run_popalign("compare " + b + " " + b + " --json", dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(json_value(r.out, "mean_w1"), 0.0, 1e-12);
  EXPECT_NEAR(json_value(r.out, "frechet"), 0.0, 1e-9);
  EXPECT_NEAR(json_value(r.out, "correlation_mae"), 0.0, 1e-12);
  EXPECT_NEAR(json_value(r.out, "sliced_wasserstein"), 0.0, 1e-12);
  // The unbiased MMD^2 of a sample against itself is not 0 (the diagonal is excluded) but small;
  // the biased one is 0.
  EXPECT_NEAR(json_value(r.out, "mmd2_biased"), 0.0, 1e-12);
}

TEST(CliCompare, BadInputNamesFileLineAndColumn) {
  const auto dir = temp_dir("compare_bad");
  write_inputs(dir);
  const std::string a = (dir / "a.csv").string(), b = (dir / "b.tsv").string();
  write_text(dir / "bad.csv", "id,x,y,z\np1,1,2,3\np2,1,oops,3\n");
  auto r = run_popalign("compare '" + (dir / "bad.csv").string() + "' '" + b + "'", dir);
  EXPECT_EQ(r.exit_code, 3);  // a file error (docs/cli.md)
  EXPECT_NE(r.err.find("bad.csv"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3"), std::string::npos) << r.err;  // line 3
  EXPECT_NE(r.err.find("'y'"), std::string::npos) << r.err;
  write_text(dir / "negw.csv", "id,x,y,z,w\np1,1,2,3,1\np2,2,1,3,-2\n");
  r = run_popalign("compare '" + (dir / "negw.csv").string() + "' '" + b + "' --weight-a w", dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("negw.csv:3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("column 'w': weight -2 is negative"), std::string::npos) << r.err;
  r = run_popalign("compare '" + a + "' '" + b + "' --weight-b nope", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--weight-b"), std::string::npos) << r.err;
  r = run_popalign("compare '" + a + "' '" + b + "' --traits x,missing", dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("missing"), std::string::npos) << r.err;
  r = run_popalign("compare '" + a + "' '" + (dir / "absent.csv").string() + "'", dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("absent.csv"), std::string::npos) << r.err;
  r = run_popalign("compare '" + a + "' '" + b + "' --projections 0", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--projections"), std::string::npos) << r.err;
  write_text(dir / "words.csv", "name,city\nann,rome\n");
  r = run_popalign("compare '" + (dir / "words.csv").string() + "' '" + b + "'", dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--traits"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace popalign
