// JsonValue (see include/popalign/io/json.hpp). Parsing goes through nlohmann::json, which stays
// private to this file.
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include <popalign/io/json.hpp>

namespace popalign::io {

const char* JsonValue::kind_name(Kind k) noexcept {
  switch (k) {
    case Kind::null:
      return "null";
    case Kind::boolean:
      return "a boolean";
    case Kind::number:
      return "a number";
    case Kind::string:
      return "a string";
    case Kind::array:
      return "an array";
    case Kind::object:
      return "an object";
  }
  return "?";
}

namespace {
[[noreturn]] void kind_error(JsonValue::Kind have, JsonValue::Kind want) {
  throw Error(fmt::format("JSON value is {}, not {}", JsonValue::kind_name(have),
                          JsonValue::kind_name(want)));
}
}  // namespace

bool JsonValue::as_bool() const {
  if (!is_bool()) kind_error(kind(), Kind::boolean);
  return std::get<bool>(v_);
}
double JsonValue::as_number() const {
  if (!is_number()) kind_error(kind(), Kind::number);
  return std::get<double>(v_);
}
const std::string& JsonValue::as_string() const {
  if (!is_string()) kind_error(kind(), Kind::string);
  return std::get<std::string>(v_);
}
const JsonValue::Array& JsonValue::as_array() const {
  if (!is_array()) kind_error(kind(), Kind::array);
  return std::get<Array>(v_);
}
JsonValue::Array& JsonValue::as_array() {
  if (!is_array()) kind_error(kind(), Kind::array);
  return std::get<Array>(v_);
}
const JsonValue::Object& JsonValue::as_object() const {
  if (!is_object()) kind_error(kind(), Kind::object);
  return std::get<Object>(v_);
}
JsonValue::Object& JsonValue::as_object() {
  if (!is_object()) kind_error(kind(), Kind::object);
  return std::get<Object>(v_);
}

const JsonValue* JsonValue::find(std::string_view key) const noexcept {
  if (!is_object()) return nullptr;
  for (const auto& m : std::get<Object>(v_))
    if (m.first == key) return &m.second;
  return nullptr;
}
JsonValue* JsonValue::find(std::string_view key) noexcept {
  if (!is_object()) return nullptr;
  for (auto& m : std::get<Object>(v_))
    if (m.first == key) return &m.second;
  return nullptr;
}

JsonValue& JsonValue::set(std::string key, JsonValue value) {
  if (is_null()) v_ = Object{};
  auto& obj = as_object();
  for (auto& m : obj)
    if (m.first == key) {
      m.second = std::move(value);
      return *this;
    }
  obj.emplace_back(std::move(key), std::move(value));
  return *this;
}

JsonValue& JsonValue::push_back(JsonValue value) {
  if (is_null()) v_ = Array{};
  as_array().push_back(std::move(value));
  return *this;
}

std::size_t JsonValue::size() const noexcept {
  if (is_array()) return std::get<Array>(v_).size();
  if (is_object()) return std::get<Object>(v_).size();
  return 0;
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out += ch;
    }
  }
  out += '"';
}

void JsonValue::dump_to(std::string& out) const {
  switch (kind()) {
    case Kind::null:
      out += "null";
      break;
    case Kind::boolean:
      out += std::get<bool>(v_) ? "true" : "false";
      break;
    case Kind::number: {
      const double x = std::get<double>(v_);
      if (!std::isfinite(x))
        out += "null";
      else if (x == 0)
        out += "0";
      else
        out += fmt::format("{}", x);
      break;
    }
    case Kind::string:
      append_json_string(out, std::get<std::string>(v_));
      break;
    case Kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : std::get<Array>(v_)) {
        if (!first) out += ',';
        first = false;
        e.dump_to(out);
      }
      out += ']';
      break;
    }
    case Kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, e] : std::get<Object>(v_)) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, k);
        out += ':';
        e.dump_to(out);
      }
      out += '}';
      break;
    }
  }
}

std::string JsonValue::dump() const {
  std::string out;
  dump_to(out);
  return out;
}

namespace {
JsonValue convert(const nlohmann::ordered_json& j) {
  using json = nlohmann::ordered_json;
  switch (j.type()) {
    case json::value_t::null:
      return JsonValue();
    case json::value_t::boolean:
      return JsonValue(j.get<bool>());
    case json::value_t::number_integer:
      return JsonValue(static_cast<double>(j.get<std::int64_t>()));
    case json::value_t::number_unsigned:
      return JsonValue(static_cast<double>(j.get<std::uint64_t>()));
    case json::value_t::number_float:
      return JsonValue(j.get<double>());
    case json::value_t::string:
      return JsonValue(j.get_ref<const std::string&>());
    case json::value_t::array: {
      JsonValue::Array a;
      a.reserve(j.size());
      for (const auto& e : j) a.push_back(convert(e));
      return JsonValue(std::move(a));
    }
    case json::value_t::object: {
      JsonValue::Object o;
      o.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it) o.emplace_back(it.key(), convert(it.value()));
      return JsonValue(std::move(o));
    }
    default:
      return JsonValue();
  }
}
}  // namespace

void check_json_depth(std::string_view text, const std::string& source, std::size_t line,
                      std::size_t max_depth) {
  const std::size_t at = json_depth_exceeded_at(text, max_depth);
  if (at == 0) return;
  std::size_t text_line = 1, column = 0;
  for (std::size_t i = 0; i < at; ++i) {
    ++column;
    if (text[i] == '\n') {
      ++text_line;
      column = 0;
    }
  }
  throw ParseError(source, line,
                   fmt::format("malformed JSON: nesting deeper than {} (line {}, column {} of the "
                               "text)",
                               max_depth, text_line, column));
}

JsonValue parse_json(std::string_view text, const std::string& source, std::size_t line) {
  check_json_depth(text, source, line);
  // ordered_json keeps the members in file order, so a read-modify-write keeps the bytes stable.
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and also out_of_range for a number that overflows a double ("1e400": found by
    // fuzz/fuzz_json, it escaped as a non-popalign exception and terminated the program).
    std::string msg = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." -> keep the tail.
    if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
    throw ParseError(source, line, "malformed JSON: " + msg);
  }
  return convert(j);
}

}  // namespace popalign::io
