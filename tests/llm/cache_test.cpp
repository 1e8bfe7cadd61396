#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <popalign/llm/cache.hpp>

#include "llm/test_double_backend.hpp"

namespace popalign::llm {
namespace {

using testing::chat;
using testing::TestDoubleBackend;
namespace fs = std::filesystem;

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("popalign_llm_cache_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  CacheOptions options() const {
    CacheOptions o;
    o.path = (dir_ / "calls.sqlite").string();
    return o;
  }
  fs::path dir_;
};

TEST_F(CacheTest, SecondCallIsAHit) {
  auto inner = std::make_shared<TestDoubleBackend>();
  CachedBackend cache(inner, options());
  auto first = complete_one(cache, chat("hello", 1));
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first.value().from_cache);
  auto second = complete_one(cache, chat("hello", 1));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second.value().from_cache);
  EXPECT_EQ(second.value().text, first.value().text);
  EXPECT_EQ(second.value().usage, first.value().usage);
  EXPECT_EQ(inner->calls(), 1u);
  // A different seed is a different request.
  EXPECT_FALSE(complete_one(cache, chat("hello", 2)).value().from_cache);
  EXPECT_EQ(inner->calls(), 2u);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 2u);
}

TEST_F(CacheTest, NeverStoresAFailure) {
  bool fail = true;
  auto inner = std::make_shared<TestDoubleBackend>([&](const Request& r, std::size_t) -> Outcome {
    if (fail) return Failure{ErrorKind::server, 503, "down", {}};
    return TestDoubleBackend::default_answer(r);
  });
  CachedBackend cache(inner, options());
  EXPECT_FALSE(complete_one(cache, chat("q")).ok());
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.lookup(chat("q")).has_value());
  fail = false;
  EXPECT_TRUE(complete_one(cache, chat("q")).ok());
  EXPECT_EQ(inner->calls(), 2u);
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(CacheTest, BatchedCommits) {
  auto inner = std::make_shared<TestDoubleBackend>();
  CacheOptions o = options();
  o.commit_rows = 3;
  o.commit_interval = std::chrono::hours(1);
  auto cache = std::make_unique<CachedBackend>(inner, o);
  CachedBackend other(inner, options());  // a second connection sees only committed rows
  ASSERT_TRUE(complete_one(*cache, chat("a", 1)).ok());
  ASSERT_TRUE(complete_one(*cache, chat("b", 1)).ok());
  // Pending: served to this object's lookups, not yet in the file.
  const Outcome again = complete_one(*cache, chat("a", 1));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.value().from_cache);
  EXPECT_EQ(inner->calls(), 2u);
  EXPECT_FALSE(other.lookup(chat("a", 1)).has_value());
  // The third new answer commits all three in one transaction.
  ASSERT_TRUE(complete_one(*cache, chat("c", 1)).ok());
  EXPECT_TRUE(other.lookup(chat("a", 1)).has_value());
  EXPECT_TRUE(other.lookup(chat("c", 1)).has_value());
  EXPECT_EQ(cache->stats().stores, 3u);
  // flush() and the destructor commit what is pending; the stored response equals the answer.
  const Outcome d = complete_one(*cache, chat("d", 1));
  EXPECT_FALSE(other.lookup(chat("d", 1)).has_value());
  cache->flush();
  ASSERT_TRUE(other.lookup(chat("d", 1)).has_value());
  EXPECT_EQ(other.lookup(chat("d", 1))->text, d.value().text);
  ASSERT_TRUE(complete_one(*cache, chat("e", 1)).ok());
  cache.reset();
  EXPECT_TRUE(other.lookup(chat("e", 1)).has_value());
  EXPECT_EQ(other.size(), 5u);
  // The interval: a pending answer older than commit_interval is committed at the next call.
  o.commit_interval = std::chrono::duration<double>(0);
  CachedBackend quick(inner, o);
  ASSERT_TRUE(complete_one(quick, chat("f", 1)).ok());
  EXPECT_TRUE(other.lookup(chat("f", 1)).has_value());
  o.commit_rows = 0;
  EXPECT_THROW(CachedBackend(inner, o), InvalidArgument);
}

TEST_F(CacheTest, MixedBatchAndDuplicates) {
  auto inner = std::make_shared<TestDoubleBackend>();
  CachedBackend cache(inner, options());
  (void)complete_one(cache, chat("a"));
  std::vector<Request> batch = {chat("a"), chat("b"), chat("b"), chat("c")};
  auto out = cache.complete(batch);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_TRUE(out[0].value().from_cache);
  EXPECT_EQ(out[1].value().text, "answer to b");
  EXPECT_EQ(out[2].value().text, "answer to b");
  EXPECT_EQ(out[3].value().text, "answer to c");
  // The inner backend saw "b" once and "c" once.
  ASSERT_EQ(inner->batches().size(), 2u);
  EXPECT_EQ(inner->batches()[1].size(), 2u);
}

