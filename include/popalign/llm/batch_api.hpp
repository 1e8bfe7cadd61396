#pragma once
// BatchApiBackend: answers a batch of requests through the OpenAI Batch API (half price, answers
// within the completion window) instead of one HTTP call per request.
//
// complete(batch):
//  1. Every distinct request gets a custom_id: the SHA-256 key of its canonical form (model
//     filled in), so a rerun names the same request the same way.
//  2. Requests already in a batch recorded in the state file (a previous, killed run) are not
//     submitted again: that batch is polled and its output used. A batch whose input file was
//     uploaded but whose creation was not recorded (killed in between) is looked up by its
//     input_file_id in GET /batches, and created only if the provider has no such batch.
//  3. The other requests are written as Batch JSONL lines {"custom_id", "method": "POST",
//     "url": "/v1/chat/completions" | "/v1/completions", "body": <the body the online path
//     posts>}, split at max_requests_per_batch and max_bytes_per_batch, each part uploaded
//     (POST /files, purpose "batch", recorded in the state file) and created (POST /batches,
//     recorded), the state file being replaced atomically after each step.
//  4. Batches are polled (GET /batches/{id}) with backoff poll_initial * poll_multiplier^k up
//     to poll_max until completed, failed, expired or cancelled; the output and error files
//     (GET /files/{id}/content) are read and every line mapped back by custom_id; a 200 body is
//     read by OpenAiBackend::parse_response_body, the parser of the online path, so an answer
//     equals the online answer byte for byte (and a CachedBackend around this stores it the
//     same way); an error line becomes a Failure of the kind its status code maps to.
//  5. Requests left without an answer (a failed or expired batch, error lines with retryable
//     kinds) are retried: online through `online` when given, else in new batches, up to
//     max_rounds batch rounds; what is still unanswered is returned as a Failure.
//
// Lifetime: one BatchApiBackend per state file at a time (the file is not locked).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/llm/openai_client.hpp>

namespace popalign::llm {

struct BatchApiOptions {
  /// Provider and model (base_url, model, api_key_env, timeouts, TLS) as for the online path;
  /// max_in_flight is unused.
  OpenAiOptions http;
  /// JSON file recording every uploaded file and created batch (required).
  std::filesystem::path state_file;
  std::size_t max_requests_per_batch = 50'000;     ///< OpenAI's limit
  std::size_t max_bytes_per_batch = 200ull << 20;  ///< input file size, OpenAI's limit
  std::string completion_window = "24h";
  std::chrono::duration<double> poll_initial{5.0};  ///< first wait between polls
  double poll_multiplier = 1.5;                     ///< >= 1
  std::chrono::duration<double> poll_max{60.0};     ///< cap of the wait
  int max_rounds = 3;  ///< batch rounds for requests a batch did not answer (>= 1)
  /// When set, requests a batch did not answer are sent here (e.g. RetryBackend over the online
  /// HTTP stack) instead of into a new batch.
  std::shared_ptr<LlmBackend> online;
  /// How to wait between polls (default sleep_for); tests inject a short one.
  std::function<void(std::chrono::duration<double>)> sleep;
  /// Progress messages (batch created, status changes, resumed batches); may be empty.
  std::function<void(const std::string&)> log;
  /// Stops polling: the requests not answered yet get ErrorKind::cancelled (their batches stay
  /// in the state file and are picked up by the next run).
  CancellationToken cancel;

  /// Throws InvalidArgument naming the field.
  void validate() const;
};

/// One line of a Batch API output or error file (GET /files/{id}/content).
struct BatchResultLine {
  std::size_t line = 0;   ///< 1-based line in the file
  std::string custom_id;  ///< the request it answers
  bool ok = false;        ///< a "response" with a 2xx status_code: `body` is the completion
  std::string body;       ///< response.body as JSON text (for OpenAiBackend::parse_response_body)
  Failure failure;        ///< when !ok: from the status (response) or the error code (error line)
};

/// The HTTP status of a provider's answer as an ErrorKind (429 rate_limited, 5xx server, ...).
ErrorKind error_kind_of_http_status(long status) noexcept;

/// Reads the content of a Batch API output or error file, one entry per line that is a JSON
/// object with a string "custom_id". Blank lines, lines that are not such an object (not JSON,
/// nested deeper than io::kMaxJsonDepth, longer than io::kMaxLineBytes, a custom_id that is not a
/// string) are skipped and counted in `*skipped`; members of unexpected types are treated as
/// absent. Never throws for bad content (the provider's file is untrusted input).
std::vector<BatchResultLine> parse_batch_results(std::string_view content,
                                                 std::size_t* skipped = nullptr);

/// What a BatchApiBackend did since construction.
struct BatchApiStats {
  std::uint64_t files_uploaded = 0;
  std::uint64_t batches_created = 0;
  std::uint64_t batches_resumed = 0;  ///< found in the state file and used again
  std::uint64_t batches_failed = 0;   ///< ended failed, expired or cancelled
  std::uint64_t answered = 0;         ///< requests answered by a batch
  std::uint64_t errors = 0;           ///< error lines and requests of failed batches
  std::uint64_t retried_online = 0;
  std::uint64_t retried_in_batch = 0;  ///< requests put into a new batch after a failure
};

class BatchApiBackend final : public LlmBackend {
 public:
  explicit BatchApiBackend(BatchApiOptions options);
  ~BatchApiBackend() override;
  BatchApiBackend(const BatchApiBackend&) = delete;
  BatchApiBackend& operator=(const BatchApiBackend&) = delete;

  std::vector<Outcome> complete(std::span<const Request> batch) override;
  std::string name() const override;
  std::string default_model() const override;

  BatchApiStats stats() const;
  /// The custom_id of a request (the cache key without salt, model filled in).
  std::string custom_id(const Request& request) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace popalign::llm
