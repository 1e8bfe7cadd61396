// The shipped example, examples/pipeline/three_regions.toml (what `popalign init` writes), run
// as a user runs it: `popalign run` on the shipped posts (data/posts), the shipped BIG5 reference
// and the three regional groups East Asia, North America and Europe, against the loopback TEST
// DOUBLE server whose respondents carry latent traits (tests/pipeline/latent_server.hpp; the
// shipped posts carry no latent marker, so the double draws each author's traits from a hash of
// the posts). Only the sizes are made small (the first kAuthors authors, global N kGlobalN,
// groups of kGroupN) so that it runs in seconds; every other line of the example is used as
// shipped. Checks: a global set, three group sets and one report with the funnel, the global
// alignment and one section per group (its plots, its distances to the group's reference and to
// the global set); the East Asia size warning, in the log and in the report; the same bytes on a
// rerun (the same directory: every stage skipped, nothing sent). That a recomputation gives the
// same bytes is PipelineRun.KillNineAtThreeStagesThenResumeGivesTheSameBytes (run_test.cpp).
//
// POPALIGN_TEST_FULL_EXAMPLE=1 runs the example at its shipped sizes and keeps the run directory
// (a manual check, minutes; docs/pipeline.md reports its numbers).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <popalign/io/persona_record.hpp>
#include <popalign/psychometrics/instrument.hpp>

#include "embedding/cli_run.hpp"
#include "pipeline/latent_server.hpp"

namespace fs = std::filesystem;
using popalign::test::LatentServerDouble;
using popalign::test::run_cli;

namespace {

constexpr int kAuthors = 12;
constexpr int kGlobalN = 9;
constexpr int kGroupN = 3;
const std::vector<std::string> kGroups = {"north_america", "europe", "east_asia"};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool full_example() {
  const char* e = std::getenv("POPALIGN_TEST_FULL_EXAMPLE");
  return e != nullptr && std::string(e) == "1";
}

/// Replaces the lines that start with `key` (up to their comment), the i-th by `values[i]`;
/// fails the test unless the example has exactly values.size() such lines.
void set_lines(std::string& text, const std::string& key, const std::vector<std::string>& values) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  std::size_t hits = 0;
  while (std::getline(in, line)) {
    if ((line.rfind(key + " ", 0) == 0 || line.rfind(key + "=", 0) == 0) && hits < values.size()) {
      const auto hash = line.find('#');
      line =
          key + " = " + values[hits] + (hash == std::string::npos ? "" : "   " + line.substr(hash));
      ++hits;
    } else if (line.rfind(key + " ", 0) == 0) {
      ++hits;
    }
    out += line + "\n";
  }
  EXPECT_EQ(hits, values.size()) << "the example's lines '" << key << "'";
  text = out;
}

/// The shipped example with the server's URL, the run directory and (unless full) small sizes:
/// the first kAuthors authors, [align] n = kGlobalN, each group's n = kGroupN (retrieval depth:
/// the default 3 n, the whole global set, as in the example).
std::string example_for(const std::string& url, const fs::path& run_dir) {
  std::string text = slurp(fs::path(POPALIGN_SOURCE_DIR) / "examples/pipeline/three_regions.toml");
  set_lines(text, "base_url", {"\"" + url + "\""});
  set_lines(text, "run_dir", {"\"" + run_dir.string() + "\""});
  if (!full_example()) {
    set_lines(text, "max_authors", {std::to_string(kAuthors)});
    const std::string g = std::to_string(kGroupN);
    set_lines(text, "n", {std::to_string(kGlobalN), g, g, g});
  }
  return text;
}

