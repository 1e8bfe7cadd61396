// The HTTP backend against the real model server (node-llama-cpp serving stories260K.gguf),
// started by the ctest fixture `llm_server`, which sets POPALIGN_TEST_LLM_URL.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <popalign/llm/cache.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>
#include <popalign/llm/usage_meter.hpp>

namespace popalign::llm {
namespace {

std::string server_url() {
  const char* url = std::getenv("POPALIGN_TEST_LLM_URL");
  return url ? url : "";
}

class LlmServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (server_url().empty())
      GTEST_SKIP() << "POPALIGN_TEST_LLM_URL is not set: run through ctest (fixture llm_server)";
  }
  static OpenAiOptions options() {
    OpenAiOptions o;
    o.base_url = server_url();
    o.model = "stories260K";
    o.api_key_env = "";
    o.max_in_flight = 4;
    o.total_timeout = std::chrono::milliseconds(60'000);
    return o;
  }
  static Request story(const std::string& start, std::uint64_t seed, double temperature = 1.0) {
    Request r;
    r.prompt = start;
    r.max_tokens = 12;
    r.temperature = temperature;
    r.seed = seed;
    return r;
  }
};

TEST_F(LlmServerTest, ListsTheModel) {
  OpenAiBackend b(options());
  const auto models = b.list_models();
  ASSERT_FALSE(models.empty());
  EXPECT_EQ(models[0].id, "stories260K");
}

TEST_F(LlmServerTest, RealTokensAndUsage) {
  OpenAiBackend b(options());
  auto out = complete_one(b, story("Once upon a time", 1, 0.0));
  ASSERT_TRUE(out.ok()) << out.error().message;
  const Response& r = out.value();
  EXPECT_FALSE(r.text.empty());
  EXPECT_EQ(r.model, "stories260K");
  EXPECT_GT(r.usage.prompt_tokens, 0);
  EXPECT_GT(r.usage.completion_tokens, 0);
  EXPECT_LE(r.usage.completion_tokens, 12);
  EXPECT_TRUE(r.finish_reason == "length" || r.finish_reason == "stop") << r.finish_reason;
}

TEST_F(LlmServerTest, SameSeedSameTextDifferentSeedsDiffer) {
  OpenAiBackend b(options());
  std::vector<Request> batch;
  for (std::uint64_t s = 1; s <= 4; ++s) batch.push_back(story("Once upon a time", s, 1.5));
  batch.push_back(story("Once upon a time", 1, 1.5));
  const auto out = b.complete(batch);
  for (const auto& o : out) ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(out[0].value().text, out[4].value().text);
  std::set<std::string> distinct;
  for (int i = 0; i < 4; ++i) distinct.insert(out[i].value().text);
  EXPECT_GE(distinct.size(), 2u) << "seeds 1..4 at temperature 1.5 all gave the same text";
}

TEST_F(LlmServerTest, CompletionLogprobsAreRealProbabilities) {
  OpenAiBackend b(options());
  Request r = story("The little dog", 3, 0.0);
  r.max_tokens = 6;
  r.logprobs = true;
  r.top_logprobs = 5;
  auto out = complete_one(b, r);
  ASSERT_TRUE(out.ok()) << out.error().message;
  const Response& resp = out.value();
  ASSERT_FALSE(resp.logprobs.empty());
  EXPECT_EQ(static_cast<std::int64_t>(resp.logprobs.size()), resp.usage.completion_tokens);
  std::string joined;
  for (const auto& t : resp.logprobs) {
    joined += t.token;
    EXPECT_LE(t.logprob, 0.0);
    ASSERT_EQ(t.top.size(), 5u);
    double sum = 0;
    for (std::size_t k = 0; k < t.top.size(); ++k) {
      EXPECT_LE(t.top[k].logprob, 0.0);
      if (k > 0) {
        EXPECT_LE(t.top[k].logprob, t.top[k - 1].logprob);
      }
      sum += std::exp(t.top[k].logprob);
    }
    EXPECT_LE(sum, 1.0 + 1e-9);
    EXPECT_GT(sum, 0.0);
    // Greedy decoding picks the most likely token.
    EXPECT_NEAR(t.logprob, t.top[0].logprob, 1e-9);
  }
  EXPECT_EQ(joined, resp.text);
}

TEST_F(LlmServerTest, ChatLogprobs) {
  OpenAiBackend b(options());
  Request r;
  r.messages = {{"system", "You are Lily, a girl who loves cats."}, {"user", "What do you like?"}};
  r.max_tokens = 6;
  r.seed = 11;
  r.logprobs = true;
  r.top_logprobs = 3;
  auto out = complete_one(b, r);
  ASSERT_TRUE(out.ok()) << out.error().message;
  ASSERT_FALSE(out.value().logprobs.empty());
  for (const auto& t : out.value().logprobs) {
    double sum = 0;
    for (const auto& a : t.top) sum += std::exp(a.logprob);
    EXPECT_LE(sum, 1.0 + 1e-9);
    EXPECT_LE(t.top.size(), 3u);
  }
}

TEST_F(LlmServerTest, StopStrings) {
  OpenAiBackend b(options());
  Request r = story("Once upon a time", 1, 0.0);
  r.max_tokens = 20;
  auto full = complete_one(b, r);
  ASSERT_TRUE(full.ok());
  const std::string text = full.value().text;
  ASSERT_GT(text.size(), 6u);
  r.stop = {text.substr(4, 2)};
  auto cut = complete_one(b, r);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut.value().finish_reason, "stop");
  EXPECT_EQ(cut.value().text.find(text.substr(4, 2)), std::string::npos);
  EXPECT_LT(cut.value().text.size(), text.size());
}

