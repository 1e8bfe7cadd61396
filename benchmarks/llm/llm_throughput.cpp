// llm_throughput: requests per second of the llm stack against loopback servers that answer at
// once (popalign_fault_server), and where the client's time goes.
//
//   llm_throughput --url URL [--url URL ...] [--requests N] [--in-flight K] [--chunk C]
//                  [--cache FILE] [--threads T]
//
// Sends N distinct chat requests (the size of an IPIP-50 item prompt with a persona) through
// cache? -> retry -> (fleet of the URLs | one OpenAiBackend), in complete() calls of C requests
// from T threads, and prints requests/s, the client's user+system CPU per request, and the
// peak RSS. Timing breakdown: it also times the parts of a request that do not touch the
// network (request JSON, SHA-256 key, response parsing) in a loop, so the CPU share of each
// is known.
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <popalign/llm/backend.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/llm/fleet.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>

namespace {
using namespace popalign::llm;

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

Request make_request(std::size_t i) {
  Request r;
  r.messages = {
      {"system", "You are answering as this person: I am persona number " + std::to_string(i / 50) +
                     ". I like hiking, reading and long walks; I work as an engineer "
                     "and live in a small town near the coast with two cats."},
      {"user",
       "Rate how well the statement describes you: \"I am the life of the party.\" "
       "Answer with one number: 1 = very inaccurate, 2 = moderately inaccurate, 3 = "
       "neither, 4 = moderately accurate, 5 = very accurate. Item " +
           std::to_string(i % 50)}};
  r.model = "bench";
  r.temperature = 1.0;
  r.max_tokens = 16;
  r.seed = i;
  return r;
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> urls;
  std::size_t n = 20000, in_flight = 16, chunk = 1, threads = 16;
  std::string cache;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (a == "--url")
      urls.push_back(next());
    else if (a == "--requests")
      n = std::stoul(next());
    else if (a == "--in-flight")
      in_flight = std::stoul(next());
    else if (a == "--chunk")
      chunk = std::stoul(next());
    else if (a == "--threads")
      threads = std::stoul(next());
    else if (a == "--cache")
      cache = next();
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (urls.empty()) {
    std::fprintf(stderr,
                 "usage: %s --url URL [--url URL ...] [--requests N] [--in-flight K] "
                 "[--chunk C] [--threads T] [--cache FILE]\n",
                 argv[0]);
    return 2;
  }

  // Timing breakdown of the CPU-only parts.
  {
    const std::size_t k = 20000;
    auto t0 = std::chrono::steady_clock::now();
    std::size_t sink = 0;
    for (std::size_t i = 0; i < k; ++i) sink += canonical_request(make_request(i)).size();
    auto t1 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < k; ++i) sink += request_hash(make_request(i)).size();
    auto t2 = std::chrono::steady_clock::now();
    Response resp;
    resp.text = "4";
    resp.model = "bench";
    resp.finish_reason = "stop";
    resp.usage = {120, 1};
    const std::string js = response_to_json(resp);
    for (std::size_t i = 0; i < k; ++i) sink += response_from_json(js).text.size();
    auto t3 = std::chrono::steady_clock::now();
    auto us = [&](auto a, auto b) {
      return std::chrono::duration<double, std::micro>(b - a).count() / static_cast<double>(k);
    };
    std::printf(
        "cpu-only parts per request: canonical JSON %.1f us, + SHA-256 key %.1f us, "
        "cached response parse %.1f us (sink %zu)\n",
        us(t0, t1), us(t1, t2) - us(t0, t1), us(t2, t3), sink % 10);
  }

  OpenAiOptions http;
  http.model = "bench";
  http.api_key_env = "";
  http.max_in_flight = in_flight;
  std::shared_ptr<LlmBackend> backend;
  std::shared_ptr<FleetBackend> fleet;
  if (urls.size() == 1) {
    http.base_url = urls.front();
    backend = std::make_shared<OpenAiBackend>(http);
  } else {
    FleetOptions fo;
    fo.model = "bench";
    fo.http = http;
    for (const auto& u : urls)
      fo.endpoints.push_back(FleetEndpoint{
          .url = u, .model = "", .api_key_env = "", .max_in_flight = in_flight, .weight = 1.0});
    fleet = std::make_shared<FleetBackend>(fo);
    backend = fleet;
  }
  backend = std::make_shared<RetryBackend>(backend, RetryOptions{});
  if (!cache.empty()) {
    CacheOptions co;
    co.path = cache;
    co.commit_rows = 512;  // as the CLI
    backend = std::make_shared<CachedBackend>(backend, co);
  }

  std::atomic<std::size_t> next{0}, failed{0};
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  auto worker = [&] {
    std::vector<Request> batch;
    for (;;) {
      const std::size_t b = next.fetch_add(chunk);
      if (b >= n) return;
      const std::size_t e = std::min(n, b + chunk);
      batch.clear();
      for (std::size_t i = b; i < e; ++i) batch.push_back(make_request(i));
      for (const auto& o : backend->complete(batch)) failed += o.ok() ? 0 : 1;
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - c0;
  std::printf(
      "%zu requests (%zu failed) in %.2f s: %.0f requests/s; client CPU %.1f us/request "
      "(%.2f cores); peak RSS %ld MB; %zu threads x chunk %zu, %zu in flight per "
      "endpoint, %zu endpoint(s)%s\n",
      n, failed.load(), secs, static_cast<double>(n) / secs, 1e6 * cpu / static_cast<double>(n),
      cpu / secs, peak_rss_kb() / 1024, threads, chunk, in_flight, urls.size(),
      cache.empty() ? "" : ", SQLite cache");
  return failed.load() ? 1 : 0;
}
