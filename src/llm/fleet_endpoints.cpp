// The endpoints file of a fleet (see llm/fleet.hpp: read_endpoints_file, parse_endpoints) and
// FleetEndpoint::validate. Apart from fleet.cpp (the FleetBackend, which needs the HTTP client)
// so that the libFuzzer target fuzz_endpoints builds the parser alone. Bounded like every input
// (docs/cli.md): the file at most io::kMaxConfigBytes, JSON nesting at most io::kMaxJsonDepth,
// duplicates found in linear time.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <popalign/io/csv.hpp>
#include <popalign/io/json.hpp>
#include <popalign/io/limits.hpp>
#include <popalign/llm/fleet.hpp>

namespace popalign::llm {

void FleetEndpoint::validate() const {
  check_argument(url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0, "url",
                 "must start with http:// or https:// (got '" + url + "')");
  check_argument(max_in_flight >= 1 && max_in_flight <= 4096, "max_in_flight",
                 "must be in [1, 4096] (got " + std::to_string(max_in_flight) + ")");
  check_argument(std::isfinite(weight) && weight > 0, "weight",
                 "must be a finite number > 0 (got " + fmt::format("{}", weight) + ")");
}

// ---- Endpoints file ----------------------------------------------------------------------

namespace {

std::size_t line_of(std::string_view text, std::size_t byte) {
  byte = std::min(byte, text.size());
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + byte, '\n'));
}

/// Line numbers of the elements of the JSON array that sits at nesting depth `depth` (1 = the
/// top-level array, 2 = an array inside the top-level object), in order.
std::vector<std::size_t> element_lines(std::string_view text, int depth) {
  std::vector<std::size_t> out;
  int d = 0;
  std::size_t line = 1;
  bool in_string = false, escape = false, in_element = false;
  for (char c : text) {
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
    if (d == depth && !in_element && c != ',' && c != ']' && c != ' ' && c != '\t' && c != '\n' &&
        c != '\r') {
      out.push_back(line);
      in_element = true;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++d;
    } else if (c == ']' || c == '}') {
      --d;
    } else if (c == ',' && d == depth) {
      in_element = false;
    }
  }
  return out;
}

[[noreturn]] void bad(std::string_view source, std::size_t line, const std::string& msg) {
  throw ParseError(std::string(source), line, msg);
}

void check_endpoint(const FleetEndpoint& e, std::string_view source, std::size_t line,
                    std::size_t index) {
  try {
    e.validate();
  } catch (const InvalidArgument& ex) {
    const std::string prefix = "invalid argument '" + ex.argument() + "': ";
    std::string msg = ex.what();
    if (msg.rfind(prefix, 0) == 0) msg.erase(0, prefix.size());
    bad(source, line, "endpoint " + std::to_string(index + 1) + ": " + ex.argument() + " " + msg);
  }
}

std::vector<FleetEndpoint> parse_json_endpoints(std::string_view text, std::string_view source,
                                                const FleetEndpoint& defaults) {
  using nlohmann::json;
  // Nesting is bounded before parsing (dump() of a value in a message recurses per level).
  if (const std::size_t at = io::json_depth_exceeded_at(text); at != 0)
    bad(source, line_of(text, at - 1),
        "not valid JSON: nesting deeper than " + std::to_string(io::kMaxJsonDepth));
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    bad(source, line_of(text, e.byte == 0 ? 0 : e.byte - 1),
        std::string("not valid JSON: ") + e.what());
  } catch (const json::exception& e) {
    // E.g. out_of_range 406: a number literal that overflows a double (found by fuzz_endpoints).
    bad(source, 0, std::string("not valid JSON: ") + e.what());
  }
  const json* list = &j;
  int depth = 1;
  if (j.is_object()) {
    for (const auto& [k, v] : j.items())
      if (k != "endpoints")
        bad(source, 1, "unknown top-level field '" + k + "' (expected {\"endpoints\": [...]})");
    if (!j.contains("endpoints") || !j["endpoints"].is_array())
      bad(source, 1, "expected an array of endpoints or {\"endpoints\": [...]}");
    list = &j["endpoints"];
    depth = 2;
  } else if (!j.is_array()) {
    bad(source, 1, "expected an array of endpoints or {\"endpoints\": [...]}");
  }
  const std::vector<std::size_t> lines = element_lines(text, depth);
  std::vector<FleetEndpoint> out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::size_t line = i < lines.size() ? lines[i] : 1;
    const json& o = (*list)[i];
    const std::string which = "endpoint " + std::to_string(i + 1);
    if (!o.is_object()) bad(source, line, which + ": expected an object with \"url\"");
    FleetEndpoint e = defaults;
    bool has_url = false;
    for (const auto& [k, v] : o.items()) {
      if (k == "url" || k == "model" || k == "api_key_env") {
        if (!v.is_string()) bad(source, line, which + ": \"" + k + "\" must be a string");
        (k == "url" ? e.url : k == "model" ? e.model : e.api_key_env) = v.get<std::string>();
        has_url = has_url || k == "url";
      } else if (k == "max_in_flight") {
        if (!v.is_number_integer() || v.get<std::int64_t>() < 1)
          bad(source, line,
              which + ": \"max_in_flight\" must be an integer >= 1 (got " + v.dump() + ")");
        e.max_in_flight = static_cast<std::size_t>(v.get<std::int64_t>());
      } else if (k == "weight") {
        if (!v.is_number()) bad(source, line, which + ": \"weight\" must be a number");
        e.weight = v.get<double>();
      } else {
        bad(source, line,
            which + ": unknown field \"" + k +
                "\" (fields: url, model, api_key_env, max_in_flight, weight)");
      }
    }
    if (!has_url) bad(source, line, which + ": \"url\" is required");
    check_endpoint(e, source, line, i);
    out.push_back(std::move(e));
  }
  // Duplicates, reported at the second occurrence (a hash of the ones seen: linear time).
  std::unordered_map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto [it, fresh] = seen.emplace(out[i].url + '\0' + out[i].api_key_env, i);
    if (!fresh)
      bad(source, i < lines.size() ? lines[i] : 1,
          "endpoint " + std::to_string(i + 1) + ": " + out[i].url + " is listed twice (also " +
              "endpoint " + std::to_string(it->second + 1) + ")");
  }
  return out;
}

