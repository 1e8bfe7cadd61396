// Step 4, persona writing: time windows, requests, lenient parsing, refusals, re-asks.
#include <popalign/persona/persona_writer.hpp>

#include <gtest/gtest.h>
#include <popalign/core/error.hpp>

#include "persona/scripted_llm.hpp"

namespace pe = popalign::persona;
namespace llm = popalign::llm;

namespace {
// n posts of `author`, each ~`bytes` long, dated day 1..n (given out of order).
std::vector<pe::Post> history(const std::string& author, int n, std::size_t bytes) {
  std::vector<pe::Post> out;
  for (int k = n; k >= 1; --k)
    out.push_back({author,
                   author + "-" + std::to_string(k),
                   "2004-05-" + std::string(k < 10 ? "0" : "") + std::to_string(k),
                   "I love painting. " + std::string(bytes, 'w'),
                   {}});
  return out;
}
}  // namespace

TEST(PersonaWriter, GroupsByAuthorInTimeOrderAndDropsShortHistories) {
  std::vector<pe::Post> posts = history("b", 7, 100);
  for (const pe::Post& p : history("a", 5, 100)) posts.push_back(p);
  const pe::Windowing w = pe::make_windows(posts);
  EXPECT_EQ(w.authors, 2u);
  ASSERT_EQ(w.windows.size(), 1u);
  EXPECT_EQ(w.windows[0].id(), "b#1");
  ASSERT_EQ(w.windows[0].posts.size(), 7u);
  for (int k = 0; k < 7; ++k) EXPECT_EQ(w.windows[0].posts[k].id, "b-" + std::to_string(k + 1));
  ASSERT_EQ(w.dropped.size(), 1u);
  EXPECT_EQ(w.dropped[0].author, "a");
  EXPECT_EQ(w.dropped[0].reason, "fewer than 6 posts");
  EXPECT_EQ(w.dropped[0].posts, 5u);
}

TEST(PersonaWriter, LongHistoriesSplitIntoWindowsThatFit) {
  pe::PersonaWriterOptions o;
  o.context_tokens = 1200;  // ~600 tokens for posts: 6 posts of ~100 tokens
  const std::size_t budget = o.post_budget_tokens();
  ASSERT_GT(budget, 600u);
  ASSERT_LT(budget, 700u);
  const pe::Windowing w = pe::make_windows(history("h", 18, 340), o);
  ASSERT_EQ(w.windows.size(), 3u);
  std::size_t next = 1;
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(w.windows[k].id(), "h#" + std::to_string(k + 1));
    EXPECT_EQ(w.windows[k].windows, 3u);
    EXPECT_EQ(w.windows[k].posts.size(), 6u);
    for (const pe::Post& p : w.windows[k].posts) EXPECT_EQ(p.id, "h-" + std::to_string(next++));
    // Every window's request fits the context.
    const llm::Request r = pe::persona_request(w.windows[k], o);
    std::size_t bytes = 0;
    for (const auto& m : r.messages) bytes += m.content.size();
    EXPECT_LE(bytes / 4 + static_cast<std::size_t>(o.max_tokens), o.context_tokens);
  }
  // 15 posts: 6 + 6 + 3; the short last window cannot take posts without leaving the second
  // with fewer than 6, so it is dropped.
  const pe::Windowing w15 = pe::make_windows(history("h", 15, 340), o);
  EXPECT_EQ(w15.windows.size(), 2u);
  ASSERT_EQ(w15.dropped.size(), 1u);
  EXPECT_EQ(w15.dropped[0].reason, "window with fewer than 6 posts");
  // 13 posts with a min of 4: greedy gives 6 + 6 + 1; an even split 5 + 4 + 4 fits.
  o.min_posts = 4;
  const pe::Windowing w13 = pe::make_windows(history("h", 13, 340), o);
  ASSERT_EQ(w13.windows.size(), 3u);
  EXPECT_TRUE(w13.dropped.empty());
  EXPECT_EQ(w13.windows[0].posts.size(), 5u);
  EXPECT_EQ(w13.windows[2].posts.size(), 4u);
  EXPECT_EQ(w13.windows[2].posts.back().id, "h-13");
  // A post larger than the whole budget is cut to fit.
  o.min_posts = 1;
  const pe::Windowing big = pe::make_windows(history("x", 1, 10000), o);
  EXPECT_EQ(big.cut_posts, 1u);
  ASSERT_EQ(big.windows.size(), 1u);
  EXPECT_LE(big.windows[0].posts[0].text.size() / 4, budget);
}

