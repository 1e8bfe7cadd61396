// The LLM steps of mining over HTTP against the fault-injecting server: transient failures are
// retried by the RetryBackend and the unit finishes; a server that always fails is an error;
// a 2xx answer that is not the schema's JSON is re-asked and then dropped as off-schema.
#include <gtest/gtest.h>
#include <popalign/core/error.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>
#include <popalign/persona/post_quality.hpp>

#include "fault_server.hpp"

namespace pe = popalign::persona;
namespace llm = popalign::llm;

namespace {
std::shared_ptr<llm::LlmBackend> stack(const std::string& url) {
  llm::OpenAiOptions http;
  http.base_url = url;
  http.model = "m";
  http.max_in_flight = 4;
  llm::RetryOptions retry;
  retry.max_attempts = 4;
  retry.initial_backoff = std::chrono::milliseconds(1);
  retry.max_backoff = std::chrono::milliseconds(5);
  retry.seed = 1;
  return std::make_shared<llm::RetryBackend>(std::make_shared<llm::OpenAiBackend>(http), retry);
}
const std::vector<pe::Post> kPosts = {{"a", "a-1", "", "I went to the market today.", {}},
                                      {"a", "a-2", "", "I cooked dinner for my friends.", {}}};
}  // namespace

TEST(MiningFaultServer, TransientFailuresAreRetried) {
  popalign::test::FaultServer server;
  auto backend = stack(server.url("flaky/2/503"));
  const pe::PostQualityResult r = pe::assess_posts(*backend, kPosts);
  EXPECT_EQ(r.report.failed_calls, 0u);
  // The server echoes the prompt: not the schema's JSON, so each post is asked twice (seed + 1)
  // and dropped as off-schema; each distinct request body failed twice before it was answered.
  for (const auto& a : r.assessments) {
    EXPECT_EQ(a.reason, "off-schema answer");
    EXPECT_EQ(a.attempts, 2);
  }
  EXPECT_EQ(server.hits("flaky/2/503"), 4u * 3u);
}

TEST(MiningFaultServer, AServerThatAlwaysFailsIsAnError) {
  popalign::test::FaultServer server;
  auto backend = stack(server.url("status/500"));
  try {
    pe::assess_posts(*backend, kPosts);
    FAIL();
  } catch (const popalign::BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("500"), std::string::npos);
  }
  EXPECT_EQ(server.hits("status/500"), 2u * 4u);  // every attempt of both posts
}

TEST(MiningFaultServer, BrokenBodiesAreRetriedThenFail) {
  popalign::test::FaultServer server;
  auto backend = stack(server.url("truncated"));
  EXPECT_THROW(pe::assess_posts(*backend, kPosts), popalign::BackendError);
}
