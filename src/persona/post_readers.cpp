// Post readers (see include/popalign/persona/post_readers.hpp for the formats and the rules).
//
// Every format is parsed from memory (a file is read whole), one record at a time, so a bad
// record becomes a problem and the scan goes on at the next one:
// - JSONL: split at '\n' ('\r' before it dropped); each non-blank line parsed by io::parse_json.
// - CSV: a small RFC 4180 state machine over the buffer (memchr for the next quote inside a
//   quoted field, which is where the Blog corpus's long texts are); a row with the wrong field
//   count is skipped; an unclosed quote ends the file (everything after it is one broken field).
// - Blog XML: a scan for the literal tags <Blog>, <date>, </date>, <post>, </post> (the files are
//   not well-formed XML, so no XML parser would read them); entities decoded by hand.
// Then the max_authors cut and one sort by (author_before, time_before) of indices.
#include <popalign/persona/post_readers.hpp>
#include "utf8.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <istream>
#include <iterator>
#include <set>
#include <sstream>
#include <unordered_map>
#include <utility>

#include <popalign/core/error.hpp>
#include <popalign/io/json.hpp>

namespace popalign::persona {

// ---------------------------------------------------------------------------------------------
// Names, orders, dates, encodings

std::string_view to_string(PostFormat format) {
  switch (format) {
    case PostFormat::automatic:
      return "automatic";
    case PostFormat::jsonl:
      return "jsonl";
    case PostFormat::blog_csv:
      return "blog-csv";
    case PostFormat::blog_xml:
      return "blog-xml";
  }
  return "automatic";
}

PostFormat post_format_from_string(std::string_view name) {
  if (name == "automatic" || name == "auto") return PostFormat::automatic;
  if (name == "jsonl") return PostFormat::jsonl;
  if (name == "blog-csv" || name == "blog_csv" || name == "csv") return PostFormat::blog_csv;
  if (name == "blog-xml" || name == "blog_xml" || name == "xml") return PostFormat::blog_xml;
  throw InvalidArgument("format", "unknown post format '" + std::string(name) +
                                      "' (expected jsonl, blog-csv, blog-xml or automatic)");
}

void PostReadOptions::validate() const {
  const std::array<std::pair<const char*, const std::string*>, 4> fields{{
      {"author_field", &author_field},
      {"id_field", &id_field},
      {"time_field", &time_field},
      {"text_field", &text_field},
  }};
  for (const auto& [name, value] : fields)
    check_argument(!value->empty(), name, "must not be empty");
  for (std::size_t i = 0; i < fields.size(); ++i)
    for (std::size_t j = i + 1; j < fields.size(); ++j)
      check_argument(
          *fields[i].second != *fields[j].second, fields[j].first,
          "must differ from " + std::string(fields[i].first) + " ('" + *fields[j].second + "')");
}

namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// A number written as a time: optional '-', digits, optional '.' and digits, nothing else.
bool parse_time_number(std::string_view s, double& value) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
  for (std::size_t k = i; k < s.size(); ++k)
    if (!((s[k] >= '0' && s[k] <= '9') || s[k] == '.')) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

bool author_before(std::string_view a, std::string_view b) {
  const bool na = all_digits(a), nb = all_digits(b);
  if (na != nb) return na;
  if (na) {
    std::string_view sa = a.substr(std::min(a.find_first_not_of('0'), a.size()));
    std::string_view sb = b.substr(std::min(b.find_first_not_of('0'), b.size()));
    if (sa.size() != sb.size()) return sa.size() < sb.size();
    if (sa != sb) return sa < sb;
  }
  return a < b;
}

bool time_before(const Post& a, const Post& b) {
  double xa = 0, xb = 0;
  const int ca = a.time.empty() ? 2 : (parse_time_number(a.time, xa) ? 0 : 1);
  const int cb = b.time.empty() ? 2 : (parse_time_number(b.time, xb) ? 0 : 1);
  if (ca != cb) return ca < cb;
  if (ca == 0 && xa != xb) return xa < xb;
  if (a.time != b.time) return a.time < b.time;
  return author_before(a.id, b.id);
}

namespace {

// Month names (lower case, UTF-8) of the languages found in the Blog Authorship Corpus.
const std::unordered_map<std::string, int>& month_table() {
  static const std::unordered_map<std::string, int> table = [] {
    std::unordered_map<std::string, int> t;
    const std::vector<std::vector<std::string>> by_month{
        {"january", "jan", "januar", "janvier", "enero", "gennaio", "janeiro", "januari",
         "tammikuu", "jänner"},
        {"february", "feb", "februar", "février", "fevrier", "febrero", "febbraio", "fevereiro",
         "februari", "helmikuu"},
        {"march", "mar", "märz", "maerz", "mars", "marzo", "março", "marco", "maart", "marts",
         "maaliskuu"},
        {"april", "apr", "avril", "abril", "aprile", "huhtikuu"},
        {"may", "mai", "mayo", "maggio", "maio", "mei", "maj", "toukokuu"},
        {"june", "jun", "juni", "juin", "junio", "giugno", "junho", "kesäkuu"},
        {"july", "jul", "juli", "juillet", "julio", "luglio", "julho", "heinäkuu"},
        {"august", "aug", "août", "aout", "agosto", "augustus", "augusti", "elokuu"},
        {"september", "sep", "sept", "septembre", "septiembre", "setiembre", "settembre",
         "setembro", "syyskuu"},
        {"october", "oct", "oktober", "octobre", "octubre", "ottobre", "outubro", "lokakuu"},
        {"november", "nov", "novembre", "noviembre", "novembro", "marraskuu"},
        {"december", "dec", "dezember", "décembre", "decembre", "diciembre", "dicembre", "dezembro",
         "desember", "joulukuu"},
    };
    for (std::size_t m = 0; m < by_month.size(); ++m)
      for (const auto& name : by_month[m]) t.emplace(name, static_cast<int>(m) + 1);
    return t;
  }();
  return table;
}

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
  };
  std::size_t b = 0, e = s.size();
  while (b < e && ws(s[b])) ++b;
  while (e > b && ws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Lower-cases ASCII letters and the upper-case Latin-1 letters of UTF-8 (C3 80..C3 9E).
std::string lower_month(std::string_view s) {
  std::string out(s);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c >= 'A' && c <= 'Z') {
      out[i] = static_cast<char>(c - 'A' + 'a');
    } else if (c == 0xC3 && i + 1 < out.size()) {
      const auto d = static_cast<unsigned char>(out[i + 1]);
      if (d >= 0x80 && d <= 0x9E && d != 0x97) out[i + 1] = static_cast<char>(d + 0x20);
      ++i;
    }
  }
  return out;
}

}  // namespace

