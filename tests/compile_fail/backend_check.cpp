// Compile-fail tests of the backend static checks (include/popalign/llm/backend.hpp).
//
// Each POPALIGN_CF_* case passes a type that does not conform to the backend requirements to
// the documented entry point (make_backend, or BackendAdapter<T> directly) and must fail to
// compile with the static_assert sentence that names the missing piece; check_compile.cmake
// builds one case per test and checks the compiler's output. With no case defined the file
// is the negative control: conforming types (minimal, and with every optional member) compile.
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <popalign/llm/backend.hpp>

namespace {

using popalign::llm::Outcome;
using popalign::llm::Request;

struct Minimal {  // the smallest conforming backend
  std::vector<Outcome> complete(std::span<const Request> batch) {
    return std::vector<Outcome>(batch.size(), Outcome{popalign::llm::Failure{}});
  }
};
struct Full {  // const complete() and both optional members, returning convertible types
  std::vector<Outcome> complete(std::span<const Request> batch) const {
    return std::vector<Outcome>(batch.size(), Outcome{popalign::llm::Failure{}});
  }
  const char* name() const { return "full"; }
  std::string default_model() const { return "m"; }
};

struct NoComplete {  // answers one prompt at a time: not a batch backend
  std::string answer(const std::string& prompt) { return prompt; }
};
struct WrongArgument {  // a vector instead of a span
  std::vector<Outcome> complete(const std::vector<std::string>& prompts);
};
struct WrongReturn {  // texts instead of outcomes
  std::vector<std::string> complete(std::span<const Request> batch);
};
struct PrivateComplete {
 private:
  std::vector<Outcome> complete(std::span<const Request> batch);
};
struct BadName {
  std::vector<Outcome> complete(std::span<const Request> batch);
  int name() const { return 1; }
};
struct BadDefaultModel {
  std::vector<Outcome> complete(std::span<const Request> batch);
  double default_model() const { return 0.5; }
};
struct NotMovable {
  std::vector<Outcome> complete(std::span<const Request> batch);
  std::mutex mutex;
};

}  // namespace

int main() {
#if defined(POPALIGN_CF_NO_COMPLETE)
  auto b = popalign::llm::make_backend(NoComplete{});
#elif defined(POPALIGN_CF_WRONG_ARGUMENT)
  auto b = popalign::llm::make_backend(WrongArgument{});
#elif defined(POPALIGN_CF_WRONG_RETURN)
  auto b = popalign::llm::make_backend(WrongReturn{});
#elif defined(POPALIGN_CF_PRIVATE_COMPLETE)
  auto b = popalign::llm::make_backend(PrivateComplete{});
#elif defined(POPALIGN_CF_BAD_NAME)
  auto b = popalign::llm::make_backend(BadName{});
#elif defined(POPALIGN_CF_BAD_DEFAULT_MODEL)
  auto b = popalign::llm::make_backend(BadDefaultModel{});
#elif defined(POPALIGN_CF_NOT_MOVABLE)
  auto b = popalign::llm::make_backend(NotMovable{});
#elif defined(POPALIGN_CF_ADAPTER_NO_COMPLETE)
  popalign::llm::BackendAdapter<NoComplete> b(NoComplete{});
#else
  static_assert(popalign::llm::LlmBackendLike<Minimal>);
  static_assert(popalign::llm::LlmBackendLike<Full>);
  static_assert(!popalign::llm::LlmBackendLike<NoComplete>);
  static_assert(!popalign::llm::LlmBackendLike<WrongReturn>);
  static_assert(!popalign::llm::LlmBackendLike<BadName>);
  auto b = popalign::llm::make_backend(Minimal{});
  auto f = popalign::llm::make_backend(Full{});
  popalign::llm::BackendAdapter<Full> a(Full{});
  return (b && f && a.name() == "full" && f->default_model() == "m") ? 0 : 1;
#endif
  return 0;
}
