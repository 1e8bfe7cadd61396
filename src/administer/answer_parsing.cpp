// Answer parsing: free-text ratings, batch JSON answers, expected scores from log-probabilities.
// The rules are documented in include/popalign/administer/answer_parsing.hpp.
#include <popalign/administer/answer_parsing.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <set>

#include <popalign/core/error.hpp>

namespace popalign::administer {

using psychometrics::Scale;

std::string_view to_string(ParseStatus status) noexcept {
  switch (status) {
    case ParseStatus::ok:
      return "ok";
    case ParseStatus::empty:
      return "empty";
    case ParseStatus::no_answer:
      return "no_answer";
    case ParseStatus::ambiguous:
      return "ambiguous";
    case ParseStatus::out_of_range:
      return "out_of_range";
  }
  return "unknown";
}

std::string_view to_string(AnswerSource source) noexcept {
  switch (source) {
    case AnswerSource::none:
      return "none";
    case AnswerSource::digit:
      return "digit";
    case AnswerSource::label:
      return "label";
    case AnswerSource::number_word:
      return "number_word";
    case AnswerSource::json:
      return "json";
  }
  return "unknown";
}

void check_parse_scale(const Scale& scale) {
  const int min = scale.min, max = scale.max;
  const auto& labels = scale.labels;
  check_argument(min >= 0, "scale.min", "must be >= 0 (got " + std::to_string(min) + ")");
  check_argument(min < max, "scale.max",
                 "must be greater than scale.min (got " + std::to_string(min) + ".." +
                     std::to_string(max) + ")");
  check_argument(
      max - min + 1 <= 11, "scale.max",
      "at most 11 scale points are supported (got " + std::to_string(max - min + 1) + ")");
  check_argument(labels.empty() || static_cast<int>(labels.size()) == max - min + 1, "scale.labels",
                 "needs one label per scale point (" + std::to_string(max - min + 1) + "), got " +
                     std::to_string(labels.size()));
}

std::vector<std::pair<std::string, int>> builtin_scale_synonyms(int points) {
  if (points == 5) {
    return {{"strongly disagree", 0},
            {"disagree strongly", 0},
            {"disagree", 1},
            {"neither agree nor disagree", 2},
            {"neither disagree nor agree", 2},
            {"neutral", 2},
            {"agree", 3},
            {"strongly agree", 4},
            {"agree strongly", 4},
            {"very inaccurate", 0},
            {"moderately inaccurate", 1},
            {"neither accurate nor inaccurate", 2},
            {"neither inaccurate nor accurate", 2},
            {"moderately accurate", 3},
            {"very accurate", 4}};
  }
  if (points == 7) {
    return {{"strongly disagree", 0},
            {"disagree strongly", 0},
            {"disagree", 1},
            {"disagree moderately", 1},
            {"moderately disagree", 1},
            {"somewhat disagree", 2},
            {"disagree a little", 2},
            {"slightly disagree", 2},
            {"neither agree nor disagree", 3},
            {"neither disagree nor agree", 3},
            {"neutral", 3},
            {"somewhat agree", 4},
            {"agree a little", 4},
            {"slightly agree", 4},
            {"agree", 5},
            {"agree moderately", 5},
            {"moderately agree", 5},
            {"strongly agree", 6},
            {"agree strongly", 6}};
  }
  return {};
}

namespace {

bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

/// Lower-case words: every run of ASCII alphanumerics. Non-ASCII bytes separate words.
std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (is_alnum(c)) {
      cur.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct NumberToken {
  std::size_t begin, end;
  long long value;  // -1 when too long to be a rating
  bool decimal;     // part of "3.5"
  bool dropped = false;
};

std::vector<NumberToken> scan_numbers(std::string_view text) {
  std::vector<NumberToken> out;
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    if (!is_digit(text[i])) {
      ++i;
      continue;
    }
    std::size_t b = i;
    while (i < n && is_digit(text[i])) ++i;
    std::size_t e = i;
    const bool glued = (b > 0 && is_alpha(text[b - 1])) || (e < n && is_alpha(text[e]));
    if (glued) continue;
    bool decimal = (e + 1 < n && (text[e] == '.' || text[e] == ',') && is_digit(text[e + 1])) ||
                   (b >= 2 && (text[b - 1] == '.' || text[b - 1] == ',') && is_digit(text[b - 2]));
    long long v = -1;
    if (e - b <= 6) v = std::stoll(std::string(text.substr(b, e - b)));
    // A decimal's fractional part is consumed with it.
    if (decimal && e + 1 < n && (text[e] == '.' || text[e] == ',') && is_digit(text[e + 1])) {
      i = e + 1;
      while (i < n && is_digit(text[i])) ++i;
    }
    out.push_back({b, e, v, decimal});
  }
  return out;
}

/// Marks the numbers that only describe the scale: "1 to 5", "1-5", "out of 5", "/5".
void drop_scale_mentions(std::string_view text, std::vector<NumberToken>& nums, int lo, int hi) {
  static const std::array<std::string_view, 9> kRangeSeparators = {
      "-", "to", "and", "through", "..", "\xE2\x80\x93", "\xE2\x80\x94", "thru", "~"};
  for (std::size_t k = 0; k + 1 < nums.size(); ++k) {
    NumberToken& a = nums[k];
    NumberToken& b = nums[k + 1];
    if (a.decimal || b.decimal) continue;
    const bool pair = (a.value == lo && b.value == hi) || (a.value == hi && b.value == lo);
    if (!pair) continue;
    const std::string between = lower(trim(text.substr(a.end, b.begin - a.end)));
    if (std::find(kRangeSeparators.begin(), kRangeSeparators.end(), between) !=
        kRangeSeparators.end()) {
      a.dropped = b.dropped = true;
    }
  }
  for (NumberToken& t : nums) {
    if (t.value != hi || t.decimal) continue;
    std::string before = lower(trim(text.substr(0, t.begin)));
    if (!before.empty() && before.back() == '/') t.dropped = true;
    if (before.size() >= 6 && before.compare(before.size() - 6, 6, "out of") == 0) t.dropped = true;
  }
}

struct PhraseMatch {
  std::size_t begin, end;  // word indices
  int value;               // instrument value
  bool negated;
};

std::optional<int> number_word(std::string_view w) {
  static const std::array<std::string_view, 11> kWords = {
      "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"};
  for (std::size_t i = 0; i < kWords.size(); ++i)
    if (w == kWords[i]) return static_cast<int>(i);
  return std::nullopt;
}

bool is_negator(const std::string& w) { return w == "not" || w == "never" || w == "t"; }

int map_presented(int presented, const Scale& scale, const ParseOptions& options) {
  return options.reversed ? scale.min + scale.max - presented : presented;
}

}  // namespace

ParsedAnswer parse_likert_answer(std::string_view text, const Scale& scale,
                                 const ParseOptions& options) {
  check_parse_scale(scale);
  ParsedAnswer out;
  const std::vector<std::string> words = words_of(text);
  if (words.empty()) {
    out.status = ParseStatus::empty;
    return out;
  }

  // 1. Digits.
  std::vector<NumberToken> nums = scan_numbers(text);
  drop_scale_mentions(text, nums, scale.min, scale.max);
  std::set<int> digit_values;
  bool out_of_range = false;
  for (const NumberToken& t : nums) {
    if (t.dropped) continue;
    if (!t.decimal && t.value >= scale.min && t.value <= scale.max) {
      digit_values.insert(map_presented(static_cast<int>(t.value), scale, options));
    } else {
      out_of_range = true;
    }
  }

  // 2. Labels and synonyms, on word boundaries; contained matches dropped.
  std::vector<std::pair<std::vector<std::string>, int>> phrases;
  for (std::size_t k = 0; k < scale.labels.size(); ++k) {
    std::vector<std::string> w = words_of(scale.labels[k]);
    if (!w.empty()) phrases.emplace_back(std::move(w), scale.min + static_cast<int>(k));
  }
  if (options.builtin_synonyms) {
    for (auto& [phrase, offset] : builtin_scale_synonyms(scale.num_options()))
      phrases.emplace_back(words_of(phrase), scale.min + offset);
  }
  std::vector<PhraseMatch> matches;
  for (const auto& [pw, value] : phrases) {
    if (pw.size() > words.size()) continue;
    for (std::size_t i = 0; i + pw.size() <= words.size(); ++i) {
      if (std::equal(pw.begin(), pw.end(), words.begin() + static_cast<std::ptrdiff_t>(i))) {
        const bool neg = i > 0 && is_negator(words[i - 1]);
        matches.push_back({i, i + pw.size(), value, neg});
      }
    }
  }
  std::set<int> label_values;
  bool negated = false;
  for (const PhraseMatch& m : matches) {
    const bool contained = std::any_of(matches.begin(), matches.end(), [&](const PhraseMatch& o) {
      return o.begin <= m.begin && m.end <= o.end && (o.end - o.begin) > (m.end - m.begin);
    });
    if (contained) continue;
    if (m.negated) negated = true;
    label_values.insert(m.value);
  }

  // 3. Number words, only as a last resort.
  std::set<int> word_values;
  bool word_out_of_range = false;
  if (digit_values.empty() && label_values.empty()) {
    for (const std::string& w : words) {
      if (auto v = number_word(w)) {
        if (*v >= scale.min && *v <= scale.max)
          word_values.insert(map_presented(*v, scale, options));
        else
          word_out_of_range = true;
      }
    }
  }

  std::set<int> all = digit_values;
  all.insert(label_values.begin(), label_values.end());
  all.insert(word_values.begin(), word_values.end());
  if (negated || all.size() > 1) {
    out.status = ParseStatus::ambiguous;
    return out;
  }
  if (all.empty()) {
    out.status =
        (out_of_range || word_out_of_range) ? ParseStatus::out_of_range : ParseStatus::no_answer;
    return out;
  }
  out.value = *all.begin();
  out.status = ParseStatus::ok;
  out.source = !digit_values.empty()   ? AnswerSource::digit
               : !label_values.empty() ? AnswerSource::label
                                       : AnswerSource::number_word;
  return out;
}

namespace {

/// Reads a JSON string starting at text[i] == '"'. Returns the decoded string (basic escapes;
/// \uXXXX kept verbatim) and sets i past the closing quote; nullopt when unterminated.
std::optional<std::string> read_json_string(std::string_view text, std::size_t& i) {
  std::string out;
  std::size_t k = i + 1;
  while (k < text.size()) {
    char c = text[k];
    if (c == '"') {
      i = k + 1;
      return out;
    }
    if (c == '\\' && k + 1 < text.size()) {
      char e = text[k + 1];
      switch (e) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'u':
          out.append("\\u");
          break;
        default:
          out.push_back(e);
          break;
      }
      k += 2;
      continue;
    }
    out.push_back(c);
    ++k;
  }
  return std::nullopt;
}

void skip_space(std::string_view text, std::size_t& i) {
  while (i < text.size() && is_space(text[i])) ++i;
}

}  // namespace

