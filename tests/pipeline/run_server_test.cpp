// `popalign run` against the real test model server (tests/support/llm_server: node-llama-cpp
// serving the tiny stories260K model; ctest fixture llm_server). The model writes children's
// stories, so this checks the plumbing of the whole run over real HTTP, not answers:
//  - a ready persona file, the Mini-IPIP in logprobs mode, the shipped BIG5 reference: administer,
//    score and reference run over real HTTP; the tiny model puts no probability on the option
//    tokens, so no persona gets every trait scored and the run stops at align with an error
//    naming the config line of align.n and the scores file; a rerun skips the finished stages
//    without a call (manifest + cache) and stops the same way;
//  - posts to mine: the posts do not fit the tiny model's 512-token context, every call is
//    refused (HTTP 400) and the run stops with an error naming the first post and the reason.
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

TEST(PipelineServer, PersonaFileOverRealHttp) {
  ASSERT_FALSE(url().empty()) << "run through ctest (fixture llm_server)";
  const fs::path dir = temp_dir("personas");
  {
    // The first 2 Synthetic-Persona-Chat profiles.
    std::ifstream in(popalign::io::data_dir() / "personas/synthetic_persona_chat_valid_test.jsonl");
    std::ofstream out(dir / "personas.jsonl");
    std::string line;
    for (int i = 0; i < 2 && std::getline(in, line); ++i) out << line << "\n";
  }
  std::ofstream(dir / "pipeline.toml")
      << "run_dir = \"run\"\nseed = 1\n"
      << endpoint()
      << "[input]\npersonas = \"personas.jsonl\"\n[instrument]\nname = \"mini_ipip\"\nmode = "
         "\"logprobs\"\nmax_retries = 0\n[reference]\npath = \"big5\"\n[align]\nn = 1\n";
  const auto r = run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string());
  for (const char* f : {"administer/answers.jsonl", "score/traits.csv", "reference/traits.csv",
                        "manifest.json", "llm-cache.sqlite"})
    EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  std::ifstream answers(dir / "run/administer/answers.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(answers, line)) ++lines;
  EXPECT_EQ(lines, 2);
  if (r.code == 0) {  // a model that answers: the whole run
    EXPECT_TRUE(fs::exists(dir / "run/report.html"));
  } else {
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("pipeline.toml:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("align.n"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("score/traits.csv"), std::string::npos) << r.output;
  }
  const auto again = run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string());
  EXPECT_EQ(again.code, r.code) << again.output;
  EXPECT_NE(again.output.find("administer: unchanged inputs and options: skipped"),
            std::string::npos)
      << again.output;
  fs::remove_all(dir);
}

TEST(PipelineServer, MiningWithTheTinyModelStopsWithAClearError) {
  ASSERT_FALSE(url().empty()) << "run through ctest (fixture llm_server)";
  const fs::path dir = temp_dir("mine");
  std::ofstream(dir / "pipeline.toml")
      << "run_dir = \"run\"\nseed = 1\n"
      << endpoint()
      << "[input]\nposts = \"data:posts/spc_posts.jsonl\"\nmax_authors = 1\n[mining]\n"
         "context_tokens = 2048\n[instrument]\nname = \"mini_ipip\"\n[align]\nn = 3\n";
  const auto r = run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string());
  EXPECT_NE(r.code, 0) << r.output;
  // Either every call is refused (the posts do not fit the 512-token context) or the answers
  // are unusable and mining keeps no persona: both stop the run with the reason.
  const bool refused = r.output.find("every call failed") != std::string::npos &&
                       r.output.find("post spcA0001") != std::string::npos;
  const bool none = r.output.find("mine: no persona was kept") != std::string::npos;
  EXPECT_TRUE(refused || none) << r.output;
  EXPECT_TRUE(fs::exists(dir / "run/manifest.json"));
  fs::remove_all(dir);
}
