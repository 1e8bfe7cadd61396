// Example 2: align a biased persona pool to a human reference population.
//
// The pool here is a biased selection of real BIG5 respondents (too agreeable, open and calm,
// like LLM-written personas); in a real run it would be the trait scores of your personas
// (`popalign score`). align() returns N distinct personas whose Big Five distribution matches
// the reference, and a diagnostics record.
//
// Checked by ctest (examples/run_example.cmake): exit status 0 and the output matches
// ctest-expect: 300 of 1500 pool personas
// ctest-expect: transport: converged
// ctest-expect: first selected pool rows: [0-9]+
#include <fmt/format.h>

#include <popalign/align/align.hpp>
#include <popalign/demo/demo.hpp>

int main() {
  using namespace popalign;
  // Three disjoint thirds of the shipped BIG5 data, scored on the IPIP-50 domains E N A C O.
  const demo::Big5Split split = demo::load_big5_split(POPALIGN_DATA_DIR, /*seed=*/7);
  const std::vector<Index> rows =
      demo::draw_biased_pool(split.source, split.reference, demo::BiasProfile::llm, 1500, 7);
  RowMatrix<double> pool(static_cast<Index>(rows.size()), 5);
  for (std::size_t i = 0; i < rows.size(); ++i)
    pool.row(static_cast<Index>(i)) = split.source.row(rows[i]);

  align::AlignOptions options;
  options.n = 300;   // personas to keep
  options.seed = 7;  // same seed, same selection
  const align::AlignResult result = align::align<double>(pool, split.reference, options);

  fmt::print("{}", result.diagnostics.summary(split.traits));
  fmt::print("first selected pool rows:");
  for (std::size_t i = 0; i < 8 && i < result.indices.size(); ++i)
    fmt::print(" {}", result.indices[i]);
  fmt::print("\n");
  // The selection must be closer to the reference than the pool was.
  return result.diagnostics.after.mean_w1 < result.diagnostics.before.mean_w1 ? 0 : 1;
}
