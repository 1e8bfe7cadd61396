// FleetBackend: least-loaded routing over several endpoints, a circuit breaker per endpoint
// with probes back in, failover of failed requests. The endpoints file: fleet_endpoints.cpp.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <popalign/llm/fleet.hpp>

namespace popalign::llm {

using Clock = std::chrono::steady_clock;

void FleetOptions::validate() const {
  check_argument(!endpoints.empty(), "endpoints", "a fleet needs at least one endpoint");
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    try {
      endpoints[i].validate();
    } catch (const InvalidArgument& e) {
      const std::string prefix = "invalid argument '" + e.argument() + "': ";
      std::string msg = e.what();
      if (msg.rfind(prefix, 0) == 0) msg.erase(0, prefix.size());
      throw InvalidArgument("endpoints[" + std::to_string(i) + "]." + e.argument(), msg);
    }
  }
  check_argument(eject_after >= 1, "eject_after", "must be >= 1");
  check_argument(std::isfinite(probe_initial.count()) && probe_initial.count() >= 0,
                 "probe_initial", "must be >= 0 seconds");
  check_argument(std::isfinite(probe_multiplier) && probe_multiplier >= 1, "probe_multiplier",
                 "must be >= 1");
  check_argument(std::isfinite(probe_max.count()) && probe_max.count() >= 0, "probe_max",
                 "must be >= 0 seconds");
  check_argument(max_endpoints_per_request >= 1, "max_endpoints_per_request", "must be >= 1");
}

// ---- FleetBackend ------------------------------------------------------------------------

namespace {
bool counts_against_endpoint(ErrorKind k) {
  return k == ErrorKind::transport || k == ErrorKind::timeout || k == ErrorKind::server;
}
}  // namespace

struct FleetBackend::Impl {
  struct Endpoint {
    FleetEndpoint spec;
    std::shared_ptr<LlmBackend> backend;
    Probe probe;
    EndpointStats stats;
    int consecutive = 0;
    bool probing = false;
    int probe_level = 0;
    Clock::time_point next_probe{};
  };

  FleetOptions options;
  std::string model;
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::vector<Endpoint> eps;
  std::size_t capacity = 0;

  std::chrono::duration<double> probe_wait(int level) const {
    const double w =
        options.probe_initial.count() * std::pow(options.probe_multiplier, std::min(level, 60));
    return std::chrono::duration<double>(std::min(w, options.probe_max.count()));
  }

  void finish_probe(std::size_t i, bool ok) {
    Endpoint& e = eps[i];
    e.probing = false;
    ++e.stats.probes;
    if (ok) {
      e.stats.healthy = true;
      e.consecutive = 0;
      e.probe_level = 0;
    } else {
      ++e.stats.probe_failures;
      ++e.probe_level;
      e.next_probe =
          Clock::now() + std::chrono::duration_cast<Clock::duration>(probe_wait(e.probe_level));
    }
  }

  /// A free slot on the best untried healthy endpoint; -1 none available, -2 cancelled.
  int acquire(const std::vector<char>& tried, std::string& why) {
    std::unique_lock lock(mutex);
    for (;;) {
      if (options.cancel.cancelled()) return -2;
      const auto now = Clock::now();
      bool probed = false;
      for (std::size_t i = 0; i < eps.size() && !probed; ++i) {
        Endpoint& e = eps[i];
        if (tried[i] || e.stats.healthy || e.probing || now < e.next_probe) continue;
        e.probing = true;
        lock.unlock();
        bool ok = false;
        try {
          ok = !e.probe || e.probe();
        } catch (...) {
          ok = false;
        }
        lock.lock();
        finish_probe(i, ok);
        cv.notify_all();
        probed = true;
      }
      if (probed) continue;
      int best = -1;
      double best_score = 0;
      bool full = false;
      for (std::size_t i = 0; i < eps.size(); ++i) {
        const Endpoint& e = eps[i];
        if (tried[i] || !e.stats.healthy) continue;
        if (e.stats.in_flight >= e.spec.max_in_flight) {
          full = true;
          continue;
        }
        const double score = static_cast<double>(e.stats.in_flight + 1) /
                             (static_cast<double>(e.spec.max_in_flight) * e.spec.weight);
        if (best < 0 || score < best_score) {
          best = static_cast<int>(i);
          best_score = score;
        }
      }
      if (best >= 0) {
        Endpoint& e = eps[static_cast<std::size_t>(best)];
        ++e.stats.in_flight;
        ++e.stats.sent;
        return best;
      }
      if (full) {
        cv.wait_for(lock, std::chrono::milliseconds(50));
        continue;
      }
      std::size_t out = 0, untried = 0;
      for (std::size_t i = 0; i < eps.size(); ++i) {
        if (tried[i]) continue;
        ++untried;
        if (!eps[i].stats.healthy) ++out;
      }
      why = untried == 0 ? "every endpoint was tried"
                         : std::to_string(out) + " endpoint" + (out == 1 ? " is" : "s are") +
                               " taken out and waiting for a probe";
      return -1;
    }
  }

