// Fuzz target: instrument files (psychometrics/instrument.hpp parse_instrument).
#include <popalign/psychometrics/instrument.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  fuzz::expect_popalign_errors([&] {
    (void)psychometrics::parse_instrument(fuzz::as_text(data, size), "fuzz.json", "fuzz");
  });
  return 0;
}