std::vector<std::string> split_csv(const std::string& line, std::string_view source,
                                   std::size_t n) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"' && cur.find_first_not_of(" \t") == std::string::npos) {
      quoted = was_quoted = true;
      cur.clear();
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  if (quoted) bad(source, n, "unterminated quoted field");
  (void)was_quoted;
  out.push_back(std::move(cur));
  for (auto& f : out) {
    const auto b = f.find_first_not_of(" \t");
    const auto e = f.find_last_not_of(" \t");
    f = b == std::string::npos ? std::string() : f.substr(b, e - b + 1);
  }
  return out;
}

std::vector<FleetEndpoint> parse_csv_endpoints(std::string_view text, std::string_view source,
                                               const FleetEndpoint& defaults) {
  std::vector<FleetEndpoint> out;
  std::vector<std::size_t> lines;
  std::unordered_map<std::string, std::size_t> seen;  // url + NUL + key variable -> index
  std::vector<std::string> header;
  std::size_t n = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos || line.front() == '#') {
      if (nl == text.size()) break;
      continue;
    }
    std::vector<std::string> fields = split_csv(line, source, n);
    if (header.empty()) {
      header = fields;
      for (std::size_t c = 0; c < header.size(); ++c) {
        const std::string& h = header[c];
        if (h != "url" && h != "model" && h != "api_key_env" && h != "max_in_flight" &&
            h != "weight")
          bad(source, n,
              "unknown column '" + h +
                  "' (the header names columns url, model, api_key_env, max_in_flight, weight)");
        for (std::size_t k = 0; k < c; ++k)
          if (header[k] == h) bad(source, n, "column '" + h + "' appears twice in the header");
      }
      if (std::find(header.begin(), header.end(), "url") == header.end())
        bad(source, n, "the header has no 'url' column (first line: " + line + ")");
    } else {
      if (fields.size() != header.size())
        bad(source, n,
            std::to_string(fields.size()) + " fields but the header has " +
                std::to_string(header.size()));
      FleetEndpoint e = defaults;
      for (std::size_t c = 0; c < header.size(); ++c) {
        const std::string& h = header[c];
        const std::string& v = fields[c];
        if (h == "url") {
          e.url = v;
        } else if (h == "model") {
          e.model = v;
        } else if (h == "api_key_env") {
          e.api_key_env = v;
        } else if (h == "max_in_flight") {
          if (v.empty()) continue;
          std::int64_t x = 0;
          const auto r = std::from_chars(v.data(), v.data() + v.size(), x);
          if (r.ec != std::errc() || r.ptr != v.data() + v.size() || x < 1)
            bad(source, n, "column 'max_in_flight': expected an integer >= 1, got '" + v + "'");
          e.max_in_flight = static_cast<std::size_t>(x);
        } else if (h == "weight") {
          if (v.empty()) continue;
          char* end = nullptr;
          const double x = std::strtod(v.c_str(), &end);
          if (end != v.c_str() + v.size())
            bad(source, n, "column 'weight': expected a number, got '" + v + "'");
          e.weight = x;
        }
      }
      check_endpoint(e, source, n, out.size());
      const auto [it, fresh] = seen.emplace(e.url + '\0' + e.api_key_env, out.size());
      if (!fresh)
        bad(source, n,
            e.url + " is listed twice (also line " + std::to_string(lines[it->second]) + ")");
      out.push_back(std::move(e));
      lines.push_back(n);
    }
    if (nl == text.size()) break;
  }
  if (header.empty()) bad(source, 0, "empty endpoints file (expected a header line)");
  return out;
}

}  // namespace

std::vector<FleetEndpoint> parse_endpoints(std::string_view text, std::string_view source,
                                           const FleetEndpoint& defaults) {
  const std::string s(source);
  bool json = false;
  if (s.size() >= 5 && s.compare(s.size() - 5, 5, ".json") == 0) {
    json = true;
  } else if (s.size() >= 4 && s.compare(s.size() - 4, 4, ".csv") == 0) {
    json = false;
  } else {
    const auto first = text.find_first_not_of(" \t\r\n");
    json = first != std::string_view::npos && (text[first] == '[' || text[first] == '{');
  }
  std::vector<FleetEndpoint> out = json ? parse_json_endpoints(text, source, defaults)
                                        : parse_csv_endpoints(text, source, defaults);
  if (out.empty()) bad(source, 0, "no endpoints listed");
  return out;
}

std::vector<FleetEndpoint> read_endpoints_file(const std::filesystem::path& path,
                                               const FleetEndpoint& defaults) {
  // io::read_file: a directory or more than io::kMaxConfigBytes is an IoError naming the file.
  const std::string text = io::read_file(path, io::kMaxConfigBytes);
  return parse_endpoints(text, path.string(), defaults);
}

}  // namespace popalign::llm
