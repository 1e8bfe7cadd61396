// The group specs and the reference filter: what `popalign group --groups FILE` and the
// pipeline config's [[groups]] read (see persona/groups.hpp). Kept apart from the group
// construction in groups.cpp so that the parsers build without the LLM, embedding and metrics
// layers (the libFuzzer targets fuzz_group_specs and fuzz_config link them alone).
#include <popalign/persona/groups.hpp>

#include <cctype>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <popalign/core/error.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/json.hpp>

namespace popalign::persona {

namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ';') {
      if (auto t = trim(cur); !t.empty()) out.push_back(t);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (auto t = trim(cur); !t.empty()) out.push_back(t);
  return out;
}

}  // namespace

// ---- ReferenceFilter ------------------------------------------------------------------------

ReferenceFilter ReferenceFilter::parse(std::string_view spec) {
  const std::string s = trim(spec);
  ReferenceFilter f;
  if (s.empty() || s == "all") return f;
  auto starts = [&](std::string_view p) { return s.rfind(p, 0) == 0; };
  if (starts("region:")) {
    f.kind = Kind::region;
    f.region = trim(s.substr(7));
  } else if (starts("country:") || starts("countries:")) {
    f.kind = Kind::countries;
    f.countries = split_list(s.substr(s.find(':') + 1));
    check_argument(!f.countries.empty(), "reference", "'" + s + "' lists no country");
  } else if (starts("column:")) {
    f.kind = Kind::column;
    const std::string rest = s.substr(7);
    const std::size_t eq = rest.find('=');
    check_argument(eq != std::string::npos, "reference",
                   "'" + s + "' is not of the form column:NAME=VALUE");
    f.column = trim(rest.substr(0, eq));
    f.value = trim(rest.substr(eq + 1));
  } else {
    f.kind = Kind::region;
    f.region = s;
  }
  f.validate();
  return f;
}

std::string ReferenceFilter::to_string() const {
  switch (kind) {
    case Kind::all:
      return "all";
    case Kind::region:
      return "region:" + region;
    case Kind::countries: {
      std::string s = "country:";
      for (std::size_t i = 0; i < countries.size(); ++i) s += (i ? "," : "") + countries[i];
      return s;
    }
    case Kind::column:
      return "column:" + column + "=" + value;
  }
  return "all";
}

void ReferenceFilter::validate() const {
  switch (kind) {
    case Kind::all:
      break;
    case Kind::region:
      check_argument(!trim(region).empty(), "reference.region", "is empty");
      break;
    case Kind::countries:
      check_argument(!countries.empty(), "reference.countries", "is empty");
      for (const auto& c : countries)
        check_argument(!trim(c).empty(), "reference.countries", "holds an empty country code");
      break;
    case Kind::column:
      check_argument(!trim(column).empty(), "reference.column", "is empty");
      break;
  }
}

// ---- GroupSpec ------------------------------------------------------------------------------

void GroupSpec::validate() const {
  check_argument(!name.empty(), "name", "is empty");
  check_argument(name[0] != '.', "name", "'" + name + "' starts with '.'");
  for (char c : name)
    check_argument(
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.', "name",
        "'" + name + "' may hold only letters, digits, '-', '_' and '.' (it names files)");
  check_argument(!trim(query).empty(), "query", "is empty (group '" + name + "')");
  check_argument(n > 0, "n", "must be > 0 (group '" + name + "')");
  check_argument(depth >= 0, "depth", "must be >= 0 (0 = 3 n) (group '" + name + "')");
  check_argument(depth == 0 || depth >= n, "depth",
                 fmt::format("{} is smaller than n = {} (group '{}')", depth, n, name));
  reference.validate();
}

