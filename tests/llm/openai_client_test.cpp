// The HTTP backend against the in-process fault-injecting loopback server.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <popalign/llm/cache.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>

#include "fault_server.hpp"
#include "llm/test_double_backend.hpp"

namespace popalign::llm {
namespace {

using testing::chat;

class OpenAiClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new test::FaultServer(16); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static OpenAiOptions options(const std::string& mode) {
    OpenAiOptions o;
    o.base_url = server_->url(mode);
    o.model = "fault-model";
    o.api_key_env = "";
    o.connect_timeout = std::chrono::milliseconds(2000);
    o.total_timeout = std::chrono::milliseconds(5000);
    return o;
  }
  static Failure fail_with(const std::string& mode, Request r = chat("hi")) {
    OpenAiBackend b(options(mode));
    Outcome o = complete_one(b, r);
    EXPECT_FALSE(o.ok()) << mode;
    return o.ok() ? Failure{} : o.error();
  }
  static test::FaultServer* server_;
};
test::FaultServer* OpenAiClientTest::server_ = nullptr;

TEST_F(OpenAiClientTest, ChatAndCompletion) {
  OpenAiBackend b(options("ok"));
  EXPECT_EQ(b.api_root(), server_->url("ok"));
  EXPECT_EQ(b.default_model(), "fault-model");
  auto o = complete_one(b, chat("how are you"));
  ASSERT_TRUE(o.ok()) << o.error().message;
  EXPECT_EQ(o.value().text, "echo: how are you");
  EXPECT_EQ(o.value().finish_reason, "stop");
  EXPECT_EQ(o.value().model, "fault-model");
  EXPECT_EQ(o.value().usage.completion_tokens, 3);
  Request c;
  c.prompt = "Once upon a time";
  c.max_tokens = 4;
  auto p = complete_one(b, c);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().text, "echo: Once upon a time");
  // A batch keeps order.
  std::vector<Request> batch;
  for (int i = 0; i < 20; ++i) batch.push_back(chat("n" + std::to_string(i)));
  auto out = b.complete(batch);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(out[i].value().text, "echo: n" + std::to_string(i));
}

TEST_F(OpenAiClientTest, BoundedRequestsInFlight) {
  OpenAiOptions o = options("slow/40");
  o.max_in_flight = 3;
  OpenAiBackend b(o);
  server_->reset_counts();
  std::vector<Request> batch;
  for (int i = 0; i < 12; ++i) batch.push_back(chat("p" + std::to_string(i)));
  const auto out = b.complete(batch);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(out[i].value().text, "echo: p" + std::to_string(i));
  EXPECT_EQ(server_->hits("slow/40"), 12u);
  EXPECT_LE(server_->peak_in_flight(), 3u);
  EXPECT_GE(server_->peak_in_flight(), 2u);  // and it did run requests concurrently
}

TEST_F(OpenAiClientTest, BaseUrlWithoutV1) {
  OpenAiOptions o = options("ok");
  o.base_url = o.base_url.substr(0, o.base_url.size() - 3);  // strip "/v1"
  OpenAiBackend b(o);
  EXPECT_EQ(b.api_root(), server_->url("ok"));
  EXPECT_TRUE(complete_one(b, chat("x")).ok());
}

TEST_F(OpenAiClientTest, HttpStatusesMapToKinds) {
  const Failure r429 = fail_with("status/429");
  EXPECT_EQ(r429.kind, ErrorKind::rate_limited);
  EXPECT_EQ(r429.http_status, 429);
  ASSERT_TRUE(r429.retry_after.has_value());
  EXPECT_DOUBLE_EQ(*r429.retry_after, 1.0);
  EXPECT_NE(r429.message.find("injected HTTP 429"), std::string::npos);  // server's message
  EXPECT_EQ(fail_with("retry_after/17").retry_after.value_or(-1), 17.0);
  EXPECT_DOUBLE_EQ(fail_with("retry_after_ms/1500").retry_after.value_or(-1), 1.5);
  EXPECT_EQ(fail_with("status/500").kind, ErrorKind::server);
  EXPECT_EQ(fail_with("status/503").kind, ErrorKind::server);
  EXPECT_EQ(fail_with("status/400").kind, ErrorKind::bad_request);
  EXPECT_EQ(fail_with("status/422").kind, ErrorKind::bad_request);
  EXPECT_EQ(fail_with("status/401").kind, ErrorKind::unauthorized);
  EXPECT_EQ(fail_with("status/403").kind, ErrorKind::unauthorized);
  EXPECT_EQ(fail_with("status/404").kind, ErrorKind::not_found);
}

