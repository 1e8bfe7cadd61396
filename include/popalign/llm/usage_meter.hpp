#pragma once
// UsageMeter: counts calls, tokens and cost of everything that passes through it.
//
// Prices are per million tokens, per model: the request's model id, else the backend's default
// model, else the id the server reported (servers often report a dated snapshot of the id you
// asked for, so the id you configured is used first), with a fallback price for unknown models.
// Responses with from_cache = true are counted as cache hits and cost nothing. Put it outermost to
// see what a pipeline asked for, or just around the HTTP backend to see what was paid.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <popalign/llm/backend.hpp>

namespace popalign::llm {

struct Price {
  double prompt_per_million = 0.0;      ///< currency units per 1e6 prompt tokens
  double completion_per_million = 0.0;  ///< per 1e6 completion tokens
};

struct MeterOptions {
  std::map<std::string, Price> prices;  ///< by model id
  std::optional<Price> default_price;   ///< for models not in `prices`; unset = cost 0
  void validate() const;
};

struct ModelUsage {
  std::uint64_t requests = 0;  ///< outcomes seen (success or failure)
  std::uint64_t failures = 0;
  std::uint64_t cache_hits = 0;
  std::int64_t prompt_tokens = 0;  ///< of paid (non-cached) successes
  std::int64_t completion_tokens = 0;
  double cost = 0.0;
};

struct UsageReport {
  ModelUsage total;
  std::map<std::string, ModelUsage> by_model;
  /// One line: "N requests (F failed, H cached), P prompt + C completion tokens, cost X".
  std::string summary() const;
};

class UsageMeter final : public LlmBackend {
 public:
  UsageMeter(std::shared_ptr<LlmBackend> inner, MeterOptions options = {});

  std::vector<Outcome> complete(std::span<const Request> batch) override;
  std::string name() const override { return "meter(" + inner_->name() + ")"; }
  std::string default_model() const override { return inner_->default_model(); }

  UsageReport report() const;
  void reset();
  /// Cost of a usage under the configured prices.
  double cost(const std::string& model, const Usage& usage) const;

 private:
  std::shared_ptr<LlmBackend> inner_;
  MeterOptions options_;
  mutable std::mutex mutex_;
  UsageReport report_;
};

}  // namespace popalign::llm
