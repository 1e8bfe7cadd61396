// Country -> region map and group filters (see include/popalign/psychometrics/regions.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <popalign/io/csv.hpp>
#include <popalign/io/data_dir.hpp>
#include <popalign/psychometrics/regions.hpp>

namespace popalign::psychometrics {

namespace {
std::string normalize_code(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  std::string out(s.substr(b, e - b));
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    std::size_t b = 0, e = cur.size();
    while (b < e && std::isspace(static_cast<unsigned char>(cur[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(cur[e - 1]))) --e;
    if (e > b) out.push_back(cur.substr(b, e - b));
    cur.clear();
  };
  for (char c : s) {
    if (c == ',' || c == ';')
      flush();
    else
      cur += c;
  }
  flush();
  return out;
}
}  // namespace

RegionMap RegionMap::load(const std::filesystem::path& path, const std::string& region_column) {
  const io::Table t = io::read_table(path);
  const std::size_t code_col = t.require_column("iso2");
  const std::size_t region_col = t.require_column(region_column);
  RegionMap m;
  for (std::size_t i = 0; i < t.num_rows(); ++i) {
    const std::string code = normalize_code(t.rows[i][code_col]);
    std::string region = t.rows[i][region_col];
    if (region.empty()) region = m.unknown_;
    auto [pos, inserted] = m.region_by_code_.emplace(code, region);
    if (!inserted && pos->second != region)
      throw io::CsvError(
          t.source, t.lines[i], 0, "iso2",
          fmt::format("code '{}' is mapped twice ('{}' and '{}')", code, pos->second, region));
  }
  return m;
}

RegionMap RegionMap::load_default() {
  return load(io::data_dir() / "regions" / "iso2_regions.csv");
}

const std::string& RegionMap::region_of(std::string_view iso2) const {
  auto it = region_by_code_.find(normalize_code(iso2));
  return it == region_by_code_.end() ? unknown_ : it->second;
}

std::vector<std::string> RegionMap::regions() const {
  std::set<std::string> s{unknown_};
  for (const auto& [c, r] : region_by_code_) s.insert(r);
  return {s.begin(), s.end()};
}

bool RegionMap::has_region(std::string_view region) const {
  if (region == unknown_) return true;
  for (const auto& [c, r] : region_by_code_)
    if (r == region) return true;
  return false;
}

std::vector<std::string> RegionMap::countries_in(std::string_view region) const {
  if (!has_region(region)) {
    std::string names;
    for (const auto& r : regions()) names += (names.empty() ? "" : ", ") + r;
    throw InvalidArgument("region",
                          fmt::format("unknown region '{}' (regions: {})", region, names));
  }
  std::vector<std::string> out;
  for (const auto& [c, r] : region_by_code_)
    if (r == region) out.push_back(c);
  return out;
}

GroupFilter GroupFilter::parse(std::string_view spec) {
  GroupFilter f;
  auto starts = [&](std::string_view p) {
    return spec.size() >= p.size() && spec.substr(0, p.size()) == p;
  };
  if (starts("region:") || starts("regions:")) {
    f.regions = split_list(spec.substr(spec.find(':') + 1));
  } else if (starts("country:") || starts("countries:")) {
    f.countries = split_list(spec.substr(spec.find(':') + 1));
  } else {
    f.regions = split_list(spec);
  }
  check_argument(!f.empty(), "group", fmt::format("empty group specification '{}'", spec));
  return f;
}

std::vector<Index> select_group(const std::vector<std::string>& countries, const RegionMap& map,
                                const GroupFilter& filter) {
  for (const auto& r : filter.regions)
    if (!map.has_region(r)) {
      std::string names;
      for (const auto& x : map.regions()) names += (names.empty() ? "" : ", ") + x;
      throw InvalidArgument("regions", fmt::format("unknown region '{}' (regions: {})", r, names));
    }
  std::set<std::string, std::less<>> codes;
  for (const auto& c : filter.countries) codes.insert(normalize_code(c));
  std::set<std::string, std::less<>> regions(filter.regions.begin(), filter.regions.end());
  std::vector<Index> out;
  for (std::size_t i = 0; i < countries.size(); ++i) {
    if (filter.empty() || codes.count(normalize_code(countries[i])) ||
        regions.count(map.region_of(countries[i])))
      out.push_back(static_cast<Index>(i));
  }
  return out;
}

std::map<std::string, std::size_t> count_by_region(const std::vector<std::string>& countries,
                                                   const RegionMap& map) {
  std::map<std::string, std::size_t> out;
  for (const auto& r : map.regions()) out[r] = 0;
  for (const auto& c : countries) ++out[map.region_of(c)];
  return out;
}

std::vector<std::string> region_labels(const std::vector<std::string>& countries,
                                       const RegionMap& map) {
  std::vector<std::string> out;
  out.reserve(countries.size());
  for (const auto& c : countries) out.push_back(map.region_of(c));
  return out;
}

}  // namespace popalign::psychometrics
