// Fuzz target: the endpoints file of a fleet (llm/fleet.hpp parse_endpoints: JSON, an array or
// {"endpoints": [...]}, or CSV with a header). The first byte picks the file name the format is
// chosen by: 0 = "endpoints.json", 1 = "endpoints.csv", else "endpoints" (sniffed from the
// first non-blank character). Every endpoint returned must validate.
#include <popalign/llm/fleet.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  if (size == 0) return 0;
  const char* names[] = {"endpoints.json", "endpoints.csv", "endpoints"};
  const char* source = names[data[0] % 3];
  const auto text = fuzz::as_text(data + 1, size - 1);
  fuzz::expect_popalign_errors([&] {
    for (const llm::FleetEndpoint& e : llm::parse_endpoints(text, source)) e.validate();
  });
  return 0;
}
