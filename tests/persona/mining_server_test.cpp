// Every LLM step of mining, and `popalign mine`, over real HTTP against the test model server
// (ctest fixture llm_server: node-llama-cpp with the tiny stories260K model, context 512 tokens).
// The model writes nonsense, so this checks the plumbing: requests with JSON schemas are
// accepted, answers come back and are parsed or rejected as off-schema, nothing fails, the
// funnel is written. Short templates (overrides, as a user would give) keep prompts inside the
// model's context.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <popalign/io/json.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>
#include <popalign/persona/critique.hpp>
#include <popalign/persona/persona_writer.hpp>
#include <popalign/persona/post_quality.hpp>

#include "embedding/cli_run.hpp"

namespace pe = popalign::persona;
namespace llm = popalign::llm;
namespace fs = std::filesystem;

namespace {

std::string server_url() {
  const char* u = std::getenv("POPALIGN_TEST_LLM_URL");
  return u ? u : "";
}

std::shared_ptr<llm::LlmBackend> real_backend() {
  llm::OpenAiOptions http;
  http.base_url = server_url();
  http.model = "stories260K";
  http.max_in_flight = 1;
  llm::RetryOptions retry;
  retry.max_attempts = 3;
  return std::make_shared<llm::RetryBackend>(std::make_shared<llm::OpenAiBackend>(http), retry);
}

const std::vector<pe::Post> kPosts = {
    {"a", "a-1", "2004-05-01", "I walked my dog in the park and met a friend.", {}},
    {"a", "a-2", "2004-05-02", "I baked bread with my sister today.", {}}};

bool allowed(const std::string& reason, std::initializer_list<const char*> reasons) {
  for (const char* r : reasons)
    if (reason == r) return true;
  return false;
}

}  // namespace

TEST(MiningRealServer, PostQuality) {
  if (server_url().empty()) GTEST_SKIP() << "POPALIGN_TEST_LLM_URL not set";
  auto backend = real_backend();
  pe::PostQualityOptions o;
  o.max_tokens = 64;
  o.prompt = {"tiny-quality-v1", "", "Post: {post}\nJSON:"};
  const pe::PostQualityResult r = pe::assess_posts(*backend, kPosts, o);
  EXPECT_EQ(r.report.failed_calls, 0u);
  std::size_t attempts = 0;
  for (const auto& a : r.assessments) {
    EXPECT_TRUE(a.finished);
    EXPECT_TRUE(
        allowed(a.reason, {"", "low quality", "medium quality", "harmful", "off-schema answer"}))
        << a.reason;
    attempts += static_cast<std::size_t>(a.attempts);
  }
  EXPECT_EQ(r.report.calls, attempts);
}

TEST(MiningRealServer, PersonaWriting) {
  if (server_url().empty()) GTEST_SKIP() << "POPALIGN_TEST_LLM_URL not set";
  auto backend = real_backend();
  pe::PersonaWriterOptions o;
  o.max_tokens = 64;
  o.min_posts = 2;
  o.context_tokens = 512;
  o.prompt = {"tiny-writer-v1", "", "Posts:\n{posts}\nPersona ({max_words} words):"};
  const pe::Windowing w = pe::make_windows(kPosts, o);
  ASSERT_EQ(w.windows.size(), 1u);
  const pe::PersonaWritingResult r = pe::draft_personas(*backend, w.windows, o);
  ASSERT_EQ(r.drafts.size(), 1u);
  EXPECT_EQ(r.report.failed_calls, 0u);
  EXPECT_TRUE(r.drafts[0].finished);
  EXPECT_TRUE(allowed(r.drafts[0].reason, {"", "cannot", "too long", "off-schema answer"}))
      << r.drafts[0].reason;
  EXPECT_EQ(r.drafts[0].post_ids, (std::vector<std::string>{"a-1", "a-2"}));
}

TEST(MiningRealServer, Critique) {
  if (server_url().empty()) GTEST_SKIP() << "POPALIGN_TEST_LLM_URL not set";
  auto backend = real_backend();
  pe::CritiqueOptions o;
  o.max_tokens = 160;
  o.prompt = {"tiny-critique-v1", "", "Posts:\n{posts}\nPersona: {persona}\nScores:"};
  const std::vector<pe::CritiqueInput> in = {{"a#1", "A dog owner who bakes.", kPosts}};
  const pe::CritiqueResult r = pe::critique_personas(*backend, in, o);
  EXPECT_EQ(r.report.failed_calls, 0u);
  EXPECT_TRUE(r.critiques[0].finished);
  EXPECT_TRUE(allowed(r.critiques[0].reason,
                      {"", "low hallucination score", "low coverage score", "low conciseness score",
                       "low relevance score", "low overall score", "off-schema answer"}))
      << r.critiques[0].reason;
}

TEST(MiningRealServer, MineCommand) {
  if (server_url().empty()) GTEST_SKIP() << "POPALIGN_TEST_LLM_URL not set";
  const fs::path dir = fs::temp_directory_path() / "popalign_mine_real_server";
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    std::ofstream posts(dir / "posts.jsonl");
    for (int a = 0; a < 2; ++a)
      for (int k = 0; k < 3; ++k)
        posts << R"({"author": "u)" << a << R"(", "id": "u)" << a << "-" << k
              << R"(", "time": "2004-05-0)" << k + 1 << R"(", "text": "I saw a cat and I smiled )"
              << a << " " << k << "\"}\n";
    std::ofstream(dir / "q.json") << R"({"id": "tiny-q", "user": "Post: {post}\nJSON:"})";
    std::ofstream(dir / "w.json")
        << R"({"id": "tiny-w", "user": "Posts:\n{posts}\nPersona ({max_words} words):"})";
    std::ofstream(dir / "c.json")
        << R"({"id": "tiny-c", "user": "Posts:\n{posts}\nPersona: {persona}\nScores:"})";
  }
  const auto r = popalign::test::run_cli(
      POPALIGN_CLI_PATH,
      "mine --posts " + (dir / "posts.jsonl").string() + " --base-url " + server_url() +
          " --model stories260K --concurrency 1 --min-tokens 3 --min-posts 2 --context-tokens 512"
          " --max-tokens 64"
          " --quality-template " +
          (dir / "q.json").string() + " --writer-template " + (dir / "w.json").string() +
          " --critique-template " + (dir / "c.json").string() + " --cache " +
          (dir / "cache.sqlite").string() + " --out " + (dir / "personas.jsonl").string() +
          " --funnel " + (dir / "funnel.json").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("usage:"), std::string::npos);
  std::ifstream f(dir / "funnel.json");
  std::string line;
  std::getline(f, line);
  const popalign::io::JsonValue funnel = popalign::io::parse_json(line);
  ASSERT_EQ(funnel.find("steps")->size(), 8u);
  EXPECT_EQ(funnel.find("steps")->as_array()[2].find("in")->as_number(), 6.0);  // quality
  EXPECT_TRUE(fs::exists(dir / "personas.jsonl"));
  fs::remove_all(dir);
}
