// HTTP throughput against a loopback server that answers every request in 200 ms
// (the fault server's slow/200 mode). With max_in_flight = 16 the ceiling is 80 requests/s;
// the target is >= 70 requests/s. Arg = max_in_flight; each run is 30 rounds of requests.
#include <benchmark/benchmark.h>

#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>

#include "fault_server.hpp"

namespace {
using namespace popalign::llm;

void BM_OpenAiThroughput200ms(benchmark::State& state) {
  popalign::test::FaultServer server(64);
  OpenAiOptions o;
  o.base_url = server.url("slow/200");
  o.model = "bench";
  o.api_key_env = "";
  o.max_in_flight = static_cast<std::size_t>(state.range(0));
  auto http = std::make_shared<OpenAiBackend>(o);
  RetryBackend retry(http, RetryOptions{});
  // 30 rounds: long enough that the ramp-down of the last round does not dominate.
  const std::size_t n = 30 * static_cast<std::size_t>(state.range(0));
  std::vector<Request> batch(n);
  for (std::size_t i = 0; i < n; ++i) {
    batch[i].messages = {{"user", "question " + std::to_string(i)}};
    batch[i].max_tokens = 4;
  }
  std::size_t failures = 0;
  for (auto _ : state) {
    const auto out = retry.complete(batch);
    for (const auto& r : out) failures += r.ok() ? 0 : 1;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.counters["requests_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
  if (failures) state.SkipWithError("some requests failed");
}
BENCHMARK(BM_OpenAiThroughput200ms)
    ->Arg(1)
    ->Arg(16)
    ->Arg(32)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
