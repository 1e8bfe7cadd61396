#include <gtest/gtest.h>

#include <popalign/llm/rate_limit.hpp>

#include "llm/test_double_backend.hpp"

namespace popalign::llm {
namespace {

using testing::chat;
using testing::TestDoubleBackend;
using Clock = std::chrono::steady_clock;

struct FakeTime {
  Clock::time_point t{};
  std::vector<double> sleeps;
  RateLimitOptions options() {
    RateLimitOptions o;
    o.now = [this] { return t; };
    o.sleep = [this](std::chrono::duration<double> d) {
      sleeps.push_back(d.count());
      t += std::chrono::duration_cast<Clock::duration>(d);
    };
    return o;
  }
  double elapsed() const { return std::chrono::duration<double>(t - Clock::time_point{}).count(); }
};

TEST(RateLimit, RequestsPerMinute) {
  FakeTime time;
  auto inner = std::make_shared<TestDoubleBackend>();
  RateLimitOptions o = time.options();
  o.requests_per_minute = 60;  // one per second after a burst of 60
  RateLimitedBackend rl(inner, o);
  std::vector<Request> reqs(63, chat("x"));
  auto out = rl.complete(reqs);
  ASSERT_EQ(out.size(), 63u);
  for (const auto& r : out) EXPECT_TRUE(r.ok());
  EXPECT_NEAR(time.elapsed(), 3.0, 1e-6);
  EXPECT_EQ(inner->batches().front().size(), 60u);  // the burst went out as one sub-batch
  EXPECT_NEAR(rl.waited_seconds(), 3.0, 1e-6);
}

TEST(RateLimit, TokensPerMinuteCorrectedByUsage) {
  FakeTime time;
  // Each answer reports 100 tokens used; each request is estimated at ceil(chars/4) + 50.
  auto inner = std::make_shared<TestDoubleBackend>([](const Request& r, std::size_t) -> Outcome {
    Response resp = TestDoubleBackend::default_answer(r).value();
    resp.usage = {60, 40};
    return resp;
  });
  RateLimitOptions o = time.options();
  o.tokens_per_minute = 1000;
  RateLimitedBackend rl(inner, o);
  Request r = chat("x");
  r.max_tokens = 50;
  const auto est = rl.estimate_tokens(r);
  EXPECT_EQ(est, static_cast<std::int64_t>(std::ceil((6 + 23 + 4 + 1) / 4.0)) + 50);
  std::vector<Request> reqs(20, r);
  auto out = rl.complete(reqs);
  ASSERT_EQ(out.size(), 20u);
  // 20 requests * 100 real tokens = 2000 tokens = 1000 over the first minute's budget;
  // waiting is needed for roughly a minute (within one request's tokens).
  EXPECT_GT(time.elapsed(), 50.0);
  EXPECT_LT(time.elapsed(), 75.0);
}

TEST(RateLimit, UnlimitedPassesThrough) {
  auto inner = std::make_shared<TestDoubleBackend>();
  RateLimitedBackend rl(inner, {});
  std::vector<Request> reqs(5, chat("x"));
  EXPECT_EQ(rl.complete(reqs).size(), 5u);
  EXPECT_EQ(rl.waited_seconds(), 0.0);
}

TEST(RateLimit, OversizedRequestStillGoes) {
  FakeTime time;
  auto inner = std::make_shared<TestDoubleBackend>();
  RateLimitOptions o = time.options();
  o.tokens_per_minute = 10;
  RateLimitedBackend rl(inner, o);
  Request r = chat("x");
  r.max_tokens = 500;
  EXPECT_TRUE(complete_one(rl, r).ok());
}

TEST(RateLimit, ValidatesOptions) {
  auto inner = std::make_shared<TestDoubleBackend>();
  RateLimitOptions o;
  o.requests_per_minute = -1;
  try {
    RateLimitedBackend rl(inner, o);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "requests_per_minute");
  }
  o = {};
  o.chars_per_token = 0;
  EXPECT_THROW(RateLimitedBackend(inner, o), InvalidArgument);
}

}  // namespace
}  // namespace popalign::llm
