// Fuzz target: the pipeline config (pipeline/config.hpp parse_config, TOML through toml++, every
// key type- and range-checked) and the group specs (persona/groups.hpp parse_group_specs, a JSON
// array or JSON Lines: `popalign group --groups` and the config's groups share ReferenceFilter).
// The first byte picks the parser: even = the config, odd = the group specs. The config is TOML
// only (`popalign run` reads no JSON config; the run manifest is fuzz_manifest).
#include <popalign/persona/groups.hpp>
#include <popalign/pipeline/config.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  if (size == 0) return 0;
  const auto text = fuzz::as_text(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    fuzz::expect_popalign_errors([&] {
      const pipeline::PipelineConfig c = pipeline::parse_config(text, "fuzz/pipeline.toml");
      c.validate();  // what parse_config returns is valid
      (void)c.where("align.n");
    });
  } else {
    fuzz::expect_popalign_errors([&] {
      for (const persona::GroupSpec& g : persona::parse_group_specs(text, "groups.json")) {
        g.validate();
        // The filter's text form reads back to the same filter.
        (void)persona::ReferenceFilter::parse(g.reference.to_string());
      }
    });
  }
  return 0;
}
