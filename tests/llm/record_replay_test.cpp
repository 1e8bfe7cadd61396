#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <popalign/llm/record_replay.hpp>

#include "llm/test_double_backend.hpp"

namespace popalign::llm {
namespace {

using testing::chat;
using testing::TestDoubleBackend;
namespace fs = std::filesystem;

fs::path temp_file(const std::string& name) {
  auto p =
      fs::temp_directory_path() / ("popalign_llm_rr_" + std::to_string(::getpid()) + "_" + name);
  fs::remove(p);
  return p;
}

TEST(RecordReplay, ReplaysWhatWasRecorded) {
  const auto path = temp_file("a.jsonl");
  auto inner = std::make_shared<TestDoubleBackend>([](const Request& r, std::size_t) -> Outcome {
    if (r.messages.back().content == "bad") return Failure{ErrorKind::server, 500, "boom", {}};
    return TestDoubleBackend::default_answer(r);
  });
  {
    RecordingBackend rec(inner, path.string());
    std::vector<Request> batch = {chat("a"), chat("bad"), chat("b", 3)};
    auto out = rec.complete(batch);
    EXPECT_TRUE(out[0].ok());
    EXPECT_FALSE(out[1].ok());
  }
  ReplayOptions o;
  o.path = path.string();
  o.default_model = "double-model";
  ReplayBackend replay(o);
  EXPECT_EQ(replay.size(), 2u);  // failures are not replayed by default
  auto a = complete_one(replay, chat("a"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.value().text, "answer to a");
  EXPECT_TRUE(a.value().from_cache);
  EXPECT_TRUE(complete_one(replay, chat("b", 3)).ok());
  auto miss = complete_one(replay, chat("b", 4));
  ASSERT_FALSE(miss.ok());
  EXPECT_EQ(miss.error().kind, ErrorKind::not_found);

  o.replay_failures = true;
  ReplayBackend with_failures(o);
  auto bad = complete_one(with_failures, chat("bad"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().http_status, 500);

  o.replay_failures = false;
  o.fallback = inner;
  ReplayBackend fallback(o);
  EXPECT_EQ(complete_one(fallback, chat("zzz")).value().text, "answer to zzz");
  fs::remove(path);
}

TEST(RecordReplay, PartialLastLineIsSkippedButCorruptionIsAnError) {
  const auto path = temp_file("b.jsonl");
  auto inner = std::make_shared<TestDoubleBackend>();
  {
    RecordingBackend rec(inner, path.string());
    (void)complete_one(rec, chat("a"));
  }
  { std::ofstream(path, std::ios::app) << "{\"key\": \"abc\", \"resp"; }  // killed mid-write
  ReplayOptions o;
  o.path = path.string();
  o.default_model = "double-model";
  ReplayBackend replay(o);
  EXPECT_EQ(replay.size(), 1u);
  EXPECT_EQ(replay.partial_lines(), 1u);
  { std::ofstream(path, std::ios::app) << "\n{\"key\":\"x\",\"response\":{\"text\":\"t\"}}\n"; }
  try {
    ReplayBackend broken(o);
    FAIL() << "expected ParseError";
  } catch (const ParseError& e) {
    EXPECT_EQ(e.file(), path.string());
    EXPECT_EQ(e.line(), 2u);
  }
  fs::remove(path);
  ReplayOptions missing;
  missing.path = path.string();
  EXPECT_THROW(ReplayBackend{missing}, IoError);
}

}  // namespace
}  // namespace popalign::llm