  void release(std::size_t i, const Outcome& o) {
    std::lock_guard lock(mutex);
    Endpoint& e = eps[i];
    --e.stats.in_flight;
    if (o.ok()) {
      ++e.stats.succeeded;
      e.consecutive = 0;
      const Response& r = o.value();
      if (!r.from_cache) {
        e.stats.prompt_tokens += r.usage.prompt_tokens;
        e.stats.completion_tokens += r.usage.completion_tokens;
      }
    } else {
      const ErrorKind k = o.error().kind;
      if (k != ErrorKind::cancelled) {
        ++e.stats.failed;
        ++e.stats.failures_by_kind[std::string(to_string(k))];
      }
      if (counts_against_endpoint(k) && ++e.consecutive >= options.eject_after && e.stats.healthy) {
        e.stats.healthy = false;
        ++e.stats.ejections;
        e.probe_level = 0;
        e.next_probe = Clock::now() + std::chrono::duration_cast<Clock::duration>(probe_wait(0));
      }
    }
    cv.notify_all();
  }

  Outcome send(std::size_t i, const Request& r) {
    const Endpoint& e = eps[i];
    const bool rename =
        !e.spec.model.empty() && e.spec.model != model && (r.model.empty() || r.model == model);
    std::vector<Outcome> out;
    if (rename) {
      Request copy = r;
      copy.model = e.spec.model;
      out = e.backend->complete(std::span<const Request>(&copy, 1));
    } else {
      out = e.backend->complete(std::span<const Request>(&r, 1));
    }
    if (out.size() != 1)
      throw BackendError(e.backend->name() + ": complete() returned " + std::to_string(out.size()) +
                         " outcomes for 1 request");
    return std::move(out.front());
  }

  Outcome run_one(const Request& r) {
    std::vector<char> tried(eps.size(), 0);
    std::optional<Outcome> last;
    int last_ep = -1;
    std::string why;
    for (int attempt = 0; attempt < options.max_endpoints_per_request; ++attempt) {
      const int got = acquire(tried, why);
      if (got == -2) return Failure{ErrorKind::cancelled, 0, "cancelled", {}};
      if (got < 0) break;
      const auto i = static_cast<std::size_t>(got);
      if (last_ep >= 0) {
        std::lock_guard lock(mutex);
        ++eps[static_cast<std::size_t>(last_ep)].stats.rerouted;
      }
      tried[i] = 1;
      std::optional<Outcome> o;
      try {
        o.emplace(send(i, r));
      } catch (...) {
        release(i, Failure{ErrorKind::cancelled, 0, "exception", {}});
        throw;
      }
      release(i, *o);
      if (o->ok() || !retryable(o->error().kind)) return std::move(*o);
      last = std::move(o);
      last_ep = got;
    }
    if (last) return std::move(*last);
    return Failure{ErrorKind::transport, 0, "fleet: no endpoint available (" + why + ")", {}};
  }
};