std::string blog_date_to_iso(std::string_view date) {
  date = trim(date);
  const std::size_t c1 = date.find(',');
  if (c1 == std::string_view::npos) return {};
  const std::size_t c2 = date.find(',', c1 + 1);
  if (c2 == std::string_view::npos) return {};
  const std::string_view day = trim(date.substr(0, c1));
  const std::string_view month = trim(date.substr(c1 + 1, c2 - c1 - 1));
  const std::string_view year = trim(date.substr(c2 + 1));
  if (!all_digits(day) || day.size() > 2 || !all_digits(year) || year.size() != 4) return {};
  const int d = std::stoi(std::string(day));
  if (d < 1 || d > 31) return {};
  const auto& table = month_table();
  const auto it = table.find(lower_month(month));
  if (it == table.end()) return {};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.4s-%02d-%02d", year.data(), it->second, d);
  return buf;
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one (overlongs, surrogates
// and code points above U+10FFFF are invalid).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (std::size_t k = 2; k < n; ++k) {
    const auto ck = static_cast<unsigned char>(s[i + k]);
    if (ck < 0x80 || ck > 0xBF) return 0;
  }
  return n;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

using detail::append_code_point;

// Windows-1252 bytes 0x80..0x9F; the five undefined ones are the Latin-1 C1 code points.
constexpr std::array<std::uint16_t, 32> kCp1252High{
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

}  // namespace

bool to_utf8(std::string_view bytes, std::string& out, bool* transcoded) {
  out.clear();
  if (transcoded) *transcoded = false;
  const auto starts = [&](std::string_view p) { return bytes.substr(0, p.size()) == p; };
  if (starts(std::string_view("\xFF\xFE", 2)) || starts(std::string_view("\xFE\xFF", 2)) ||
      starts(std::string_view("\x00\x00\xFE\xFF", 4)))
    return false;
  if (bytes.find('\0') != std::string_view::npos) return false;
  if (starts("\xEF\xBB\xBF")) bytes.remove_prefix(3);
  if (valid_utf8(bytes)) {
    out.assign(bytes);
    return true;
  }
  if (transcoded) *transcoded = true;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80)
      out.push_back(ch);
    else if (c < 0xA0)
      append_code_point(out, kCp1252High[c - 0x80]);
    else
      append_code_point(out, c);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The readers

namespace {

std::string number_text(double x) {
  if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 9007199254740992.0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(x));
    return buf;
  }
  return io::JsonValue(x).dump();
}