std::vector<std::string> outputs() {
  std::vector<std::string> f = {
      "mine/personas.jsonl", "mine/funnel.json",      "administer/answers.jsonl",
      "score/traits.csv",    "reference/traits.csv",  "align/selection.csv",
      "align/weights.csv",   "personas/global.jsonl", "report.html"};
  for (const auto& g : kGroups) {
    f.push_back("personas/" + g + ".jsonl");
    f.push_back("groups/" + g + "/pool.jsonl");
    f.push_back("groups/" + g + "/report.json");
  }
  return f;
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

TEST(PipelineShippedExample, InitWritesTheShippedExample) {
  const fs::path dir = fs::temp_directory_path() / "popalign_pipeline_init";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto r = run_cli(POPALIGN_CLI_PATH, "init --out " + (dir / "pipeline.toml").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(slurp(dir / "pipeline.toml"),
            slurp(fs::path(POPALIGN_SOURCE_DIR) / "examples/pipeline/three_regions.toml"))
      << "examples/pipeline/three_regions.toml must be what `popalign init` writes "
         "(regenerate it with `popalign init --out examples/pipeline/three_regions.toml "
         "--force`)";
  EXPECT_NE(r.output.find("examples/pipeline/three_regions.toml"), std::string::npos) << r.output;
  // Not overwritten without --force; a bad path is named.
  const auto again = run_cli(POPALIGN_CLI_PATH, "init --out " + (dir / "pipeline.toml").string());
  EXPECT_EQ(again.code, 2) << again.output;
  EXPECT_NE(again.output.find("--force"), std::string::npos) << again.output;
  fs::remove_all(dir);
}

TEST(PipelineShippedExample, ThreeRegionsOnTheShippedPostsAndBig5) {
  const auto instrument = popalign::psychometrics::resolve_instrument("ipip50");
  LatentServerDouble server(instrument);
  const fs::path dir = fs::temp_directory_path() / "popalign_pipeline_shipped";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path cfg = dir / "pipeline.toml";
  std::ofstream(cfg) << example_for(server.url(), dir / "run");

  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_cli(POPALIGN_CLI_PATH, "run " + cfg.string());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.code, 0) << r.output;
  std::cerr << "[ measured ] shipped example run " << seconds << " s; answers: quality "
            << server.answered("quality") << ", writer " << server.answered("writer")
            << ", critique " << server.answered("critique") << ", items " << server.answered("item")
            << ", revisions " << server.answered("revise") << ", revision verdicts "
            << server.answered("revision-judge") << "\n"
            << r.output;
  const fs::path run = dir / "run";
  for (const auto& f : outputs()) EXPECT_TRUE(fs::exists(run / f)) << f;

  // A global set and three group sets of the configured sizes, with traits.
  const std::size_t global_n = full_example() ? 24 : kGlobalN;
  const std::size_t group_n = full_example() ? 8 : kGroupN;
  EXPECT_EQ(popalign::io::read_personas(run / "personas/global.jsonl").personas.size(), global_n);
  for (const auto& g : kGroups) {
    const auto gs = popalign::io::read_personas(run / "personas" / (g + ".jsonl"));
    ASSERT_EQ(gs.personas.size(), group_n) << g;
    for (const auto& p : gs.personas) {
      EXPECT_NE(p.text.find("revised for the group"), std::string::npos) << g;
      EXPECT_TRUE(p.fields.find("traits") != nullptr) << g;
    }
  }
  // Every mined author read from the shipped posts (no more authors than asked for).
  if (!full_example()) {
    EXPECT_EQ(server.answered("writer"), static_cast<std::size_t>(kAuthors));
  }

  // The size warning of the small group: in the log, in the group's report and in the report.
  const std::string warning = "the group reference has only 176 people (fewer than 500)";
  EXPECT_NE(r.output.find("group east_asia: warning: " + warning), std::string::npos) << r.output;
  EXPECT_EQ(count(r.output, "fewer than 500"), 1u) << r.output;  // only East Asia
  EXPECT_NE(slurp(run / "groups/east_asia/report.json").find(warning), std::string::npos);

  // The report: the funnel, the global alignment, one section per group with its plots and its
  // distances to the group's reference and to the global set.
  const std::string html = slurp(run / "report.html");
  for (const char* s : {"<h2>Mining funnel</h2>", "id=\"global\"", "<h2>Global alignment</h2>",
                        "spc_posts.jsonl", "Groups at a glance"})
    EXPECT_NE(html.find(s), std::string::npos) << s;
  const std::size_t traits = instrument.traits.size();
  std::size_t previous = html.find("id=\"global\"");
  for (const auto& g : kGroups) {
    const auto at = html.find("<section id=\"group-" + g + "\">");
    ASSERT_NE(at, std::string::npos) << g;
    EXPECT_GT(at, previous) << g << ": sections in config order";
    previous = at;
    const auto end = html.find("</section>", at);
    const std::string sec = html.substr(at, end - at);
    for (const char* s : {"Distances to the group's reference", "global set", "group set",
                          "candidates", "Distance of the group set to the global set",
                          "Trait distributions", "data-chart=\"distribution\""})
      EXPECT_NE(sec.find(s), std::string::npos) << g << ": " << s;
    // One distribution plot per trait, three correlation matrices, one weights plot at most.
    EXPECT_EQ(count(sec, "data-chart=\"distribution\""), traits) << g;
    EXPECT_EQ(count(sec, warning), g == "east_asia" ? 1u : 0u) << g;
  }
  EXPECT_NE(html.find("region:North America"), std::string::npos);
  EXPECT_NE(html.find("region:Europe"), std::string::npos);
  EXPECT_NE(html.find("region:East Asia"), std::string::npos);
  EXPECT_NE(html.find("(176 people)"), std::string::npos);

  // The manifest: every stage done, one per group.
  const nlohmann::json m = nlohmann::json::parse(slurp(run / "manifest.json"));
  ASSERT_EQ(m["stages"].size(), 9u);  // mine administer score reference align 3 groups report
  for (const auto& s : m["stages"]) EXPECT_EQ(s["status"], "done") << s["name"];

  if (full_example()) return;  // keep the run directory to look at

  // Rerun in the same directory: every stage skipped, nothing sent, the same bytes.
  std::map<std::string, std::string> before;
  for (const auto& f : outputs()) before[f] = slurp(run / f);
  const std::size_t requests = server.requests();
  const auto again = run_cli(POPALIGN_CLI_PATH, "run " + cfg.string() + " --quiet");
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(server.requests(), requests);
  EXPECT_EQ(count(again.output, " skipped "), 9u) << again.output;
  for (const auto& f : outputs()) EXPECT_EQ(slurp(run / f), before[f]) << f;

  fs::remove_all(dir);
}
