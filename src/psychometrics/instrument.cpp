// Instruments (see include/popalign/psychometrics/instrument.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <popalign/io/csv.hpp>
#include <popalign/io/data_dir.hpp>
#include <popalign/io/json.hpp>
#include <popalign/psychometrics/instrument.hpp>

namespace popalign::psychometrics {

using io::JsonValue;

const std::string& Scale::label(int value) const {
  check_argument(value >= min && value <= max, "value",
                 fmt::format("{} is outside the scale {}..{}", value, min, max));
  static const std::string empty;
  if (labels.empty()) return empty;
  return labels[static_cast<std::size_t>(value - min)];
}

void Scale::validate() const {
  check_argument(max > min, "scale",
                 fmt::format("max ({}) must be greater than min ({})", max, min));
  check_argument(labels.empty() || static_cast<int>(labels.size()) == num_options(), "scale",
                 fmt::format("has {} labels for {} options", labels.size(), num_options()));
}

std::optional<std::size_t> Instrument::find_item(std::string_view column) const {
  for (std::size_t k = 0; k < items.size(); ++k) {
    if (items[k].id == column) return k;
  }
  for (std::size_t k = 0; k < items.size(); ++k)
    for (const auto& a : items[k].aliases)
      if (a == column) return k;
  return std::nullopt;
}

std::vector<std::size_t> Instrument::items_of_trait(std::string_view trait) const {
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < items.size(); ++k)
    if (items[k].trait == trait) out.push_back(k);
  check_argument(!out.empty(), "trait",
                 fmt::format("instrument '{}' has no trait '{}'", id, trait));
  return out;
}

std::vector<std::size_t> Instrument::items_of_facet(std::string_view facet) const {
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < items.size(); ++k)
    if (!items[k].facet.empty() && items[k].facet == facet) out.push_back(k);
  check_argument(!out.empty(), "facet",
                 fmt::format("instrument '{}' has no facet '{}'", id, facet));
  return out;
}

void Instrument::validate() const {
  scale.validate();
  check_argument(!items.empty(), "items", fmt::format("instrument '{}' has no items", id));
  std::map<std::string, std::size_t> names;
  for (std::size_t k = 0; k < items.size(); ++k) {
    const Item& it = items[k];
    check_argument(!it.id.empty(), "items", fmt::format("item {} has no id", k + 1));
    check_argument(!it.trait.empty(), "items", fmt::format("item '{}' has no trait", it.id));
    check_argument(it.key == 1 || it.key == -1, "items",
                   fmt::format("item '{}' has key {} (must be +1 or -1)", it.id, it.key));
    auto add = [&](const std::string& col) {
      auto [pos, inserted] = names.emplace(col, k);
      check_argument(inserted || pos->second == k, "items",
                     fmt::format("column name '{}' of item '{}' is also used by item '{}'", col,
                                 it.id, items[pos->second].id));
    };
    add(it.id);
    for (const auto& a : it.aliases) add(a);
  }
  std::map<std::string, std::string> facet_trait;
  for (const Item& it : items) {
    if (it.facet.empty()) continue;
    auto [pos, inserted] = facet_trait.emplace(it.facet, it.trait);
    check_argument(inserted || pos->second == it.trait, "items",
                   fmt::format("facet '{}' belongs to traits '{}' and '{}' (item '{}')", it.facet,
                               pos->second, it.trait, it.id));
  }
}

namespace {

const JsonValue* member(const JsonValue& obj, std::initializer_list<std::string_view> keys) {
  for (auto k : keys)
    if (const JsonValue* v = obj.find(k); v && !v->is_null()) return v;
  return nullptr;
}

std::string text_member(const JsonValue& obj, std::initializer_list<std::string_view> keys) {
  const JsonValue* v = member(obj, keys);
  if (!v) return {};
  if (v->is_string()) return v->as_string();
  if (v->is_number()) return io::format_number(v->as_number());
  return {};
}

constexpr std::string_view kBigFive = "OCEAN";

}  // namespace

