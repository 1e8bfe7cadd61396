#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <popalign/embedding/word_vectors.hpp>

namespace popalign::embedding {

WordVectors::WordVectors(std::vector<std::string> words, RowMatrix<float> vectors)
    : words_(std::move(words)), vectors_(std::move(vectors)) {
  check_argument(static_cast<Index>(words_.size()) == vectors_.rows(), "words",
                 "has " + std::to_string(words_.size()) + " entries for " +
                     std::to_string(vectors_.rows()) + " vectors");
  index_.reserve(words_.size());
  for (std::size_t i = 0; i < words_.size(); ++i) {
    check_argument(!words_[i].empty(), "words", "entry " + std::to_string(i) + " is empty");
    const bool inserted = index_.emplace(words_[i], static_cast<Index>(i)).second;
    check_argument(inserted, "words", "'" + words_[i] + "' appears twice");
  }
}

Index WordVectors::find(std::string_view word) const {
  auto it = index_.find(std::string(word));
  return it == index_.end() ? Index{-1} : it->second;
}

namespace {

bool parse_float(std::string_view s, float& out) {
  // std::from_chars for float is locale-independent and exact.
  const char* b = s.data();
  const char* e = s.data() + s.size();
  auto [p, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && p == e && std::isfinite(out);
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool parse_header(std::string_view line, Index& n, Index& d) {
  auto parts = split_ws(line);
  if (parts.size() != 2) return false;
  long long a = 0, b = 0;
  auto r1 = std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), a);
  auto r2 = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), b);
  if (r1.ec != std::errc() || r1.ptr != parts[0].data() + parts[0].size()) return false;
  if (r2.ec != std::errc() || r2.ptr != parts[1].data() + parts[1].size()) return false;
  if (a < 0 || b <= 0) return false;
  n = static_cast<Index>(a);
  d = static_cast<Index>(b);
  return true;
}

