// Fuzz target: the JSON Lines reader (io/jsonl.hpp parse_jsonl), in both malformed-line modes,
// with and without require_object. In skip mode parse_jsonl must not throw at all.
#include <cstdlib>

#include <popalign/io/jsonl.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  const auto text = fuzz::as_text(data, size);
  for (const bool require_object : {true, false}) {
    io::JsonlReadOptions o;
    o.require_object = require_object;
    o.on_malformed = io::OnMalformed::fail;
    fuzz::expect_popalign_errors([&] { (void)io::parse_jsonl(text, o, "fuzz.jsonl"); });
    o.on_malformed = io::OnMalformed::skip;
    const auto r = io::parse_jsonl(text, o, "fuzz.jsonl");
    for (const auto& rec : r.records)
      if (require_object && !rec.value.is_object()) std::abort();
  }
  return 0;
}