namespace {

GroupSpec spec_from_json(const io::JsonValue& j, const std::string& source, std::size_t line) {
  auto fail = [&](const std::string& what) { throw ParseError(source, line, what); };
  if (!j.is_object()) fail("a group spec must be a JSON object");
  GroupSpec g;
  bool has_name = false, has_query = false;
  auto integer = [&](const std::string& key, const io::JsonValue& v) -> Index {
    if (!v.is_number() || v.as_number() != std::floor(v.as_number()) || v.as_number() < 0 ||
        v.as_number() > 1e12)
      fail("'" + key + "' must be a non-negative integer");
    return static_cast<Index>(v.as_number());
  };
  for (const auto& [key, v] : j.as_object()) {
    if (key == "name") {
      if (!v.is_string()) fail("'name' must be a string");
      g.name = v.as_string();
      has_name = true;
    } else if (key == "query") {
      if (!v.is_string()) fail("'query' must be a string");
      g.query = v.as_string();
      has_query = true;
    } else if (key == "reference") {
      try {
        if (v.is_string()) {
          g.reference = ReferenceFilter::parse(v.as_string());
        } else if (v.is_object()) {
          ReferenceFilter f;
          for (const auto& [k2, v2] : v.as_object()) {
            if (k2 == "region") {
              if (!v2.is_string()) fail("'reference.region' must be a string");
              f.kind = ReferenceFilter::Kind::region;
              f.region = v2.as_string();
            } else if (k2 == "countries") {
              f.kind = ReferenceFilter::Kind::countries;
              if (v2.is_string()) {
                f.countries = split_list(v2.as_string());
              } else if (v2.is_array()) {
                for (const auto& c : v2.as_array()) {
                  if (!c.is_string()) fail("'reference.countries' must hold strings");
                  f.countries.push_back(c.as_string());
                }
              } else {
                fail("'reference.countries' must be a list of country codes");
              }
            } else if (k2 == "column") {
              if (!v2.is_string()) fail("'reference.column' must be a string");
              f.kind = ReferenceFilter::Kind::column;
              f.column = v2.as_string();
            } else if (k2 == "value") {
              if (!v2.is_string() && !v2.is_number()) fail("'reference.value' must be a string");
              f.value = v2.is_string() ? v2.as_string() : io::JsonValue(v2).dump();
            } else {
              fail("unknown member 'reference." + k2 + "' (region, countries, column, value)");
            }
          }
          f.validate();
          g.reference = f;
        } else {
          fail("'reference' must be a string or an object");
        }
      } catch (const InvalidArgument& e) {
        fail(e.what());
      }
    } else if (key == "n") {
      g.n = integer(key, v);
    } else if (key == "depth") {
      g.depth = integer(key, v);
    } else if (key == "seed") {
      g.seed = static_cast<std::uint64_t>(integer(key, v));
    } else {
      fail("unknown member '" + key + "' (name, query, reference, n, depth, seed)");
    }
  }
  if (!has_name) fail("missing 'name'");
  if (!has_query) fail("missing 'query'");
  try {
    g.validate();
  } catch (const InvalidArgument& e) {
    fail(e.what());
  }
  return g;
}

}  // namespace

std::vector<GroupSpec> parse_group_specs(std::string_view text, const std::string& source) {
  // (object text, line where it starts)
  std::vector<std::pair<std::string_view, std::size_t>> objects;
  std::size_t first = 0;
  while (first < text.size() && std::isspace(static_cast<unsigned char>(text[first]))) ++first;
  if (first < text.size() && text[first] == '[') {
    // A JSON array: find its top-level objects by scanning braces outside strings.
    io::check_json_depth(text, source);
    try {
      (void)io::parse_json(text, source);
    } catch (const ParseError&) {
      throw;
    } catch (const Error& e) {
      throw ParseError(source, 0, e.what());
    }
    std::size_t line = 1, depth = 0, start = 0, start_line = 0;
    bool in_string = false, escape = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '\n') ++line;
      if (in_string) {
        if (escape)
          escape = false;
        else if (c == '\\')
          escape = true;
        else if (c == '"')
          in_string = false;
        continue;
      }
      if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        if (depth == 1) {
          start = i;
          start_line = line;
        }
        ++depth;
      } else if (c == '}' || c == ']') {
        --depth;
        if (depth == 1) objects.emplace_back(text.substr(start, i - start + 1), start_line);
      } else if (depth == 1 && c != ',' && !std::isspace(static_cast<unsigned char>(c))) {
        throw ParseError(source, line, "a group spec must be a JSON object");
      }
    }
  } else {
    std::size_t line = 0, pos = 0;
    while (pos <= text.size()) {
      std::size_t e = text.find('\n', pos);
      if (e == std::string_view::npos) e = text.size();
      ++line;
      const std::string_view l = text.substr(pos, e - pos);
      const std::string t = trim(l);
      if (!t.empty() && t[0] != '#') objects.emplace_back(l, line);
      if (e == text.size()) break;
      pos = e + 1;
    }
  }
  std::vector<GroupSpec> specs;
  std::set<std::string> names;
  for (const auto& [obj, line] : objects) {
    io::JsonValue j;
    try {
      j = io::parse_json(obj, source);
    } catch (const Error& e) {
      throw ParseError(source, line, std::string("not JSON: ") + e.what());
    }
    GroupSpec g = spec_from_json(j, source, line);
    if (!names.insert(g.name).second)
      throw ParseError(source, line, "group name '" + g.name + "' is used twice");
    specs.push_back(std::move(g));
  }
  if (specs.empty()) throw ParseError(source, 0, "holds no group spec");
  return specs;
}

std::vector<GroupSpec> read_group_specs(const std::filesystem::path& path) {
  // io::read_file: a directory or a file larger than kMaxConfigBytes is an IoError naming it.
  return parse_group_specs(io::read_file(path, io::kMaxConfigBytes), path.string());
}

}  // namespace popalign::persona
