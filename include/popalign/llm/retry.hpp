#pragma once
// RetryBackend: retries failed calls of a batch with exponential backoff and seeded jitter.
//
// After round r (r = 0 for the first attempt) the failed, retryable items wait
//   delay = min(max_backoff, initial_backoff * multiplier^r) * (1 - jitter * u),  u ~ U[0,1)
// drawn from a popalign::Rng seeded with `seed` (so a run's schedule is reproducible), or the
// server's Retry-After when it is longer (capped at max_retry_after), and are sent again as one
// sub-batch. "Full jitter" with jitter = 1 spreads synchronized clients the most; the default
// 0.5 keeps at least half of the nominal delay.
//
// Never retried: bad_request (400/413/422), unauthorized (401/403), not_found (404), cancelled,
// other — they are returned at once. A failure still present after max_attempts is returned as
// is, with " (after N attempts)" appended to its message.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/core/random.hpp>
#include <popalign/llm/backend.hpp>

namespace popalign::llm {

struct RetryOptions {
  int max_attempts = 5;                                ///< total tries per request, >= 1
  std::chrono::duration<double> initial_backoff{0.5};  ///< seconds, >= 0
  double multiplier = 2.0;                             ///< >= 1
  std::chrono::duration<double> max_backoff{30.0};     ///< cap of the exponential part
  double jitter = 0.5;                                 ///< in [0, 1]
  bool honour_retry_after = true;
  std::chrono::duration<double> max_retry_after{120.0};  ///< cap on a server's Retry-After
  std::uint64_t seed = 0x5eed;                           ///< jitter stream
  /// How to wait; default std::this_thread::sleep_for. Tests inject a recorder.
  std::function<void(std::chrono::duration<double>)> sleep;
  /// Cancellation while waiting: items not yet answered get ErrorKind::cancelled.
  CancellationToken cancel;

  void validate() const;
};

class RetryBackend final : public LlmBackend {
 public:
  RetryBackend(std::shared_ptr<LlmBackend> inner, RetryOptions options = {});

  std::vector<Outcome> complete(std::span<const Request> batch) override;
  std::string name() const override { return "retry(" + inner_->name() + ")"; }
  std::string default_model() const override { return inner_->default_model(); }

  /// Number of re-sent requests so far (attempts beyond the first), for diagnostics.
  std::uint64_t retries() const;

 private:
  std::chrono::duration<double> next_delay(int round, const std::vector<double>& retry_after);

  std::shared_ptr<LlmBackend> inner_;
  RetryOptions options_;
  mutable std::mutex mutex_;
  Rng rng_;
  std::uint64_t retries_ = 0;
};

}  // namespace popalign::llm