Instrument parse_instrument(std::string_view json, const std::string& source,
                            const std::string& default_id) {
  const JsonValue root = io::parse_json(json, source);
  if (!root.is_object()) throw ParseError(source, "an instrument file must hold a JSON object");
  const JsonValue empty_obj = JsonValue::object();
  const JsonValue* meta_p = root.find("meta");
  const JsonValue& meta = meta_p && meta_p->is_object() ? *meta_p : empty_obj;

  Instrument ins;
  ins.id = text_member(root, {"id"});
  if (ins.id.empty()) ins.id = default_id;
  ins.name = text_member(root, {"name"});
  if (ins.name.empty()) ins.name = text_member(meta, {"name"});
  if (ins.name.empty()) ins.name = ins.id;
  ins.license = text_member(root, {"license"});
  if (ins.license.empty()) ins.license = text_member(meta, {"license"});
  ins.reference = text_member(root, {"reference"});
  if (ins.reference.empty()) ins.reference = text_member(meta, {"reference"});

  const JsonValue* scale = member(root, {"scale"});
  if (!scale) scale = member(meta, {"scale"});
  if (!scale || !scale->is_object())
    throw ParseError(source, "missing \"scale\" object (with \"min\" and \"max\")");
  const JsonValue* smin = scale->find("min");
  const JsonValue* smax = scale->find("max");
  if (!smin || !smax || !smin->is_number() || !smax->is_number())
    throw ParseError(source, "\"scale\" needs numeric \"min\" and \"max\"");
  if (std::abs(smin->as_number()) > 1e6 || std::abs(smax->as_number()) > 1e6)
    throw ParseError(source, "\"scale\" min and max must be integers of moderate size");
  ins.scale.min = static_cast<int>(smin->as_number());
  ins.scale.max = static_cast<int>(smax->as_number());
  if (static_cast<double>(ins.scale.min) != smin->as_number() ||
      static_cast<double>(ins.scale.max) != smax->as_number())
    throw ParseError(source, "\"scale\" min and max must be integers");
  if (const JsonValue* labels = member(*scale, {"labels", "labels_ipip"});
      labels && labels->is_array()) {
    for (const auto& l : labels->as_array()) {
      if (!l.is_string()) throw ParseError(source, "scale labels must be strings");
      ins.scale.labels.push_back(l.as_string());
    }
  }

  const JsonValue* items = root.find("items");
  if (!items || !items->is_array() || items->size() == 0)
    throw ParseError(source, "missing or empty \"items\" array");
  std::map<std::string, std::string> trait_names, facet_names;
  std::vector<std::string> trait_order;
  std::size_t k = 0;
  for (const JsonValue& j : items->as_array()) {
    ++k;
    if (!j.is_object()) throw ParseError(source, fmt::format("item {} is not an object", k));
    Item it;
    it.id = text_member(j, {"id"});
    if (it.id.empty()) throw ParseError(source, fmt::format("item {} has no \"id\"", k));
    it.text = text_member(j, {"text"});
    it.trait = text_member(j, {"trait", "domain"});
    if (it.trait.empty())
      throw ParseError(source, fmt::format("item '{}' has no \"trait\" (or \"domain\")", it.id));
    it.facet = text_member(j, {"facet", "facet_code"});
    const JsonValue* key = member(j, {"key", "keyed"});
    if (!key || !key->is_number() || (key->as_number() != 1 && key->as_number() != -1))
      throw ParseError(
          source, fmt::format("item '{}' needs \"key\" (or \"keyed\") equal to 1 or -1", it.id));
    it.key = static_cast<int>(key->as_number());
    if (const JsonValue* cols = j.find("columns"); cols && cols->is_array())
      for (const auto& c : cols->as_array())
        if (c.is_string()) it.aliases.push_back(c.as_string());
    for (auto alt : {"big5_ospp_column", "ffm_column"}) {
      std::string a = text_member(j, {alt});
      if (!a.empty() && a != it.id &&
          std::find(it.aliases.begin(), it.aliases.end(), a) == it.aliases.end())
        it.aliases.push_back(a);
    }
    std::string tname = text_member(j, {"trait_name", "domain_name"});
    if (!trait_names.count(it.trait)) {
      trait_order.push_back(it.trait);
      trait_names[it.trait] = tname.empty() ? it.trait : tname;
    }
    if (!it.facet.empty() && !facet_names.count(it.facet)) {
      std::string fname = text_member(j, {"facet_name"});
      facet_names[it.facet] = fname.empty() ? it.facet : fname;
    }
    ins.items.push_back(std::move(it));
  }

  // Trait order: OCEAN when every code is a Big Five letter, else first appearance.
  const bool big_five = std::all_of(trait_order.begin(), trait_order.end(), [](const auto& t) {
    return t.size() == 1 && kBigFive.find(t[0]) != std::string_view::npos;
  });
  if (big_five)
    std::sort(trait_order.begin(), trait_order.end(), [](const auto& a, const auto& b) {
      return kBigFive.find(a[0]) < kBigFive.find(b[0]);
    });
  for (const auto& t : trait_order) ins.traits.push_back({t, trait_names[t], ""});
  // Facets: by trait order, then by first appearance within the trait... sorted by code
  // so that N1 < N2 < ... regardless of administration order.
  std::map<std::string, std::string> facet_trait;
  for (const auto& it : ins.items)
    if (!it.facet.empty()) facet_trait.emplace(it.facet, it.trait);
  for (const auto& t : trait_order) {
    std::vector<std::string> fs;
    for (const auto& [f, tr] : facet_trait)
      if (tr == t) fs.push_back(f);
    std::sort(fs.begin(), fs.end(), [](const std::string& a, const std::string& b) {
      return a.size() != b.size() ? a.size() < b.size() : a < b;
    });
    for (const auto& f : fs) ins.facets.push_back({f, facet_names[f], t});
  }
  try {
    ins.validate();
  } catch (const InvalidArgument& e) {
    throw ParseError(source, e.what());
  }
  return ins;
}

