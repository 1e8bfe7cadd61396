// The pre-filter (see include/popalign/persona/prefilter.hpp for the rules).
//
// Passes:
//   1. parallel over posts: clean, count tokens, look for a first-person word, hash the
//      normalized text (FNV-1a 64);
//   2. in input order: the drop reasons of the rules 1-4 (exact duplicates through a map from the
//      hash to the first kept post; a hash match is confirmed by comparing the normalized texts);
//   3. parallel over the survivors: word shingles -> MinHash signature -> one 32-bit key per LSH
//      band (a 32-bit key may collide by chance; that only adds a candidate, which the exact
//      check then rejects);
//   4. per band, the (key, post) pairs sorted, so that the posts sharing a band key are adjacent;
//      each run of equal keys gives candidate pairs (later, earlier), merged and sorted;
//   5. in input order: a post is compared (exact Jaccard) with its earlier candidates that are
//      KEPT, earliest first; the first at or above the threshold makes it a near duplicate.
#include <popalign/persona/prefilter.hpp>
#include "utf8.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <unordered_map>
#include <utility>

#include <popalign/core/error.hpp>
#include <popalign/core/random.hpp>

namespace popalign::persona {

void PrefilterOptions::validate() const {
  check_argument(min_tokens >= 0, "min_tokens", "must be >= 0");
  check_argument(near_duplicate_threshold > 0.0 && near_duplicate_threshold <= 1.0,
                 "near_duplicate_threshold", "must be in (0, 1]");
  check_argument(shingle_words >= 1, "shingle_words", "must be >= 1");
  check_argument(lsh_bands >= 1, "lsh_bands", "must be >= 1");
  check_argument(minhash_permutations >= lsh_bands && minhash_permutations % lsh_bands == 0,
                 "minhash_permutations", "must be a positive multiple of lsh_bands");
  check_argument(minhash_permutations <= 1024, "minhash_permutations", "must be <= 1024");
  execution.validate();
}

namespace {

bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_alnum(unsigned char c) { return is_alpha(c) || (c >= '0' && c <= '9'); }
unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }

using detail::append_code_point;

// HTML entities: the XML five, &nbsp; (a space), the typographic ones blogs use, and numeric
// references. Unknown names are kept as written.
bool decode_entity(std::string_view name, std::string& out) {
  static const std::array<std::pair<std::string_view, std::uint32_t>, 17> named{{
      {"amp", '&'},
      {"lt", '<'},
      {"gt", '>'},
      {"quot", '"'},
      {"apos", '\''},
      {"nbsp", ' '},
      {"mdash", 0x2014},
      {"ndash", 0x2013},
      {"hellip", 0x2026},
      {"rsquo", 0x2019},
      {"lsquo", 0x2018},
      {"ldquo", 0x201C},
      {"rdquo", 0x201D},
      {"copy", 0xA9},
      {"reg", 0xAE},
      {"trade", 0x2122},
      {"eacute", 0xE9},
  }};
  for (const auto& [n, cp] : named)
    if (name == n) {
      append_code_point(out, cp);
      return true;
    }
  if (name.size() >= 2 && name[0] == '#') {
    const bool hex = name[1] == 'x' || name[1] == 'X';
    const std::string_view digits = name.substr(hex ? 2 : 1);
    std::uint32_t cp = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
    if (!digits.empty() && ec == std::errc() && p == digits.data() + digits.size() && cp >= 0x20 &&
        cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
      append_code_point(out, cp);
      return true;
    }
  }
  return false;
}

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
    if (semi != std::string_view::npos && semi - amp <= 10 &&
        decode_entity(s.substr(amp + 1, semi - amp - 1), out)) {
      i = semi + 1;
    } else {
      out.push_back('&');
      i = amp + 1;
    }
  }
  return out;
}

