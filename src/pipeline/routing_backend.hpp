#pragma once
// RoutingBackend (pipeline-private): sends each request to the backend registered for its model
// (Request::model; an empty model goes to the fallback), so that one mining run can ask the
// writer's endpoint and the judge's endpoint. Outcomes come back in request order.
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <popalign/llm/backend.hpp>

namespace popalign::pipeline::detail {

class RoutingBackend final : public llm::LlmBackend {
 public:
  RoutingBackend(std::shared_ptr<llm::LlmBackend> fallback,
                 std::map<std::string, std::shared_ptr<llm::LlmBackend>> by_model)
      : fallback_(std::move(fallback)), by_model_(std::move(by_model)) {}

  std::vector<llm::Outcome> complete(std::span<const llm::Request> batch) override {
    std::map<llm::LlmBackend*, std::vector<std::size_t>> parts;
    for (std::size_t i = 0; i < batch.size(); ++i) parts[target(batch[i])].push_back(i);
    std::vector<std::optional<llm::Outcome>> out(batch.size());
    for (const auto& [backend, idx] : parts) {
      std::vector<llm::Request> sub;
      sub.reserve(idx.size());
      for (std::size_t i : idx) sub.push_back(batch[i]);
      std::vector<llm::Outcome> got = backend->complete(sub);
      for (std::size_t k = 0; k < idx.size(); ++k) out[idx[k]].emplace(std::move(got[k]));
    }
    std::vector<llm::Outcome> res;
    res.reserve(batch.size());
    for (auto& o : out) res.push_back(std::move(*o));
    return res;
  }
  std::string name() const override { return "route(" + fallback_->name() + ")"; }
  std::string default_model() const override { return fallback_->default_model(); }

 private:
  llm::LlmBackend* target(const llm::Request& r) const {
    auto it = by_model_.find(r.model);
    return it == by_model_.end() ? fallback_.get() : it->second.get();
  }
  std::shared_ptr<llm::LlmBackend> fallback_;
  std::map<std::string, std::shared_ptr<llm::LlmBackend>> by_model_;
};

}  // namespace popalign::pipeline::detail
