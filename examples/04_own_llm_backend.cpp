// 04: plug your own LLM backend into popalign.
//
// A backend is anything with one batch call,
//   std::vector<Outcome> complete(std::span<const Request> batch)
// returning one Outcome (a Response or a Failure) per request, in order; name() and
// default_model() are optional. No inheritance is needed: make_backend(value) wraps it in a
// BackendAdapter (which checks the one-outcome-per-request contract), and a type that does not
// conform gets a static_assert sentence naming what is missing (docs/llm.md). The result is an
// ordinary std::shared_ptr<LlmBackend>, so popalign's decorators stack around it: here a
// RetryBackend (re-sends the failed items of a batch) inside a CachedBackend (SQLite; a rerun
// is served from the file and costs nothing), driven by complete_batch in chunks.
//
// The model below is a stand-in for your inference code (a local library, an in-house HTTP
// client): it answers a Likert item (1 = disagree strongly ... 5 = agree strongly) from the
// words a persona shares with the statement, and it is "busy" on the first attempt of every
// prompt, as an overloaded server is, so that the retry decorator has work to do.
//
// Checked by ctest (examples/run_example.cmake): exit status 0 and the output matches
// ctest-expect: pass 1: 4 answers, 0 from the cache. backend cache.retry.keyword-model..
// ctest-expect: pass 2: 4 answers, 4 from the cache. backend cache.retry.keyword-model..
// ctest-expect: model calls so far 8, retries 4
#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <popalign/llm/backend.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/llm/retry.hpp>

namespace llm = popalign::llm;

namespace {

std::set<std::string> words(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) {
    while (!w.empty() && !std::isalpha(static_cast<unsigned char>(w.back()))) w.pop_back();
    if (w.size() > 3) out.insert(w);
  }
  return out;
}

// The user's backend. It is copied into the adapter, so its mutable state lives behind a
// shared_ptr (the type stays movable; the mutex makes complete() safe from several threads).
class KeywordModel {
 public:
  std::vector<llm::Outcome> complete(std::span<const llm::Request> batch) {
    std::vector<llm::Outcome> out;
    std::lock_guard lock(state_->mutex);
    for (const llm::Request& r : batch) {
      ++state_->calls;
      const std::string& persona = r.messages.front().content;
      const std::string& item = r.messages.back().content;
      if (state_->seen.insert(persona + '\n' + item).second) {  // first attempt: busy
        out.push_back(llm::Failure{llm::ErrorKind::rate_limited, 429, "busy, try again", {}});
        continue;
      }
      std::size_t shared = 0;
      const std::set<std::string> p = words(persona);
      for (const std::string& w : words(item)) shared += p.count(w);
      const int answer = shared >= 2 ? 5 : shared == 1 ? 4 : 2;
      out.push_back(llm::Response{std::to_string(answer), "stop", {}, {1, 1}, "keyword-1", false});
    }
    return out;
  }
  std::string name() const { return "keyword-model"; }
  std::string default_model() const { return "keyword-1"; }
  long calls() const {
    std::lock_guard lock(state_->mutex);
    return state_->calls;
  }

 private:
  struct State {
    std::mutex mutex;
    std::set<std::string> seen;
    long calls = 0;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

int main() {
  const std::vector<std::string> personas = {
      "I am a nurse. I love long walks with my dog and cooking for friends.",
      "I build furniture in my garage. I rarely talk to strangers.",
  };
  const std::vector<std::string> items = {"I love meeting friends and strangers.",
                                          "I enjoy cooking and long walks."};
  std::vector<llm::Request> requests;
  for (const auto& p : personas)
    for (const auto& q : items) {
      llm::Request r;
      r.messages = {{"system", p}, {"user", q}};
      r.seed = 1;
      requests.push_back(r);
    }

  KeywordModel model;  // keep a handle on its counters (the copy in the adapter shares them)
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "popalign_example_04";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::filesystem::path cache_file = dir / "llm_cache.sqlite";

  llm::RetryOptions retry_options;
  retry_options.initial_backoff = std::chrono::duration<double>(0.0);
  retry_options.sleep = [](std::chrono::duration<double>) {};  // no real waiting in an example
  auto retry = std::make_shared<llm::RetryBackend>(llm::make_backend(model), retry_options);
  llm::CacheOptions cache_options;
  cache_options.path = cache_file.string();
  llm::BatchOptions batch_options;
  batch_options.chunk_size = 2;
  int status = 0;
  for (int pass = 1; pass <= 2; ++pass) {
    // A new CachedBackend per pass, as a rerun of the program would open the file again.
    llm::CachedBackend cache(retry, cache_options);
    const std::vector<llm::Outcome> out = llm::complete_batch(cache, requests, batch_options);
    std::size_t from_cache = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      const llm::Response& r = out[i].value();
      from_cache += r.from_cache ? 1 : 0;
      if (pass == 1)
        fmt::print("persona {} / item {}: {}\n", i / items.size() + 1, i % items.size() + 1,
                   r.text);
    }
    fmt::print(
        "pass {}: {} answers, {} from the cache; backend {}; model calls so far {}, "
        "retries {}\n",
        pass, out.size(), from_cache, cache.name(), model.calls(), retry->retries());
    // Pass 1: every prompt failed once and was retried (8 calls); pass 2: all from the file.
    if (model.calls() != 8 || retry->retries() != 4 || from_cache != (pass == 1 ? 0 : 4))
      status = 1;
  }
  std::filesystem::remove_all(dir);
  return status;
}
