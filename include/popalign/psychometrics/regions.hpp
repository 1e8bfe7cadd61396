#pragma once
// Country -> region map and group filters ("East Asia", or a list of countries).
//
// The map is a CSV with columns iso2 and analysis_region (data/regions/iso2_regions.csv:
// UN M49 sub-regions grouped into 11 analysis regions, with OSPP pseudo-codes A1, A2, AP, EU,
// "(nu" and "" mapped to Unknown). Codes are compared case-insensitively; a code that is not in
// the map belongs to "Unknown".
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/types.hpp>

namespace popalign::psychometrics {

class RegionMap {
 public:
  /// Reads a map file. `region_column` names the region column to use (analysis_region, or
  /// m49_region / m49_subregion in the shipped file).
  static RegionMap load(const std::filesystem::path& path,
                        const std::string& region_column = "analysis_region");
  /// `<data_dir>/regions/iso2_regions.csv`.
  static RegionMap load_default();

  /// Region of a country code, or "Unknown".
  const std::string& region_of(std::string_view iso2) const;
  /// All region names, sorted (includes "Unknown").
  std::vector<std::string> regions() const;
  bool has_region(std::string_view region) const;
  /// Country codes of a region, sorted. InvalidArgument("region") for an unknown region.
  std::vector<std::string> countries_in(std::string_view region) const;
  std::size_t size() const noexcept { return region_by_code_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> region_by_code_;  // upper-case code -> region
  std::string unknown_ = "Unknown";
};

/// Rows belonging to a group: a row matches when its country is in `countries` or its region is
/// in `regions` (an empty filter matches every row). Region names are checked against the map
/// (InvalidArgument("regions") listing the valid names); country codes are case-insensitive.
struct GroupFilter {
  std::vector<std::string> regions{};
  std::vector<std::string> countries{};
  bool empty() const noexcept { return regions.empty() && countries.empty(); }
  /// Parses "East Asia", "region:East Asia;Europe" or "country:US,CA" (lists split on ',' / ';').
  static GroupFilter parse(std::string_view spec);
};

/// Indices of the rows of `countries` that match `filter`, in order.
std::vector<Index> select_group(const std::vector<std::string>& countries, const RegionMap& map,
                                const GroupFilter& filter);

/// Number of rows per region (every region of the map appears, possibly with 0).
std::map<std::string, std::size_t> count_by_region(const std::vector<std::string>& countries,
                                                   const RegionMap& map);

/// Region label per row.
std::vector<std::string> region_labels(const std::vector<std::string>& countries,
                                       const RegionMap& map);

}  // namespace popalign::psychometrics
