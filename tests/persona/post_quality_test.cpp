// Step 3, post quality: requests, lenient parsing, keep rules, re-asks, failures, options.
#include <popalign/persona/post_quality.hpp>

#include <gtest/gtest.h>
#include <popalign/core/error.hpp>

#include "persona/scripted_llm.hpp"

namespace pe = popalign::persona;
namespace llm = popalign::llm;

namespace {
pe::Post post(std::string id, std::string text) {
  return pe::Post{"a", std::move(id), "2004-05-14", std::move(text), {}};
}
}  // namespace

TEST(PostQuality, RequestIsDeterministicAndCarriesTheSchema) {
  pe::PostQualityOptions o;
  o.seed = 7;
  const pe::Post p = post("p1", "I   went\n home.");
  const llm::Request r0 = pe::post_quality_request(p, o, 0);
  EXPECT_EQ(r0, pe::post_quality_request(p, o, 0));
  EXPECT_EQ(*r0.seed, 7u);
  EXPECT_EQ(*pe::post_quality_request(p, o, 1).seed, 8u);
  EXPECT_EQ(r0.messages.size(), 2u);
  EXPECT_NE(r0.messages[1].content.find("I went home."), std::string::npos);
  EXPECT_EQ(r0.json_schema, pe::post_quality_schema());
  EXPECT_EQ(*r0.temperature, 0.0);
  o.json_schema = false;
  EXPECT_TRUE(pe::post_quality_request(p, o).json_schema.empty());
  o.max_post_chars = 100;
  const pe::Post long_post = post("p2", std::string(300, 'x'));
  EXPECT_EQ(pe::post_quality_request(long_post, o).messages[1].content.find(std::string(101, 'x')),
            std::string::npos);
}

TEST(PostQuality, ParsesLeniently) {
  using Q = pe::Quality;
  EXPECT_EQ(pe::parse_post_quality(R"({"quality":"high","harmful":false})"),
            (pe::PostVerdict{Q::high, false}));
  EXPECT_EQ(
      pe::parse_post_quality("Sure!\n```json\n{\"quality\": \"LOW\", \"harmful\": \"yes\"}\n```"),
      (pe::PostVerdict{Q::low, true}));
  EXPECT_EQ(pe::parse_post_quality(R"({"harmful": "no", "quality": " Medium "})"),
            (pe::PostVerdict{Q::medium, false}));
  EXPECT_FALSE(pe::parse_post_quality("high quality, not harmful"));
  EXPECT_FALSE(pe::parse_post_quality(R"({"quality":"great","harmful":false})"));
  EXPECT_FALSE(pe::parse_post_quality(R"({"quality":"high"})"));
  EXPECT_FALSE(pe::parse_post_quality(R"({"quality":"high","harmful":"maybe"})"));
  EXPECT_FALSE(pe::parse_post_quality(R"({"quality":"high","harmful":1})"));
}

TEST(PostQuality, KeepRules) {
  pe::PostQualityOptions o;
  EXPECT_EQ(pe::post_drop_reason({pe::Quality::high, false}, o), "");
  EXPECT_EQ(pe::post_drop_reason({pe::Quality::medium, false}, o), "medium quality");
  EXPECT_EQ(pe::post_drop_reason({pe::Quality::low, false}, o), "low quality");
  EXPECT_EQ(pe::post_drop_reason({pe::Quality::high, true}, o), "harmful");
  o.min_quality = pe::Quality::medium;
  o.keep_harmful = true;
  EXPECT_EQ(pe::post_drop_reason({pe::Quality::medium, true}, o), "");
  EXPECT_EQ(pe::post_drop_reason({pe::Quality::low, true}, o), "low quality");
}

