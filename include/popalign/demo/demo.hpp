#pragma once
// The offline demonstration and validity experiment on real people (compiled: popalign::demo).
// It is an application of the alignment API (popalign::align, header-only), kept apart from it:
// it needs the BIG5 data, psychometrics (cleaning, scoring) and io.
//
// Data: the OSPP BIG5 respondents shipped in data/big5 (cleaned by psychometrics::clean_reference,
// scored on the IPIP-50 domains E, N, A, C, O). A seeded permutation splits them in three
// disjoint parts:
//   * source    - half of the people; the biased "persona pool" is drawn from it,
//   * reference - a quarter: the human population the pool is aligned to,
//   * test      - a quarter, held out; every reported error is measured against it.
//
// The biased pool mimics the known bias of LLM-written persona sets. A person with traits z
// (standardised by the reference) enters the pool with a weight
//
//   w(z) = exp( sum_k beta_k z_k  -  1/2 sum_k (1/s_k^2 - 1) z_k^2 ),   beta_k = mu_k / s_k^2,
//
// which turns a N(0, 1) trait into N(mu_k, s_k^2): mu shifts the mean (in sd units of the
// population) and s < 1 compresses the variance. pool_size people are drawn from the source
// without replacement with probability proportional to w (successive sampling), so the pool is
// a real set of distinct people with a tilted, squeezed distribution. Profiles:
//
//   profile   what it mimics                               mu (E N A C O)          s
//   llm       LLM personas: agreeable, open, calm,         +.2 -.6 +.6 +.3 +.5     .7 all
//             conscientious, variance compressed
//   squeezed  "everyone is average": variance compressed   0                       .5 all
//   shifted   one trait shifted (agreeableness)            A +.8                   1
//   mixed     mixed shifts and compressions                -.4 +.4 0 +.5 -.3       .8 (N, C), 1
//
// The alignment selects N people from the pool against the reference; the per-trait W1 of the
// selection to the test part, relative to the pool's, is the error reduction.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/align/align.hpp>
#include <popalign/core/types.hpp>

namespace popalign::demo {

enum class BiasProfile { llm, squeezed, shifted, mixed };

std::string_view to_string(BiasProfile p) noexcept;
/// "llm", "squeezed", "shifted", "mixed".
std::optional<BiasProfile> parse_bias_profile(std::string_view s) noexcept;
/// All profiles, in the order above.
std::vector<BiasProfile> all_bias_profiles();

/// Target mean shift mu_k and sd s_k of each domain (E, N, A, C, O) for a profile.
struct BiasSpec {
  Vector<double> mean;  ///< mu, in population sd units
  Vector<double> sd;    ///< s in (0, 1]
};
BiasSpec bias_spec(BiasProfile p);

/// log w(z) of every row of z (standardised traits in the order E, N, A, C, O).
Vector<double> bias_log_weights(const RowMatrix<double>& z, const BiasSpec& spec);

/// The BIG5 people scored on one or two instruments, split in three parts.
struct Big5Split {
  std::vector<std::string> traits;            ///< E, N, A, C, O
  RowMatrix<double> source, reference, test;  ///< IPIP-50 domain scores (1..5)
  /// Optional extra columns per part (same rows): e.g. Mini-IPIP scores, or item answers.
  RowMatrix<double> source_extra, reference_extra, test_extra;
  std::vector<std::string> extra_columns;
};

/// What to attach as extra columns.
enum class Big5Extra {
  none,
  mini_ipip_and_items,  ///< Mini-IPIP domain scores, then the 30 IPIP-50 items not in it
  items,                ///< the keyed answers of all 50 IPIP-50 items (item-space alignment)
};

/// Loads data/big5 (data_dir: the folder holding big5/ and instruments/), cleans, scores and
/// splits it with `seed`. With mini_ipip_and_items, the extra columns are the Mini-IPIP domain
/// scores (mini_E, ..., mini_O) followed by the keyed answers of the 30 IPIP-50 items that are
/// not in the Mini-IPIP. Throws IoError naming a missing file.
Big5Split load_big5_split(const std::filesystem::path& data_dir, std::uint64_t seed,
                          Big5Extra extra = Big5Extra::none);

/// Draws a biased pool of pool_size distinct source rows (ascending). `standardise_by` gives
/// the population mean/sd (the reference part).
std::vector<Index> draw_biased_pool(const RowMatrix<double>& source,
                                    const RowMatrix<double>& standardise_by, BiasProfile profile,
                                    Index pool_size, std::uint64_t seed);

struct DemoOptions {
  std::filesystem::path data_dir;  ///< empty: io::data_dir()
  std::uint64_t seed = 1;
  BiasProfile profile = BiasProfile::llm;
  Index pool_size = 4000;
  Index n = 400;  ///< personas to select
  /// Quick mode for tests: every part is subsampled to at most this many people (0 = all).
  Index max_part_size = 0;
  std::vector<align::Method> methods{align::Method::random, align::Method::importance,
                                     align::Method::ot, align::Method::resample};
  align::AlignOptions align{};  ///< n, method and seed are set per run
  void validate() const;
};

struct DemoMethodResult {
  align::Method method = align::Method::resample;
  align::AlignResult result;
  align::Comparison vs_test;  ///< selection vs the held-out test part
};

struct DemoResult {
  std::vector<std::string> traits;
  BiasProfile profile = BiasProfile::llm;
  std::uint64_t seed = 0;
  RowMatrix<double> pool, reference, test;
  align::Comparison pool_vs_test;
  std::vector<DemoMethodResult> methods;

  /// Reduction of the mean per-trait W1 (vs test) relative to the pool: 1 - W1_sel / W1_pool.
  double reduction(align::Method m) const;
  const DemoMethodResult* find(align::Method m) const;
  /// Plain-text table: per-trait W1 and mean gaps vs the test part for the pool and each method.
  std::string table() const;
};

/// Runs the demo: split, biased pool, each method, measured against the test part.
DemoResult run_demo(const DemoOptions& options);

}  // namespace popalign::demo
