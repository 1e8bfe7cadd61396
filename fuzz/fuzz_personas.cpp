// Fuzz target: persona records (io/persona_record.hpp parse_personas), failing and skipping bad
// lines, and writing each record that was read back out as a line (persona_line).
#include <popalign/io/persona_record.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  const auto text = fuzz::as_text(data, size);
  for (const auto mode : {io::OnBadLine::fail, io::OnBadLine::skip}) {
    fuzz::expect_popalign_errors([&] {
      io::PersonaReadOptions o;
      o.on_bad_line = mode;
      const auto file = io::parse_personas(text, o, "fuzz.jsonl");
      for (const auto& p : file.personas) (void)io::persona_line(p, true);
    });
  }
  return 0;
}
