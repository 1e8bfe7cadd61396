// RetryBackend: exponential backoff with seeded jitter, honouring Retry-After.
#include <algorithm>
#include <cmath>
#include <thread>

#include <popalign/llm/retry.hpp>

namespace popalign::llm {

void RetryOptions::validate() const {
  check_argument(max_attempts >= 1, "max_attempts", "must be >= 1");
  check_argument(std::isfinite(initial_backoff.count()) && initial_backoff.count() >= 0,
                 "initial_backoff", "must be >= 0 seconds");
  check_argument(std::isfinite(multiplier) && multiplier >= 1, "multiplier", "must be >= 1");
  check_argument(std::isfinite(max_backoff.count()) && max_backoff.count() >= 0, "max_backoff",
                 "must be >= 0 seconds");
  check_argument(jitter >= 0 && jitter <= 1, "jitter", "must be in [0, 1]");
  check_argument(std::isfinite(max_retry_after.count()) && max_retry_after.count() >= 0,
                 "max_retry_after", "must be >= 0 seconds");
}

RetryBackend::RetryBackend(std::shared_ptr<LlmBackend> inner, RetryOptions options)
    : inner_(std::move(inner)), options_(std::move(options)), rng_(options_.seed) {
  check_argument(inner_ != nullptr, "inner", "must not be null");
  options_.validate();
  if (!options_.sleep)
    options_.sleep = [](std::chrono::duration<double> d) { std::this_thread::sleep_for(d); };
}

std::uint64_t RetryBackend::retries() const {
  std::lock_guard lock(mutex_);
  return retries_;
}

std::chrono::duration<double> RetryBackend::next_delay(int round,
                                                       const std::vector<double>& retry_after) {
  double nominal = options_.initial_backoff.count() * std::pow(options_.multiplier, round);
  nominal = std::min(nominal, options_.max_backoff.count());
  double u;
  {
    std::lock_guard lock(mutex_);
    u = rng_.uniform();
  }
  double delay = nominal * (1.0 - options_.jitter * u);
  if (options_.honour_retry_after)
    for (double ra : retry_after)
      delay = std::max(delay, std::min(ra, options_.max_retry_after.count()));
  return std::chrono::duration<double>(delay);
}

std::vector<Outcome> RetryBackend::complete(std::span<const Request> batch) {
  std::vector<Outcome> result = inner_->complete(batch);
  if (result.size() != batch.size())
    throw BackendError(inner_->name() + ": complete() returned " + std::to_string(result.size()) +
                       " outcomes for " + std::to_string(batch.size()) + " requests");
  for (int attempt = 1; attempt < options_.max_attempts; ++attempt) {
    std::vector<std::size_t> pending;
    std::vector<double> retry_after;
    for (std::size_t i = 0; i < result.size(); ++i) {
      if (result[i].ok() || !retryable(result[i].error().kind)) continue;
      pending.push_back(i);
      if (result[i].error().retry_after) retry_after.push_back(*result[i].error().retry_after);
    }
    if (pending.empty()) return result;
    if (!options_.cancel.cancelled()) options_.sleep(next_delay(attempt - 1, retry_after));
    if (options_.cancel.cancelled()) {
      for (std::size_t i : pending)
        result[i] = Failure{ErrorKind::cancelled, 0, "cancelled while waiting to retry", {}};
      return result;
    }
    std::vector<Request> again;
    again.reserve(pending.size());
    for (std::size_t i : pending) again.push_back(batch[i]);
    {
      std::lock_guard lock(mutex_);
      retries_ += pending.size();
    }
    std::vector<Outcome> out = inner_->complete(again);
    if (out.size() != again.size())
      throw BackendError(inner_->name() + ": complete() returned " + std::to_string(out.size()) +
                         " outcomes for " + std::to_string(again.size()) + " requests");
    for (std::size_t k = 0; k < pending.size(); ++k) result[pending[k]] = std::move(out[k]);
  }
  if (options_.max_attempts > 1) {
    for (auto& o : result) {
      if (o.ok() || !retryable(o.error().kind)) continue;
      Failure f = o.error();
      f.message += " (after " + std::to_string(options_.max_attempts) + " attempts)";
      o = std::move(f);
    }
  }
  return result;
}

}  // namespace popalign::llm
