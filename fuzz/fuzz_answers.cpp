// Fuzz target: answer parsing (administer/answer_parsing.hpp). The first byte picks the scale
// (5 or 7 points, with or without labels), reversal and synonyms; the rest is the model's text,
// read both as one Likert answer (which never throws) and as a JSON batch of answers. Every value
// returned must lie on the scale.
#include <cstdlib>

#include <popalign/administer/answer_parsing.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const auto text = fuzz::as_text(data + 1, size - 1);
  psychometrics::Scale scale;
  scale.min = (flags & 1) ? 0 : 1;
  scale.max = scale.min + ((flags & 2) ? 6 : 4);
  if (flags & 4)
    for (int v = scale.min; v <= scale.max; ++v)
      scale.labels.push_back("option " + std::to_string(v));
  administer::ParseOptions o;
  o.reversed = (flags & 8) != 0;
  o.builtin_synonyms = (flags & 16) == 0;
  const auto one = administer::parse_likert_answer(text, scale, o);
  if (one.value && !scale.contains(*one.value)) std::abort();
  const std::vector<std::string> ids = {"E1", "A2", "q", ""};
  fuzz::expect_popalign_errors([&] {
    for (const auto& [id, a] : administer::parse_json_answers(text, ids, scale, o))
      if (a.value && !scale.contains(*a.value)) std::abort();
  });
  return 0;
}
