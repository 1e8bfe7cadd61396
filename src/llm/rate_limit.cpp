// RateLimitedBackend: two continuously refilled token buckets (requests, tokens per minute).
#include <algorithm>
#include <cmath>
#include <thread>

#include <popalign/llm/rate_limit.hpp>

namespace popalign::llm {

void RateLimitOptions::validate() const {
  check_argument(std::isfinite(requests_per_minute) && requests_per_minute >= 0,
                 "requests_per_minute", "must be >= 0 (0 = unlimited)");
  check_argument(std::isfinite(tokens_per_minute) && tokens_per_minute >= 0, "tokens_per_minute",
                 "must be >= 0 (0 = unlimited)");
  check_argument(std::isfinite(chars_per_token) && chars_per_token > 0, "chars_per_token",
                 "must be > 0");
  check_argument(default_completion_tokens >= 0, "default_completion_tokens", "must be >= 0");
}

RateLimitedBackend::RateLimitedBackend(std::shared_ptr<LlmBackend> inner, RateLimitOptions options)
    : inner_(std::move(inner)), options_(std::move(options)) {
  check_argument(inner_ != nullptr, "inner", "must not be null");
  options_.validate();
  if (!options_.now) options_.now = [] { return std::chrono::steady_clock::now(); };
  if (!options_.sleep)
    options_.sleep = [](std::chrono::duration<double> d) { std::this_thread::sleep_for(d); };
  request_tokens_ = options_.requests_per_minute;  // start full: one minute's budget
  token_tokens_ = options_.tokens_per_minute;
  last_ = options_.now();
}

std::int64_t RateLimitedBackend::estimate_tokens(const Request& r) const {
  std::size_t chars = r.prompt.size();
  for (const auto& m : r.messages) chars += m.content.size() + m.role.size();
  const auto prompt =
      static_cast<std::int64_t>(std::ceil(static_cast<double>(chars) / options_.chars_per_token));
  return prompt + (r.max_tokens ? *r.max_tokens : options_.default_completion_tokens);
}

double RateLimitedBackend::waited_seconds() const {
  std::lock_guard lock(mutex_);
  return waited_;
}

void RateLimitedBackend::refill(std::chrono::steady_clock::time_point t) {
  const double minutes = std::chrono::duration<double>(t - last_).count() / 60.0;
  if (minutes <= 0) return;
  last_ = t;
  if (options_.requests_per_minute > 0)
    request_tokens_ = std::min(options_.requests_per_minute,
                               request_tokens_ + minutes * options_.requests_per_minute);
  if (options_.tokens_per_minute > 0)
    token_tokens_ =
        std::min(options_.tokens_per_minute, token_tokens_ + minutes * options_.tokens_per_minute);
}

std::vector<Outcome> RateLimitedBackend::complete(std::span<const Request> batch) {
  const bool limit_requests = options_.requests_per_minute > 0;
  const bool limit_tokens = options_.tokens_per_minute > 0;
  if (!limit_requests && !limit_tokens) return inner_->complete(batch);

  std::vector<Outcome> result;
  result.reserve(batch.size());
  std::vector<std::int64_t> estimates;
  std::size_t begin = 0;  // first request of the pending sub-batch

  auto flush = [&](std::size_t end) {
    if (end == begin) return;
    std::vector<Outcome> out = inner_->complete(batch.subspan(begin, end - begin));
    if (out.size() != end - begin)
      throw BackendError(inner_->name() + ": complete() returned " + std::to_string(out.size()) +
                         " outcomes for " + std::to_string(end - begin) + " requests");
    if (limit_tokens) {
      std::lock_guard lock(mutex_);
      for (std::size_t k = 0; k < out.size(); ++k) {
        // Correct the estimate with what the provider counted (a failure used no tokens).
        const double used =
            out[k].ok() ? static_cast<double>(out[k].value().usage.total_tokens()) : 0.0;
        const double est = static_cast<double>(estimates[begin + k]);
        if (out[k].ok() && out[k].value().usage.total_tokens() == 0) continue;  // not reported
        token_tokens_ = std::min(options_.tokens_per_minute, token_tokens_ + est - used);
      }
    }
    for (auto& o : out) result.push_back(std::move(o));
    begin = end;
  };

  for (std::size_t i = 0; i < batch.size(); ++i) {
    const std::int64_t est = estimate_tokens(batch[i]);
    estimates.push_back(est);
    for (;;) {
      if (options_.cancel.cancelled()) {
        flush(i);
        for (std::size_t k = i; k < batch.size(); ++k)
          result.push_back(Failure{ErrorKind::cancelled, 0, "cancelled while rate limited", {}});
        return result;
      }
      double wait = 0;
      {
        std::lock_guard lock(mutex_);
        refill(options_.now());
        const double need_tokens =
            std::min(static_cast<double>(est), options_.tokens_per_minute);  // oversize: full
        const bool req_ok = !limit_requests || request_tokens_ >= 1.0 - 1e-9;
        const bool tok_ok = !limit_tokens || token_tokens_ >= need_tokens - 1e-9;
        if (req_ok && tok_ok) {
          if (limit_requests) request_tokens_ -= 1.0;
          if (limit_tokens) token_tokens_ -= static_cast<double>(est);
          break;
        }
        if (!req_ok)
          wait = std::max(wait, (1.0 - request_tokens_) / options_.requests_per_minute * 60.0);
        if (!tok_ok)
          wait = std::max(wait, (need_tokens - token_tokens_) / options_.tokens_per_minute * 60.0);
      }
      // Send what is already admitted before waiting for more budget.
      if (i > begin) {
        flush(i);
        continue;  // usage corrections may have freed budget
      }
      wait = std::max(wait, 1e-4);
      options_.sleep(std::chrono::duration<double>(wait));
      std::lock_guard lock(mutex_);
      waited_ += wait;
    }
  }
  flush(batch.size());
  return result;
}

}  // namespace popalign::llm
