#pragma once
// RateLimitedBackend: keeps a backend under a requests-per-minute and a tokens-per-minute budget.
//
// Two token buckets refilled continuously (capacity = one minute's budget, so a burst of up to a
// minute's worth goes out at once, which is what providers' limits allow). Before a request is
// sent it takes 1 from the request bucket and its estimated tokens from the token bucket:
//   estimate = ceil(characters of messages and prompt / chars_per_token) + max_tokens
//   (max_tokens unset: default_completion_tokens).
// When the answer arrives the estimate is corrected with the reported usage (the difference is
// taken or returned), so the tokens bucket tracks what the provider counts. A batch is split
// into consecutive sub-batches, each sent as soon as the buckets allow it; the caller's thread
// waits. A request whose estimate alone exceeds a full bucket is sent when the bucket is full
// (it would otherwise never go out).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/llm/backend.hpp>

namespace popalign::llm {

struct RateLimitOptions {
  double requests_per_minute = 0;       ///< 0 = unlimited
  double tokens_per_minute = 0;         ///< 0 = unlimited
  double chars_per_token = 4.0;         ///< for the prompt-token estimate, > 0
  int default_completion_tokens = 256;  ///< estimate when Request::max_tokens is unset
  /// Clock and sleep, injectable for tests; defaults are steady_clock and sleep_for.
  std::function<std::chrono::steady_clock::time_point()> now;
  std::function<void(std::chrono::duration<double>)> sleep;
  /// Items still waiting when cancelled get ErrorKind::cancelled.
  CancellationToken cancel;

  void validate() const;
};

class RateLimitedBackend final : public LlmBackend {
 public:
  RateLimitedBackend(std::shared_ptr<LlmBackend> inner, RateLimitOptions options = {});

  std::vector<Outcome> complete(std::span<const Request> batch) override;
  std::string name() const override { return "rate_limit(" + inner_->name() + ")"; }
  std::string default_model() const override { return inner_->default_model(); }

  /// Token estimate used for a request before its usage is known.
  std::int64_t estimate_tokens(const Request& request) const;
  /// Total time spent waiting for budget, in seconds.
  double waited_seconds() const;

 private:
  void refill(std::chrono::steady_clock::time_point t);

  std::shared_ptr<LlmBackend> inner_;
  RateLimitOptions options_;
  mutable std::mutex mutex_;
  double request_tokens_ = 0;  // bucket levels
  double token_tokens_ = 0;
  std::chrono::steady_clock::time_point last_{};
  double waited_ = 0;
};

}  // namespace popalign::llm
