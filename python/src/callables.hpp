#pragma once
// Python callables as the library's backends, shared by every binding that takes them
// (administer, mine, retrieve, run):
//  - CallableBackend (llm::LlmBackend; defined in administer.cpp): a callable taking a list of
//    request dicts and returning one answer per request (a str, a dict {"text", ...}, or None /
//    an Exception instance for a failed call), or an object with such a .complete method. It is
//    called with the GIL taken from the computation's worker threads. If it raises, it cancels
//    the run's token and keeps the exception (rethrow_error(), error()).
//  - CallableEmbedder (embedding::Embedder; defined in embedding.cpp): a callable texts -> array
//    (len(texts) x dimension), called with the GIL taken.
// Both hold the Python object through a shared_ptr whose deleter takes the GIL, so the last
// C++ copy may go on any thread.
#include <exception>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/embedding/embedder.hpp>
#include <popalign/llm/backend.hpp>

#include "common.hpp"

namespace popalign::python {

/// A Python object kept alive by C++ and released with the GIL taken.
inline std::shared_ptr<py::object> hold(py::object obj) {
  return std::shared_ptr<py::object>(new py::object(std::move(obj)), [](py::object* p) {
    py::gil_scoped_acquire gil;
    delete p;
  });
}

/// An LlmBackend that calls a Python callable (see the file comment).
class CallableBackend final : public llm::LlmBackend {
 public:
  CallableBackend(py::object fn, std::string model, CancellationToken cancel)
      : fn_(hold(std::move(fn))), model_(std::move(model)), cancel_(std::move(cancel)) {}

  std::vector<llm::Outcome> complete(std::span<const llm::Request> batch) override;
  std::string name() const override { return "python-callable"; }
  std::string default_model() const override { return model_; }
  /// Raises the callable's exception again, if it raised (GIL held).
  void rethrow_error() {
    if (error_) std::rethrow_exception(error_);
  }
  bool failed() const { return static_cast<bool>(error_); }

 private:
  std::shared_ptr<py::object> fn_;
  std::string model_;
  CancellationToken cancel_;
  std::mutex mutex_;
  std::exception_ptr error_;
};

/// `backend` as a CallableBackend: a callable, or an object with a callable .complete;
/// InvalidArgument naming `argument` otherwise.
std::shared_ptr<CallableBackend> make_callable_backend(py::object backend, const std::string& model,
                                                       const CancellationToken& token,
                                                       const std::string& argument);

/// An Embedder that calls a Python callable (see the file comment).
class CallableEmbedder final : public embedding::Embedder {
 public:
  CallableEmbedder(py::object fn, Index dimension, bool normalized)
      : fn_(hold(std::move(fn))), dimension_(dimension), normalized_(normalized) {}

  RowMatrix<float> embed(const std::vector<std::string>& texts) const override;
  Index dimension() const override { return dimension_; }
  bool normalized() const override { return normalized_; }
  std::string name() const override { return "python-callable"; }

 private:
  std::shared_ptr<py::object> fn_;
  Index dimension_;
  bool normalized_;
};

/// `embedder` (a callable texts -> array) as a CallableEmbedder of `dimension` (> 0);
/// InvalidArgument naming `argument` otherwise.
std::shared_ptr<const embedding::Embedder> make_callable_embedder(py::object embedder,
                                                                  Index dimension, bool normalized,
                                                                  const std::string& argument);

}  // namespace popalign::python