TEST_F(LlmServerTest, EmbeddingsHaveTheModelDimension) {
  OpenAiBackend b(options());
  const RowMatrix<float> e = b.embeddings({"a cat", "a dog", "Once upon a time"});
  ASSERT_EQ(e.rows(), 3);
  EXPECT_EQ(e.cols(), 64);  // stories260K's embedding width
  EXPECT_TRUE(e.allFinite());
  EXPECT_GT(e.row(0).norm(), 0.0f);
  EXPECT_GT((e.row(0) - e.row(2)).norm(), 0.0f);
  const RowMatrix<float> again = b.embeddings({"a cat"});
  EXPECT_TRUE(again.row(0).isApprox(e.row(0)));
}

TEST_F(LlmServerTest, ServerErrorsAreReported) {
  OpenAiBackend b(options());
  Request r = story("Once upon a time", 1);
  r.max_tokens = 100000;  // beyond the context size: the server answers 400
  auto out = complete_one(b, r);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::bad_request);
  EXPECT_NE(out.error().message.find("context"), std::string::npos) << out.error().message;
}

TEST_F(LlmServerTest, DecoratedStackCachesRealAnswers) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("popalign_llm_integration_" + std::to_string(::getpid()) + ".sqlite");
  std::filesystem::remove(path);
  auto http = std::make_shared<OpenAiBackend>(options());
  auto retry = std::make_shared<RetryBackend>(http, RetryOptions{});
  CacheOptions co;
  co.path = path.string();
  auto cache = std::make_shared<CachedBackend>(retry, co);
  MeterOptions mo;
  mo.prices["stories260K"] = {1.0, 2.0};
  UsageMeter meter(cache, mo);
  const Request r = story("One day", 5);
  auto first = complete_one(meter, r);
  auto second = complete_one(meter, r);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(first.value().from_cache);
  EXPECT_TRUE(second.value().from_cache);
  EXPECT_EQ(first.value().text, second.value().text);
  const auto rep = meter.report();
  EXPECT_EQ(rep.total.cache_hits, 1u);
  EXPECT_GT(rep.total.cost, 0.0);
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

}  // namespace
}  // namespace popalign::llm