FleetBackend::FleetBackend(FleetOptions options)
    : FleetBackend(
          [&] {
            options.validate();
            std::vector<std::shared_ptr<LlmBackend>> backends;
            for (const FleetEndpoint& e : options.endpoints) {
              OpenAiOptions http = options.http;
              http.base_url = e.url;
              http.model = e.model.empty() ? options.model : e.model;
              http.api_key_env = e.api_key_env;
              http.max_in_flight = e.max_in_flight;
              backends.push_back(std::make_shared<OpenAiBackend>(std::move(http)));
            }
            return backends;
          }(),
          options,
          [&] {
            std::vector<Probe> probes;
            for (const FleetEndpoint& e : options.endpoints) {
              // A separate client with a short timeout: a hung server must not hold a probe for
              // the full request timeout.
              OpenAiOptions http = options.http;
              http.base_url = e.url;
              http.api_key_env = e.api_key_env;
              http.max_in_flight = 1;
              http.total_timeout = std::min(http.total_timeout, std::chrono::milliseconds(10'000));
              http.connect_timeout = std::min(http.connect_timeout, http.total_timeout);
              auto client = std::make_shared<OpenAiBackend>(std::move(http));
              probes.push_back([client] {
                client->list_models();
                return true;
              });
            }
            return probes;
          }()) {}

FleetBackend::FleetBackend(std::vector<std::shared_ptr<LlmBackend>> backends, FleetOptions options,
                           std::vector<Probe> probes)
    : impl_(std::make_unique<Impl>()) {
  options.validate();
  check_argument(backends.size() == options.endpoints.size(), "backends",
                 "one backend per endpoint (" + std::to_string(backends.size()) + " for " +
                     std::to_string(options.endpoints.size()) + " endpoints)");
  check_argument(probes.empty() || probes.size() == backends.size(), "probes",
                 "none, or one per endpoint");
  for (const auto& b : backends) check_argument(b != nullptr, "backends", "must not be null");
  impl_->model = options.model.empty() ? options.endpoints.front().model : options.model;
  for (std::size_t i = 0; i < backends.size(); ++i) {
    Impl::Endpoint e;
    e.spec = options.endpoints[i];
    e.backend = std::move(backends[i]);
    if (!probes.empty()) e.probe = std::move(probes[i]);
    e.stats.url = e.spec.url;
    e.stats.model = e.spec.model.empty() ? impl_->model : e.spec.model;
    e.stats.max_in_flight = e.spec.max_in_flight;
    e.stats.weight = e.spec.weight;
    impl_->capacity += e.spec.max_in_flight;
    impl_->eps.push_back(std::move(e));
  }
  impl_->options = std::move(options);
}

FleetBackend::~FleetBackend() = default;

std::vector<Outcome> FleetBackend::complete(std::span<const Request> batch) {
  const std::size_t n = batch.size();
  if (n == 0) return {};
  if (n == 1) {
    std::vector<Outcome> out;
    out.push_back(impl_->run_one(batch.front()));
    return out;
  }
  std::vector<std::optional<Outcome>> slots(n);
  std::atomic<std::size_t> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) return;
      try {
        slots[i].emplace(impl_->run_one(batch[i]));
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
        next = n;
        return;
      }
    }
  };
  const std::size_t threads = std::min({n, impl_->capacity, std::size_t{256}});
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  std::vector<Outcome> out;
  out.reserve(n);
  for (auto& s : slots) out.push_back(std::move(*s));
  return out;
}

std::string FleetBackend::name() const {
  std::string s = "fleet(";
  for (std::size_t i = 0; i < impl_->eps.size(); ++i)
    s += (i ? ", " : "") + impl_->eps[i].backend->name();
  return s + ")";
}

std::string FleetBackend::default_model() const { return impl_->model; }

std::vector<EndpointStats> FleetBackend::stats() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<EndpointStats> out;
  for (const auto& e : impl_->eps) out.push_back(e.stats);
  return out;
}

std::uint64_t FleetBackend::reroutes() const {
  std::lock_guard lock(impl_->mutex);
  std::uint64_t n = 0;
  for (const auto& e : impl_->eps) n += e.stats.rerouted;
  return n;
}

std::size_t FleetBackend::capacity() const noexcept { return impl_->capacity; }
const FleetOptions& FleetBackend::options() const noexcept { return impl_->options; }

std::string fleet_summary(const std::vector<EndpointStats>& stats, double price_prompt,
                          double price_completion) {
  std::string out = fmt::format("{:<40} {:>10} {:>10} {:>8} {:>8} {:>12} {:>12} {:>10}  {}\n",
                                "endpoint", "sent", "ok", "failed", "rerouted", "prompt_tok",
                                "compl_tok", "cost", "state / failures");
  EndpointStats total;
  for (const auto& s : stats) {
    const double cost = (static_cast<double>(s.prompt_tokens) * price_prompt +
                         static_cast<double>(s.completion_tokens) * price_completion) /
                        1e6;
    std::string kinds;
    for (const auto& [k, v] : s.failures_by_kind)
      kinds += fmt::format("{}{}={}", kinds.empty() ? "" : " ", k, v);
    std::string state = s.healthy ? "up" : "out";
    if (s.ejections) state += fmt::format(" (taken out {}x, {} probes)", s.ejections, s.probes);
    out += fmt::format("{:<40} {:>10} {:>10} {:>8} {:>8} {:>12} {:>12} {:>10.4f}  {}{}{}\n", s.url,
                       s.sent, s.succeeded, s.failed, s.rerouted, s.prompt_tokens,
                       s.completion_tokens, cost, state, kinds.empty() ? "" : "; ", kinds);
    total.sent += s.sent;
    total.succeeded += s.succeeded;
    total.failed += s.failed;
    total.rerouted += s.rerouted;
    total.prompt_tokens += s.prompt_tokens;
    total.completion_tokens += s.completion_tokens;
  }
  const double cost = (static_cast<double>(total.prompt_tokens) * price_prompt +
                       static_cast<double>(total.completion_tokens) * price_completion) /
                      1e6;
  out += fmt::format("{:<40} {:>10} {:>10} {:>8} {:>8} {:>12} {:>12} {:>10.4f}\n", "total",
                     total.sent, total.succeeded, total.failed, total.rerouted, total.prompt_tokens,
                     total.completion_tokens, cost);
  return out;
}

}  // namespace popalign::llm
