#pragma once
// The LlmBackend interface: a batch of requests in, one Outcome per request out (same order).
//
// Backends are runtime-polymorphic so that decorators (retry, rate limit, cache, record/replay,
// usage meter) stack around any backend:
//
//   auto http  = std::make_shared<OpenAiBackend>(OpenAiOptions{.base_url = url, .model = "m"});
//   auto retry = std::make_shared<RetryBackend>(http, RetryOptions{.seed = 7});
//   auto cache = std::make_shared<CachedBackend>(retry, CacheOptions{.path = "calls.sqlite"});
//   UsageMeter meter(cache, MeterOptions{});
//   std::vector<Outcome> out = meter.complete(requests);
//
// Contract for every implementation:
//  - complete() returns exactly batch.size() outcomes, outcome i for request i;
//  - a failed call is an Outcome holding a Failure, never an exception (exceptions are for
//    programming errors such as an invalid Request, and for an unusable backend);
//  - complete() may be called from several threads at once (all backends in popalign are
//    thread-safe; a type plugged in through BackendAdapter must be too, or be used from one
//    thread);
//  - concurrency inside one batch is the backend's business (OpenAiBackend keeps up to
//    OpenAiOptions::max_in_flight requests in flight).
//
// A type that does not inherit LlmBackend plugs in through the LlmBackendLike concept and
// BackendAdapter<T>:
//
//   struct Echo { std::vector<Outcome> complete(std::span<const Request> b) { ... } };
//   auto backend = make_backend(Echo{});     // std::shared_ptr<LlmBackend>
#include <concepts>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/llm/types.hpp>

namespace popalign::llm {

class LlmBackend {
 public:
  virtual ~LlmBackend() = default;

  /// One Outcome per request, in order. See the contract above.
  virtual std::vector<Outcome> complete(std::span<const Request> batch) = 0;

  /// Human-readable name, e.g. "openai(http://127.0.0.1:8080/v1)" or "retry(openai(...))".
  virtual std::string name() const { return "backend"; }

  /// The model used for a Request whose model is empty ("" when unknown). The cache and the
  /// record/replay decorators put it into the request key, so that switching the default
  /// model never serves another model's answers.
  virtual std::string default_model() const { return ""; }
};

/// Calls backend.complete on a batch of one.
Outcome complete_one(LlmBackend& backend, const Request& request);

/// complete_one on a std::async thread. The backend must outlive the future.
inline std::future<Outcome> complete_async(LlmBackend& backend, Request request) {
  return std::async(std::launch::async,
                    [&backend, r = std::move(request)] { return complete_one(backend, r); });
}

/// What a backend type needs, one trait per requirement (the static checks below name the one
/// that fails). A backend type T has
///   std::vector<Outcome> complete(std::span<const Request> batch)   (const or not)
/// and optionally
///   std::string name() const            (shown in logs and reports; default "adapter")
///   std::string default_model() const   (the model of a Request with an empty model; "")
/// where the return types need only convert to the ones shown.
namespace detail {

template <class T>
inline constexpr bool has_complete = requires(T& t, std::span<const Request> batch) {
  t.complete(batch);
};
template <class T>
inline constexpr bool complete_returns_outcomes = requires(T& t, std::span<const Request> batch) {
  { t.complete(batch) } -> std::convertible_to<std::vector<Outcome>>;
};
template <class T>
inline constexpr bool has_name = requires(const T& t) {
  t.name();
};
template <class T>
inline constexpr bool name_returns_string = requires(const T& t) {
  { t.name() } -> std::convertible_to<std::string>;
};
template <class T>
inline constexpr bool has_default_model = requires(const T& t) {
  t.default_model();
};
template <class T>
inline constexpr bool default_model_returns_string = requires(const T& t) {
  { t.default_model() } -> std::convertible_to<std::string>;
};

}  // namespace detail

/// A type usable as a backend without inheriting LlmBackend (see the requirements above).
template <class T>
concept LlmBackendLike = detail::has_complete<T> && detail::complete_returns_outcomes<T> &&
    (!detail::has_name<T> ||
     detail::name_returns_string<T>)&&(!detail::has_default_model<T> ||
                                       detail::default_model_returns_string<T>);

namespace detail {

/// Static checks in the manner of ensmallen's static_checks.hpp: instead of a failed
/// constraint listing candidate functions, one static_assert per requirement that says in a
/// sentence what is missing. make_backend and BackendAdapter call it, so a non-conforming type
/// gets these messages on the documented path. Returns whether T can be adapted.
template <class T>
constexpr bool check_llm_backend() {
  static_assert(has_complete<T>,
                "popalign::llm backend check: the type has no public member function complete() "
                "that accepts a std::span<const popalign::llm::Request>. A backend needs "
                "`std::vector<popalign::llm::Outcome> complete(std::span<const "
                "popalign::llm::Request> batch)` (see docs/llm.md, Plugging in your own backend).");
  static_assert(!has_complete<T> || complete_returns_outcomes<T>,
                "popalign::llm backend check: the type's complete(std::span<const "
                "popalign::llm::Request>) does not return std::vector<popalign::llm::Outcome> "
                "(one Outcome per request, in order).");
  static_assert(!has_name<T> || name_returns_string<T>,
                "popalign::llm backend check: the type's optional member name() const does not "
                "return something convertible to std::string.");
  static_assert(!has_default_model<T> || default_model_returns_string<T>,
                "popalign::llm backend check: the type's optional member default_model() const "
                "does not return something convertible to std::string.");
  static_assert(std::is_move_constructible_v<T>,
                "popalign::llm backend check: the type is not move-constructible; make_backend "
                "and BackendAdapter hold the backend by value (wrap a non-movable backend in a "
                "small movable type that holds a pointer to it).");
  return LlmBackendLike<T> && std::is_move_constructible_v<T>;
}

}  // namespace detail

/// Owns a T by value and forwards to it; checks that it returns one outcome per request.
template <class T>
class BackendAdapter final : public LlmBackend {
  static_assert(detail::check_llm_backend<T>(),
                "BackendAdapter<T>: T is not a backend (see the messages above)");