TEST(PersonaWriter, ParsesAnswers) {
  using K = pe::ParsedPersona::Kind;
  pe::PersonaWriterOptions o;
  o.max_words = 10;
  auto p = [&](const char* a) { return pe::parse_persona(a, o); };
  EXPECT_EQ(p(R"({"status":"ok","persona":"She is a nurse who loves dogs."})").kind, K::ok);
  EXPECT_EQ(p(R"({"status":"ok","persona":"She is a nurse who loves dogs."})").text,
            "She is a nurse who loves dogs.");
  EXPECT_EQ(p(R"({"status":"cannot","persona":""})").kind, K::cannot);
  EXPECT_EQ(p("I cannot write a persona from these posts.").kind, K::cannot);
  EXPECT_EQ(p("NULL").kind, K::cannot);
  EXPECT_EQ(p(R"({"status":"ok","persona":"Cannot determine anything."})").kind, K::cannot);
  EXPECT_EQ(p("She is a nurse who loves dogs.").kind, K::ok);  // plain prose
  EXPECT_EQ(
      p(R"({"status":"ok","persona":"one two three four five six seven eight nine ten eleven"})")
          .kind,
      K::too_long);
  EXPECT_EQ(p(R"({"status":"maybe","persona":"x"})").kind, K::off_schema);
  EXPECT_EQ(p(R"({"status":"ok","persona":""})").kind, K::off_schema);
  EXPECT_EQ(p("%%% ### 123").kind, K::off_schema);
}

TEST(PersonaWriter, EveryBranchWithTheScriptedDouble) {
  popalign::test::ScriptedMiningBackendDouble backend;
  auto window = [](const std::string& author, const std::string& marker) {
    pe::AuthorWindow w;
    w.author = author;
    w.posts = history(author, 6, 20);
    w.posts[0].text += " " + marker;
    return w;
  };
  const std::vector<pe::AuthorWindow> ws = {window("ok", ""), window("no", "[cannot]"),
                                            window("long", "[long]"), window("once", "[long-once]"),
                                            window("garbled", "[writer-garbled]")};
  const pe::PersonaWritingResult r = pe::draft_personas(backend, ws);
  ASSERT_EQ(r.drafts.size(), 5u);
  EXPECT_TRUE(r.drafts[0].kept);
  EXPECT_EQ(r.drafts[0].text, "This blogger loves painting.");
  EXPECT_EQ(r.drafts[0].post_ids.size(), 6u);
  EXPECT_EQ(r.drafts[0].first_time, "2004-05-06");  // history() lists newest first
  EXPECT_EQ(r.drafts[1].reason, "cannot");
  EXPECT_EQ(r.drafts[1].attempts, 1);  // a refusal is final
  EXPECT_EQ(r.drafts[2].reason, "too long");
  EXPECT_EQ(r.drafts[2].attempts, 2);
  EXPECT_TRUE(r.drafts[3].kept);
  EXPECT_EQ(r.drafts[3].attempts, 2);
  EXPECT_EQ(r.drafts[4].reason, "off-schema answer");
  EXPECT_EQ(r.kept, 2u);
  EXPECT_EQ(r.report.reasks, 3u);
}

TEST(PersonaWriter, OptionsNameTheBadField) {
  auto field = [](auto mutate) {
    pe::PersonaWriterOptions o;
    mutate(o);
    try {
      o.validate();
    } catch (const popalign::InvalidArgument& e) {
      return e.argument();
    }
    return std::string("valid");
  };
  EXPECT_EQ(field([](auto&) {}), "valid");
  EXPECT_EQ(field([](auto& o) { o.context_tokens = 600; }), "context_tokens");
  EXPECT_EQ(field([](auto& o) { o.max_words = 3; }), "max_words");
  EXPECT_EQ(field([](auto& o) { o.min_posts = 0; }), "min_posts");
  EXPECT_EQ(field([](auto& o) { o.max_tokens = 4; }), "max_tokens");
  EXPECT_EQ(field([](auto& o) { o.temperature = -1; }), "temperature");
  EXPECT_EQ(field([](auto& o) { o.max_attempts = 0; }), "max_attempts");
  EXPECT_EQ(field([](auto& o) { o.prompt.user = "{posts} only"; }), "prompt");
}
