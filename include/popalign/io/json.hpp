#pragma once
// JsonValue: a small JSON value owned by popalign, so that no third-party JSON type appears in
// a public header. Objects keep their keys in insertion order (output bytes are then fixed by
// the order in which a program sets them). Numbers are doubles: integers up to 2^53 are exact.
//
// dump() is compact (no spaces), numbers in the shortest round-trip form ("3", "0.25"), NaN and
// infinities as null (JSON has none), strings escaped per RFC 8259 (UTF-8 passed through).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <popalign/core/error.hpp>

namespace popalign::io {

class JsonValue {
 public:
  enum class Kind { null, boolean, number, string, array, object };
  using Array = std::vector<JsonValue>;
  using Member = std::pair<std::string, JsonValue>;
  using Object = std::vector<Member>;

  JsonValue() = default;  ///< null
  JsonValue(std::nullptr_t) {}
  JsonValue(bool b) : v_(b) {}
  JsonValue(double x) : v_(x) {}
  JsonValue(float x) : v_(static_cast<double>(x)) {}
  JsonValue(int x) : v_(static_cast<double>(x)) {}
  JsonValue(long x) : v_(static_cast<double>(x)) {}
  JsonValue(long long x) : v_(static_cast<double>(x)) {}
  JsonValue(unsigned x) : v_(static_cast<double>(x)) {}
  JsonValue(unsigned long x) : v_(static_cast<double>(x)) {}
  JsonValue(unsigned long long x) : v_(static_cast<double>(x)) {}
  JsonValue(std::string s) : v_(std::move(s)) {}
  JsonValue(std::string_view s) : v_(std::string(s)) {}
  JsonValue(const char* s) : v_(std::string(s)) {}
  JsonValue(Array a) : v_(std::move(a)) {}
  JsonValue(Object o) : v_(std::move(o)) {}

  static JsonValue array() { return JsonValue(Array{}); }
  static JsonValue object() { return JsonValue(Object{}); }

  Kind kind() const noexcept { return static_cast<Kind>(v_.index()); }
  bool is_null() const noexcept { return kind() == Kind::null; }
  bool is_bool() const noexcept { return kind() == Kind::boolean; }
  bool is_number() const noexcept { return kind() == Kind::number; }
  bool is_string() const noexcept { return kind() == Kind::string; }
  bool is_array() const noexcept { return kind() == Kind::array; }
  bool is_object() const noexcept { return kind() == Kind::object; }

  /// Typed access; throws popalign::Error ("JSON value is a string, not a number") on a
  /// kind mismatch.
  bool as_bool() const;
  double as_number() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  /// Object member by key (first match), or nullptr (also when this is not an object).
  const JsonValue* find(std::string_view key) const noexcept;
  JsonValue* find(std::string_view key) noexcept;
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
  /// Sets a member of an object (replacing an existing one in place, else appending). A null
  /// value becomes an empty object first. Returns *this for chaining.
  JsonValue& set(std::string key, JsonValue value);
  /// Appends to an array (a null value becomes an empty array first).
  JsonValue& push_back(JsonValue value);
  /// Elements of an array or members of an object; 0 otherwise.
  std::size_t size() const noexcept;

  /// Compact serialization (see the file comment).
  std::string dump() const;
  void dump_to(std::string& out) const;

  friend bool operator==(const JsonValue& a, const JsonValue& b) { return a.v_ == b.v_; }

  static const char* kind_name(Kind k) noexcept;

 private:
  std::variant<std::monostate, bool, double, std::string, Array, Object> v_;
};

/// The deepest nesting of arrays and objects that parse_json accepts (a top-level array is depth
/// 1). Deeper texts are refused before parsing: converting, copying, comparing, dumping and
/// destroying a JsonValue recurse once per level, and hostile input (100k `[`) would otherwise
/// overflow the stack.
inline constexpr std::size_t kMaxJsonDepth = 512;

/// The 1-based byte offset at which arrays/objects in `text` first nest deeper than
/// `max_depth`, or 0 when they never do. One pass with constant stack: counts '[' and '{'
/// outside string literals (escapes skipped; nothing else is validated, unbalanced text is left
/// to the parser). Header-only, so that the layers that parse JSON with nlohmann::json (llm
/// responses and caches, embedding answers) bound the nesting first without linking io.
inline std::size_t json_depth_exceeded_at(std::string_view text,
                                          std::size_t max_depth = kMaxJsonDepth) noexcept {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i + 1;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return 0;
}

/// The value of a parsed JSON number `v` (any nlohmann::json-like type: is_number_integer,
/// is_number_unsigned, is_number_float, get<T>) as an `Int`, or nullopt when `v` is not a
/// number, is not integral (2.5), or lies outside Int's range. Untrusted JSON goes through this
/// instead of get<int>(): nlohmann converts a float such as 1e30 to int by a cast whose result is
/// undefined behaviour when out of range, and wraps out-of-range integers silently.
template <class Int, class J>
std::optional<Int> json_integer(const J& v) {
  static_assert(std::numeric_limits<Int>::is_integer);
  if (v.is_number_unsigned()) {
    const auto u = v.template get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) return std::nullopt;
    return static_cast<Int>(u);
  }
  if (v.is_number_integer()) {
    const auto s = v.template get<std::int64_t>();
    if (s < 0) {
      if constexpr (!std::numeric_limits<Int>::is_signed)
        return std::nullopt;  // NOLINT(bugprone-branch-clone): a constexpr branch
      else if (s < static_cast<std::int64_t>(std::numeric_limits<Int>::min()))
        return std::nullopt;
    } else if (static_cast<std::uint64_t>(s) >
               static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) {
      return std::nullopt;
    }
    return static_cast<Int>(s);
  }
  if (v.is_number_float()) {
    const double d = v.template get<double>();
    // Both bounds as doubles: max() + 1 is a power of two, so exact.
    constexpr double hi = static_cast<double>(std::numeric_limits<Int>::max() / 2 + 1) * 2.0;
    constexpr double lo = static_cast<double>(std::numeric_limits<Int>::min());
    if (!std::isfinite(d) || d != std::floor(d) || d < lo || d >= hi) return std::nullopt;
    return static_cast<Int>(d);
  }
  return std::nullopt;
}

/// Scans `text` without recursion (strings and their escapes skipped, nothing else validated)
/// and throws ParseError(source, line, "JSON nesting deeper than 512 (line L, column C of the
/// text)") when arrays/objects nest deeper than `max_depth`. parse_json calls it; code that
/// parses untrusted JSON by other means calls it first.
void check_json_depth(std::string_view text, const std::string& source = "<string>",
                      std::size_t line = 0, std::size_t max_depth = kMaxJsonDepth);

/// Parses one JSON text. Throws ParseError(source, line, ...) with the parser's explanation;
/// `line` is the line number to report (e.g. the line of a JSONL file). Nesting deeper than
/// kMaxJsonDepth is a ParseError too (see check_json_depth).
JsonValue parse_json(std::string_view text, const std::string& source = "<string>",
                     std::size_t line = 0);

/// Appends `s` as a JSON string literal (with quotes) to `out`.
void append_json_string(std::string& out, std::string_view s);

}  // namespace popalign::io
