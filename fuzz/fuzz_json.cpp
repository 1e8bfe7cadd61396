// Fuzz target: the JSON parser (io/json.hpp parse_json). Besides not crashing, a text that
// parses must round-trip: dump() of the value parses again to an equal value with the same dump.
#include <cstdlib>

#include <popalign/io/json.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  fuzz::expect_popalign_errors([&] {
    const io::JsonValue v = io::parse_json(fuzz::as_text(data, size), "fuzz.json", 1);
    const std::string once = v.dump();
    const io::JsonValue again = io::parse_json(once, "dump", 1);
    if (!(again == v) || again.dump() != once) std::abort();  // a round-trip finding
  });
  return 0;
}
