// See llm_backend.hpp.
#include "cli/llm_backend.hpp"

#include <chrono>
#include <cmath>
#include <csignal>
#include <string>
#include <unordered_set>

#include <popalign/llm/cache.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>

namespace popalign::cli {

namespace {
CancellationToken* g_signal_token = nullptr;
}  // namespace

extern "C" void popalign_cli_cancel_on_signal(int) {
  if (g_signal_token) g_signal_token->cancel();
}

bool is_fleet(const LlmHttpFlags& flags) {
  return flags.base_urls.size() > 1 || !flags.endpoints_file.empty();
}

void LlmHttpFlags::check() const {
  check_argument(
      std::isfinite(timeout_seconds) && timeout_seconds >= 0.001 && timeout_seconds <= 1e6,
      timeout_flag, "must be a number of seconds in [0.001, 1e6]");
  check_argument(concurrency >= 1 && concurrency <= 1024, concurrency_flag,
                 "must be in [1, 1024] (got " + std::to_string(concurrency) + ")");
  check_argument(attempts >= 1 && attempts <= 100, attempts_flag,
                 "must be in [1, 100] (got " + std::to_string(attempts) + ")");
}

LlmStack make_llm_stack(const LlmHttpFlags& flags, const CancellationToken& cancel) {
  flags.check();
  llm::OpenAiOptions http;
  http.base_url = flags.base_urls.size() == 1 ? flags.base_urls.front() : flags.base_url;
  http.model = flags.model;
  http.api_key_env = flags.api_key_env;
  http.max_in_flight = flags.concurrency;
  http.total_timeout =
      std::chrono::milliseconds(static_cast<long long>(flags.timeout_seconds * 1000));
  http.cancel = cancel;
  LlmStack stack;
  std::shared_ptr<llm::LlmBackend> backend;
  if (is_fleet(flags)) {
    llm::FleetOptions fo;
    fo.model = flags.model;
    fo.http = http;
    fo.cancel = cancel;
    llm::FleetEndpoint defaults;
    defaults.api_key_env = flags.api_key_env;
    defaults.max_in_flight = flags.concurrency;
    for (const std::string& url : flags.base_urls) {
      llm::FleetEndpoint e = defaults;
      e.url = url;
      try {
        e.validate();
      } catch (const InvalidArgument& ex) {
        throw InvalidArgument("--base-url", ex.what());
      }
      fo.endpoints.push_back(std::move(e));
    }
    if (!flags.endpoints_file.empty())
      for (auto& e : llm::read_endpoints_file(flags.endpoints_file, defaults))
        fo.endpoints.push_back(std::move(e));
    std::unordered_set<std::string> seen;  // linear in the number of endpoints
    for (const llm::FleetEndpoint& e : fo.endpoints)
      if (!seen.insert(e.url + '\0' + e.api_key_env).second)
        throw InvalidArgument("--base-url", e.url + " is given twice (--base-url / --endpoints)");
    stack.fleet = std::make_shared<llm::FleetBackend>(std::move(fo));
    stack.in_flight = stack.fleet->capacity();
    backend = stack.fleet;
  } else {
    backend = std::make_shared<llm::OpenAiBackend>(http);
    stack.in_flight = flags.concurrency;
  }
  llm::RetryOptions retry;
  retry.max_attempts = flags.attempts;
  retry.seed = flags.seed;
  retry.cancel = cancel;
  stack.retry = std::make_shared<llm::RetryBackend>(backend, retry);
  backend = stack.retry;
  if (!flags.cache.empty()) {
    llm::CacheOptions cache;
    cache.path = flags.cache;
    // 1 (the default): every answer is committed when it arrives, so a killed run repeats no
    // completed call. More: one transaction per that many answers or per second (a kill -9
    // loses at most those, which the rerun asks again).
    cache.commit_rows = flags.cache_commit_rows;
    cache.commit_interval = std::chrono::seconds(1);
    backend = std::make_shared<llm::CachedBackend>(backend, cache);
  }
  stack.backend = backend;
  return stack;
}

std::shared_ptr<llm::LlmBackend> make_llm_backend(const LlmHttpFlags& flags,
                                                  const CancellationToken& cancel) {
  return make_llm_stack(flags, cancel).backend;
}

CancelOnSignal::CancelOnSignal(CancellationToken& token) {
  g_signal_token = &token;
  std::signal(SIGINT, popalign_cli_cancel_on_signal);
  std::signal(SIGTERM, popalign_cli_cancel_on_signal);
}

CancelOnSignal::~CancelOnSignal() { g_signal_token = nullptr; }

}  // namespace popalign::cli
