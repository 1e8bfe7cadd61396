#include <gtest/gtest.h>

#include <atomic>

#include <popalign/llm/backend.hpp>

#include "llm/test_double_backend.hpp"

namespace popalign::llm {
namespace {

using testing::chat;
using testing::TestDoubleBackend;

struct NotInheriting {  // plugs in through the concept
  std::vector<Outcome> complete(std::span<const Request> batch) {
    std::vector<Outcome> out;
    for (const auto& r : batch)
      out.push_back(Response{"plain " + r.messages.back().content, "stop", {}, {}, "", false});
    return out;
  }
};
struct Broken {  // returns the wrong number of outcomes
  std::vector<Outcome> complete(std::span<const Request>) { return {}; }
  std::string name() const { return "broken"; }
};
static_assert(LlmBackendLike<NotInheriting>);
static_assert(LlmBackendLike<TestDoubleBackend>);
static_assert(!LlmBackendLike<int>);

TEST(Backend, CompleteOneAndAdapter) {
  auto b = make_backend(NotInheriting{});
  EXPECT_EQ(b->name(), "adapter");
  EXPECT_EQ(complete_one(*b, chat("x")).value().text, "plain x");
  auto broken = make_backend(Broken{});
  EXPECT_EQ(broken->name(), "broken");
  EXPECT_THROW(complete_one(*broken, chat("x")), BackendError);
}

TEST(Backend, FunctionBackendAndAsync) {
  FunctionBackend f(
      [](const Request& r) -> Outcome {
        return Response{r.messages.back().content + "!", "stop", {}, {}, "", false};
      },
      "fn", "m");
  EXPECT_EQ(f.default_model(), "m");
  auto fut = complete_async(f, chat("hey"));
  EXPECT_EQ(fut.get().value().text, "hey!");
  EXPECT_THROW(FunctionBackend(FunctionBackend::Function{}), InvalidArgument);
}

TEST(CompleteBatch, ChunksInOrderWithProgress) {
  TestDoubleBackend backend;
  std::vector<Request> reqs;
  for (int i = 0; i < 10; ++i) reqs.push_back(chat("q" + std::to_string(i)));
  std::vector<double> fractions;
  BatchOptions opt;
  opt.chunk_size = 4;
  opt.execution.progress = [&](std::string_view, double f) {
    fractions.push_back(f);
    return false;
  };
  auto out = complete_batch(backend, reqs, opt);
  ASSERT_EQ(out.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(out[i].value().text, "answer to q" + std::to_string(i));
  const auto batches = backend.batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 4u);
  EXPECT_EQ(batches[2].size(), 2u);
  EXPECT_EQ(fractions.front(), 0.0);
  EXPECT_DOUBLE_EQ(fractions.back(), 1.0);
}

TEST(CompleteBatch, CancellationMarksTheRest) {
  TestDoubleBackend backend;
  std::vector<Request> reqs(9, chat("q"));
  BatchOptions opt;
  opt.chunk_size = 3;
  int reports = 0;
  opt.execution.progress = [&](std::string_view, double) {
    return ++reports == 2;
  };  // stop after chunk 1
  auto out = complete_batch(backend, reqs, opt);
  ASSERT_EQ(out.size(), 9u);
  EXPECT_TRUE(out[0].ok());
  EXPECT_TRUE(out[2].ok());
  for (int i = 3; i < 9; ++i) {
    ASSERT_FALSE(out[i].ok());
    EXPECT_EQ(out[i].error().kind, ErrorKind::cancelled);
  }
  EXPECT_EQ(backend.calls(), 3u);
}

TEST(CompleteBatch, ParallelChunksKeepOrder) {
  std::atomic<int> in_flight{0}, peak{0};
  TestDoubleBackend backend([&](const Request& r, std::size_t) -> Outcome {
    const int now = ++in_flight;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    --in_flight;
    return TestDoubleBackend::default_answer(r);
  });
  std::vector<Request> reqs;
  for (int i = 0; i < 16; ++i) reqs.push_back(chat(std::to_string(i)));
  BatchOptions opt;
  opt.chunk_size = 1;
  opt.parallel_chunks = 4;
  auto out = complete_batch(backend, reqs, opt);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(out[i].value().text, "answer to " + std::to_string(i));
  EXPECT_LE(peak.load(), 4);
  BatchOptions bad;
  bad.parallel_chunks = 0;
  EXPECT_THROW(complete_batch(backend, reqs, bad), InvalidArgument);
}

}  // namespace
}  // namespace popalign::llm
