// BatchApiBackend against the Batch API emulation of the in-process fault-injecting server:
// answers equal the online path's, splitting at the limits, failed / expired batches retried in
// a new batch or online, and a kill -9 mid-run resumed without submitting any batch twice
// (submissions counted on the server).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include <popalign/llm/batch_api.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/llm/openai_client.hpp>

#include "fault_server.hpp"
#include "llm/test_double_backend.hpp"

namespace popalign::llm {
namespace {

namespace fs = std::filesystem;

class BatchApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("popalign_batch_api_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    server_ = std::make_unique<test::FaultServer>(48);
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(dir_);
  }
  OpenAiOptions http(const std::string& mode) const {
    OpenAiOptions o;
    o.base_url = server_->url(mode);
    o.model = "batch-model";
    o.api_key_env = "";
    o.total_timeout = std::chrono::milliseconds(10000);
    o.max_in_flight = 4;
    return o;
  }
  BatchApiOptions options(const std::string& mode) const {
    BatchApiOptions o;
    o.http = http(mode);
    o.state_file = dir_ / "batches.json";
    o.poll_initial = std::chrono::duration<double>(0.001);
    o.poll_max = std::chrono::duration<double>(0.005);
    return o;
  }
  static std::vector<Request> requests(std::size_t chat, std::size_t plain) {
    std::vector<Request> out;
    for (std::size_t i = 0; i < chat; ++i) {
      Request r = testing::chat("item " + std::to_string(i), i);
      r.max_tokens = 4;
      out.push_back(std::move(r));
    }
    for (std::size_t i = 0; i < plain; ++i) {
      Request r;
      r.prompt = "Once upon a time " + std::to_string(i);
      r.max_tokens = 8;
      out.push_back(std::move(r));
    }
    return out;
  }
  std::vector<Outcome> online(const std::vector<Request>& batch) const {
    OpenAiBackend b(http("ok"));
    return b.complete(batch);
  }
  fs::path dir_;
  std::unique_ptr<test::FaultServer> server_;
};

TEST_F(BatchApiTest, AnswersEqualTheOnlinePathAndCacheTheSameBytes) {
  std::vector<Request> batch = requests(30, 5);
  batch.push_back(batch[3]);  // a duplicate is sent once and answered twice
  BatchApiOptions o = options("ok");
  std::vector<std::string> log;
  o.log = [&](const std::string& m) { log.push_back(m); };
  auto api = std::make_shared<BatchApiBackend>(o);
  const std::vector<Outcome> got = api->complete(batch);
  const std::vector<Outcome> expected = online(batch);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << i << ": " << got[i].error().message;
    EXPECT_EQ(got[i], expected[i]) << i;
  }
  const BatchApiStats s = api->stats();
  EXPECT_EQ(s.batches_created, 2u) << "chat and completions go in separate batches";
  EXPECT_EQ(s.files_uploaded, 2u);
  EXPECT_EQ(s.answered, 35u);
  EXPECT_EQ(server_->batches_created(), 2u);
  EXPECT_FALSE(log.empty());

  // Through a cache: the stored entries equal those of the online path.
  CacheOptions ca, cb;
  ca.path = (dir_ / "a.sqlite").string();
  cb.path = (dir_ / "b.sqlite").string();
  BatchApiOptions o2 = options("ok");
  o2.state_file = dir_ / "batches2.json";
  CachedBackend via_batch(std::make_shared<BatchApiBackend>(o2), ca);
  CachedBackend via_online(std::make_shared<OpenAiBackend>(http("ok")), cb);
  (void)via_batch.complete(batch);
  (void)via_online.complete(batch);
  for (const Request& r : batch) {
    EXPECT_EQ(via_batch.key(r), via_online.key(r));
    EXPECT_EQ(via_batch.lookup(r), via_online.lookup(r));
  }

  // The state file records every batch.
  std::ifstream in(o.state_file);
  const auto state = nlohmann::json::parse(in);
  ASSERT_EQ(state["batches"].size(), 2u);
  EXPECT_EQ(state["batches"][0]["status"], "completed");
  EXPECT_EQ(state["batches"][0]["custom_ids"].size(), 30u);
  EXPECT_EQ(state["batches"][0]["custom_ids"][0], api->custom_id(batch[0]));
}