Instrument load_instrument(const std::filesystem::path& path) {
  const std::string text = io::read_file(path);
  return parse_instrument(text, path.string(), path.stem().string());
}

namespace {
const std::map<std::string, std::string, std::less<>>& short_names() {
  static const std::map<std::string, std::string, std::less<>> m{
      {"ipip50", "ipip50_bfm"},     {"ipip_50", "ipip50_bfm"},
      {"mini_ipip", "mini_ipip20"}, {"mini-ipip", "mini_ipip20"},
      {"neo120", "ipip_neo_120"},   {"ipip-neo-120", "ipip_neo_120"},
      {"neo300", "ipip_neo_300"},   {"ipip-neo-300", "ipip_neo_300"}};
  return m;
}
}  // namespace

std::vector<std::string> available_instruments(const std::filesystem::path& data_dir) {
  std::set<std::string> names;
  std::error_code ec;
  const auto dir = data_dir / "instruments";
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") names.insert(e.path().stem().string());
  for (const auto& [s, full] : short_names())
    if (names.count(full)) names.insert(s);
  return {names.begin(), names.end()};
}

Instrument instrument_by_name(std::string_view name, const std::filesystem::path& data_dir) {
  std::string file(name);
  if (auto it = short_names().find(name); it != short_names().end()) file = it->second;
  const auto path = data_dir / "instruments" / (file + ".json");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    std::string avail;
    for (const auto& n : available_instruments(data_dir)) avail += (avail.empty() ? "" : ", ") + n;
    throw InvalidArgument("instrument",
                          fmt::format("unknown instrument '{}' (available in {}: {})", name,
                                      (data_dir / "instruments").string(), avail));
  }
  return load_instrument(path);
}

Instrument instrument_by_name(std::string_view name) {
  return instrument_by_name(name, io::data_dir());
}

Instrument resolve_instrument(const std::string& spec) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(spec, ec)) return load_instrument(spec);
  if (spec.find('/') != std::string::npos || spec.ends_with(".json"))
    throw IoError(spec, "instrument file not found");
  return instrument_by_name(spec);
}

}  // namespace popalign::psychometrics
