// Rule-based PII detection and redaction (see include/popalign/persona/privacy.hpp for the
// rules). Four hand-written scanners each list their matches (offset, length, kind); the matches
// are sorted by (offset, longer first, kind order) and taken greedily from the left, skipping any
// that overlaps one already taken; the text is then rebuilt with the placeholders.
#include <popalign/persona/privacy.hpp>

#include <algorithm>
#include <array>
#include <cstdint>

namespace popalign::persona {

namespace {

enum Kind : int { kEmail = 0, kUrl = 1, kPhone = 2, kAddress = 3 };
constexpr std::array<std::string_view, 4> kKindNames{"email", "url", "phone", "street_address"};
constexpr std::array<std::string_view, 4> kPlaceholders{"[email]", "[url]", "[phone]", "[address]"};

struct Match {
  std::size_t offset, length;
  int kind;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_alpha(char c) { return is_upper(c) || is_lower(c); }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_word(char c) { return is_alnum(c) || static_cast<unsigned char>(c) >= 0x80; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
char lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// ---- email
bool local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
bool domain_char(char c) { return is_alnum(c) || c == '.' || c == '-'; }

void scan_emails(std::string_view s, std::vector<Match>& out) {
  std::size_t from = 0;
  while (true) {
    const std::size_t at = s.find('@', from);
    if (at == std::string_view::npos) return;
    from = at + 1;
    std::size_t b = at;
    while (b > 0 && local_char(s[b - 1])) --b;
    while (b < at && !is_alnum(s[b])) ++b;  // a local part starts with a letter or digit
    if (b == at) continue;
    std::size_t e = at + 1;
    while (e < s.size() && domain_char(s[e])) ++e;
    while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-')) --e;
    const std::string_view domain = s.substr(at + 1, e - at - 1);
    const std::size_t last_dot = domain.rfind('.');
    if (domain.empty() || last_dot == std::string_view::npos || !is_alnum(domain[0])) continue;
    if (domain.find("..") != std::string_view::npos) continue;
    const std::string_view tld = domain.substr(last_dot + 1);
    if (tld.size() < 2 || !std::all_of(tld.begin(), tld.end(), is_alpha)) continue;
    out.push_back({b, e - b, kEmail});
    from = e;
  }
}

// ---- url
constexpr std::array<std::string_view, 15> kTlds{"com", "org",  "net", "edu", "gov",
                                                 "io",  "info", "biz", "co",  "uk",
                                                 "us",  "ca",   "de",  "au",  "fr"};

bool url_char(char c) {
  return !is_space(c) && c != '<' && c != '>' && c != '"' && static_cast<unsigned char>(c) >= 0x21;
}

std::size_t trim_url_tail(std::string_view s, std::size_t b, std::size_t e) {
  static constexpr std::string_view kTail = ".,;:!?)]'\"";
  while (e > b && kTail.find(s[e - 1]) != std::string_view::npos) --e;
  return e;
}

void scan_urls(std::string_view s, std::vector<Match>& out) {
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    if (!is_alnum(s[i]) || (i > 0 && (is_word(s[i - 1]) || s[i - 1] == '@' || s[i - 1] == '.' ||
                                      s[i - 1] == '-' || s[i - 1] == '/' || s[i - 1] == '_'))) {
      ++i;
      continue;
    }
    // A scheme or "www."?
    std::size_t prefix = 0;
    for (std::string_view scheme :
         {std::string_view("http://"), std::string_view("https://"), std::string_view("ftp://")})
      if (iequals(s.substr(i, scheme.size()), scheme)) prefix = scheme.size();
    if (prefix == 0 && iequals(s.substr(i, 4), "www.")) prefix = 4;
    if (prefix > 0 && i + prefix < n && url_char(s[i + prefix])) {
      std::size_t e = i + prefix;
      while (e < n && url_char(s[e])) ++e;
      e = trim_url_tail(s, i, e);
      if (e > i + prefix) {
        out.push_back({i, e - i, kUrl});
        i = e;
        continue;
      }
    }
    // A bare host name: labels joined by '.', the longest prefix ending in a listed TLD.
    std::size_t e = i, best = 0, labels = 0;
    while (true) {
      std::size_t le = e;
      while (le < n && (is_alnum(s[le]) || s[le] == '-')) ++le;
      if (le == e) break;
      ++labels;
      const std::string_view label = s.substr(e, le - e);
      if (labels >= 2 && (le >= n || !(is_word(s[le]) || s[le] == '@'))) {
        for (std::string_view t : kTlds)
          if (label == t) best = le;  // lower case only: "Mr.US" is not a host
      }
      e = le;
      if (e + 1 < n && s[e] == '.' && is_alnum(s[e + 1])) {
        ++e;
        continue;
      }
      break;
    }
    if (best > 0) {
      std::size_t end = best;
      if (end < n && s[end] == '/') {
        while (end < n && url_char(s[end])) ++end;
        end = trim_url_tail(s, i, end);
      }
      out.push_back({i, end - i, kUrl});
      i = end;
      continue;
    }
    // Skip the rest of this word.
    while (i < n && (is_word(s[i]) || s[i] == '.' || s[i] == '-')) ++i;
  }
}

// ---- phone
std::size_t digits_at(std::string_view s, std::size_t i) {
  std::size_t k = i;
  while (k < s.size() && is_digit(s[k])) ++k;
  return k - i;
}

bool phone_sep(char c) { return c == '-' || c == '.' || c == ' '; }

// The end of a match must not touch more digits or letters ("555-123-45678", "-4567x").
bool phone_end_ok(std::string_view s, std::size_t e) {
  if (e >= s.size()) return true;
  if (is_word(s[e])) return false;
  if ((s[e] == '-' || s[e] == '.' || s[e] == '/') && e + 1 < s.size() && is_digit(s[e + 1]))
    return false;
  return true;
}
bool phone_start_ok(std::string_view s, std::size_t b) {
  if (b == 0) return true;
  const char c = s[b - 1];
  if (is_word(c) || c == '+' || c == '$') return false;
  if ((c == '-' || c == '.' || c == '/' || c == ',') && b >= 2 && is_digit(s[b - 2])) return false;
  return true;
}

// NANP: [(+1|1)sep] (ddd)[ ]ddd sep dddd | ddd sep ddd sep dddd. Returns the end or 0.
std::size_t nanp_at(std::string_view s, std::size_t i) {
  const std::size_t n = s.size();
  std::size_t p = i;
  if (p < n && s[p] == '(') {
    if (digits_at(s, p + 1) != 3 || p + 4 >= n || s[p + 4] != ')') return 0;
    p += 5;
    if (p < n && s[p] == ' ') ++p;
  } else {
    if (digits_at(s, p) != 3 || p + 3 >= n || !phone_sep(s[p + 3])) return 0;
    p += 4;
  }
  if (digits_at(s, p) != 3 || p + 3 >= n || !phone_sep(s[p + 3])) return 0;
  p += 4;
  if (digits_at(s, p) != 4) return 0;
  p += 4;
  return phone_end_ok(s, p) ? p : 0;
}

// "+CC ..." with 8-15 digits in groups separated by one space, '-' or '.', "(0)" allowed.
std::size_t international_at(std::string_view s, std::size_t i) {
  const std::size_t n = s.size();
  if (s[i] != '+' || i + 1 >= n || !is_digit(s[i + 1])) return 0;
  std::size_t p = i + 1, digits = 0, end = 0;
  while (p < n) {
    if (s[p] == '(') {
      const std::size_t d = digits_at(s, p + 1);
      if (d == 0 || d > 4 || p + 1 + d >= n || s[p + 1 + d] != ')') break;
      digits += d;
      p += d + 2;
      if (p < n && is_digit(s[p])) continue;  // "(0)30"
    } else {
      const std::size_t d = digits_at(s, p);
      if (d == 0) break;
      digits += d;
      p += d;
    }
    end = p;
    if (p + 1 < n && phone_sep(s[p]) && (is_digit(s[p + 1]) || s[p + 1] == '(')) {
      ++p;
      continue;
    }
    if (p < n && s[p] == '(') continue;
    break;
  }
  if (end == 0 || digits < 8 || digits > 15 || !phone_end_ok(s, end)) return 0;
  return end;
}

void scan_phones(std::string_view s, std::vector<Match>& out) {
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[i];
    if (!(is_digit(c) || c == '(' || c == '+')) continue;
    if (!phone_start_ok(s, i)) continue;
    std::size_t best = 0;
    if (c == '+') {
      best = international_at(s, i);
      // "+1 555 123 4567" is also NANP with a country code.
      if (i + 2 < n && s[i + 1] == '1' && phone_sep(s[i + 2]))
        best = std::max(best, nanp_at(s, i + 3));
    } else {
      best = nanp_at(s, i);
      if (c == '1' && i + 1 < n && (s[i + 1] == '-' || s[i + 1] == ' '))
        best = std::max(best, nanp_at(s, i + 2));
    }
    if (best > 0) {
      out.push_back({i, best - i, kPhone});
      i = best - 1;
    } else if (is_digit(c)) {
      while (i + 1 < n && is_digit(s[i + 1])) ++i;  // skip the rest of this number
    }
  }
}

// ---- street address
constexpr std::array<std::string_view, 34> kStreetTypes{
    "Street",   "St",    "Avenue",  "Ave",   "Road",    "Rd",    "Boulevard", "Blvd", "Lane",
    "Ln",       "Drive", "Dr",      "Court", "Ct",      "Place", "Pl",        "Way",  "Terrace",
    "Circle",   "Cir",   "Parkway", "Pkwy",  "Highway", "Hwy",   "Square",    "Sq",   "Trail",
    "Crescent", "Close", "Alley",   "Row",   "Plaza",   "Grove", "Gardens"};
constexpr std::array<std::string_view, 6> kAbbrevWithDot{"St", "Ave", "Rd", "Blvd", "Ln", "Dr"};

// A word at s[i]: its end, or 0. kind: 1 = capitalized word, 2 = ordinal ("5th"), 3 = other.
std::size_t word_at(std::string_view s, std::size_t i, int& kind) {
  const std::size_t n = s.size();
  if (i >= n) return 0;
  std::size_t e = i;
  if (is_upper(s[i])) {
    ++e;
    while (e < n && (is_alpha(s[e]) || s[e] == '\'')) ++e;
    kind = 1;
    return e;
  }
  if (is_digit(s[i])) {
    while (e < n && is_digit(s[e])) ++e;
    const std::string_view suf = s.substr(e, 2);
    if (suf == "st" || suf == "nd" || suf == "rd" || suf == "th") {
      e += 2;
      if (e < n && is_alnum(s[e])) return 0;
      kind = 2;
      return e;
    }
    return 0;
  }
  return 0;
}

bool is_street_type(std::string_view w) {
  return std::find(kStreetTypes.begin(), kStreetTypes.end(), w) != kStreetTypes.end();
}

// Optional unit after the street: " Apt 4B", ", Apt. 4B", " Suite 200", " Unit 5", " #12".
std::size_t unit_after(std::string_view s, std::size_t p) {
  std::size_t q = p;
  if (q < s.size() && s[q] == ',') ++q;
  if (q >= s.size() || s[q] != ' ') return p;
  ++q;
  std::size_t r = q;
  if (r < s.size() && s[r] == '#') {
    ++r;
  } else {
    bool found = false;
    for (std::string_view u :
         {std::string_view("Apt"), std::string_view("Apartment"), std::string_view("Suite"),
          std::string_view("Unit"), std::string_view("Flat")}) {
      if (s.substr(r, u.size()) == u && r + u.size() < s.size() && !is_alpha(s[r + u.size()])) {
        r += u.size();
        if (r < s.size() && s[r] == '.') ++r;
        if (r < s.size() && s[r] == ' ') ++r;
        found = true;
        break;
      }
    }
    if (!found) return p;
  }
  std::size_t e = r;
  while (e < s.size() && is_alnum(s[e])) ++e;
  if (e == r || !is_digit(s[r])) return p;
  return e;
}

// Optional ", City[,] ST[ 12345[-6789]]" or ", City[,] 12345": needs a state or a ZIP code.
std::size_t city_state_zip_after(std::string_view s, std::size_t p) {
  const std::size_t n = s.size();
  if (p + 2 >= n || s[p] != ',' || s[p + 1] != ' ') return p;
  std::size_t q = p + 2;
  const auto zip_at = [&](std::size_t z) -> std::size_t {
    if (digits_at(s, z) != 5) return 0;
    std::size_t e = z + 5;
    if (e + 5 <= n && s[e] == '-' && digits_at(s, e + 1) == 4) e += 5;
    if (e < n && is_alnum(s[e])) return 0;
    return e;
  };
  const auto state_at = [&](std::size_t z) -> std::size_t {
    if (z + 2 <= n && is_upper(s[z]) && is_upper(s[z + 1]) && (z + 2 == n || !is_alnum(s[z + 2])))
      return z + 2;
    return 0;
  };
  // City words.
  int words = 0;
  while (words < 3) {
    int kind = 0;
    const std::size_t e = word_at(s, q, kind);
    if (e == 0 || kind != 1) break;
    // A two-capital word right after the street is the state itself (", NY 10001").
    if (words == 0 && state_at(q) != 0) break;
    ++words;
    q = e;
    if (q + 1 < n && s[q] == ' ' && is_upper(s[q + 1]) && state_at(q + 1) == 0) {
      ++q;
      continue;
    }
    break;
  }
  std::size_t r = q;
  if (words > 0) {
    if (r < n && s[r] == ',') ++r;
    if (r >= n || s[r] != ' ') return p;
    ++r;
  }
  if (std::size_t z = zip_at(r)) return z;
  if (std::size_t st = state_at(r)) {
    if (st + 1 < n && s[st] == ' ')
      if (std::size_t z = zip_at(st + 1)) return z;
    return words > 0 ? st : p;
  }
  return p;
}

void scan_addresses(std::string_view s, std::vector<Match>& out) {
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_digit(s[i])) continue;
    if (i > 0) {
      const char c = s[i - 1];
      if (!(is_space(c) || c == '(' || c == ',' || c == '"' || c == '\'')) {
        while (i + 1 < n && is_alnum(s[i + 1])) ++i;
        continue;
      }
    }
    std::size_t p = i;
    while (p < n && is_digit(s[p])) ++p;
    if (p - i > 6) {
      i = p - 1;
      continue;
    }
    if (p < n && is_upper(s[p]) && (p + 1 >= n || s[p + 1] == ' ')) ++p;  // "12B"
    if (p >= n || s[p] != ' ') {
      i = p - 1;
      continue;
    }
    // Up to 5 words; the first street type after at least one name word ends the street.
    std::size_t q = p + 1, street_end = 0;
    for (int w = 0; w < 5; ++w) {
      int kind = 0;
      const std::size_t e = word_at(s, q, kind);
      if (e == 0) break;
      const std::string_view word = s.substr(q, e - q);
      if (w >= 1 && kind == 1 && is_street_type(word)) {
        street_end = e;
        if (e < n && s[e] == '.' &&
            std::find(kAbbrevWithDot.begin(), kAbbrevWithDot.end(), word) != kAbbrevWithDot.end())
          ++street_end;
        break;
      }
      if (e >= n || s[e] != ' ') break;
      q = e + 1;
    }
    if (street_end == 0) {
      i = p - 1;
      continue;
    }
    std::size_t end = unit_after(s, street_end);
    end = city_state_zip_after(s, end);
    out.push_back({i, end - i, kAddress});
    i = end - 1;
  }
}

}  // namespace

