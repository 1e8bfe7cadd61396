// `popalign run` against the real test model server (tests/support/llm_server: node-llama-cpp
// serving the tiny stories260K model; ctest fixture llm_server). The model writes children's
// stories, so this checks the plumbing of the whole run over real HTTP, not answers:
//  - a ready persona file, the Mini-IPIP in logprobs mode (an expected score from the option
//    probabilities, so every item gets a value), the shipped BIG5 reference, N = 3: every stage
//    runs, the report and the persona file are written, a rerun skips every stage and sends
//    nothing (the cache and the manifest);
//  - posts to mine: the tiny model's answers are off-schema or refusals, so mining keeps no
//    persona and the run stops with an error that names the funnel file.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include <popalign/io/data_dir.hpp>
#include <popalign/io/persona_record.hpp>

#include "embedding/cli_run.hpp"

namespace fs = std::filesystem;
using popalign::test::run_cli;

namespace {

std::string url() {
  const char* u = std::getenv("POPALIGN_TEST_LLM_URL");
  return u ? u : "";
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("popalign_pipeline_server_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string endpoint() {
  return "[models.generator]\nbase_url = \"" + url() +
         "\"\nmodel = \"stories260K\"\nconcurrency = 2\ntimeout = 120\n";
}

}  // namespace

TEST(PipelineServer, PersonaFileToReportOverRealHttp) {
  ASSERT_FALSE(url().empty()) << "run through ctest (fixture llm_server)";
  const fs::path dir = temp_dir("personas");
  {
    // The first 6 Synthetic-Persona-Chat profiles.
    std::ifstream in(popalign::io::data_dir() / "personas/synthetic_persona_chat_valid_test.jsonl");
    std::ofstream out(dir / "personas.jsonl");
    std::string line;
    for (int i = 0; i < 6 && std::getline(in, line); ++i) out << line << "\n";
  }
  std::ofstream(dir / "pipeline.toml")
      << "run_dir = \"run\"\nseed = 1\n" << endpoint()
      << "[input]\npersonas = \"personas.jsonl\"\n[instrument]\nname = \"mini_ipip\"\nmode = "
         "\"logprobs\"\n[reference]\npath = \"big5\"\n[align]\nn = 3\n";
  const auto r = run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string());
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* f : {"administer/answers.jsonl", "score/traits.csv", "reference/traits.csv",
                        "align/selection.csv", "report.html", "manifest.json", "llm-cache.sqlite"})
    EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  EXPECT_EQ(popalign::io::read_personas(dir / "run/personas/global.jsonl").personas.size(), 3u);
  EXPECT_NE(r.output.find("administer   ran"), std::string::npos) << r.output;
  const auto again = run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string());
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(again.output.find(" ran "), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("cost of this run: 0.000000"), std::string::npos) << again.output;
  fs::remove_all(dir);
}

TEST(PipelineServer, MiningWithTheTinyModelStopsWithAClearError) {
  ASSERT_FALSE(url().empty()) << "run through ctest (fixture llm_server)";
  const fs::path dir = temp_dir("mine");
  std::ofstream(dir / "pipeline.toml")
      << "run_dir = \"run\"\nseed = 1\n" << endpoint()
      << "[input]\nposts = \"data:posts/spc_posts.jsonl\"\nmax_authors = 1\n[mining]\n"
         "context_tokens = 2048\n[instrument]\nname = \"mini_ipip\"\n[align]\nn = 3\n";
  const auto r = run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("mine: no persona was kept"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("funnel.json"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "run/mine/funnel.json"));
  fs::remove_all(dir);
}
