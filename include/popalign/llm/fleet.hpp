#pragma once
// FleetBackend: one role (one model) served by several OpenAI-compatible endpoints.
//
// Routing. Each endpoint has a capacity, max_in_flight (its own limit of concurrent requests),
// and a weight (relative speed, default 1). A request goes to the healthy endpoint, among those
// with a free slot, that minimises
//     (outstanding + 1) / (max_in_flight * weight)
// (ties: the earlier endpoint), so that outstanding work is spread in proportion to capacity and
// a fast endpoint, which drains its slots sooner, receives proportionally more requests. When
// every healthy endpoint is full the caller waits for a slot.
//
// Health (a circuit breaker per endpoint). A transport error, a timeout or an HTTP 5xx counts as
// an endpoint failure; `eject_after` consecutive ones take the endpoint out. An endpoint that is
// out is probed (GET {base}/models for HTTP endpoints) after a backoff of
// probe_initial * probe_multiplier^k (capped at probe_max, k = failed probes so far); a probe
// that answers puts it back in, one that fails doubles the wait. Any success resets the count.
//
// Failover. A request whose answer is a retryable failure (ErrorKind transport, timeout,
// rate_limited, server, invalid_response) is sent again at once to another endpoint it has not
// tried yet, up to `max_endpoints_per_request` endpoints; non-retryable failures (400, 401, 404)
// are returned as they are. When no untried healthy endpoint is left the last failure is
// returned, so an outer RetryBackend backs off and tries again (with all endpoints eligible).
//
// Identity. default_model() is the role's model (FleetOptions::model), never an endpoint's, so a
// CachedBackend around the fleet keys every request independently of the endpoint that answers
// it. An endpoint with its own `model` (a server that names the same weights differently) gets
// requests for the role's model rewritten to its name on the wire.
//
// Threads. complete() may be called from many threads (the CLI calls it with one request on
// each of N threads); a call with several requests runs them on up to min(batch, total capacity)
// threads. stats() is a consistent snapshot and may be read while requests run (the progress
// display of `popalign administer`).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/llm/openai_client.hpp>

namespace popalign::llm {

/// One server of a fleet.
struct FleetEndpoint {
  std::string url;                             ///< base URL, with or without "/v1"
  std::string model;                           ///< the model's name on this server; "" = role's
  std::string api_key_env = "OPENAI_API_KEY";  ///< env variable holding its key ("" = none)
  std::size_t max_in_flight = 16;              ///< concurrent requests, 1..4096
  double weight = 1.0;                         ///< relative speed, > 0

  /// Throws InvalidArgument naming the field.
  void validate() const;
  friend bool operator==(const FleetEndpoint&, const FleetEndpoint&) = default;
};

/// Reads an endpoints file: JSON (an array of objects, or {"endpoints": [...]}) or CSV (a header
/// naming the columns url, model, api_key_env, max_in_flight, weight in any order; url required;
/// blank lines and lines starting with '#' skipped). The format is chosen by the extension
/// (.json / .csv), else by the first non-blank character ('[' or '{' = JSON). Missing fields take
/// `defaults`' values. Throws ParseError naming the file and line for a syntax error, an unknown
/// field or column, a value of the wrong type or out of range, or a URL listed twice; IoError
/// when the file cannot be read; an empty list is an error too.
std::vector<FleetEndpoint> read_endpoints_file(const std::filesystem::path& path,
                                               const FleetEndpoint& defaults = {});
/// The same from text; `source` names it in errors.
std::vector<FleetEndpoint> parse_endpoints(std::string_view text, std::string_view source,
                                           const FleetEndpoint& defaults = {});

struct FleetOptions {
  std::vector<FleetEndpoint> endpoints;  ///< at least one
  /// The role's model: default_model() and the cache identity. "" = the first endpoint's model.
  std::string model;
  /// Settings shared by every endpoint's HTTP client (timeouts, TLS, headers, cancel); its
  /// base_url, model, api_key_env and max_in_flight are replaced by the endpoint's.
  OpenAiOptions http;
  int eject_after = 3;                               ///< consecutive endpoint failures, >= 1
  std::chrono::duration<double> probe_initial{1.0};  ///< first wait before a probe, >= 0 s
  double probe_multiplier = 2.0;                     ///< >= 1
  std::chrono::duration<double> probe_max{60.0};     ///< cap of the probe wait
  int max_endpoints_per_request = 3;                 ///< distinct endpoints tried per call, >= 1
  /// Waiting for a slot or a probe is cancellable: waiting requests get ErrorKind::cancelled.
  CancellationToken cancel;

  /// Throws InvalidArgument naming the field (endpoints[i].field for an endpoint).
  void validate() const;
};

/// Counters of one endpoint since construction.
struct EndpointStats {
  std::string url;
  std::string model;
  std::size_t max_in_flight = 0;
  double weight = 1.0;
  bool healthy = true;        ///< false while taken out
  std::size_t in_flight = 0;  ///< requests outstanding now
  std::uint64_t sent = 0;     ///< requests sent (every attempt)
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t rerouted = 0;  ///< failures here that were sent again to another endpoint
  std::uint64_t ejections = 0;
  std::uint64_t probes = 0;
  std::uint64_t probe_failures = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::map<std::string, std::uint64_t> failures_by_kind;  ///< to_string(ErrorKind) -> count
};

class FleetBackend final : public LlmBackend {
 public:
  /// Probes an endpoint's health: true when it answers. For HTTP endpoints GET {base}/models.
  using Probe = std::function<bool()>;

  /// One OpenAiBackend per endpoint (built from options.http). Validates the options.
  explicit FleetBackend(FleetOptions options);
  /// Any backends, one per endpoint (options.endpoints[i] describes backends[i]; its url is
  /// only a label), with optional probes (empty = send nothing and assume healthy). For tests
  /// and for fleets of non-HTTP backends.
  FleetBackend(std::vector<std::shared_ptr<LlmBackend>> backends, FleetOptions options,
               std::vector<Probe> probes = {});
  ~FleetBackend() override;
  FleetBackend(const FleetBackend&) = delete;
  FleetBackend& operator=(const FleetBackend&) = delete;

  std::vector<Outcome> complete(std::span<const Request> batch) override;
  std::string name() const override;
  std::string default_model() const override;

  /// A snapshot of every endpoint's counters, in endpoint order.
  std::vector<EndpointStats> stats() const;
  /// Requests sent again to another endpoint after a failure (sum of EndpointStats::rerouted).
  std::uint64_t reroutes() const;
  /// Sum of the endpoints' max_in_flight.
  std::size_t capacity() const noexcept;
  const FleetOptions& options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A table of the endpoints' calls, tokens, cost and failures (one line per endpoint and a
/// total), for the end of a run. `price_prompt` / `price_completion` are per 1e6 tokens.
std::string fleet_summary(const std::vector<EndpointStats>& stats, double price_prompt = 0.0,
                          double price_completion = 0.0);

}  // namespace popalign::llm
