#include <gtest/gtest.h>

#include <popalign/llm/retry.hpp>

#include "llm/test_double_backend.hpp"

namespace popalign::llm {
namespace {

using testing::chat;
using testing::TestDoubleBackend;

/// Fails the first `n` calls of each distinct prompt with `f`.
auto flaky(int n, Failure f) {
  auto seen = std::make_shared<std::map<std::string, int>>();
  auto mutex = std::make_shared<std::mutex>();
  return [=](const Request& r, std::size_t) -> Outcome {
    std::lock_guard lock(*mutex);
    if ((*seen)[r.messages.back().content]++ < n) return f;
    return TestDoubleBackend::default_answer(r);
  };
}

RetryOptions recording(std::vector<double>* sleeps, std::uint64_t seed = 1) {
  RetryOptions o;
  o.seed = seed;
  o.sleep = [sleeps](std::chrono::duration<double> d) { sleeps->push_back(d.count()); };
  return o;
}

TEST(Retry, RetriesRetryableFailuresUntilSuccess) {
  auto inner =
      std::make_shared<TestDoubleBackend>(flaky(2, Failure{ErrorKind::server, 503, "down", {}}));
  std::vector<double> sleeps;
  RetryBackend retry(inner, recording(&sleeps));
  std::vector<Request> reqs = {chat("a"), chat("b")};
  auto out = retry.complete(reqs);
  ASSERT_TRUE(out[0].ok());
  ASSERT_TRUE(out[1].ok());
  EXPECT_EQ(out[1].value().text, "answer to b");
  EXPECT_EQ(inner->calls(), 6u);
  EXPECT_EQ(retry.retries(), 4u);
  ASSERT_EQ(sleeps.size(), 2u);
  // Exponential backoff with jitter in [1 - jitter, 1] of the nominal delay.
  EXPECT_GE(sleeps[0], 0.25);
  EXPECT_LE(sleeps[0], 0.5);
  EXPECT_GE(sleeps[1], 0.5);
  EXPECT_LE(sleeps[1], 1.0);
  // Only the failed items were re-sent, as one sub-batch.
  EXPECT_EQ(inner->batches()[1].size(), 2u);
}

TEST(Retry, JitterIsSeeded) {
  auto run = [](std::uint64_t seed) {
    auto inner = std::make_shared<TestDoubleBackend>(
        flaky(3, Failure{ErrorKind::transport, 0, "reset", {}}));
    std::vector<double> sleeps;
    RetryBackend retry(inner, recording(&sleeps, seed));
    (void)complete_one(retry, chat("x"));
    return sleeps;
  };
  EXPECT_EQ(run(5), run(5));
  EXPECT_NE(run(5), run(6));
}

TEST(Retry, HonoursRetryAfterUpToTheCap) {
  auto inner = std::make_shared<TestDoubleBackend>(
      flaky(1, Failure{ErrorKind::rate_limited, 429, "slow", 7.0}));
  std::vector<double> sleeps;
  RetryBackend retry(inner, recording(&sleeps));
  EXPECT_TRUE(complete_one(retry, chat("x")).ok());
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_DOUBLE_EQ(sleeps[0], 7.0);

  auto inner2 = std::make_shared<TestDoubleBackend>(
      flaky(1, Failure{ErrorKind::rate_limited, 429, "slow", 500.0}));
  sleeps.clear();
  RetryOptions o = recording(&sleeps);
  o.max_retry_after = std::chrono::duration<double>(3.0);
  RetryBackend capped(inner2, o);
  EXPECT_TRUE(complete_one(capped, chat("x")).ok());
  EXPECT_DOUBLE_EQ(sleeps.at(0), 3.0);
}

TEST(Retry, NeverRetriesClientErrors) {
  for (auto [kind, status] : {std::pair{ErrorKind::bad_request, 400},
                              {ErrorKind::unauthorized, 401},
                              {ErrorKind::unauthorized, 403},
                              {ErrorKind::not_found, 404}}) {
    auto inner = std::make_shared<TestDoubleBackend>(flaky(1, Failure{kind, status, "no", {}}));
    std::vector<double> sleeps;
    RetryBackend retry(inner, recording(&sleeps));
    auto o = complete_one(retry, chat("x"));
    ASSERT_FALSE(o.ok());
    EXPECT_EQ(o.error().http_status, status);
    EXPECT_EQ(inner->calls(), 1u) << status;
    EXPECT_TRUE(sleeps.empty());
  }
}

TEST(Retry, GivesUpAfterMaxAttempts) {
  auto inner =
      std::make_shared<TestDoubleBackend>(flaky(100, Failure{ErrorKind::server, 500, "boom", {}}));
  std::vector<double> sleeps;
  RetryOptions o = recording(&sleeps);
  o.max_attempts = 3;
  RetryBackend retry(inner, o);
  auto out = complete_one(retry, chat("x"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::server);
  EXPECT_NE(out.error().message.find("after 3 attempts"), std::string::npos);
  EXPECT_EQ(inner->calls(), 3u);
}

TEST(Retry, CancelWhileWaiting) {
  auto inner =
      std::make_shared<TestDoubleBackend>(flaky(5, Failure{ErrorKind::server, 500, "boom", {}}));
  RetryOptions o;
  CancellationToken token;
  o.cancel = token;
  o.sleep = [token](std::chrono::duration<double>) mutable { token.cancel(); };
  RetryBackend retry(inner, o);
  auto out = complete_one(retry, chat("x"));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, ErrorKind::cancelled);
  EXPECT_EQ(inner->calls(), 1u);
}

TEST(Retry, ValidatesOptions) {
  auto inner = std::make_shared<TestDoubleBackend>();
  RetryOptions o;
  o.max_attempts = 0;
  try {
    RetryBackend r(inner, o);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "max_attempts");
  }
  o = {};
  o.jitter = 1.5;
  EXPECT_THROW(RetryBackend(inner, o), InvalidArgument);
  EXPECT_THROW(RetryBackend(nullptr, {}), InvalidArgument);
}

}  // namespace
}  // namespace popalign::llm