std::map<std::string, ParsedAnswer> parse_json_answers(std::string_view text,
                                                       std::span<const std::string> item_ids,
                                                       const Scale& scale,
                                                       const ParseOptions& options) {
  check_parse_scale(scale);
  std::map<std::string, ParsedAnswer> out;
  for (const std::string& id : item_ids) out[id] = ParsedAnswer{};
  std::map<std::string, std::vector<ParsedAnswer>> seen;

  // A lenient scan for "key": value pairs, so prose around the object, code fences, nesting
  // under "answers" and a cut-off tail do not lose the complete pairs.
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '"') {
      ++i;
      continue;
    }
    std::size_t after = i;
    std::optional<std::string> key = read_json_string(text, after);
    if (!key) break;  // unterminated string: the text was cut off
    std::size_t j = after;
    skip_space(text, j);
    if (j >= text.size() || text[j] != ':') {
      i = after;
      continue;
    }
    ++j;
    skip_space(text, j);
    i = after;
    if (!out.count(*key) || j >= text.size()) continue;
    ParsedAnswer a;
    if (text[j] == '"') {
      std::size_t k = j;
      std::optional<std::string> s = read_json_string(text, k);
      if (!s) break;
      a = parse_likert_answer(*s, scale, options);
      if (a.ok()) a.source = AnswerSource::json;
      i = k;
    } else if (is_digit(text[j]) || text[j] == '-') {
      std::size_t k = j + 1;
      while (k < text.size() && (is_digit(text[k]) || text[k] == '.' || text[k] == 'e' ||
                                 text[k] == 'E' || text[k] == '+' || text[k] == '-'))
        ++k;
      // A number at the very end of a truncated text may itself be cut off ("12" of "123").
      if (k >= text.size()) break;
      const std::string num(text.substr(j, k - j));
      char* end = nullptr;
      const double v = std::strtod(num.c_str(), &end);
      if (end != num.c_str() + num.size() || !std::isfinite(v)) {
        a.status = ParseStatus::no_answer;
      } else if (v != std::floor(v) || v < scale.min || v > scale.max) {
        a.status = ParseStatus::out_of_range;
      } else {
        a.value = map_presented(static_cast<int>(v), scale, options);
        a.status = ParseStatus::ok;
        a.source = AnswerSource::json;
      }
      i = k;
    } else {
      continue;  // null, an object, an array, true/false: not an answer
    }
    seen[*key].push_back(a);
  }

  for (auto& [id, answers] : seen) {
    std::set<int> values;
    for (const ParsedAnswer& a : answers)
      if (a.ok()) values.insert(*a.value);
    if (values.size() > 1) {
      out[id] = ParsedAnswer{std::nullopt, ParseStatus::ambiguous, AnswerSource::none};
    } else if (values.size() == 1) {
      out[id] = ParsedAnswer{*values.begin(), ParseStatus::ok, AnswerSource::json};
    } else {
      out[id] = answers.front();
    }
  }
  return out;
}