std::string_view redaction_placeholder(std::string_view kind) {
  for (std::size_t k = 0; k < kKindNames.size(); ++k)
    if (kKindNames[k] == kind) return kPlaceholders[k];
  return "[redacted]";
}

std::vector<Redaction> find_pii(std::string_view text) {
  std::vector<Match> matches;
  scan_emails(text, matches);
  scan_urls(text, matches);
  scan_phones(text, matches);
  scan_addresses(text, matches);
  std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) {
    if (a.offset != b.offset) return a.offset < b.offset;
    if (a.length != b.length) return a.length > b.length;
    return a.kind < b.kind;
  });
  std::vector<Redaction> out;
  std::size_t taken_to = 0;
  for (const Match& m : matches) {
    if (m.offset < taken_to) continue;
    out.push_back(Redaction{std::string(kKindNames[static_cast<std::size_t>(m.kind)]),
                            std::string(text.substr(m.offset, m.length)), m.offset});
    taken_to = m.offset + m.length;
  }
  return out;
}

RedactResult redact_pii(std::string_view text) {
  RedactResult r;
  r.redactions = find_pii(text);
  r.text.reserve(text.size());
  std::size_t at = 0;
  for (const Redaction& red : r.redactions) {
    r.text.append(text.substr(at, red.offset - at));
    r.text.append(redaction_placeholder(red.kind));
    at = red.offset + red.original.size();
  }
  r.text.append(text.substr(at));
  return r;
}

}  // namespace popalign::persona
