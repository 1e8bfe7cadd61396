#pragma once
// Value types of the llm layer: requests, responses, failures and the Outcome of one call.
//
// A Request describes one call to an OpenAI-compatible model: either a chat (messages) or a
// plain completion (prompt, used when non-empty). Every optional sampling setting is a
// std::optional, so "not set" (the server's default) is distinguishable from any value; the
// canonical serialisation below omits unset fields, and two requests that mean the same call
// serialise to the same bytes. That serialisation, hashed with SHA-256, is the key of the
// persistent cache (llm/cache.hpp) and of record/replay (llm/record_replay.hpp).
//
// A backend never throws for a failed call: it returns an Outcome holding either a Response or
// a Failure, one per request of a batch, so one bad item does not lose the others' results.
// Failure::kind says what went wrong in a way a caller can act on (retryable(kind)).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <popalign/core/error.hpp>

namespace popalign::llm {

/// One chat message. role is "system", "user", "assistant" (or any role the server accepts).
struct Message {
  std::string role;
  std::string content;

  friend bool operator==(const Message&, const Message&) = default;
};

/// One call. Chat when `prompt` is empty (-> /v1/chat/completions), else a plain completion
/// (-> /v1/completions; `messages` must then be empty).
struct Request {
  std::vector<Message> messages;
  std::string prompt;                 ///< non-empty = plain completion
  std::string model;                  ///< empty = the backend's default model
  std::optional<double> temperature;  ///< [0, 2]
  std::optional<double> top_p;        ///< (0, 1]
  std::optional<int> max_tokens;      ///< >= 1
  std::optional<std::uint64_t>
      seed;  ///< sampling seed; same seed -> same text (if the server honours it)
  std::vector<std::string> stop;  ///< stop strings (at most 4 for OpenAI)
  std::string json_schema;        ///< JSON Schema text the answer must follow; empty = none
  bool logprobs = false;          ///< return per-token log-probabilities
  int top_logprobs = 0;           ///< alternatives per token, 0..20 (needs logprobs)

  /// Throws popalign::InvalidArgument naming the offending field.
  void validate() const;

  friend bool operator==(const Request&, const Request&) = default;
};

/// An alternative token at one position and its natural-log probability.
struct TopLogprob {
  std::string token;
  double logprob = 0.0;

  friend bool operator==(const TopLogprob&, const TopLogprob&) = default;
};

/// A generated token, its natural-log probability, and the most likely alternatives at that
/// position (most likely first), as the server reported them.
struct TokenLogprob {
  std::string token;
  double logprob = 0.0;
  std::vector<TopLogprob> top;

  friend bool operator==(const TokenLogprob&, const TokenLogprob&) = default;
};

struct Usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;

  std::int64_t total_tokens() const noexcept { return prompt_tokens + completion_tokens; }
  friend bool operator==(const Usage&, const Usage&) = default;
};

/// A successful call.
struct Response {
  std::string text;
  std::string finish_reason;           ///< "stop", "length", ... as the server said
  std::vector<TokenLogprob> logprobs;  ///< empty unless Request::logprobs
  Usage usage;
  std::string model;        ///< the model that answered (as the server said)
  bool from_cache = false;  ///< served by CachedBackend / ReplayBackend, not paid for

  friend bool operator==(const Response&, const Response&) = default;
};

/// What went wrong with one call.
enum class ErrorKind {
  transport,         ///< connection refused/reset/dropped, DNS, TLS handshake
  timeout,           ///< connect or total timeout
  rate_limited,      ///< HTTP 429
  server,            ///< HTTP 5xx
  bad_request,       ///< HTTP 400, 413, 422 (the request itself is wrong; never retried)
  unauthorized,      ///< HTTP 401, 403 (never retried)
  not_found,         ///< HTTP 404 (unknown model or endpoint; never retried)
  invalid_response,  ///< 2xx with a body that is not the expected JSON (malformed, truncated)
  cancelled,         ///< stopped by a CancellationToken / progress callback
  other,
};

/// True for kinds worth retrying: transport, timeout, rate_limited, server, invalid_response.
bool retryable(ErrorKind kind) noexcept;
/// "transport", "timeout", ... (stable names, used in logs and record files).
std::string_view to_string(ErrorKind kind) noexcept;
/// Inverse of to_string; unknown names give ErrorKind::other.
ErrorKind error_kind_from_string(std::string_view name) noexcept;

/// A failed call. http_status is 0 when no HTTP status was received.
struct Failure {
  ErrorKind kind = ErrorKind::other;
  int http_status = 0;
  std::string message;
  std::optional<double> retry_after;  ///< seconds, from a Retry-After header

  friend bool operator==(const Failure&, const Failure&) = default;
};

/// Thrown by Outcome::value() on a failure and by calls that return no Outcome
/// (OpenAiBackend::embeddings, list_models). Carries the Failure.
class LlmError : public BackendError {
 public:
  explicit LlmError(Failure failure)
      : BackendError(describe(failure)), failure_(std::move(failure)) {}
  const Failure& failure() const noexcept { return failure_; }
  ErrorKind kind() const noexcept { return failure_.kind; }

 private:
  static std::string describe(const Failure& f) {
    std::string s = "llm call failed (" + std::string(to_string(f.kind));
    if (f.http_status != 0) s += ", HTTP " + std::to_string(f.http_status);
    return s + "): " + f.message;
  }
  Failure failure_;
};

/// The result of one call: a Response or a Failure (an expected-like type).
class Outcome {
 public:
  Outcome(Response response) : state_(std::move(response)) {}  // NOLINT(implicit)
  Outcome(Failure failure) : state_(std::move(failure)) {}     // NOLINT(implicit)

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  /// The response; throws LlmError carrying the failure when !ok().
  const Response& value() const& {
    if (!ok()) throw LlmError(std::get<1>(state_));
    return std::get<0>(state_);
  }
  Response& value() & {
    if (!ok()) throw LlmError(std::get<1>(state_));
    return std::get<0>(state_);
  }
  Response&& value() && {
    if (!ok()) throw LlmError(std::get<1>(state_));
    return std::get<0>(std::move(state_));
  }
  /// The failure; throws popalign::Error when ok().
  const Failure& error() const {
    if (ok()) throw Error("Outcome::error() called on a successful outcome");
    return std::get<1>(state_);
  }

  friend bool operator==(const Outcome&, const Outcome&) = default;

 private:
  std::variant<Response, Failure> state_;
};

/// Canonical JSON text of a request: keys in a fixed order, unset optionals omitted, numbers in
/// shortest round-trip form, no whitespace. Equal requests give equal bytes. Never contains an
/// API key (requests do not hold one).
std::string canonical_request(const Request& request);

/// Lower-case hex SHA-256 of canonical_request(request) (64 characters). The cache key.
std::string request_hash(const Request& request);

/// Lower-case hex SHA-256 of arbitrary bytes (exposed for tests and for keys of other caches).
std::string sha256_hex(std::string_view bytes);

/// JSON text of a response / failure and back (the formats of the cache and of record files).
/// The parse functions throw popalign::Error with a message on malformed input.
std::string response_to_json(const Response& response);
Response response_from_json(std::string_view json);
std::string failure_to_json(const Failure& failure);
Failure failure_from_json(std::string_view json);

}  // namespace popalign::llm
