#pragma once
// TestDoubleBackend: a scripted LlmBackend for unit tests. Each request is answered by a
// function; every batch it receives is recorded, so tests can check what reached it.
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <popalign/llm/backend.hpp>

namespace popalign::llm::testing {

class TestDoubleBackend final : public LlmBackend {
 public:
  using Answer = std::function<Outcome(const Request&, std::size_t call_index)>;

  /// Default answer: "answer to <last content or prompt>" with usage 10 + 5 tokens.
  explicit TestDoubleBackend(Answer answer = {}, std::string model = "double-model")
      : answer_(std::move(answer)), model_(std::move(model)) {}

  std::vector<Outcome> complete(std::span<const Request> batch) override {
    std::lock_guard lock(mutex_);
    batches_.emplace_back(batch.begin(), batch.end());
    std::vector<Outcome> out;
    for (const Request& r : batch) {
      const std::size_t i = calls_++;
      out.push_back(answer_ ? answer_(r, i) : default_answer(r));
    }
    return out;
  }
  std::string name() const override { return "test_double"; }
  std::string default_model() const override { return model_; }

  static Outcome default_answer(const Request& r) {
    Response resp;
    resp.text = "answer to " + (r.prompt.empty() ? r.messages.back().content : r.prompt);
    resp.finish_reason = "stop";
    resp.usage = {10, 5};
    resp.model = r.model.empty() ? "double-model" : r.model;
    return resp;
  }

  std::size_t calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<std::vector<Request>> batches() const {
    std::lock_guard lock(mutex_);
    return batches_;
  }

 private:
  Answer answer_;
  std::string model_;
  mutable std::mutex mutex_;
  std::size_t calls_ = 0;
  std::vector<std::vector<Request>> batches_;
};

inline Request chat(const std::string& text, std::optional<std::uint64_t> seed = std::nullopt) {
  Request r;
  r.messages = {{"system", "You are a test persona."}, {"user", text}};
  r.max_tokens = 8;
  r.seed = seed;
  return r;
}

}  // namespace popalign::llm::testing