ExpectedScore expected_score(std::span<const TokenChoice> alternatives, const Scale& scale,
                             const ParseOptions& options) {
  check_parse_scale(scale);
  check_argument(scale.max <= 9, "scale.max",
                 "expected scores need single-digit options (scale within 0..9), got max " +
                     std::to_string(scale.max));
  ExpectedScore out;
  std::vector<double> p(static_cast<std::size_t>(scale.num_options()), 0.0);
  for (const TokenChoice& alt : alternatives) {
    if (!std::isfinite(alt.logprob)) continue;
    const std::string t = trim(alt.token);
    if (t.size() != 1 || !is_digit(t[0])) continue;
    const int presented = t[0] - '0';
    if (presented < scale.min || presented > scale.max) continue;
    const int v = map_presented(presented, scale, options);
    p[static_cast<std::size_t>(v - scale.min)] += std::exp(alt.logprob);
  }
  double mass = 0.0;
  for (double x : p) mass += x;
  out.option_mass = mass;
  out.probabilities.assign(p.size(), 0.0);
  if (!(mass > 0.0)) return out;
  double ev = 0.0;
  std::size_t best = 0;
  for (std::size_t k = 0; k < p.size(); ++k) {
    out.probabilities[k] = p[k] / mass;
    ev += static_cast<double>(scale.min + static_cast<int>(k)) * out.probabilities[k];
    if (p[k] > p[best]) best = k;
  }
  out.value = ev;
  out.mode = scale.min + static_cast<int>(best);
  return out;
}

}  // namespace popalign::administer
