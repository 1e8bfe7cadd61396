#pragma once
// What the LLM-calling commands (administer, mine, train-embedder --descriptions) share:
// the HTTP stack OpenAiBackend -> RetryBackend -> CachedBackend (when a cache file is given),
// and SIGINT / SIGTERM turned into a cancellation while the calls run (finished answers are in
// the cache and the output files; a rerun resumes).
//
// A fleet: with several base URLs (--base-url repeated) or an endpoints file (--endpoints), the
// innermost backend is an llm::FleetBackend over one OpenAiBackend per endpoint (least-loaded
// routing, endpoints taken out and probed back in, failover); RetryBackend and the cache wrap
// it unchanged, and the cache key is the role's --model whatever endpoint answered.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/llm/fleet.hpp>
#include <popalign/llm/retry.hpp>

namespace popalign::cli {

struct LlmHttpFlags {
  std::string base_url;
  std::string model;
  std::string api_key_env = "OPENAI_API_KEY";
  std::string cache;             ///< SQLite cache file; empty = no cache
  double timeout_seconds = 120;  ///< per call, connect included
  std::size_t concurrency = 4;   ///< transfers in flight
  int attempts = 5;              ///< HTTP attempts per call (RetryBackend)
  std::uint64_t seed = 0;        ///< RetryBackend's jitter stream
  /// Several servers for the role: used instead of base_url when it has 2 or more entries (one
  /// entry is the same as base_url). Each endpoint takes up to `concurrency` requests.
  std::vector<std::string> base_urls;
  /// Endpoints file (JSON or CSV, see llm::read_endpoints_file); its entries come after
  /// base_urls. Missing fields default to --model, --api-key-env and --concurrency.
  std::string endpoints_file;
  /// Cache answers per SQLite transaction (llm::CacheOptions::commit_rows); 1 = each on arrival.
  std::size_t cache_commit_rows = 1;
  /// The command's names of the flags above, for the messages of check() (train-embedder
  /// calls them --llm-timeout, ...).
  const char* timeout_flag = "--timeout";
  const char* concurrency_flag = "--concurrency";
  const char* attempts_flag = "--http-attempts";

  /// The limits every LLM-calling command shares (docs/cli.md, the same ranges as the pipeline
  /// config): timeout finite in [0.001, 1e6] s, concurrency in [1, 1024], attempts in [1, 100].
  /// InvalidArgument naming the flag. make_llm_stack calls it.
  void check() const;
};

/// The stack and the parts a command reports on.
struct LlmStack {
  std::shared_ptr<llm::LlmBackend> backend;  ///< outermost (cache, or retry)
  std::shared_ptr<llm::FleetBackend> fleet;  ///< the fleet, when there are several endpoints
  std::shared_ptr<llm::RetryBackend> retry;
  std::size_t in_flight = 1;  ///< requests the stack takes at once (a fleet: its capacity)
};

/// The backend stack; `cancel` stops transfers in flight and retry waits. Throws
/// InvalidArgument naming --base-url / --endpoints, ParseError naming the endpoints file's line.
LlmStack make_llm_stack(const LlmHttpFlags& flags, const CancellationToken& cancel);

/// make_llm_stack(flags, cancel).backend
std::shared_ptr<llm::LlmBackend> make_llm_backend(const LlmHttpFlags& flags,
                                                  const CancellationToken& cancel);

/// True when the flags name more than one endpoint or an endpoints file.
bool is_fleet(const LlmHttpFlags& flags);

/// While alive, SIGINT and SIGTERM cancel `token` (one at a time per process).
class CancelOnSignal {
 public:
  explicit CancelOnSignal(CancellationToken& token);
  ~CancelOnSignal();
  CancelOnSignal(const CancelOnSignal&) = delete;
  CancelOnSignal& operator=(const CancelOnSignal&) = delete;
};

}  // namespace popalign::cli
