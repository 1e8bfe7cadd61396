// Fuzz target: the public LLM response parsers (llm/types.hpp response_from_json and
// failure_from_json: the cache's and the recordings' serialized responses). The chat-completion
// body parser of the OpenAI client is private to src/llm/openai_client.cpp.
#include <popalign/llm/types.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  const auto text = fuzz::as_text(data, size);
  fuzz::expect_popalign_errors([&] {
    const auto r = llm::response_from_json(text);
    (void)llm::response_from_json(llm::response_to_json(r));
  });
  fuzz::expect_popalign_errors([&] {
    const auto f = llm::failure_from_json(text);
    (void)llm::failure_from_json(llm::failure_to_json(f));
  });
  return 0;
}