TEST(PostQuality, EveryBranchWithTheScriptedDouble) {
  popalign::test::ScriptedMiningBackendDouble backend;
  const std::vector<pe::Post> posts = {
      post("ok", "I went home."),     post("ad", "Buy now [ad]"),
      post("meh", "I guess [meh]"),   post("harm", "I [harm]"),
      post("garbled", "I [garbled]"), post("always", "I [garbled-always]"),
      post("fail", "I [fail]")};
  const pe::PostQualityResult r = pe::assess_posts(backend, posts);
  ASSERT_EQ(r.assessments.size(), posts.size());
  const std::vector<std::string> reasons = {"", "low quality",       "medium quality", "harmful",
                                            "", "off-schema answer", "call failed"};
  for (std::size_t i = 0; i < posts.size(); ++i) {
    EXPECT_EQ(r.assessments[i].reason, reasons[i]) << posts[i].id;
    EXPECT_TRUE(r.assessments[i].finished);
  }
  EXPECT_EQ(r.kept, 2u);
  EXPECT_EQ(r.assessments[4].attempts, 2);  // re-asked with seed + 1, then valid
  EXPECT_EQ(r.assessments[5].attempts, 2);
  EXPECT_NE(r.assessments[5].detail.find("off-schema"), std::string::npos);
  EXPECT_NE(r.assessments[6].detail.find("500"), std::string::npos);
  EXPECT_EQ(r.report.calls, 9u);  // 7 first asks + 2 re-asks
  EXPECT_EQ(r.report.reasks, 2u);
  EXPECT_EQ(r.report.failed_calls, 1u);
  EXPECT_EQ(r.report.status, "ok");
  EXPECT_EQ(backend.max_repeats(), 1u);

  pe::PostQualityOptions once;
  once.max_attempts = 1;
  const pe::PostQualityResult r1 = pe::assess_posts(backend, std::span(posts).subspan(4, 1), once);
  EXPECT_EQ(r1.assessments[0].reason, "off-schema answer");  // no second ask
}

TEST(PostQuality, EveryCallFailingIsABackendError) {
  popalign::test::ScriptedMiningBackendDouble backend;
  const std::vector<pe::Post> posts = {post("f1", "I [fail]"), post("f2", "I [fail] too")};
  EXPECT_THROW(pe::assess_posts(backend, posts), popalign::BackendError);
}

TEST(PostQuality, CancelledCallsLeaveUnitsUnfinished) {
  popalign::test::ScriptedMiningBackendDouble backend;
  pe::PostQualityOptions o;
  popalign::CancellationToken cancel;
  cancel.cancel();
  o.batch.execution.cancel = cancel;
  const std::vector<pe::Post> posts = {post("a", "I went.")};
  const pe::PostQualityResult r = pe::assess_posts(backend, posts, o);
  EXPECT_EQ(r.report.status, "cancelled");
  EXPECT_FALSE(r.assessments[0].finished);
  EXPECT_EQ(r.assessments[0].reason, "cancelled");
  EXPECT_EQ(backend.total(), 0u);
}

TEST(PostQuality, OptionsNameTheBadField) {
  auto field = [](auto mutate) {
    pe::PostQualityOptions o;
    mutate(o);
    try {
      o.validate();
    } catch (const popalign::InvalidArgument& e) {
      return e.argument();
    }
    return std::string("valid");
  };
  EXPECT_EQ(field([](auto&) {}), "valid");
  EXPECT_EQ(field([](auto& o) { o.temperature = 3; }), "temperature");
  EXPECT_EQ(field([](auto& o) { o.max_tokens = 2; }), "max_tokens");
  EXPECT_EQ(field([](auto& o) { o.max_attempts = 0; }), "max_attempts");
  EXPECT_EQ(field([](auto& o) { o.max_post_chars = 10; }), "max_post_chars");
  EXPECT_EQ(field([](auto& o) { o.prompt.user = "no post"; }), "prompt");
  EXPECT_EQ(field([](auto& o) { o.batch.parallel_chunks = 0; }), "parallel_chunks");
  EXPECT_EQ(pe::quality_from_string("HIGH"), pe::Quality::high);
  EXPECT_THROW(pe::quality_from_string("great"), popalign::InvalidArgument);
}
