// See llm_backend.hpp.
#include "cli/llm_backend.hpp"

#include <chrono>
#include <csignal>

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

std::shared_ptr<llm::LlmBackend> make_llm_backend(const LlmHttpFlags& flags,
                                                  const CancellationToken& cancel) {
  llm::OpenAiOptions http;
  http.base_url = flags.base_url;
  http.model = flags.model;
  http.api_key_env = flags.api_key_env;
  http.max_in_flight = flags.concurrency;
  http.total_timeout =
      std::chrono::milliseconds(static_cast<long long>(flags.timeout_seconds * 1000));
  http.cancel = cancel;
  std::shared_ptr<llm::LlmBackend> backend = std::make_shared<llm::OpenAiBackend>(http);
  llm::RetryOptions retry;
  retry.max_attempts = flags.attempts;
  retry.seed = flags.seed;
  retry.cancel = cancel;
  backend = std::make_shared<llm::RetryBackend>(backend, retry);
  if (!flags.cache.empty()) {
    llm::CacheOptions cache;
    cache.path = flags.cache;
    backend = std::make_shared<llm::CachedBackend>(backend, cache);
  }
  return backend;
}

CancelOnSignal::CancelOnSignal(CancellationToken& token) {
  g_signal_token = &token;
  std::signal(SIGINT, popalign_cli_cancel_on_signal);
  std::signal(SIGTERM, popalign_cli_cancel_on_signal);
}

CancelOnSignal::~CancelOnSignal() { g_signal_token = nullptr; }

}  // namespace popalign::cli