// The end (one past '>') of a tag starting at s[i] == '<', or 0 when it is not a tag.
std::size_t tag_end(std::string_view s, std::size_t i) {
  if (i + 1 >= s.size()) return 0;
  if (s.substr(i, 4) == "<!--") {
    const std::size_t e = s.find("-->", i + 4);
    return e == std::string_view::npos ? 0 : e + 3;
  }
  const auto c = static_cast<unsigned char>(s[i + 1]);
  if (!(is_alpha(c) || c == '/' || c == '!' || c == '?')) return 0;
  if (c == '/' && !(i + 2 < s.size() && is_alpha(static_cast<unsigned char>(s[i + 2])))) return 0;
  const std::size_t limit = std::min(s.size(), i + 2048);
  for (std::size_t k = i + 1; k < limit; ++k) {
    if (s[k] == '>') return k + 1;
    if (s[k] == '<' || s[k] == '\n') {
      // Tags may span lines (attributes), but not other tags.
      if (s[k] == '<') return 0;
    }
  }
  return 0;
}

constexpr std::string_view kUrlLink = "urlLink";

}  // namespace

std::string clean_post_text(std::string_view text) {
  std::string decoded;
  if (text.find('&') != std::string_view::npos) decoded = decode_entities(text);
  const std::string_view s = decoded.empty() ? text : std::string_view(decoded);
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  const auto word_start = [&]() { return out.empty() || pending_space; };
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '<') {
      if (const std::size_t e = tag_end(s, i)) {
        pending_space = true;
        i = e;
        continue;
      }
    }
    if (is_space(c) || c < 0x20 || c == 0x7F) {
      pending_space = true;
      ++i;
      continue;
    }
    if (c == 'u' && word_start() && s.substr(i, kUrlLink.size()) == kUrlLink) {
      // The corpus's link placeholder, alone or glued to the link's text.
      pending_space = true;
      i += kUrlLink.size();
      continue;
    }
    if (pending_space && !out.empty()) out.push_back(' ');
    pending_space = false;
    out.push_back(static_cast<char>(c));
    ++i;
  }
  return out;
}

std::size_t count_tokens(std::string_view text) {
  std::size_t n = 0;
  bool in_piece = false, counted = false;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_space(c)) {
      in_piece = false;
      continue;
    }
    if (!in_piece) {
      in_piece = true;
      counted = false;
    }
    if (!counted && (is_alnum(c) || c >= 0x80)) {
      ++n;
      counted = true;
    }
  }
  return n;
}

bool has_first_person(std::string_view text) {
  static constexpr std::array<std::string_view, 10> kWords{"i",  "me", "my",  "mine", "myself",
                                                           "we", "us", "our", "ours", "ourselves"};
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (!(is_alpha(c) || c >= 0x80)) {
      ++i;
      continue;
    }
    std::size_t e = i;
    bool ascii = true;
    while (e < n) {
      const auto d = static_cast<unsigned char>(text[e]);
      if (is_alpha(d)) {
        ++e;
      } else if (d >= 0x80) {
        // A curly apostrophe (U+2019, E2 80 99) ends a word like the straight one.
        if (d == 0xE2 && e + 2 < n && static_cast<unsigned char>(text[e + 1]) == 0x80 &&
            static_cast<unsigned char>(text[e + 2]) == 0x99)
          break;
        ascii = false;
        ++e;
      } else {
        break;
      }
    }
    const std::string_view word = text.substr(i, e - i);
    i = e;
    if (!ascii || word.size() > 9) continue;
    if (word == "US") continue;  // the country
    char buf[10];
    for (std::size_t k = 0; k < word.size(); ++k)
      buf[k] = static_cast<char>(lower(static_cast<unsigned char>(word[k])));
    const std::string_view w(buf, word.size());
    if (w == "i") {
      // "i.e." is not the pronoun.
      if (e + 1 < n && text[e] == '.' && is_alpha(static_cast<unsigned char>(text[e + 1])))
        continue;
      return true;
    }
    for (const auto& fp : kWords)
      if (w == fp) return true;
  }
  return false;
}

namespace {

constexpr std::uint64_t kFnvOffset = 1469598103934665603ULL;
constexpr std::uint64_t kFnvPrime = 1099511628211ULL;

std::uint64_t mix64(std::uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return x;
}

// The normalized text (lower-cased ASCII, white-space runs as one space, trimmed), streamed
// into a callback byte by byte.
template <class F>
void normalized_bytes(std::string_view s, F&& f) {
  bool pending = false, any = false;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_space(c)) {
      pending = any;
      continue;
    }
    if (pending) f(static_cast<unsigned char>(' '));
    pending = false;
    any = true;
    f(lower(c));
  }
}