TEST_F(CacheTest, KeyIncludesTheDefaultModel) {
  auto m1 = std::make_shared<TestDoubleBackend>(TestDoubleBackend::Answer{}, "model-1");
  auto m2 = std::make_shared<TestDoubleBackend>(TestDoubleBackend::Answer{}, "model-2");
  CachedBackend c1(m1, options());
  CachedBackend c2(m2, options());
  (void)complete_one(c1, chat("same"));
  EXPECT_FALSE(complete_one(c2, chat("same")).value().from_cache);
  Request explicit_model = chat("same");
  explicit_model.model = "model-1";
  EXPECT_EQ(c1.key(explicit_model), c1.key(chat("same")));
  EXPECT_TRUE(complete_one(c2, explicit_model).value().from_cache);
  CacheOptions salted = options();
  salted.key_salt = "template-v2";
  CachedBackend c3(m1, salted);
  EXPECT_NE(c3.key(chat("same")), c1.key(chat("same")));
}

TEST_F(CacheTest, ReadAndWriteSwitches) {
  auto inner = std::make_shared<TestDoubleBackend>();
  CacheOptions no_write = options();
  no_write.write = false;
  CachedBackend w(inner, no_write);
  (void)complete_one(w, chat("a"));
  EXPECT_EQ(w.size(), 0u);
  CachedBackend rw(inner, options());
  (void)complete_one(rw, chat("a"));
  CacheOptions no_read = options();
  no_read.read = false;
  CachedBackend r(inner, no_read);
  EXPECT_FALSE(complete_one(r, chat("a")).value().from_cache);
}

TEST_F(CacheTest, SecondConnectionSeesEntriesAndSurvivesReopen) {
  auto inner = std::make_shared<TestDoubleBackend>();
  CachedBackend a(inner, options());
  CachedBackend b(inner, options());  // a second connection to the same file
  (void)complete_one(a, chat("shared"));
  EXPECT_TRUE(complete_one(b, chat("shared")).value().from_cache);
  {
    CachedBackend reopened(inner, options());
    EXPECT_EQ(reopened.size(), 1u);
  }
  EXPECT_EQ(inner->calls(), 1u);
}

TEST_F(CacheTest, ConcurrentThreadsAndConnections) {
  auto inner = std::make_shared<TestDoubleBackend>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      CachedBackend c(inner, options());
      for (int i = 0; i < 25; ++i) {
        auto o = complete_one(c, chat("k" + std::to_string((i * 7 + t) % 40)));
        ASSERT_TRUE(o.ok());
        ASSERT_EQ(o.value().text, "answer to k" + std::to_string((i * 7 + t) % 40));
      }
    });
  }
  for (auto& th : threads) th.join();
  CachedBackend check(inner, options());
  EXPECT_EQ(check.size(), 40u);
}

TEST_F(CacheTest, AnotherProcessSeesEntries) {
  auto inner = std::make_shared<TestDoubleBackend>();
  {
    CachedBackend parent(inner, options());
    (void)complete_one(parent, chat("from parent"));
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 1;
    try {
      auto child_inner = std::make_shared<TestDoubleBackend>();
      CachedBackend child(child_inner, options());
      const bool hit = complete_one(child, chat("from parent")).value().from_cache;
      (void)complete_one(child, chat("from child"));
      code = hit && child_inner->calls() == 1 ? 0 : 2;
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  CachedBackend parent(inner, options());
  EXPECT_TRUE(complete_one(parent, chat("from child")).value().from_cache);
}

TEST_F(CacheTest, KilledWriterLeavesAUsableDatabase) {
  // A child writes as fast as it can; the parent kills it with SIGKILL mid-stream.
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(pipefd[0]);
    auto inner = std::make_shared<TestDoubleBackend>();
    CachedBackend c(inner, options());
    for (int i = 0;; ++i) {
      std::vector<Request> batch;
      for (int k = 0; k < 20; ++k) batch.push_back(chat("w" + std::to_string(i * 20 + k)));
      (void)c.complete(batch);
      if (i == 5) (void)!::write(pipefd[1], "x", 1);  // some entries are committed
    }
  }
  ::close(pipefd[1]);
  char byte;
  ASSERT_EQ(::read(pipefd[0], &byte, 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(pipefd[0]);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto inner = std::make_shared<TestDoubleBackend>();
  CachedBackend after(inner, options());
  const auto n = after.size();
  EXPECT_GE(n, 120u);
  EXPECT_EQ(n % 20, 0u);  // batches are written atomically
  EXPECT_TRUE(complete_one(after, chat("w0")).value().from_cache);
  EXPECT_FALSE(complete_one(after, chat("new entry")).value().from_cache);
  EXPECT_EQ(after.size(), n + 1);
}

TEST_F(CacheTest, NotADatabaseIsAnIoErrorNamingTheFile) {
  const auto path = dir_ / "garbage.sqlite";
  std::ofstream(path) << std::string(4096, 'x');
  CacheOptions o;
  o.path = path.string();
  try {
    CachedBackend c(std::make_shared<TestDoubleBackend>(), o);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_EQ(e.file(), path.string());
  }
  EXPECT_THROW(CachedBackend(std::make_shared<TestDoubleBackend>(), CacheOptions{}),
               InvalidArgument);
}

}  // namespace
}  // namespace popalign::llm