TEST_F(BatchApiTest, SplitsAtTheRequestAndByteLimits) {
  server_->set_batch_behaviour(2, 10);  // the server refuses batches of more than 10
  BatchApiOptions o = options("ok");
  o.max_requests_per_batch = 10;
  BatchApiBackend api(o);
  const auto batch = requests(35, 0);
  for (const auto& r : api.complete(batch)) ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(api.stats().batches_created, 4u);

  // Negative control: without the split the server refuses the batch.
  BatchApiOptions big = options("ok");
  big.state_file = dir_ / "big.json";
  BatchApiBackend too_big(big);
  const auto out = too_big.complete(requests(12, 0));
  ASSERT_FALSE(out[0].ok());
  EXPECT_EQ(out[0].error().kind, ErrorKind::bad_request);

  // Bytes: each line is ~200 bytes; a 1 KiB limit makes batches of at most 5.
  server_->set_batch_behaviour(2, 0);
  BatchApiOptions bytes = options("ok");
  bytes.state_file = dir_ / "bytes.json";
  bytes.max_bytes_per_batch = 1024;
  BatchApiBackend by_bytes(bytes);
  for (const auto& r : by_bytes.complete(batch)) ASSERT_TRUE(r.ok());
  EXPECT_GE(by_bytes.stats().batches_created, 7u);
}

TEST_F(BatchApiTest, PartialFailuresGoIntoANewBatch) {
  BatchApiBackend api(options("batch_errors/3"));
  const auto batch = requests(30, 0);
  const auto got = api.complete(batch);
  const auto expected = online(batch);
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].error().message;
    EXPECT_EQ(got[i], expected[i]);
  }
  const auto s = api.stats();
  EXPECT_EQ(s.errors, 10u);
  EXPECT_EQ(s.retried_in_batch, 10u);
  EXPECT_EQ(s.batches_created, 2u);
}

TEST_F(BatchApiTest, ExpiredBatchIsFinishedOnline) {
  BatchApiOptions o = options("batch_expire/7");
  o.online = std::make_shared<OpenAiBackend>(http("ok"));
  BatchApiBackend api(o);
  const auto batch = requests(20, 0);
  const auto got = api.complete(batch);
  const auto expected = online(batch);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], expected[i]) << i;
  const auto s = api.stats();
  EXPECT_EQ(s.answered, 7u);
  EXPECT_EQ(s.retried_online, 13u);
  EXPECT_EQ(s.batches_failed, 1u);
  EXPECT_EQ(s.batches_created, 1u);
}

TEST_F(BatchApiTest, FailedBatchesGiveFailuresAfterTheLastRound) {
  BatchApiOptions o = options("batch_fail");
  o.max_rounds = 2;
  BatchApiBackend api(o);
  const auto got = api.complete(requests(5, 0));
  for (const auto& r : got) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::server);
  }
  EXPECT_EQ(api.stats().batches_created, 2u);
  EXPECT_EQ(api.stats().batches_failed, 2u);
  BatchApiOptions bad = o;
  bad.state_file.clear();
  EXPECT_THROW(BatchApiBackend{bad}, InvalidArgument);
  bad = o;
  bad.max_rounds = 0;
  EXPECT_THROW(BatchApiBackend{bad}, InvalidArgument);
}

TEST_F(BatchApiTest, KilledRunResumesWithoutSubmittingAnyBatchTwice) {
  // Batches never end while the child runs; the child is killed with SIGKILL once it has
  // created two of its three batches (or all three).
  server_->set_batch_behaviour(1'000'000);
  const auto batch = requests(30, 0);
  BatchApiOptions o = options("ok");
  o.max_requests_per_batch = 10;
  o.poll_initial = std::chrono::duration<double>(0.01);
  o.poll_max = std::chrono::duration<double>(0.01);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      BatchApiBackend api(o);
      (void)api.complete(batch);
    } catch (...) {
    }
    ::_exit(0);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server_->batches_created() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  const std::size_t before = server_->batches_created();
  ASSERT_GE(before, 2u);

  // The state file names the batches; pretend the kill came between creating the first batch
  // and recording it: the rerun must find it by its input file instead of creating another.
  nlohmann::json state;
  {
    std::ifstream in(o.state_file);
    state = nlohmann::json::parse(in);
  }
  ASSERT_GE(state["batches"].size(), 2u);
  state["batches"][0]["batch_id"] = "";
  std::ofstream(o.state_file) << state.dump();

  server_->set_batch_behaviour(2);
  BatchApiBackend api(o);
  const auto got = api.complete(batch);
  const auto expected = online(batch);
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << got[i].error().message;
    EXPECT_EQ(got[i], expected[i]);
  }
  EXPECT_EQ(server_->batches_created(), 3u) << "three batches in all: none submitted twice";
  EXPECT_EQ(api.stats().batches_created, 3u - before);
  EXPECT_GE(api.stats().batches_resumed, before);

  // A third run finds everything in the state file and submits nothing.
  BatchApiBackend again(o);
  const auto third = again.complete(batch);
  for (std::size_t i = 0; i < third.size(); ++i) EXPECT_EQ(third[i], expected[i]);
  EXPECT_EQ(server_->batches_created(), 3u);
}

}  // namespace
}  // namespace popalign::llm
