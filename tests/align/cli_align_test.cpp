// Tests of the `popalign align` and `popalign demo` commands (src/cli/cmd_align.cpp,
// src/cli/cmd_demo.cpp), run as child processes.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include <popalign/core/random.hpp>

#include "align/test_util.hpp"

namespace popalign {
namespace {

using test::read_text;
using test::run_popalign;
using test::temp_dir;
using test::write_text;

/// A pool (id, a, b, c, note) skewed toward high `a`, and a reference (a, b, c, country).
void write_inputs(const std::filesystem::path& dir, int pool_rows = 300) {
  Rng rng(1);
  std::ostringstream p, r;
  p << "id,a,b,c,note\n";
  for (int i = 0; i < pool_rows; ++i)
    p << "p" << i << "," << rng.normal(0.8, 0.7) << "," << rng.normal(0, 1) << ","
      << rng.normal(0, 1) << ",x\n";
  r << "a\tb\tc\tcountry\n";
  for (int i = 0; i < 500; ++i)
    r << rng.normal(0, 1) << "\t" << rng.normal(0, 1) << "\t" << rng.normal(0, 1) << "\tUS\n";
  write_text(dir / "pool.csv", p.str());
  write_text(dir / "ref.tsv", r.str());
}

TEST(CliAlign, WritesNDistinctIdsAndIsDeterministic) {
  const auto dir = temp_dir("cli_ok");
  write_inputs(dir);
  const std::string base = "align --pool '" + (dir / "pool.csv").string() + "' --reference '" +
                           (dir / "ref.tsv").string() + "' --n 100 --seed 4 --quiet";
  auto r1 = run_popalign(base + " --out '" + (dir / "a.csv").string() + "' --report '" +
                             (dir / "a.html").string() + "'",
                         dir);
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  auto r2 = run_popalign(base + " --out '" + (dir / "b.csv").string() + "' --threads 1", dir);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  const std::string a = read_text(dir / "a.csv");
  EXPECT_EQ(a, read_text(dir / "b.csv"));
  std::istringstream in(a);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "id,a,b,c");  // traits = numeric columns both files share
  std::set<std::string> ids;
  int rows = 0;
  while (std::getline(in, line)) {
    ++rows;
    ids.insert(line.substr(0, line.find(',')));
  }
  EXPECT_EQ(rows, 100);
  EXPECT_EQ(ids.size(), 100u);
  const std::string html = read_text(dir / "a.html");
  EXPECT_NE(html.find("<svg class=\"chart\""), std::string::npos);