float from_le(const unsigned char* p) {
  std::uint32_t u = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&u, p, 4);
  } else {
    u = static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
        (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

WordVectors load_text(const std::string& path, const std::string& data, Index max_words) {
  std::vector<std::string> words;
  std::vector<float> values;
  Index dim = -1, declared = -1;
  std::size_t pos = 0, line_no = 0;
  while (pos < data.size()) {
    std::size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    std::string_view line(data.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    auto parts = split_ws(line);
    if (parts.empty()) continue;
    if (line_no == 1) {
      Index n = 0, d = 0;
      if (parse_header(line, n, d)) {
        declared = n;
        dim = d;
        continue;
      }
    }
    if (dim < 0) dim = static_cast<Index>(parts.size()) - 1;
    if (dim <= 0 || static_cast<Index>(parts.size()) != dim + 1)
      throw ParseError(path, line_no,
                       "expected a word and " + std::to_string(dim) + " numbers, found " +
                           std::to_string(parts.size()) + " fields");
    words.emplace_back(parts[0]);
    for (Index k = 0; k < dim; ++k) {
      float f = 0;
      if (!parse_float(parts[static_cast<std::size_t>(k + 1)], f))
        throw ParseError(path, line_no,
                         "field " + std::to_string(k + 2) + " ('" +
                             std::string(parts[static_cast<std::size_t>(k + 1)]) +
                             "') is not a finite number");
      values.push_back(f);
    }
    if (max_words > 0 && static_cast<Index>(words.size()) >= max_words) break;
  }
  if (declared >= 0 && max_words == 0 && static_cast<Index>(words.size()) != declared)
    throw ParseError(path, 1,
                     "header declares " + std::to_string(declared) + " words, file has " +
                         std::to_string(words.size()));
  if (words.empty()) throw ParseError(path, 0, "no word vectors");
  RowMatrix<float> m =
      Eigen::Map<RowMatrix<float>>(values.data(), static_cast<Index>(words.size()), dim);
  try {
    return WordVectors(std::move(words), std::move(m));
  } catch (const InvalidArgument& e) {
    throw ParseError(path, 0, e.what());
  }
}

WordVectors load_binary(const std::string& path, const std::string& data, std::size_t pos, Index n,
                        Index d, Index max_words) {
  const Index keep = max_words > 0 ? std::min(max_words, n) : n;
  std::vector<std::string> words;
  words.reserve(static_cast<std::size_t>(keep));
  RowMatrix<float> m(keep, d);
  const auto bytes = static_cast<std::size_t>(d) * 4;
  for (Index r = 0; r < keep; ++r) {
    while (pos < data.size() && (data[pos] == '\n' || data[pos] == '\r')) ++pos;
    const std::size_t sp = data.find(' ', pos);
    if (sp == std::string::npos || sp == pos || sp - pos > 1000)
      throw ParseError(path, 0,
                       "record " + std::to_string(r + 1) + " of " + std::to_string(n) +
                           ": missing word (file truncated or not word2vec binary)");
    words.emplace_back(data.substr(pos, sp - pos));
    pos = sp + 1;
    if (data.size() - pos < bytes)
      throw ParseError(path, 0,
                       "record " + std::to_string(r + 1) + " ('" + words.back() +
                           "'): file truncated (" + std::to_string(data.size() - pos) +
                           " bytes left, need " + std::to_string(bytes) + ")");
    const auto* p = reinterpret_cast<const unsigned char*>(data.data() + pos);
    for (Index k = 0; k < d; ++k) {
      const float f = from_le(p + 4 * k);
      if (!std::isfinite(f))
        throw ParseError(path, 0,
                         "record " + std::to_string(r + 1) + " ('" + words.back() +
                             "'): component " + std::to_string(k) + " is not finite");
      m(r, k) = f;
    }
    pos += bytes;
  }
  try {
    return WordVectors(std::move(words), std::move(m));
  } catch (const InvalidArgument& e) {
    throw ParseError(path, 0, e.what());
  }
}

/// True when the first record after the header looks like text: printable bytes up to '\n'
/// splitting into d+1 fields whose last d parse as numbers.
bool looks_like_text(const std::string& data, std::size_t pos, Index d) {
  std::size_t end = data.find('\n', pos);
  if (end == std::string::npos) end = data.size();
  std::string_view line(data.data() + pos, end - pos);
  auto parts = split_ws(line);
  if (static_cast<Index>(parts.size()) != d + 1) return false;
  for (std::size_t k = 1; k < parts.size(); ++k) {
    float f;
    if (!parse_float(parts[k], f)) return false;
  }
  return true;
}

}  // namespace

WordVectors load_word_vectors(const std::string& path, WordVectorFormat format, Index max_words) {
  check_argument(max_words >= 0, "max_words", "must be >= 0 (0 = all)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path, "cannot open word-vector file");
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (data.empty()) throw ParseError(path, 0, "empty word-vector file");
  const std::size_t nl = data.find('\n');
  const std::string_view first(data.data(), nl == std::string::npos ? data.size() : nl);
  Index n = 0, d = 0;
  const bool has_header = parse_header(first, n, d);
  if (format == WordVectorFormat::automatic) {
    if (!has_header || nl == std::string::npos)
      format = WordVectorFormat::text;
    else
      format = looks_like_text(data, nl + 1, d) ? WordVectorFormat::text : WordVectorFormat::binary;
  }
  if (format == WordVectorFormat::text) return load_text(path, data, max_words);
  if (!has_header) throw ParseError(path, 1, "word2vec binary needs a header line 'N D'");
  return load_binary(path, data, nl + 1, n, d, max_words);
}

void save_word_vectors(const WordVectors& vectors, const std::string& path,
                       WordVectorFormat format) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw IoError(path, "cannot open for writing");
  out << vectors.size() << ' ' << vectors.dimension() << '\n';
  for (Index r = 0; r < vectors.size(); ++r) {
    out << vectors.words()[static_cast<std::size_t>(r)];
    if (format == WordVectorFormat::text) {
      for (Index k = 0; k < vectors.dimension(); ++k) {
        char buf[32];
        auto res = std::to_chars(buf, buf + sizeof buf, vectors.vectors()(r, k));
        out << ' ' << std::string_view(buf, static_cast<std::size_t>(res.ptr - buf));
      }
      out << '\n';
    } else {
      out << ' ';
      for (Index k = 0; k < vectors.dimension(); ++k) {
        const float f = vectors.vectors()(r, k);
        std::uint32_t u;
        std::memcpy(&u, &f, 4);
        const unsigned char b[4] = {
            static_cast<unsigned char>(u), static_cast<unsigned char>(u >> 8),
            static_cast<unsigned char>(u >> 16), static_cast<unsigned char>(u >> 24)};
        out.write(reinterpret_cast<const char*>(b), 4);
      }
      out << '\n';
    }
  }
  if (!out) throw IoError(path, "write failed");
}

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  auto is_word = [](unsigned char c) { return c < 128 && (std::isalnum(c) || c == '\''); };
  while (i < text.size()) {
    while (i < text.size() && !is_word(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t j = i;
    while (j < text.size() && is_word(static_cast<unsigned char>(text[j]))) ++j;
    if (j == i) break;
    std::string tok;
    tok.reserve(j - i);
    for (std::size_t k = i; k < j; ++k)
      tok.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[k]))));
    i = j;
    // Leading / trailing apostrophes are quotes (or a plural possessive "dogs'").
    std::size_t b = 0, e = tok.size();
    while (b < e && tok[b] == '\'') ++b;
    while (e > b && tok[e - 1] == '\'') --e;
    tok = tok.substr(b, e - b);
    if (tok.empty()) continue;
    const std::size_t ap = tok.find('\'');
    if (ap == std::string::npos) {
      out.push_back(std::move(tok));
      continue;
    }
    // Penn-Treebank clitics: "don't" -> "do" "n't"; "she's" -> "she" "'s"; other inner
    // apostrophes ("o'clock", "rock'n'roll") split into their pieces.
    if (ap > 0 && tok[ap - 1] == 'n' && tok.compare(ap - 1, std::string::npos, "n't") == 0 &&
        ap - 1 > 0) {
      out.push_back(tok.substr(0, ap - 1));
      out.push_back("n't");
      continue;
    }
    const std::string suffix = tok.substr(ap);
    if (suffix == "'s" || suffix == "'m" || suffix == "'re" || suffix == "'ve" || suffix == "'ll" ||
        suffix == "'d") {
      out.push_back(tok.substr(0, ap));
      out.push_back(suffix);
      continue;
    }
    std::size_t s = 0;
    while (s <= tok.size()) {
      std::size_t q = tok.find('\'', s);
      if (q == std::string::npos) q = tok.size();
      if (q > s) out.push_back(tok.substr(s, q - s));
      s = q + 1;
    }
  }
  return out;
}

std::string normalized_text(std::string_view text) {
  std::string out;
  for (const std::string& t : tokenize(text)) {
    if (!out.empty()) out.push_back(' ');
    out += t;
  }
  return out;
}

Vector<double> zipf_probabilities(Index n) {
  check_argument(n > 0, "n", "must be > 0");
  double h = 0.0;
  for (Index r = n; r >= 1; --r) h += 1.0 / static_cast<double>(r);  // small terms first
  Vector<double> p(n);
  for (Index r = 0; r < n; ++r) p[r] = 1.0 / (static_cast<double>(r + 1) * h);
  return p;
}

}  // namespace popalign::embedding
