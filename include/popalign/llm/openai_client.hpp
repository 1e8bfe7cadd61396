#pragma once
// The OpenAI-compatible HTTP backend (libcurl, multi interface).
//
// Works with any server that speaks the OpenAI REST API: OpenAI, vLLM, llama.cpp's server,
// Ollama's /v1, LM Studio, and the test server in tests/support/llm_server.
//
//  - Chat requests (Request::prompt empty) go to POST {base}/chat/completions, plain
//    completions to POST {base}/completions, embeddings to POST {base}/embeddings, and
//    list_models() to GET {base}/models. {base} is base_url with "/v1" appended unless it
//    already ends in "/v1" (so "http://host:8080" and "http://host:8080/v1" both work).
//  - A batch is run with up to max_in_flight transfers at once on one curl multi handle, on
//    the calling thread; several threads may call complete() at the same time (each gets its
//    own multi handle; connections are reused per call).
//  - The API key is read from the environment variable named by api_key_env at every call
//    (so rotating it works) and sent as "Authorization: Bearer ..."; it is never logged, never
//    part of a request key, and never written to a cache or record file.
//  - TLS peer and host verification are on by default (verify_tls). Turning them off is for
//    self-signed local servers only.
//  - HTTP status and curl errors map to ErrorKind: 429 -> rate_limited (Retry-After parsed,
//    seconds or HTTP date; OpenAI's retry-after-ms wins), 5xx -> server, 400/413/422 ->
//    bad_request, 401/403 -> unauthorized, 404 -> not_found, curl timeouts -> timeout,
//    connection errors and dropped connections -> transport, a 2xx whose body is not the
//    expected JSON -> invalid_response. The message carries the server's error message when it
//    sent one.
//  - json_schema becomes response_format {"type":"json_schema", "json_schema": {"name":
//    "answer", "schema": <schema>, "strict": true}} for chat; for plain completions it is sent
//    as "json_schema" (llama.cpp's extension).
//  - Logprobs: chat uses "logprobs": true, "top_logprobs": k and reads
//    choices[0].logprobs.content[]; completions use "logprobs": k and read
//    choices[0].logprobs.{tokens, token_logprobs, top_logprobs} (the legacy format), or the
//    chat-style "content" array when a server returns that instead.
#include <chrono>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/llm/types.hpp>

namespace popalign::llm {

struct OpenAiOptions {
  std::string base_url = "https://api.openai.com/v1";
  std::string model;                           ///< default model for requests with an empty model
  std::string embedding_model;                 ///< default for embeddings(); empty = `model`
  std::string api_key_env = "OPENAI_API_KEY";  ///< env var holding the key; empty = send none
  /// When true, a missing/empty api_key_env variable is an error at construction. Local servers
  /// need no key, so the default is false (no Authorization header is sent then).
  bool require_api_key = false;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds total_timeout{120'000};  ///< per request, connect included
  std::size_t max_in_flight = 16;                    ///< concurrent transfers per complete() call
  bool verify_tls = true;
  std::string ca_bundle;  ///< optional CA file (PEM); empty = system store
  std::string user_agent = "popalign";
  std::vector<std::pair<std::string, std::string>> extra_headers;  ///< e.g. OpenAI-Organization
  std::size_t embedding_batch_size = 128;                          ///< texts per /embeddings call
  /// Cancelling stops transfers in flight; their outcomes become ErrorKind::cancelled.
  CancellationToken cancel;

  /// Throws InvalidArgument naming the field.
  void validate() const;
};

/// One entry of GET /models.
struct ModelInfo {
  std::string id;
  std::string owned_by;
  std::int64_t created = 0;
};

class OpenAiBackend final : public LlmBackend {
 public:
  /// Validates options; throws InvalidArgument (bad options, or require_api_key and the
  /// variable is unset).
  explicit OpenAiBackend(OpenAiOptions options);
  ~OpenAiBackend() override;
  OpenAiBackend(const OpenAiBackend&) = delete;
  OpenAiBackend& operator=(const OpenAiBackend&) = delete;

  std::vector<Outcome> complete(std::span<const Request> batch) override;
  std::string name() const override;
  std::string default_model() const override;

  /// GET {base}/models. Throws LlmError on failure.
  std::vector<ModelInfo> list_models();

  /// POST {base}/embeddings for every text (in chunks of embedding_batch_size, max_in_flight
  /// chunks at once). Row i is the embedding of texts[i], as the server returned it (not
  /// re-normalised). model "" = options.embedding_model, or options.model when that is empty.
  /// No retries here: throws LlmError on the first failure (an Embedder wraps this with its own
  /// policy). An empty `texts` gives a 0x0 matrix without a call. Rows have the server's
  /// dimension; a server answering with ragged dimensions is an invalid_response.
  RowMatrix<float> embeddings(const std::vector<std::string>& texts, const std::string& model = "");

  /// The JSON body complete() posts for `request` (validated; its model filled from options),
  /// and the path it goes to: "/chat/completions" or "/completions" (the Batch API's "url").
  std::string request_body(const Request& request) const;
  static std::string request_path(const Request& request);
  /// Reads a 2xx response body of that path as complete() does (the same Outcome, failures
  /// included), for answers that arrive another way (the Batch API's output file).
  Outcome parse_response_body(std::string_view body, const Request& request) const;

  const OpenAiOptions& options() const noexcept;
  /// The resolved API root, e.g. "http://127.0.0.1:18457/v1".
  const std::string& api_root() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace popalign::llm
