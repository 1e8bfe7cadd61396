// Per-request overhead of the decorator stack around a no-op backend:
//   meter(cache(rate_limit(retry(noop))))
// BM_DecoratorStackMiss: every request is new -> retry, rate limit, cache lookup + SQLite
//   insert (WAL, synchronous=NORMAL), meter. Target: < 50 us per request.
// BM_DecoratorStackHit:  the same request again -> cache hit. Target: < 20 us.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include <popalign/llm/cache.hpp>
#include <popalign/llm/rate_limit.hpp>
#include <popalign/llm/retry.hpp>
#include <popalign/llm/usage_meter.hpp>

namespace {
using namespace popalign::llm;

class NoopBackend final : public LlmBackend {
 public:
  std::vector<Outcome> complete(std::span<const Request> batch) override {
    std::vector<Outcome> out;
    out.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i)
      out.push_back(Response{"3", "stop", {}, {40, 1}, "noop-model", false});
    return out;
  }
  std::string default_model() const override { return "noop-model"; }
};

struct Stack {
  std::filesystem::path path;
  std::shared_ptr<UsageMeter> meter;
  std::shared_ptr<CachedBackend> cache;

  explicit Stack(const std::string& tag) {
    path = std::filesystem::temp_directory_path() /
           ("popalign_bench_llm_" + tag + "_" + std::to_string(::getpid()) + ".sqlite");
    remove();
    auto noop = std::make_shared<NoopBackend>();
    auto retry = std::make_shared<RetryBackend>(noop, RetryOptions{});
    RateLimitOptions rl;
    rl.requests_per_minute = 1e12;  // limits on (the bucket code runs) but never binding
    rl.tokens_per_minute = 1e15;
    auto limited = std::make_shared<RateLimitedBackend>(retry, rl);
    CacheOptions co;
    co.path = path.string();
    cache = std::make_shared<CachedBackend>(limited, co);
    MeterOptions mo;
    mo.prices["noop-model"] = {0.15, 0.6};
    meter = std::make_shared<UsageMeter>(cache, mo);
  }
  ~Stack() {
    meter.reset();
    cache.reset();
    remove();
  }
  void remove() {
    std::filesystem::remove(path);
    std::filesystem::remove(path.string() + "-wal");
    std::filesystem::remove(path.string() + "-shm");
  }
};

Request persona_request(std::size_t i) {
  Request r;
  r.messages = {{"system",
                 "You are Maria, a 34-year-old nurse from Porto who enjoys hiking, "
                 "reads crime novels and worries about her parents' health."},
                {"user", "Item " + std::to_string(i) +
                             ": I see myself as someone who is talkative. Answer with a number "
                             "from 1 (disagree strongly) to 5 (agree strongly)."}};
  r.temperature = 0.0;
  r.max_tokens = 2;
  r.seed = 42;
  return r;
}

void BM_DecoratorStackMiss(benchmark::State& state) {
  Stack stack("miss");
  std::size_t i = 0;
  for (auto _ : state) {
    const Request r = persona_request(i++);
    benchmark::DoNotOptimize(complete_one(*stack.meter, r));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  if (stack.cache->stats().hits != 0) state.SkipWithError("unexpected cache hit");
}
BENCHMARK(BM_DecoratorStackMiss)->Unit(benchmark::kMicrosecond)->MinTime(1.0);

void BM_DecoratorStackHit(benchmark::State& state) {
  Stack stack("hit");
  const Request r = persona_request(7);
  (void)complete_one(*stack.meter, r);
  for (auto _ : state) benchmark::DoNotOptimize(complete_one(*stack.meter, r));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  if (stack.cache->stats().hits < static_cast<std::uint64_t>(state.iterations()))
    state.SkipWithError("expected cache hits");
}
BENCHMARK(BM_DecoratorStackHit)->Unit(benchmark::kMicrosecond)->MinTime(1.0);

void BM_RequestHash(benchmark::State& state) {
  const Request r = persona_request(1);
  for (auto _ : state) benchmark::DoNotOptimize(request_hash(r));
}
BENCHMARK(BM_RequestHash)->Unit(benchmark::kMicrosecond);

}  // namespace