std::uint64_t normalized_hash(std::string_view s) {
  std::uint64_t h = kFnvOffset;
  normalized_bytes(s, [&](unsigned char c) {
    h ^= c;
    h *= kFnvPrime;
  });
  return h;
}

std::string normalized_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  normalized_bytes(s, [&](unsigned char c) { out.push_back(static_cast<char>(c)); });
  return out;
}

// Word hashes: maximal runs of ASCII letters, digits, apostrophes and bytes >= 0x80, lower-cased.
void word_hashes(std::string_view s, std::vector<std::uint64_t>& out) {
  out.clear();
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    if (!(is_alnum(c) || c == '\'' || c >= 0x80)) {
      ++i;
      continue;
    }
    std::uint64_t h = kFnvOffset;
    while (i < n) {
      c = static_cast<unsigned char>(s[i]);
      if (!(is_alnum(c) || c == '\'' || c >= 0x80)) break;
      h ^= lower(c);
      h *= kFnvPrime;
      ++i;
    }
    out.push_back(h);
  }
}

// Shingle hashes of k consecutive words (one shingle when there are fewer words; none when there
// are no words): a different odd multiplier per position, summed, then mixed. In text order, with
// repeats (enough for MinHash: a minimum does not see repeats).
void shingle_hashes(std::string_view s, int k, std::vector<std::uint64_t>& words,
                    std::vector<std::uint64_t>& out) {
  static constexpr std::array<std::uint64_t, 8> kMul{
      0x9E3779B97F4A7C15ULL, 0xC2B2AE3D27D4EB4FULL, 0x165667B19E3779F9ULL, 0xD6E8FEB86659FD93ULL,
      0xFF51AFD7ED558CCDULL, 0xC4CEB9FE1A85EC53ULL, 0x2545F4914F6CDD1DULL, 0x9FB21C651E98DF25ULL};
  word_hashes(s, words);
  out.clear();
  if (words.empty()) return;
  const std::size_t kk = static_cast<std::size_t>(k);
  const std::size_t count = words.size() >= kk ? words.size() - kk + 1 : 1;
  const std::size_t width = std::min(kk, words.size());
  out.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint64_t h = 0;
    for (std::size_t j = 0; j < width; ++j) h += words[i + j] * (kMul[j % 8] + 2 * (j / 8));
    out[i] = mix64(h);
  }
}

// The shingle SET: sorted, unique (for the exact Jaccard).
void shingles(std::string_view s, int k, std::vector<std::uint64_t>& words,
              std::vector<std::uint64_t>& out) {
  shingle_hashes(s, k, words, out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

double jaccard_sorted(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
  if (a.empty() && b.empty()) return 1.0;
  std::size_t i = 0, j = 0, inter = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++inter;
      ++i;
      ++j;
    }
  }
  return static_cast<double>(inter) / static_cast<double>(a.size() + b.size() - inter);
}

std::string format_jaccard(double j) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", j);
  return buf;
}

}  // namespace

double shingle_jaccard(std::string_view a, std::string_view b, int shingle_words) {
  check_argument(shingle_words >= 1, "shingle_words", "must be >= 1");
  std::vector<std::uint64_t> words, sa, sb;
  shingles(a, shingle_words, words, sa);
  shingles(b, shingle_words, words, sb);
  return jaccard_sorted(sa, sb);
}

