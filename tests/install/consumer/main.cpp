// A user's program built against popalign: by tests/install/run_consumer_test.cmake against the
// installed package (find_package, compiled layers on), and by run_subdir_test.cmake through
// add_subdirectory with the default options of a subproject (header-only layers only:
// POPALIGN_CONSUMER_HEADER_ONLY). It aligns a shifted pool with align<double> and plugs its
// own backend type in through make_backend; the runner checks the line it prints.
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include <popalign/align/align.hpp>
#include <popalign/core.hpp>
#include <popalign/llm/backend.hpp>

namespace {

// The user's backend: no inheritance, one batch call (answers with the prompt's length).
struct LengthModel {
  std::vector<popalign::llm::Outcome> complete(std::span<const popalign::llm::Request> batch) {
    std::vector<popalign::llm::Outcome> out;
    for (const auto& r : batch)
      out.push_back(popalign::llm::Response{
          std::to_string(r.prompt.size()), "stop", {}, {}, "length-model", false});
    return out;
  }
  std::string name() const { return "length-model"; }
};

}  // namespace

int main() {
  using popalign::Index;
  // Pool: 600 people whose first trait is shifted by +1 sd; reference: 400 unshifted people.
  popalign::Rng rng(42);
  popalign::RowMatrix<double> pool(600, 3), reference(400, 3);
  for (Index i = 0; i < pool.size(); ++i) pool.data()[i] = rng.normal();
  for (Index i = 0; i < reference.size(); ++i) reference.data()[i] = rng.normal();
  pool.col(0).array() += 1.0;

  popalign::align::AlignOptions options;
  options.n = 100;
  options.seed = 7;
  options.execution.threads = 1;
  const popalign::align::AlignResult result =
      popalign::align::align<double>(pool, reference, options);
  const auto& d = result.diagnostics;
  const bool aligned = result.indices.size() == 100 && d.after.mean_w1 < 0.5 * d.before.mean_w1;

  auto backend = popalign::llm::make_backend(LengthModel{});
  std::vector<popalign::llm::Request> requests(2);
  requests[0].prompt = "abc";
  requests[1].prompt = "hello";
#ifdef POPALIGN_CONSUMER_HEADER_ONLY
  const std::vector<popalign::llm::Outcome> answers = backend->complete(requests);
  const bool answered = answers.size() == 2 && answers[0].ok() && answers[1].ok();
#else
  const std::vector<popalign::llm::Outcome> answers =
      popalign::llm::complete_batch(*backend, requests);
  const bool answered =
      answers.size() == 2 && answers[0].value().text == "3" && answers[1].value().text == "5";
#endif
  std::printf("popalign %s: aligned %zu of %d (mean W1 %.3f -> %.3f), backend %s answered %zu\n",
              popalign::version_string, result.indices.size(), static_cast<int>(pool.rows()),
              d.before.mean_w1, d.after.mean_w1, backend->name().c_str(), answers.size());
  if (aligned && answered) std::printf("popalign consumer ok\n");
  return aligned && answered ? 0 : 1;
}
