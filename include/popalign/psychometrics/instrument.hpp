#pragma once
// Questionnaires (instruments): items with their trait, facet and key, and the response scale.
//
// Instruments are JSON files. load_instrument() reads two layouts:
// - the files shipped in data/instruments (ipip50_bfm, mini_ipip20, ipip_neo_120, ipip_neo_300):
//   {"meta": {"name", "scale": {"min", "max", "labels" | "labels_ipip"}, "license", ...},
//    "items": [{"id", "text", "trait" | "domain", "trait_name" | "domain_name",
//               "facet_code", "facet_name", "keyed": 1 | -1,
//               "big5_ospp_column", "ffm_column", ...}]}
// - popalign's own layout, for user instruments:
//   {"id", "name", "scale": {"min", "max", "labels": [...]},
//    "items": [{"id", "text", "trait", "facet", "key": 1 | -1, "columns": ["alt", ...]}]}
// The two can be mixed (top-level fields win over "meta"). Alternative column names of an item
// (`aliases`) are gathered from "columns", "big5_ospp_column" and "ffm_column"; responses tables
// are matched on the item id or any alias (so BIG5 "E1" and IPIP-FFM "EXT1" data both score
// with ipip50).
//
// Trait order: when every trait code is a Big Five letter the order is O, C, E, A, N
// (OCEAN); otherwise the order of first appearance. Facets follow their trait's order, then
// their code. Items keep file order (the administration order).
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/error.hpp>

namespace popalign::psychometrics {

struct Item {
  std::string id;
  std::string text;
  std::string trait;  ///< trait (domain) code, e.g. "E"
  std::string facet;  ///< facet code, e.g. "E1"; empty when the instrument has no facets
  int key = 1;        ///< +1 keyed toward the trait, -1 reverse keyed
  std::vector<std::string> aliases;  ///< alternative column names in response files
};

/// The response scale: integer options min..max, with optional labels (labels[v - min]).
struct Scale {
  int min = 1;
  int max = 5;
  std::vector<std::string> labels;

  int num_options() const noexcept { return max - min + 1; }
  /// Label of option `value`, or "" when there are no labels. InvalidArgument if out of range.
  const std::string& label(int value) const;
  /// True when min <= x <= max (x may be fractional, e.g. an expected score from logprobs).
  bool contains(double x) const noexcept { return x >= min && x <= max; }
  /// min + max - x.
  double reverse(double x) const noexcept { return static_cast<double>(min + max) - x; }
  void validate() const;
};

/// A trait or facet: code ("E", "N1") and readable name ("Extraversion", "Anxiety").
struct Dimension {
  std::string code;
  std::string name;
  std::string trait;  ///< for facets: the trait code they belong to; for traits: empty
};

struct Instrument {
  std::string id;    ///< short id ("ipip50_bfm"); from the file's "id" or its stem
  std::string name;  ///< readable name
  std::string license;
  std::string reference;
  Scale scale;
  std::vector<Item> items;
  std::vector<Dimension> traits;
  std::vector<Dimension> facets;

  std::size_t num_items() const noexcept { return items.size(); }
  bool has_facets() const noexcept { return !facets.empty(); }
  /// Index of the item whose id or one of whose aliases equals `column`.
  std::optional<std::size_t> find_item(std::string_view column) const;
  /// Item indices of a trait / facet, in item order. InvalidArgument for an unknown code.
  std::vector<std::size_t> items_of_trait(std::string_view trait) const;
  std::vector<std::size_t> items_of_facet(std::string_view facet) const;
  /// Checks ids are unique (also across aliases), keys are ±1, every item has a trait, the
  /// scale is valid, every facet belongs to one trait. Throws InvalidArgument naming the item.
  void validate() const;
};

/// Loads an instrument file (see the file comment). IoError / ParseError naming the file.
Instrument load_instrument(const std::filesystem::path& path);
/// Parses instrument JSON text. `default_id` is used when the text has no "id".
Instrument parse_instrument(std::string_view json, const std::string& source,
                            const std::string& default_id);

/// Names accepted by find_instrument: the stems of data/instruments/*.json plus the short
/// names "ipip50" (= ipip50_bfm), "mini_ipip" (= mini_ipip20), "neo120", "neo300".
std::vector<std::string> available_instruments(const std::filesystem::path& data_dir);

/// Loads a shipped instrument by name from `<data_dir>/instruments`. InvalidArgument("name")
/// listing the available names for an unknown one.
Instrument instrument_by_name(std::string_view name, const std::filesystem::path& data_dir);
/// Same, with io::data_dir().
Instrument instrument_by_name(std::string_view name);

/// `spec` is a path to an existing file, or else a name for instrument_by_name.
Instrument resolve_instrument(const std::string& spec);

}  // namespace popalign::psychometrics
