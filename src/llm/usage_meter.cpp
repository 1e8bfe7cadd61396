// UsageMeter: requests, tokens and cost per model.
#include <cmath>

#include <fmt/core.h>

#include <popalign/llm/usage_meter.hpp>

namespace popalign::llm {

void MeterOptions::validate() const {
  auto ok = [](const Price& p) {
    return std::isfinite(p.prompt_per_million) && p.prompt_per_million >= 0 &&
           std::isfinite(p.completion_per_million) && p.completion_per_million >= 0;
  };
  for (const auto& [model, price] : prices)
    check_argument(ok(price), "prices", "price of model '" + model + "' must be finite and >= 0");
  if (default_price) check_argument(ok(*default_price), "default_price", "must be finite and >= 0");
}

std::string UsageReport::summary() const {
  return fmt::format(
      "{} requests ({} failed, {} cached), {} prompt + {} completion tokens, cost {:.6f}",
      total.requests, total.failures, total.cache_hits, total.prompt_tokens,
      total.completion_tokens, total.cost);
}

UsageMeter::UsageMeter(std::shared_ptr<LlmBackend> inner, MeterOptions options)
    : inner_(std::move(inner)), options_(std::move(options)) {
  check_argument(inner_ != nullptr, "inner", "must not be null");
  options_.validate();
}

double UsageMeter::cost(const std::string& model, const Usage& usage) const {
  const Price* p = nullptr;
  auto it = options_.prices.find(model);
  if (it != options_.prices.end())
    p = &it->second;
  else if (options_.default_price)
    p = &*options_.default_price;
  if (!p) return 0.0;
  return (static_cast<double>(usage.prompt_tokens) * p->prompt_per_million +
          static_cast<double>(usage.completion_tokens) * p->completion_per_million) /
         1e6;
}

std::vector<Outcome> UsageMeter::complete(std::span<const Request> batch) {
  std::vector<Outcome> out = inner_->complete(batch);
  if (out.size() != batch.size())
    throw BackendError(inner_->name() + ": complete() returned " + std::to_string(out.size()) +
                       " outcomes for " + std::to_string(batch.size()) + " requests");
  const std::string fallback_model = inner_->default_model();
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < out.size(); ++i) {
    // Price by the requested model id (what the user configured prices for); the server's
    // reported id (often a dated snapshot) only when the request and backend name none.
    std::string model = batch[i].model.empty() ? fallback_model : batch[i].model;
    if (model.empty() && out[i].ok()) model = out[i].value().model;
    ModelUsage& m = report_.by_model[model];
    ModelUsage& t = report_.total;
    ++m.requests;
    ++t.requests;
    if (!out[i].ok()) {
      ++m.failures;
      ++t.failures;
      continue;
    }
    const Response& r = out[i].value();
    if (r.from_cache) {
      ++m.cache_hits;
      ++t.cache_hits;
      continue;
    }
    const double c = cost(model, r.usage);
    m.prompt_tokens += r.usage.prompt_tokens;
    t.prompt_tokens += r.usage.prompt_tokens;
    m.completion_tokens += r.usage.completion_tokens;
    t.completion_tokens += r.usage.completion_tokens;
    m.cost += c;
    t.cost += c;
  }
  return out;
}

UsageReport UsageMeter::report() const {
  std::lock_guard lock(mutex_);
  return report_;
}

void UsageMeter::reset() {
  std::lock_guard lock(mutex_);
  report_ = UsageReport{};
}

}  // namespace popalign::llm