 public:
  explicit BackendAdapter(T inner) : inner_(std::move(inner)) {}

  std::vector<Outcome> complete(std::span<const Request> batch) override {
    std::vector<Outcome> out = inner_.complete(batch);
    if (out.size() != batch.size())
      throw BackendError("backend adapter: complete() returned " + std::to_string(out.size()) +
                         " outcomes for " + std::to_string(batch.size()) + " requests");
    return out;
  }
  std::string name() const override {
    if constexpr (detail::has_name<T>)
      return inner_.name();
    else
      return "adapter";
  }
  std::string default_model() const override {
    if constexpr (detail::has_default_model<T>)
      return inner_.default_model();
    else
      return "";
  }

  T& inner() noexcept { return inner_; }
  const T& inner() const noexcept { return inner_; }

 private:
  T inner_;
};

/// Wraps a backend value as a shared LlmBackend (a BackendAdapter<T>). Deliberately not
/// constrained by LlmBackendLike: a type that does not conform fails in
/// detail::check_llm_backend with a static_assert naming the missing member, not with a list
/// of unmatched overloads.
template <class T>
std::shared_ptr<LlmBackend> make_backend(T inner) {
  if constexpr (detail::check_llm_backend<T>()) {
    return std::make_shared<BackendAdapter<T>>(std::move(inner));
  } else {
    return nullptr;  // not reached: a static_assert in check_llm_backend has failed
  }
}

/// A backend from a function answering one request (handy for tests and quick adapters).
/// The function is called once per request, sequentially, and must be thread-safe if the
/// backend is used from several threads.
class FunctionBackend final : public LlmBackend {
 public:
  using Function = std::function<Outcome(const Request&)>;
  explicit FunctionBackend(Function fn, std::string name = "function", std::string model = "")
      : fn_(std::move(fn)), name_(std::move(name)), model_(std::move(model)) {
    check_argument(static_cast<bool>(fn_), "fn", "must not be empty");
  }
  std::vector<Outcome> complete(std::span<const Request> batch) override {
    std::vector<Outcome> out;
    out.reserve(batch.size());
    for (const Request& r : batch) out.push_back(fn_(r));
    return out;
  }
  std::string name() const override { return name_; }
  std::string default_model() const override { return model_; }

 private:
  Function fn_;
  std::string name_;
  std::string model_;
};

/// How complete_batch drives a large batch.
struct BatchOptions {
  /// Requests handed to the backend per chunk; progress is reported and cancellation checked
  /// between chunks. 0 = the whole batch at once.
  std::size_t chunk_size = 64;
  /// Chunks processed at the same time on separate threads (for backends without internal
  /// concurrency). OpenAiBackend already runs a chunk concurrently: keep 1 for it.
  int parallel_chunks = 1;
  /// progress ("llm", fraction of requests done) and cancellation. Requests not started when
  /// the run is cancelled get Failure{ErrorKind::cancelled}; no exception is thrown.
  Execution execution;

  /// Throws InvalidArgument naming the field.
  void validate() const;
};

/// Runs a batch in chunks with progress and cancellation. Outcome i belongs to batch[i].
std::vector<Outcome> complete_batch(LlmBackend& backend, std::span<const Request> batch,
                                    const BatchOptions& options = {});

}  // namespace popalign::llm