TEST_F(OpenAiClientTest, BrokenBodiesAreInvalidResponses) {
  for (const char* mode : {"malformed", "truncated", "wrong_shape"}) {
    const Failure f = fail_with(mode);
    EXPECT_EQ(f.kind, ErrorKind::invalid_response) << mode;
    EXPECT_EQ(f.http_status, 200) << mode;
  }
}

TEST_F(OpenAiClientTest, DroppedConnectionIsTransport) {
  const Failure f = fail_with("drop");
  EXPECT_EQ(f.kind, ErrorKind::transport) << f.message;
}

TEST_F(OpenAiClientTest, RefusedConnectionIsTransport) {
  OpenAiOptions o = options("ok");
  o.base_url = "http://127.0.0.1:1/v1";  // nothing listens on port 1
  OpenAiBackend b(o);
  auto out = complete_one(b, chat("x"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::transport);
}

TEST_F(OpenAiClientTest, SlowAnswerPastTheTimeout) {
  OpenAiOptions o = options("slow/1200");
  o.total_timeout = std::chrono::milliseconds(150);
  OpenAiBackend b(o);
  auto out = complete_one(b, chat("x"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::timeout) << out.error().message;
}

TEST_F(OpenAiClientTest, RetryRecoversFromTransientFaults) {
  for (const std::string mode : {"flaky/2/503", "flaky/1/429", "flaky/2/500"}) {
    server_->reset_counts();
    auto http = std::make_shared<OpenAiBackend>(options(mode));
    RetryOptions ro;
    ro.initial_backoff = std::chrono::duration<double>(0.001);
    RetryBackend retry(http, ro);
    auto out = complete_one(retry, chat("transient " + mode));
    ASSERT_TRUE(out.ok()) << mode << ": " << out.error().message;
    EXPECT_EQ(out.value().text, "echo: transient " + mode);
    EXPECT_EQ(server_->hits(mode), mode == "flaky/1/429" ? 2u : 3u);
  }
}

TEST_F(OpenAiClientTest, RetryReportsWhatItMust) {
  for (const std::string mode : {"status/400", "status/401", "status/403", "status/404"}) {
    server_->reset_counts();
    auto http = std::make_shared<OpenAiBackend>(options(mode));
    RetryOptions ro;
    ro.initial_backoff = std::chrono::duration<double>(0.001);
    RetryBackend retry(http, ro);
    auto out = complete_one(retry, chat("x"));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(server_->hits(mode), 1u) << mode << " must not be retried";
  }
  server_->reset_counts();
  auto http = std::make_shared<OpenAiBackend>(options("status/503"));
  RetryOptions ro;
  ro.initial_backoff = std::chrono::duration<double>(0.001);
  ro.max_attempts = 3;
  RetryBackend retry(http, ro);
  auto out = complete_one(retry, chat("x"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::server);
  EXPECT_EQ(server_->hits("status/503"), 3u);
}

TEST_F(OpenAiClientTest, CacheNeverKeepsAFailure) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("popalign_llm_http_cache_" + std::to_string(::getpid()) + ".sqlite");
  std::filesystem::remove(path);
  CacheOptions co;
  co.path = path.string();
  for (const std::string mode : {"status/503", "malformed", "truncated", "drop", "status/429"}) {
    auto http = std::make_shared<OpenAiBackend>(options(mode));
    RetryOptions ro;
    ro.max_attempts = 2;
    ro.initial_backoff = std::chrono::duration<double>(0.001);
    ro.max_retry_after = std::chrono::duration<double>(0.001);
    CachedBackend cache(std::make_shared<RetryBackend>(http, ro), co);
    EXPECT_FALSE(complete_one(cache, chat("same question")).ok()) << mode;
    EXPECT_EQ(cache.size(), 0u) << mode;
  }
  // The same request against a healthy server is then really asked, and cached.
  server_->reset_counts();
  CachedBackend cache(std::make_shared<OpenAiBackend>(options("ok")), co);
  EXPECT_FALSE(complete_one(cache, chat("same question")).value().from_cache);
  EXPECT_TRUE(complete_one(cache, chat("same question")).value().from_cache);
  EXPECT_EQ(server_->hits("ok"), 1u);
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

TEST_F(OpenAiClientTest, Cancellation) {
  OpenAiOptions o = options("slow/300");
  CancellationToken token;
  o.cancel = token;
  token.cancel();
  OpenAiBackend b(o);
  std::vector<Request> batch(3, chat("x"));
  for (const auto& out : b.complete(batch)) {
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().kind, ErrorKind::cancelled);
  }
}

TEST_F(OpenAiClientTest, EmbeddingsAndModels) {
  OpenAiOptions o = options("ok");
  o.embedding_batch_size = 2;
  OpenAiBackend b(o);
  server_->reset_counts();
  const std::vector<std::string> texts = {"a", "bb", "ccc", "dddd", "eeeee"};
  const RowMatrix<float> e = b.embeddings(texts);
  ASSERT_EQ(e.rows(), 5);
  ASSERT_EQ(e.cols(), 4);
  for (int i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(e(i, 0), static_cast<float>(i + 1));
  EXPECT_FLOAT_EQ(e(2, 2), -0.5f);
  EXPECT_EQ(server_->hits("ok"), 3u);
  EXPECT_EQ(b.embeddings({}).rows(), 0);
  const auto models = b.list_models();
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].id, "fault-model");
  OpenAiBackend bad(options("status/500"));
  try {
    (void)bad.embeddings({"x"});
    FAIL();
  } catch (const LlmError& err) {
    EXPECT_EQ(err.kind(), ErrorKind::server);
  }
  OpenAiBackend trunc(options("truncated"));
  EXPECT_THROW((void)trunc.list_models(), LlmError);
}

TEST_F(OpenAiClientTest, ApiKeyFromTheNamedVariable) {
  OpenAiOptions o = options("auth/s3cret");
  o.api_key_env = "POPALIGN_TEST_FAKE_KEY";
  ::unsetenv("POPALIGN_TEST_FAKE_KEY");
  {
    OpenAiBackend b(o);
    auto out = complete_one(b, chat("x"));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().kind, ErrorKind::unauthorized);
  }
  ::setenv("POPALIGN_TEST_FAKE_KEY", "wrong-key-4711", 1);
  {
    OpenAiBackend b(o);
    auto out = complete_one(b, chat("x"));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.error().http_status, 401);
    // The key is never echoed into messages or names.
    EXPECT_EQ(out.error().message.find("wrong-key-4711"), std::string::npos);
    EXPECT_EQ(b.name().find("wrong-key-4711"), std::string::npos);
  }
  ::setenv("POPALIGN_TEST_FAKE_KEY", "s3cret", 1);
  {
    OpenAiBackend b(o);
    EXPECT_TRUE(complete_one(b, chat("x")).ok());
  }
  ::unsetenv("POPALIGN_TEST_FAKE_KEY");
  o.require_api_key = true;
  try {
    OpenAiBackend b(o);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "api_key_env");
  }
}

TEST_F(OpenAiClientTest, OptionsValidation) {
  auto arg_of = [](OpenAiOptions o) {
    try {
      OpenAiBackend b(std::move(o));
    } catch (const InvalidArgument& e) {
      return e.argument();
    }
    return std::string("<no throw>");
  };
  OpenAiOptions o = options("ok");
  o.base_url = "ftp://x";
  EXPECT_EQ(arg_of(o), "base_url");
  o = options("ok");
  o.max_in_flight = 0;
  EXPECT_EQ(arg_of(o), "max_in_flight");
  o = options("ok");
  o.total_timeout = std::chrono::milliseconds(0);
  EXPECT_EQ(arg_of(o), "total_timeout");
  o = options("ok");
  o.extra_headers = {{"X-Bad\r\nInjected", "v"}};
  EXPECT_EQ(arg_of(o), "extra_headers");
  OpenAiBackend b(options("ok"));
  Request bad = chat("x");
  bad.temperature = 9;
  EXPECT_THROW(b.complete(std::span<const Request>(&bad, 1)), InvalidArgument);
}

}  // namespace
}  // namespace popalign::llm
