#pragma once
// What the LLM-calling commands (administer, make-pairs / train-embedder --descriptions) share:
// the HTTP stack OpenAiBackend -> RetryBackend -> CachedBackend (when a cache file is given),
// and SIGINT / SIGTERM turned into a cancellation while the calls run (finished answers are in
// the cache and the output files; a rerun resumes).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <popalign/core/execution.hpp>
#include <popalign/llm/backend.hpp>

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
};

/// The backend stack; `cancel` stops transfers in flight and retry waits.
std::shared_ptr<llm::LlmBackend> make_llm_backend(const LlmHttpFlags& flags,
                                                  const CancellationToken& cancel);

/// While alive, SIGINT and SIGTERM cancel `token` (one at a time per process).
class CancelOnSignal {
 public:
  explicit CancelOnSignal(CancellationToken& token);
  ~CancelOnSignal();
  CancelOnSignal(const CancelOnSignal&) = delete;
  CancelOnSignal& operator=(const CancelOnSignal&) = delete;
};

}  // namespace popalign::cli
