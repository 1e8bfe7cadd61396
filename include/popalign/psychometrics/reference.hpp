#pragma once
// Human reference data: item responses of real people with their country (and age), loaded from
// the OSPP BIG5 file, the OSPP IPIP-FFM format, or any CSV/TSV; cleaned by documented rules
// (docs/data.md) with a report of what each rule removed; scored with the same instrument as the
// personas, so that persona and human scores are comparable.
//
// Typical use:
//   auto ref = load_big5();                                   // data/big5/data.csv
//   auto ipip = instrument_by_name("ipip50");
//   auto report = clean_reference(ref, ipip);                 // CleaningOptions{} defaults
//   auto scores = score(ipip, ref.responses);                 // -> TraitTable
//   auto east_asia = ref.select_rows(select_group(ref.country, RegionMap::load_default(),
//                                                 GroupFilter{.regions = {"East Asia"}}));
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <popalign/psychometrics/instrument.hpp>
#include <popalign/psychometrics/scoring.hpp>

namespace popalign::psychometrics {

struct ReferenceData {
  Responses responses;               ///< item answers (NaN = missing), ids, source lines
  std::vector<std::string> country;  ///< per row: country code as written in the file; "" unknown
  std::vector<double> age;           ///< per row: NaN when unknown or cleaned away

  Index rows() const noexcept { return responses.rows(); }
  ReferenceData select_rows(const std::vector<Index>& rows) const;
  void validate() const;
};

/// The OSPP BIG5 file (tab-separated as shipped, delimiter sniffed; E1..O10, 0 = missed; race, age,
/// engnat, gender, hand, source, country). Ids are the 1-based data row numbers. Default path:
/// `<data_dir>/big5/data.csv`.
ReferenceData load_big5(const std::filesystem::path& path);
ReferenceData load_big5();

/// The OSPP IPIP-FFM format (data-final.csv: tab-separated; EXT1..EXT10, EST1..EST10,
/// AGR1..AGR10, CSN1..CSN10, OPN1..OPN10 with 0 = missed, "NULL" = missing; `country`, where
/// "NONE" means unknown). Other columns (times, screen size, IPC, ...) are ignored.
ReferenceData load_ipip_ffm(const std::filesystem::path& path);

struct ReferenceCsvOptions {
  io::CsvOptions csv{};
  /// Item columns. Empty: the columns that match an item of `instrument` (required then).
  std::vector<std::string> item_columns{};
  std::string id_column{};       ///< empty: "id" if present, else row numbers
  std::string country_column{};  ///< empty: none (country unknown)
  std::string age_column{};      ///< empty: none
  std::optional<double> missing_code{};
  void validate() const;
};

/// A generic CSV/TSV of item responses. With empty `item_columns`, `instrument` must be given.
ReferenceData load_reference_csv(const std::filesystem::path& path,
                                 const ReferenceCsvOptions& options,
                                 const Instrument* instrument = nullptr);

enum class AgeRule {
  set_missing,  ///< implausible age -> NaN, the row is kept (default: the answers are usable)
  drop_row,     ///< implausible age -> the row is dropped
};

/// Cleaning rules, applied in this order (docs/data.md explains each choice).
struct CleaningOptions {
  double min_age = 13;  ///< OSPP did not record people under 13, so smaller is an entry error
  double max_age = 100;
  AgeRule age_rule = AgeRule::set_missing;
  /// Rows with an answer outside the instrument's scale are dropped (else score() would throw).
  bool drop_out_of_range = true;
  /// Rows that answered less than this share of the instrument's items are dropped. The default
  /// 1.0 keeps complete rows only (BIG5 loses 1 row).
  double min_answered = 1.0;
  /// Drop a row whose answers to the instrument items equal an earlier row's (a repeated
  /// submission). Off by default: BIG5 has 22 such rows with differing demographics, and
  /// identical answer vectors are possible for different people (e.g. all "3").
  bool drop_duplicate_answers = false;
  void validate() const;
};

struct CleaningReport {
  std::size_t rows_in = 0;
  std::size_t ages_set_missing = 0;
  std::size_t dropped_age = 0;
  std::size_t dropped_out_of_range = 0;
  std::size_t dropped_incomplete = 0;
  std::size_t dropped_duplicate = 0;
  std::size_t rows_out = 0;
  std::string summary() const;  ///< one line per rule
};

/// Applies the rules to `data` in place (rows removed keep their relative order).
CleaningReport clean_reference(ReferenceData& data, const Instrument& instrument,
                               const CleaningOptions& options = {});

}  // namespace popalign::psychometrics

/// fmt::print("{}", report) prints CleaningReport::summary().
template <>
struct fmt::formatter<popalign::psychometrics::CleaningReport> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const popalign::psychometrics::CleaningReport& r, FormatContext& ctx) const {
    const std::string s = r.summary();
    return fmt::formatter<std::string_view>::format(std::string_view(s), ctx);
  }
};
