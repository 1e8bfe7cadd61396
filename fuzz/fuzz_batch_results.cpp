// Fuzz target: the Batch API output and error files (llm/batch_api.hpp parse_batch_results: one
// JSON object per line, mapped to an answer body or a Failure by custom_id). The provider's file
// is untrusted input, so the function must not throw at all (not even a popalign::Error), and
// every line it returns must carry its custom_id and either a body or a failure message.
#include <cstdlib>

#include <popalign/llm/batch_api.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  const auto text = fuzz::as_text(data, size);
  std::size_t skipped = 0;
  const auto lines = llm::parse_batch_results(text, &skipped);
  for (const llm::BatchResultLine& l : lines) {
    if (l.line == 0) std::abort();
    if (!l.ok && l.failure.message.empty()) std::abort();
  }
  return 0;
}
