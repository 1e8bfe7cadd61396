#pragma once
// The OpenAI-compatible /v1/embeddings backend as an Embedder (wraps llm::OpenAiBackend).
//
// Works with OpenAI, vLLM, llama.cpp's server, Ollama's /v1 and the test server in
// tests/support/llm_server. The dimension is the server's: it is learnt from the first call
// (or from one probe call "dimension probe" when dimension() is asked first) and every later
// answer must match it (BackendError otherwise). Rows are L2-normalised here by default
// (normalize = true), so cosine = dot; zero rows stay zero. Errors from the server surface as
// llm::LlmError, a popalign::BackendError. Wrap in CachingEmbedder to avoid paying twice.
// Only available when popalign was built with the llm layer (POPALIGN_HAS_OPENAI_EMBEDDER).
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <popalign/embedding/embedder.hpp>
#include <popalign/llm/openai_client.hpp>

namespace popalign::embedding {

struct OpenAiEmbedderOptions {
  llm::OpenAiOptions client;  ///< base_url, api key variable, timeouts, batch size...
  std::string model;          ///< embedding model ("" = client.embedding_model / client.model)
  bool normalize = true;
  void validate() const { client.validate(); }
};

class OpenAiEmbedder final : public Embedder {
 public:
  explicit OpenAiEmbedder(OpenAiEmbedderOptions options);
  ~OpenAiEmbedder() override;

  RowMatrix<float> embed(const std::vector<std::string>& texts) const override;
  /// The server's dimension (one probe request the first time if nothing was embedded yet).
  Index dimension() const override;
  bool normalized() const override { return options_.normalize; }
  std::string name() const override;

 private:
  OpenAiEmbedderOptions options_;
  std::unique_ptr<llm::OpenAiBackend> backend_;
  mutable std::mutex mutex_;
  mutable Index dimension_ = 0;
};

}  // namespace popalign::embedding