  // Every method, and the multiset output.
  for (const char* m : {"is", "ot", "random"}) {
    auto r =
        run_popalign(base + " --method " + m + " --out '" + (dir / "m.csv").string() + "'", dir);
    EXPECT_EQ(r.exit_code, 0) << m << ": " << r.err;
  }
  auto rm = run_popalign("align --pool '" + (dir / "pool.csv").string() + "' --reference '" +
                             (dir / "ref.tsv").string() +
                             "' --n 500 --with-replacement --traits a,b --out '" +
                             (dir / "w.csv").string() + "' --quiet",
                         dir);
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  std::istringstream win(read_text(dir / "w.csv"));
  std::getline(win, line);
  EXPECT_EQ(line, "id,count,a,b");
  int total = 0;
  while (std::getline(win, line)) total += std::stoi(line.substr(line.find(',') + 1));
  EXPECT_EQ(total, 500);
}

TEST(CliAlign, ClearErrors) {
  const auto dir = temp_dir("cli_err");
  write_inputs(dir);
  const std::string pool = (dir / "pool.csv").string(), ref = (dir / "ref.tsv").string();
  const std::string out = " --out '" + (dir / "o.csv").string() + "'";
  // Missing trait column: names the column and the file.
  auto r = run_popalign(
      "align --pool '" + pool + "' --reference '" + ref + "' --traits a,zeta --n 10" + out, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("zeta"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pool.csv"), std::string::npos) << r.err;
  // NaN cell: names the file and the line.
  std::string text = read_text(dir / "pool.csv");
  std::istringstream in(text);
  std::string line, patched;
  for (int ln = 1; std::getline(in, line); ++ln)
    patched += (ln == 6 ? std::string("p4,NaN,0,0,x") : line) + "\n";
  write_text(dir / "nan.csv", patched);
  r = run_popalign("align --pool '" + (dir / "nan.csv").string() + "' --reference '" + ref +
                       "' --traits a,b,c --n 10" + out,
                   dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("nan.csv:6"), std::string::npos) << r.err;
  // Non-numeric cell.
  write_text(dir / "text.csv", "id,a,b,c\nx1,1,2,3\nx2,1,two,3\n");
  r = run_popalign("align --pool '" + (dir / "text.csv").string() + "' --reference '" + ref +
                       "' --traits a,b,c --n 1" + out,
                   dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("text.csv:3"), std::string::npos) << r.err;
  // N larger than the pool without replacement.
  r = run_popalign("align --pool '" + pool + "' --reference '" + ref + "' --n 301" + out, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("300"), std::string::npos) << r.err;
  // Unknown method; missing required option.
  r = run_popalign(
      "align --pool '" + pool + "' --reference '" + ref + "' --n 5 --method magic" + out, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--method"), std::string::npos) << r.err;
  r = run_popalign("align --pool '" + pool + "' --n 5" + out, dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("reference"), std::string::npos) << r.err;
  // Missing file.
  r = run_popalign(
      "align --pool '" + (dir / "nope.csv").string() + "' --reference '" + ref + "' --n 5" + out,
      dir);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("nope.csv"), std::string::npos) << r.err;
  // Out-of-range numbers name their flag, not the library's field.
  r = run_popalign("align --pool '" + pool + "' --reference '" + ref + "' --n 5 --reg -1" + out,
                   dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid argument '--reg'"), std::string::npos) << r.err;
  r = run_popalign(
      "align --pool '" + pool + "' --reference '" + ref + "' --n 5 --candidates 0.5" + out, dir);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid argument '--candidates'"), std::string::npos) << r.err;
}

TEST(CliAlign, HelpListsTheOptions) {
  const auto dir = temp_dir("cli_help");
  auto r = run_popalign("align --help", dir);
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--pool", "--reference", "--traits", "--n", "--seed", "--method",
                          "--with-replacement", "--out", "--report"})
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  r = run_popalign("demo --help", dir);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--data-dir"), std::string::npos);
}

TEST(CliDemo, QuickRunPrintsTheTableAndWritesTheReport) {
  const auto dir = temp_dir("cli_demo");
  auto r = run_popalign("demo --quick --data-dir '" + std::string(POPALIGN_DATA_DIR) +
                            "' --out-dir '" + (dir / "out").string() + "' --seed 3",
                        dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* s : {"pool", "random", "is", "ot", "resample", "W1 A", "gap N"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  const std::string html = read_text(dir / "out" / "report.html");
  EXPECT_NE(html.find("data-chart=\"correlation\""), std::string::npos);
  EXPECT_NE(html.find("held-out"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "selection.csv"));
  // Deterministic: a second run gives the same report bytes.
  auto r2 = run_popalign("demo --quick --data-dir '" + std::string(POPALIGN_DATA_DIR) +
                             "' --out-dir '" + (dir / "out2").string() + "' --seed 3",
                         dir);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(html, read_text(dir / "out2" / "report.html"));
  // Bad sizes name their flag and write nothing.
  auto bad =
      run_popalign("demo --quick --pool-size 0 --out-dir '" + (dir / "out3").string() + "'", dir);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("invalid argument '--pool-size'"), std::string::npos) << bad.err;
  bad = run_popalign("demo --quick --threads -1 --out-dir '" + (dir / "out3").string() + "'", dir);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("invalid argument '--threads'"), std::string::npos) << bad.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out3" / "report.html"));
}

TEST(CliAlign, PaperCalibrationAndCostWeights) {
  const auto dir = temp_dir("cli_joint");
  write_inputs(dir);
  const std::string base = "align --pool '" + (dir / "pool.csv").string() + "' --reference '" +
                           (dir / "ref.tsv").string() + "' --n 100 --seed 2 --quiet --out '" +
                           (dir / "o.csv").string() + "'";
  // paper: N draws with replacement, so the output has a count column summing to N.
  auto rp = run_popalign(base + " --method paper", dir);
  ASSERT_EQ(rp.exit_code, 0) << rp.err;
  std::istringstream in(read_text(dir / "o.csv"));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "id,count,a,b,c");
  int total = 0;
  while (std::getline(in, line)) total += std::stoi(line.substr(line.find(',') + 1));
  EXPECT_EQ(total, 100);
  // Every calibration and explicit cost weights run; the output differs between calibrations.
  std::set<std::string> outs;
  for (const char* c : {"pairwise", "marginal", "sliced", "none"}) {
    auto r = run_popalign(base + " --calibration " + c, dir);
    ASSERT_EQ(r.exit_code, 0) << c << ": " << r.err;
    outs.insert(read_text(dir / "o.csv"));
  }
  EXPECT_GE(outs.size(), 3u);
  auto rw = run_popalign(base + " --cost-weights 1,1,0.5", dir);
  ASSERT_EQ(rw.exit_code, 0) << rw.err;
  // Bad values name the flag.
  auto bad = run_popalign(base + " --calibration joint", dir);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--calibration"), std::string::npos) << bad.err;
  bad = run_popalign(base + " --cost-weights 1,2", dir);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--cost-weights"), std::string::npos) << bad.err;
  bad = run_popalign(base + " --cost-weights 1,x,1", dir);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--cost-weights"), std::string::npos) << bad.err;
  bad = run_popalign(base + " --method nearest", dir);
  EXPECT_NE(bad.err.find("paper"), std::string::npos) << bad.err;
}

TEST(CliAlign, RefineFlag) {
  const auto dir = temp_dir("cli_refine");
  write_inputs(dir);
  const std::string base = "align --pool '" + (dir / "pool.csv").string() + "' --reference '" +
                           (dir / "ref.tsv").string() + "' --n 100 --seed 2 --out '" +
                           (dir / "o.csv").string() + "'";
  // The default is the swap refinement (its summary line is printed); none skips it.
  auto rd = run_popalign(base, dir);
  ASSERT_EQ(rd.exit_code, 0) << rd.err;
  EXPECT_NE(rd.out.find("swap refinement"), std::string::npos) << rd.out;
  const std::string def = read_text(dir / "o.csv");
  auto rs = run_popalign(base + " --refine swap", dir);
  ASSERT_EQ(rs.exit_code, 0) << rs.err;
  EXPECT_EQ(read_text(dir / "o.csv"), def);
  auto rn = run_popalign(base + " --refine none", dir);
  ASSERT_EQ(rn.exit_code, 0) << rn.err;
  EXPECT_EQ(rn.out.find("swap refinement"), std::string::npos) << rn.out;
  EXPECT_NE(read_text(dir / "o.csv"), def);
  auto bad = run_popalign(base + " --refine greedy", dir);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--refine"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace popalign