// An integer-looking string becomes a JSON number (ages), anything else stays a string.
io::JsonValue meta_value(std::string_view s) {
  if (all_digits(s) && s.size() < 10) return io::JsonValue(std::stoll(std::string(s)));
  return io::JsonValue(s);
}

// Decodes the XML/HTML entities of the Blog XML files; any other '&' is kept as it is.
std::string decode_entities(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t amp = s.find('&', i);
    if (amp == std::string_view::npos) {
      out.append(s.substr(i));
      break;
    }
    out.append(s.substr(i, amp - i));
    const std::size_t semi = s.find(';', amp + 1);
    bool done = false;
    if (semi != std::string_view::npos && semi - amp <= 10) {
      const std::string_view name = s.substr(amp + 1, semi - amp - 1);
      static const std::array<std::pair<std::string_view, char>, 5> named{
          {{"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}}};
      for (const auto& [n, c] : named)
        if (name == n) {
          out.push_back(c);
          done = true;
        }
      if (!done && name == "nbsp") {
        out.push_back(' ');
        done = true;
      }
      if (!done && name.size() >= 2 && name[0] == '#') {
        std::uint32_t cp = 0;
        const bool hex = name[1] == 'x' || name[1] == 'X';
        const std::string_view digits = name.substr(hex ? 2 : 1);
        auto [p, ec] =
            std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
        if (ec == std::errc() && p == digits.data() + digits.size() && !digits.empty() && cp > 0 &&
            cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
          append_code_point(out, cp);
          done = true;
        }
      }
    }
    if (done) {
      i = semi + 1;
    } else {
      out.push_back('&');
      i = amp + 1;
    }
  }
  return out;
}

std::size_t count_newlines(std::string_view s) {
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

class Reader {
 public:
  Reader(const PostReadOptions& options, PostCorpus& corpus) : opt_(options), corpus_(corpus) {}

  void problem(const std::string& source, std::size_t line, const std::string& author,
               const std::string& message) {
    if (opt_.on_bad_line == io::OnBadLine::fail) {
      throw ParseError(source, line,
                       author.empty() ? message : "author " + author + ": " + message);
    }
    corpus_.problems.push_back(PostReadProblem{source, line, author, message});
    ++corpus_.malformed;
    if (opt_.log) {
      std::string text = source;
      if (line > 0) text += ":" + std::to_string(line);
      text += ": ";
      if (!author.empty()) text += "author " + author + ": ";
      text += message + " (skipped)";
      opt_.log(text);
    }
  }

  void log(const std::string& text) const {
    if (opt_.log) opt_.log(text);
  }

  // Adds a post; returns false (after reporting the problem) when its id is taken.
  bool add(Post post, const std::string& source, std::size_t line) {
    const std::size_t n = ++per_author_[post.author];
    const std::string_view text = trim(post.text);
    if (text.empty()) {
      ++corpus_.empty;
      return true;
    }
    if (text.size() != post.text.size()) {  // trim in place (no new allocation)
      const std::size_t lead = static_cast<std::size_t>(text.data() - post.text.data());
      post.text.resize(lead + text.size());
      post.text.erase(0, lead);
    }
    if (post.id.empty()) post.id = post.author + ":" + std::to_string(n);
    if (sources_.empty() || sources_.back() != source) sources_.push_back(source);
    const auto [it, fresh] = ids_.emplace(post.id, std::make_pair(sources_.size() - 1, line));
    if (!fresh) {
      problem(source, line, post.author,
              "duplicate post id '" + post.id + "' (first in " + sources_[it->second.first] + ":" +
                  std::to_string(it->second.second) + ")");
      return false;
    }
    ++corpus_.read;
    corpus_.posts.push_back(std::move(post));
    return true;
  }

  // Counts the post's slot for its author without adding it (a skipped record of a known
  // author keeps the numbering of the author's other posts stable).
  void skip_slot(const std::string& author) { ++per_author_[author]; }

  void parse(std::string_view data, PostFormat format, const std::string& source) {
    if (format == PostFormat::automatic) format = sniff(data);
    ++corpus_.files;
    switch (format) {
      case PostFormat::jsonl:
        parse_jsonl(data, source);
        break;
      case PostFormat::blog_csv:
        parse_csv(data, source);
        break;
      default:
        parse_xml(data, source);
        break;
    }
  }

  static PostFormat sniff(std::string_view data) {
    if (data.substr(0, 3) == "\xEF\xBB\xBF") data.remove_prefix(3);
    const std::string_view t = trim(data.substr(0, 4096));
    if (!t.empty() && t[0] == '{') return PostFormat::jsonl;
    if (!t.empty() && t[0] == '<') return PostFormat::blog_xml;
    return PostFormat::blog_csv;
  }

  // ---- JSONL
  void parse_jsonl(std::string_view data, const std::string& source) {
    if (unknown_encoding_at_start(data, source)) return;
    if (data.substr(0, 3) == "\xEF\xBB\xBF") data.remove_prefix(3);
    std::size_t pos = 0, line = 0;
    std::string utf8;
    while (pos < data.size()) {
      ++line;
      std::size_t end = data.find('\n', pos);
      const bool last = end == std::string_view::npos;
      if (last) end = data.size();
      std::string_view raw = data.substr(pos, end - pos);
      pos = last ? data.size() : end + 1;
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      if (trim(raw).empty()) continue;
      bool transcoded = false;
      std::string_view json = raw;
      if (!valid_utf8(raw) || raw.find('\0') != std::string_view::npos) {
        if (!to_utf8(raw, utf8, &transcoded)) {
          problem(source, line, "", "unknown encoding (NUL bytes: UTF-16 or binary?)");
          continue;
        }
        json = utf8;
      }
      if (transcoded) ++corpus_.transcoded;
      io::JsonValue value;
      try {
        value = io::parse_json(json, source, line);
      } catch (const ParseError& e) {
        std::string msg = e.what();
        const std::string prefix = source + ":" + std::to_string(line) + ": ";
        if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
        problem(source, line, "", last ? msg + " (an unterminated last line)" : msg);
        continue;
      }
      jsonl_record(std::move(value), source, line);
    }
  }

  static bool text_of(const io::JsonValue* v, std::string& out) {
    if (v == nullptr || v->is_null()) return false;
    if (v->is_string()) {
      out = v->as_string();
      return true;
    }
    if (v->is_number()) {
      out = number_text(v->as_number());
      return true;
    }
    return false;
  }

  void jsonl_record(io::JsonValue value, const std::string& source, std::size_t line) {
    if (!value.is_object()) {
      problem(source, line, "",
              std::string("not a JSON object but ") + io::JsonValue::kind_name(value.kind()));
      return;
    }
    Post post;
    const io::JsonValue* author = value.find(opt_.author_field);
    if (!text_of(author, post.author) || trim(post.author).empty()) {
      problem(
          source, line, "",
          "no author (member '" + opt_.author_field + "' missing, empty or not a string/number)");
      return;
    }
    const io::JsonValue* text = value.find(opt_.text_field);
    if (text == nullptr || !text->is_string()) {
      skip_slot(post.author);
      problem(source, line, post.author,
              "no text (member '" + opt_.text_field + "' missing or not a string)");
      return;
    }
    post.text = text->as_string();
    const io::JsonValue* id = value.find(opt_.id_field);
    if (id != nullptr && !id->is_null() && !text_of(id, post.id)) {
      skip_slot(post.author);
      problem(source, line, post.author,
              "member '" + opt_.id_field + "' is not a string or a number");
      return;
    }
    const io::JsonValue* time = value.find(opt_.time_field);
    if (time != nullptr && !time->is_null() && !text_of(time, post.time)) {
      skip_slot(post.author);
      problem(source, line, post.author,
              "member '" + opt_.time_field + "' is not a string or a number");
      return;
    }
    post.time = std::string(trim(post.time));
    io::JsonValue meta = io::JsonValue::object();
    for (auto& [key, member] : value.as_object()) {
      if (key == opt_.author_field || key == opt_.text_field || key == opt_.id_field ||
          key == opt_.time_field)
        continue;
      meta.as_object().emplace_back(key, std::move(member));
    }
    if (!meta.contains("source")) meta.set("source", source);
    if (!meta.contains("line")) meta.set("line", line);
    post.meta = std::move(meta);
    add(std::move(post), source, line);
  }

  bool unknown_encoding_at_start(std::string_view data, const std::string& source) {
    const auto starts = [&](std::string_view p) { return data.substr(0, p.size()) == p; };
    if (starts(std::string_view("\xFF\xFE", 2)) || starts(std::string_view("\xFE\xFF", 2)) ||
        starts(std::string_view("\x00\x00\xFE\xFF", 4))) {
      problem(source, 0, "", "unknown encoding (a UTF-16/UTF-32 byte-order mark; expected UTF-8)");
      return true;
    }
    return false;
  }

  // ---- CSV
  // Parses one record starting at `pos`; fields appended to `fields`. Returns false when an
  // unclosed quote reached the end of the data. `bad` is set (with a message) for a character
  // after a closing quote; the record then runs to the end of its line.
  bool csv_record(std::string_view d, std::size_t& pos, std::size_t& line,
                  std::vector<std::string>& fields, std::string& bad) {
    fields.clear();
    bad.clear();
    while (true) {
      std::string field;
      if (pos < d.size() && d[pos] == '"') {
        ++pos;
        while (true) {
          const void* q = std::memchr(d.data() + pos, '"', d.size() - pos);
          if (q == nullptr) {
            pos = d.size();
            return false;
          }
          const std::size_t qi = static_cast<std::size_t>(static_cast<const char*>(q) - d.data());
          const std::string_view chunk = d.substr(pos, qi - pos);
          line += count_newlines(chunk);
          field.append(chunk);
          pos = qi + 1;
          if (pos < d.size() && d[pos] == '"') {
            field.push_back('"');
            ++pos;
            continue;
          }
          break;
        }
        if (pos < d.size() && d[pos] != ',' && d[pos] != '\n' && d[pos] != '\r' && bad.empty())
          bad = "a character after a closing quote in field " + std::to_string(fields.size() + 1);
      }
      // Unquoted part (the whole field, or the rest after a bad closing quote).
      std::size_t e = pos;
      while (e < d.size() && d[e] != ',' && d[e] != '\n' && d[e] != '\r') ++e;
      field.append(d.substr(pos, e - pos));
      pos = e;
      fields.push_back(std::move(field));
      if (pos < d.size() && d[pos] == ',') {
        ++pos;
        continue;
      }
      if (pos < d.size() && d[pos] == '\r') ++pos;
      if (pos < d.size() && d[pos] == '\n') {
        ++pos;
        ++line;
      }
      return true;
    }
  }

  void parse_csv(std::string_view d, const std::string& source) {
    if (unknown_encoding_at_start(d, source)) return;
    if (d.substr(0, 3) == "\xEF\xBB\xBF") d.remove_prefix(3);
    std::size_t pos = 0, line = 1;
    std::vector<std::string> fields;
    std::string bad;
    // Blank lines before the header.
    while (pos < d.size() && (d[pos] == '\n' || d[pos] == '\r')) {
      if (d[pos] == '\n') ++line;
      ++pos;
    }
    if (pos >= d.size()) return;
    const std::size_t header_line = line;
    if (!csv_record(d, pos, line, fields, bad) || !bad.empty()) {
      problem(source, header_line, "", "unreadable header row" + (bad.empty() ? "" : ": " + bad));
      return;
    }
    std::vector<std::string> header;
    int col_id = -1, col_date = -1, col_text = -1;
    for (std::size_t i = 0; i < fields.size(); ++i) {
      header.emplace_back(trim(fields[i]));
      const std::string lower = lower_month(header.back());
      if (lower == "id" && col_id < 0) col_id = static_cast<int>(i);
      if (lower == "date" && col_date < 0) col_date = static_cast<int>(i);
      if (lower == "text" && col_text < 0) col_text = static_cast<int>(i);
    }
    if (col_id < 0 || col_text < 0) {
      problem(source, header_line, "",
              "the header has no 'id' and 'text' columns (expected the Blog Authorship Corpus "
              "export: id,gender,age,topic,sign,date,text)");
      return;
    }
    std::string utf8;
    while (pos < d.size()) {
      if (d[pos] == '\n' || d[pos] == '\r') {  // blank line
        if (d[pos] == '\n') ++line;
        ++pos;
        continue;
      }
      const std::size_t row_line = line;
      if (!csv_record(d, pos, line, fields, bad)) {
        problem(source, row_line, "",
                "a quoted field is not closed before the end of the file (the rest of the file "
                "is skipped)");
        return;
      }
      if (!bad.empty()) {
        problem(source, row_line, "", bad);
        continue;
      }
      if (fields.size() != header.size()) {
        problem(source, row_line, "",
                "the row has " + std::to_string(fields.size()) + " fields, the header " +
                    std::to_string(header.size()));
        continue;
      }
      bool transcoded_row = false, unknown = false;
      for (auto& f : fields) {
        if (valid_utf8(f) && f.find('\0') == std::string::npos) continue;  // the common case
        bool t = false;
        if (!to_utf8(f, utf8, &t)) {
          unknown = true;
          break;
        }
        if (t) transcoded_row = true;
        f.swap(utf8);
      }
      const std::string author(trim(fields[static_cast<std::size_t>(col_id)]));
      if (unknown) {
        if (!author.empty()) skip_slot(author);
        problem(source, row_line, author, "unknown encoding (NUL bytes: UTF-16 or binary?)");
        continue;
      }
      if (author.empty()) {
        problem(source, row_line, "", "empty 'id' (author)");
        continue;
      }
      if (transcoded_row) ++corpus_.transcoded;
      Post post;
      post.author = author;
      post.text = std::move(fields[static_cast<std::size_t>(col_text)]);
      io::JsonValue meta = io::JsonValue::object();
      for (std::size_t i = 0; i < fields.size(); ++i) {
        if (static_cast<int>(i) == col_id || static_cast<int>(i) == col_text) continue;
        const std::string_view v = trim(fields[i]);
        meta.as_object().emplace_back(
            header[i], static_cast<int>(i) == col_date ? io::JsonValue(v) : meta_value(v));
      }
      if (col_date >= 0) {
        post.time = blog_date_to_iso(fields[static_cast<std::size_t>(col_date)]);
        if (post.time.empty() && !trim(post.text).empty()) ++corpus_.undated;
      }
      if (!meta.contains("source")) meta.set("source", source);
      if (!meta.contains("line")) meta.set("line", row_line);
      post.meta = std::move(meta);
      add(std::move(post), source, row_line);
    }
  }

  // ---- Blog XML
  struct BlogName {
    bool ok = false;
    std::string author, gender, age, industry, sign;
  };

  static BlogName blog_name(const std::string& source) {
    BlogName n;
    const std::string name = std::filesystem::path(source).filename().string();
    std::vector<std::string> parts;
    std::size_t b = 0;
    while (true) {
      const std::size_t dot = name.find('.', b);
      parts.push_back(name.substr(b, dot == std::string::npos ? std::string::npos : dot - b));
      if (dot == std::string::npos) break;
      b = dot + 1;
    }
    if (parts.size() != 6 || lower_month(parts[5]) != "xml") return n;
    for (std::size_t i = 0; i < 5; ++i)
      if (parts[i].empty()) return n;
    n.ok = true;
    n.author = parts[0];
    n.gender = parts[1];
    n.age = parts[2];
    n.industry = parts[3];
    n.sign = parts[4];
    return n;
  }

  void parse_xml(std::string_view raw, const std::string& source) {
    const BlogName name = blog_name(source);
    if (!name.ok) {
      problem(source, 0, "",
              "the file name is not ID.gender.age.industry.sign.xml (the Blog Authorship Corpus "
              "names the author's metadata there)");
      return;
    }
    std::string text;
    bool transcoded = false;
    if (!to_utf8(raw, text, &transcoded)) {
      problem(source, 0, name.author,
              "unknown encoding (UTF-16/UTF-32 or binary; expected UTF-8 or Latin-1)");
      return;
    }
    if (transcoded) ++corpus_.transcoded;
    const std::string_view d = text;
    std::size_t pos = d.find("<Blog>");
    if (pos == std::string_view::npos) {
      problem(source, 0, name.author, "no <Blog> element: not a Blog Authorship Corpus file");
      return;
    }
    std::size_t line = 1 + count_newlines(d.substr(0, pos));
    std::size_t counted_to = pos;
    const auto line_at = [&](std::size_t p) {
      line += count_newlines(d.substr(counted_to, p - counted_to));
      counted_to = p;
      return line;
    };
    std::string date;
    bool closed = false;
    pos += 6;
    while (true) {
      const std::size_t lt = d.find('<', pos);
      if (lt == std::string_view::npos) break;
      const std::string_view rest = d.substr(lt);
      if (rest.substr(0, 6) == "<date>") {
        const std::size_t end = d.find("</date>", lt + 6);
        const std::size_t next_tag = d.find('<', lt + 6);
        if (end == std::string_view::npos || next_tag != end) {
          problem(source, line_at(lt), name.author,
                  "<date> is not closed (the rest of the file is skipped)");
          return;
        }
        date = std::string(d.substr(lt + 6, end - lt - 6));
        pos = end + 7;
      } else if (rest.substr(0, 6) == "<post>") {
        const std::size_t post_line = line_at(lt);
        const std::size_t end = d.find("</post>", lt + 6);
        const std::size_t next_open = d.find("<post>", lt + 6);
        if (end == std::string_view::npos ||
            (next_open != std::string_view::npos && next_open < end)) {
          skip_slot(name.author);
          problem(source, post_line, name.author,
                  end == std::string_view::npos
                      ? "<post> is not closed (the file is cut short; the rest is skipped)"
                      : "<post> is not closed before the next <post> (this post is skipped)");
          if (end == std::string_view::npos) return;
          pos = next_open;
          continue;
        }
        Post post;
        post.author = name.author;
        post.text = decode_entities(d.substr(lt + 6, end - lt - 6));
        post.time = blog_date_to_iso(date);
        io::JsonValue meta = io::JsonValue::object();
        meta.set("gender", name.gender);
        meta.set("age", meta_value(name.age));
        meta.set("industry", name.industry);
        meta.set("sign", name.sign);
        meta.set("date", std::string(trim(date)));
        meta.set("source", std::filesystem::path(source).filename().string());
        meta.set("line", post_line);
        post.meta = std::move(meta);
        if (post.time.empty() && !trim(post.text).empty()) ++corpus_.undated;
        add(std::move(post), source, post_line);
        pos = end + 7;
      } else if (rest.substr(0, 7) == "</Blog>") {
        closed = true;
        break;
      } else {
        pos = lt + 1;  // a stray '<' between elements
      }
    }
    if (!closed)
      log(source + ": author " + name.author +
          ": no </Blog> at the end (every post was closed; all kept)");
  }

  void finish() {
    // The max_authors cut, then the order.
    std::vector<Post>& posts = corpus_.posts;
    if (opt_.max_authors > 0) {
      std::vector<std::string> authors;
      {
        std::set<std::string> seen;
        for (const auto& p : posts)
          if (seen.insert(p.author).second) authors.push_back(p.author);
      }
      if (authors.size() > opt_.max_authors) {
        std::sort(authors.begin(), authors.end(),
                  [](const std::string& a, const std::string& b) { return author_before(a, b); });
        authors.resize(opt_.max_authors);
        const std::set<std::string> keep(authors.begin(), authors.end());
        std::erase_if(posts, [&](const Post& p) { return !keep.count(p.author); });
      }
    }
    std::vector<std::size_t> order(posts.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const Post& x = posts[a];
      const Post& y = posts[b];
      if (x.author != y.author) return author_before(x.author, y.author);
      return time_before(x, y);
    });
    std::vector<Post> sorted;
    sorted.reserve(posts.size());
    std::size_t authors = 0;
    for (std::size_t i : order) {
      if (sorted.empty() || sorted.back().author != posts[i].author) ++authors;
      sorted.push_back(std::move(posts[i]));
    }
    posts = std::move(sorted);
    corpus_.authors = authors;
  }

 private:
  const PostReadOptions& opt_;
  PostCorpus& corpus_;
  std::unordered_map<std::string, std::size_t> per_author_;
  std::unordered_map<std::string, std::pair<std::size_t, std::size_t>> ids_;  // source index, line
  std::vector<std::string> sources_;
};

bool read_file(const std::filesystem::path& path, std::string& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open the file";
    return false;
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) {
    error = "cannot read the file";
    return false;
  }
  in.seekg(0, std::ios::beg);
  out.resize(static_cast<std::size_t>(size));
  if (size > 0 && !in.read(out.data(), size)) {
    error = "cannot read the file";
    return false;
  }
  return true;
}

PostFormat format_of_extension(const std::filesystem::path& p) {
  const std::string ext = lower_month(p.extension().string());
  if (ext == ".jsonl" || ext == ".ndjson" || ext == ".json") return PostFormat::jsonl;
  if (ext == ".csv") return PostFormat::blog_csv;
  if (ext == ".xml") return PostFormat::blog_xml;
  return PostFormat::automatic;
}

}  // namespace