PrefilterResult prefilter(std::vector<Post> posts, const PrefilterOptions& options) {
  options.validate();
  const std::size_t n = posts.size();
  const int threads = options.execution.resolved_threads();
  const Execution& exec = options.execution;

  // Pass 1: per-post features.
  std::vector<std::uint32_t> tokens(n);
  std::vector<std::uint8_t> first_person(n);
  std::vector<std::uint64_t> hash(n);
  parallel_for(static_cast<Index>(n), threads, 256, [&](Index b, Index e) {
    for (Index k = b; k < e; ++k) {
      Post& p = posts[static_cast<std::size_t>(k)];
      if (options.strip_noise) p.text = clean_post_text(p.text);
      tokens[k] =
          static_cast<std::uint32_t>(std::min<std::size_t>(count_tokens(p.text), UINT32_MAX));
      first_person[k] = options.require_first_person ? has_first_person(p.text) : 1;
      hash[k] = options.drop_exact_duplicates ? normalized_hash(p.text) : 0;
    }
  });
  exec.checkpoint("prefilter", 0.3);

  // Pass 2: rules 1-4 in input order. reason[i] == 0 means kept so far.
  enum Reason : std::uint8_t { kKept, kEmpty, kShort, kNoFirst, kExact, kNear };
  std::vector<std::uint8_t> reason(n, kKept);
  std::vector<std::size_t> dup_of(n, 0);
  std::vector<double> dup_jaccard(n, 0.0);
  std::unordered_map<std::uint64_t, std::size_t> first_by_hash;
  first_by_hash.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Post& p = posts[i];
    if (p.text.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
      reason[i] = kEmpty;
    } else if (tokens[i] < static_cast<std::uint32_t>(options.min_tokens)) {
      reason[i] = kShort;
    } else if (!first_person[i]) {
      reason[i] = kNoFirst;
    } else if (options.drop_exact_duplicates) {
      const auto [it, fresh] = first_by_hash.emplace(hash[i], i);
      if (!fresh && normalized_text(posts[it->second].text) == normalized_text(p.text)) {
        reason[i] = kExact;
        dup_of[i] = it->second;
      }
    }
  }
  exec.checkpoint("prefilter", 0.5);

  // Passes 3-5: near duplicates among the survivors.
  if (options.drop_near_duplicates) {
    std::vector<std::size_t> live;
    for (std::size_t i = 0; i < n; ++i)
      if (reason[i] == kKept) live.push_back(i);
    const std::size_t m = live.size();
    const std::size_t bands = static_cast<std::size_t>(options.lsh_bands);
    const std::size_t perms = static_cast<std::size_t>(options.minhash_permutations);
    const std::size_t rows = perms / bands;
    // Fixed hash functions (seeded: the same for every run): h_p(x) = mix32(x * mul_p + add_p)
    // on the shingle hash folded to 32 bits, mul_p odd, so each h_p is a bijection of the 32-bit
    // values (a permutation, as MinHash wants); 32-bit lanes so that the loop vectorizes.
    std::vector<std::uint32_t> mul(perms), add(perms);
    {
      std::uint64_t state = 0x5EED'F00D'1234'5678ULL;
      for (std::size_t p = 0; p < perms; ++p) {
        state += 0x9E3779B97F4A7C15ULL;
        mul[p] = static_cast<std::uint32_t>(mix64(state)) | 1u;
        state += 0x9E3779B97F4A7C15ULL;
        add[p] = static_cast<std::uint32_t>(mix64(state));
      }
    }
    // keys[b][k] = (band key, k) for the k-th survivor.
    std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> keys(
        bands, std::vector<std::pair<std::uint32_t, std::uint32_t>>(m));
    parallel_for(static_cast<Index>(m), threads, 256, [&](Index b0, Index e0) {
      std::vector<std::uint64_t> words, sh;
      std::vector<std::uint32_t> sig(perms);
      for (Index k = b0; k < e0; ++k) {
        shingle_hashes(posts[live[static_cast<std::size_t>(k)]].text, options.shingle_words, words,
                       sh);
        std::fill(sig.begin(), sig.end(), UINT32_MAX);
        std::uint32_t* sg = sig.data();
        const std::uint32_t* mp = mul.data();
        const std::uint32_t* ap = add.data();
        for (std::uint64_t s : sh) {
          const auto x = static_cast<std::uint32_t>(s ^ (s >> 32));
          for (std::size_t p = 0; p < perms; ++p) {
            std::uint32_t y = x * mp[p] + ap[p];
            y ^= y >> 16;
            y *= 0x7FEB352Du;
            y ^= y >> 15;
            sg[p] = std::min(sg[p], y);
          }
        }
        for (std::size_t b = 0; b < bands; ++b) {
          std::uint64_t h = mix64(0xBA5Eull + b);
          for (std::size_t r = 0; r < rows; ++r) h = mix64(h ^ sig[b * rows + r]);
          keys[b][static_cast<std::size_t>(k)] = {static_cast<std::uint32_t>(h >> 32),
                                                  static_cast<std::uint32_t>(k)};
        }
      }
    });
    exec.checkpoint("prefilter", 0.8);
    // Candidate pairs (later, earlier) of survivors that share a band key: the runs of equal
    // keys of each band's sorted list (most posts are alone in their run and cost nothing more).
    std::vector<std::vector<std::pair<std::uint32_t, std::uint32_t>>> band_pairs(bands);
    parallel_for(static_cast<Index>(bands), threads, 1, [&](Index b0, Index e0) {
      for (Index b = b0; b < e0; ++b) {
        auto& kb = keys[static_cast<std::size_t>(b)];
        std::sort(kb.begin(), kb.end());
        auto& out = band_pairs[static_cast<std::size_t>(b)];
        for (std::size_t s0 = 0; s0 < m;) {
          std::size_t e = s0 + 1;
          while (e < m && kb[e].first == kb[s0].first) ++e;
          for (std::size_t j = s0 + 1; j < e; ++j)
            for (std::size_t i = s0; i < j; ++i) out.emplace_back(kb[j].second, kb[i].second);
          s0 = e;
        }
        std::vector<std::pair<std::uint32_t, std::uint32_t>>().swap(kb);
      }
    });
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
    for (auto& bp : band_pairs) {
      pairs.insert(pairs.end(), bp.begin(), bp.end());
      std::vector<std::pair<std::uint32_t, std::uint32_t>>().swap(bp);
    }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    // In input order: the earliest kept candidate at or above the threshold (pairs are sorted
    // by (later, earlier)).
    std::vector<std::uint8_t> kept(m, 1);
    std::vector<std::uint64_t> words, sj, si;
    std::size_t at = 0;
    for (std::size_t k = 0; k < m; ++k) {
      bool have_sj = false;
      for (; at < pairs.size() && pairs[at].first == k; ++at) {
        const std::uint32_t other = pairs[at].second;
        if (!kept[other] || !kept[k]) continue;
        if (!have_sj) {
          shingles(posts[live[k]].text, options.shingle_words, words, sj);
          have_sj = true;
        }
        shingles(posts[live[other]].text, options.shingle_words, words, si);
        const double jac = jaccard_sorted(si, sj);
        if (jac >= options.near_duplicate_threshold) {
          kept[k] = 0;
          reason[live[k]] = kNear;
          dup_of[live[k]] = live[other];
          dup_jaccard[live[k]] = jac;
        }
      }
    }
  }
  exec.checkpoint("prefilter", 0.95);

  PrefilterResult result;
  static constexpr std::array<const char*, 6> kNames{"",
                                                     "empty_after_cleaning",
                                                     "too_short",
                                                     "no_first_person",
                                                     "exact_duplicate",
                                                     "near_duplicate"};
  for (std::size_t r = 1; r < kNames.size(); ++r) result.counts[kNames[r]] = 0;
  result.counts["in"] = n;
  for (std::size_t i = 0; i < n; ++i) {
    if (reason[i] == kKept) continue;
    DroppedPost d;
    d.post_id = posts[i].id;
    d.author = posts[i].author;
    d.reason = kNames[reason[i]];
    if (reason[i] == kShort)
      d.detail = std::to_string(tokens[i]) + " tokens < " + std::to_string(options.min_tokens);
    else if (reason[i] == kExact)
      d.detail = "of " + posts[dup_of[i]].id;
    else if (reason[i] == kNear)
      d.detail = "of " + posts[dup_of[i]].id + ", Jaccard " + format_jaccard(dup_jaccard[i]);
    ++result.counts[d.reason];
    result.dropped.push_back(std::move(d));
  }
  std::size_t kept_count = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (reason[i] == kKept) ++kept_count;
  result.kept.reserve(kept_count);
  for (std::size_t i = 0; i < n; ++i)
    if (reason[i] == kKept) result.kept.push_back(std::move(posts[i]));
  result.counts["kept"] = kept_count;
  return result;
}

}  // namespace popalign::persona
