#include <popalign/embedding/openai_embedder.hpp>

namespace popalign::embedding {

OpenAiEmbedder::OpenAiEmbedder(OpenAiEmbedderOptions options) : options_(std::move(options)) {
  options_.validate();
  backend_ = std::make_unique<llm::OpenAiBackend>(options_.client);
}

OpenAiEmbedder::~OpenAiEmbedder() = default;

RowMatrix<float> OpenAiEmbedder::embed(const std::vector<std::string>& texts) const {
  if (texts.empty()) return RowMatrix<float>(0, dimension());
  RowMatrix<float> out = backend_->embeddings(texts, options_.model);
  if (out.rows() != static_cast<Index>(texts.size()))
    throw BackendError("embeddings server returned " + std::to_string(out.rows()) + " rows for " +
                       std::to_string(texts.size()) + " texts");
  if (!out.allFinite()) throw BackendError("embeddings server returned NaN or Inf");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dimension_ == 0) dimension_ = out.cols();
    if (out.cols() != dimension_)
      throw BackendError("embeddings server returned dimension " + std::to_string(out.cols()) +
                         ", earlier answers had " + std::to_string(dimension_));
  }
  if (options_.normalize) normalize_rows(out);
  return out;
}

Index OpenAiEmbedder::dimension() const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (dimension_ > 0) return dimension_;
  }
  const RowMatrix<float> probe = backend_->embeddings({"dimension probe"}, options_.model);
  std::lock_guard<std::mutex> lock(mutex_);
  if (dimension_ == 0) dimension_ = probe.cols();
  if (dimension_ == 0) throw BackendError("embeddings server returned an empty vector");
  return dimension_;
}

std::string OpenAiEmbedder::name() const {
  const std::string model = !options_.model.empty() ? options_.model
                            : !options_.client.embedding_model.empty()
                                ? options_.client.embedding_model
                                : options_.client.model;
  return "openai:" + backend_->api_root() + ":" + model;
}

}  // namespace popalign::embedding
