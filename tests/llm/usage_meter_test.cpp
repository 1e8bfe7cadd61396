#include <gtest/gtest.h>

#include <popalign/llm/usage_meter.hpp>

#include "llm/test_double_backend.hpp"

namespace popalign::llm {
namespace {

using testing::chat;
using testing::TestDoubleBackend;

TEST(UsageMeter, CountsTokensCostFailuresAndHits) {
  std::size_t n = 0;
  auto inner = std::make_shared<TestDoubleBackend>([&](const Request& r, std::size_t) -> Outcome {
    ++n;
    if (n == 2) return Failure{ErrorKind::server, 500, "x", {}};
    Response resp = TestDoubleBackend::default_answer(r).value();  // 10 + 5 tokens
    resp.from_cache = (n == 3);
    return resp;
  });
  MeterOptions o;
  o.prices["double-model"] = {2.0, 8.0};
  o.prices["big"] = {10.0, 30.0};
  UsageMeter meter(inner, o);
  Request big = chat("x");
  big.model = "big";
  std::vector<Request> batch = {chat("a"), chat("b"), chat("c"), big};
  (void)meter.complete(batch);
  const UsageReport rep = meter.report();
  EXPECT_EQ(rep.total.requests, 4u);
  EXPECT_EQ(rep.total.failures, 1u);
  EXPECT_EQ(rep.total.cache_hits, 1u);
  EXPECT_EQ(rep.total.prompt_tokens, 20);
  EXPECT_EQ(rep.total.completion_tokens, 10);
  const double expected = (10 * 2.0 + 5 * 8.0) / 1e6 + (10 * 10.0 + 5 * 30.0) / 1e6;
  EXPECT_NEAR(rep.total.cost, expected, 1e-15);
  EXPECT_EQ(rep.by_model.at("big").requests, 1u);
  EXPECT_EQ(rep.by_model.at("double-model").requests, 3u);
  EXPECT_NE(rep.summary().find("4 requests (1 failed, 1 cached)"), std::string::npos);
  meter.reset();
  EXPECT_EQ(meter.report().total.requests, 0u);
}

TEST(UsageMeter, DefaultPriceAndValidation) {
  MeterOptions o;
  o.default_price = Price{1.0, 1.0};
  UsageMeter meter(std::make_shared<TestDoubleBackend>(), o);
  EXPECT_DOUBLE_EQ(meter.cost("unknown", {1'000'000, 1'000'000}), 2.0);
  MeterOptions bad;
  bad.prices["m"] = {-1.0, 0.0};
  try {
    UsageMeter m(std::make_shared<TestDoubleBackend>(), bad);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "prices");
  }
}

}  // namespace
}  // namespace popalign::llm