PostCorpus parse_posts(std::string_view data, PostFormat format, const PostReadOptions& options,
                       const std::string& source) {
  options.validate();
  PostCorpus corpus;
  Reader reader(options, corpus);
  reader.parse(data, format, source);
  reader.finish();
  return corpus;
}

PostCorpus read_posts(std::istream& in, PostFormat format, const PostReadOptions& options,
                      const std::string& source) {
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(source, "cannot read the stream");
  return parse_posts(data, format, options, source);
}

PostCorpus read_posts(const std::filesystem::path& file_or_dir, const PostReadOptions& options) {
  options.validate();
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(file_or_dir, ec);
  if (ec || !fs::exists(status)) throw IoError(file_or_dir.string(), "no such file or directory");
  PostCorpus corpus;
  Reader reader(options, corpus);
  std::string data, error;
  if (!fs::is_directory(status)) {
    if (!read_file(file_or_dir, data, error)) throw IoError(file_or_dir.string(), error);
    PostFormat format = options.format;
    if (format == PostFormat::automatic) format = format_of_extension(file_or_dir);
    reader.parse(data, format, file_or_dir.string());
    std::string().swap(data);  // free the file before the sort
    reader.finish();
    return corpus;
  }
  struct Entry {
    fs::path path;
    std::string name;
    PostFormat format;
  };
  std::vector<Entry> entries;
  for (const auto& e : fs::directory_iterator(file_or_dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    std::error_code fec;
    if (!e.is_regular_file(fec)) continue;
    const PostFormat ext = format_of_extension(e.path());
    if (ext == PostFormat::automatic ||
        (options.format != PostFormat::automatic && ext != options.format)) {
      if (options.log)
        options.log(e.path().string() + ": not a " +
                    std::string(options.format == PostFormat::automatic
                                    ? "posts"
                                    : to_string(options.format)) +
                    " file by its extension (skipped)");
      continue;
    }
    entries.push_back(Entry{e.path(), name, ext});
  }
  if (ec) throw IoError(file_or_dir.string(), "cannot list the directory: " + ec.message());
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  // For a folder of Blog XML files the authors are known from the names: read only the first
  // max_authors of them.
  std::set<std::string> wanted;
  bool cut_files = false;
  if (options.max_authors > 0 && std::all_of(entries.begin(), entries.end(), [](const Entry& e) {
        return e.format == PostFormat::blog_xml;
      })) {
    std::vector<std::string> authors;
    for (const auto& e : entries) {
      const auto n = Reader::blog_name(e.name);
      if (n.ok) authors.push_back(n.author);
    }
    std::sort(authors.begin(), authors.end(),
              [](const std::string& a, const std::string& b) { return author_before(a, b); });
    authors.erase(std::unique(authors.begin(), authors.end()), authors.end());
    if (authors.size() > options.max_authors) authors.resize(options.max_authors);
    wanted.insert(authors.begin(), authors.end());
    cut_files = true;
  }
  for (const auto& e : entries) {
    if (cut_files) {
      const auto n = Reader::blog_name(e.name);
      if (n.ok && !wanted.count(n.author)) continue;
    }
    if (!read_file(e.path, data, error)) {
      if (options.on_bad_line == io::OnBadLine::fail) throw IoError(e.name, error);
      reader.problem(e.name, 0, "", error);
      continue;
    }
    reader.parse(data, e.format, e.name);
  }
  reader.finish();
  return corpus;
}

}  // namespace popalign::persona
