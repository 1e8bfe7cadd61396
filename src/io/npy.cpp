// NumPy .npy files (see include/popalign/io/npy.hpp), read and written here without a
// third-party library: the format is a fixed preamble and a Python-literal header.
//
//   bytes 0-5   "\x93NUMPY" (magic)
//   bytes 6-7   format version (major, minor): 1.0, 2.0 or 3.0
//   then        header length: uint16 little endian (1.0) or uint32 (2.0, 3.0)
//   then        the header, a Python dict literal padded with spaces and ending in '\n':
//               {'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
//   then        the data: prod(shape) items of descr, in C or Fortran order.
//
// Reading parses the dict (three keys; strings, True/False and a tuple of integers), checks the
// dtype ('<f4' or '<f8'), that the file holds all the promised bytes, and copies into a
// RowMatrix<T> converting the scalar type. Writing emits format 1.0 with the header padded so
// that the data starts at a multiple of 64 bytes, as NumPy's np.save does (the same bytes for
// the same array: tests/io/npy_test.cpp compares with a file written by NumPy).
#include <fmt/format.h>

#include <bit>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/io/csv.hpp>
#include <popalign/io/npy.hpp>

namespace popalign::io {

namespace {

static_assert(std::endian::native == std::endian::little,
              "popalign's .npy reader and writer assume a little-endian host");

constexpr std::string_view kMagic = "\x93NUMPY";

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

// A parser of the header dict. Errors are plain messages; read_npy adds the file name.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view text) : s_(text) {}

  NpyHeader parse() {
    NpyHeader h;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        h.descr = string_literal();
        has_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        has_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        has_shape = true;
      } else {
        fail(fmt::format("unexpected key '{}' in the header", key));
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}' in the header");
    }
    if (!has_descr || !has_order || !has_shape)
      fail("the header lacks one of 'descr', 'fortran_order', 'shape'");
    return h;
  }

 private:
  [[noreturn]] static void fail(const std::string& message) { throw std::runtime_error(message); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(fmt::format("expected '{}' in the header at offset {}", c, pos_));
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail("expected a quoted string in the header");
    const std::size_t end = s_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string in the header");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail("expected True or False for 'fortran_order'");
  }
  std::vector<std::uint64_t> tuple() {
    std::vector<std::uint64_t> out;
    expect('(');
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        fail("expected a non-negative integer in 'shape'");
      std::uint64_t v = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        const auto digit = static_cast<std::uint64_t>(peek() - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
          fail("a dimension in 'shape' is too large");
        v = v * 10 + digit;
        ++pos_;
      }
      out.push_back(v);
      skip_space();
      if (peek() == ',') ++pos_;
    }
    ++pos_;  // ')'
    return out;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

std::uint32_t little_endian(const std::string& bytes, std::size_t at, std::size_t width) {
  std::uint32_t v = 0;
  for (std::size_t k = 0; k < width; ++k)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + k])) << (8 * k);
  return v;
}

template <class Src, class T>
RowMatrix<T> copy_out(const char* data, Index rows, Index cols, bool fortran_order) {
  RowMatrix<T> out(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) {
      const Index k = fortran_order ? j * rows + i : i * cols + j;
      Src v;
      std::memcpy(&v, data + static_cast<std::size_t>(k) * sizeof(Src), sizeof(Src));
      out(i, j) = static_cast<T>(v);
    }
  return out;
}

}  // namespace

template <Real T>
RowMatrix<T> read_npy(const std::filesystem::path& path) {
  const std::string name = path.string();
  require_not_directory(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(name, "cannot open file for reading");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(name, "read error");

  if (bytes.size() < 10 || std::string_view(bytes).substr(0, 6) != kMagic)
    throw IoError(name, "not a valid .npy file: it does not start with \\x93NUMPY");
  const int major = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  if (!((major == 1 || major == 2 || major == 3) && minor == 0))
    throw IoError(
        name, fmt::format("not a valid .npy file: unsupported format version {}.{}", major, minor));
  const std::size_t len_width = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_width) throw IoError(name, "not a valid .npy file: truncated header");
  const std::size_t header_start = 8 + len_width;
  const std::size_t header_len = little_endian(bytes, 8, len_width);
  if (bytes.size() < header_start + header_len)
    throw IoError(name, "not a valid .npy file: truncated header");

  NpyHeader header;
  try {
    header = HeaderParser(std::string_view(bytes).substr(header_start, header_len)).parse();
  } catch (const std::runtime_error& e) {
    throw IoError(name, fmt::format("not a valid .npy file: {}", e.what()));
  }
  std::size_t item = 0;
  if (header.descr == "<f8") item = 8;
  if (header.descr == "<f4") item = 4;
  if (item == 0)
    throw IoError(
        name, fmt::format("unsupported dtype '{}' (popalign reads '<f4' and '<f8')", header.descr));
  if (header.shape.size() > 2)
    throw IoError(
        name, fmt::format("expected a 1-D or 2-D array, found {} dimensions", header.shape.size()));
  const std::uint64_t limit = static_cast<std::uint64_t>(std::numeric_limits<Index>::max()) / 8;
  std::uint64_t count = 1;
  for (std::uint64_t d : header.shape) {
    if (d > limit || (d > 0 && count > limit / d))
      throw IoError(name, "not a valid .npy file: the shape is too large");
    count *= d;
  }
  const Index rows = header.shape.empty() ? 1 : static_cast<Index>(header.shape[0]);
  const Index cols = header.shape.size() == 2 ? static_cast<Index>(header.shape[1]) : 1;
  const std::uint64_t data_bytes = count * item;
  const std::size_t data_start = header_start + header_len;
  if (bytes.size() - data_start < data_bytes)
    throw IoError(name, fmt::format("truncated .npy file: the header promises {} data bytes, "
                                    "the file holds {}",
                                    data_bytes, bytes.size() - data_start));
  const char* data = bytes.data() + data_start;
  return item == 8 ? copy_out<double, T>(data, rows, cols, header.fortran_order)
                   : copy_out<float, T>(data, rows, cols, header.fortran_order);
}

template <Real T>
void write_npy(const std::filesystem::path& path, MatrixView<T> values) {
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}, {}), }}",
                                   sizeof(T) == 8 ? "<f8" : "<f4", values.rows(), values.cols());
  // Pad with spaces so that magic (6) + version (2) + length (2) + header + '\n' is a multiple
  // of 64 (NumPy's alignment), then end the header with '\n'.
  const std::size_t unpadded = kMagic.size() + 2 + 2 + header.size() + 1;
  header.append(64 - unpadded % 64, ' ');
  header.push_back('\n');
  if (header.size() > std::numeric_limits<std::uint16_t>::max())
    throw IoError(path.string(), "cannot encode .npy: header too long");

  std::string bytes(kMagic);
  bytes.push_back('\x01');
  bytes.push_back('\x00');
  bytes.push_back(static_cast<char>(header.size() & 0xff));
  bytes.push_back(static_cast<char>((header.size() >> 8) & 0xff));
  bytes += header;
  const std::size_t data_start = bytes.size();
  bytes.resize(data_start + static_cast<std::size_t>(values.size()) * sizeof(T));
  char* out = bytes.data() + data_start;
  for (Index i = 0; i < values.rows(); ++i)
    for (Index j = 0; j < values.cols(); ++j) {
      const T v = values(i, j);
      std::memcpy(out, &v, sizeof(T));
      out += sizeof(T);
    }
  write_file_atomically(path, bytes);
}

template RowMatrix<float> read_npy<float>(const std::filesystem::path&);
template RowMatrix<double> read_npy<double>(const std::filesystem::path&);
template void write_npy<float>(const std::filesystem::path&, MatrixView<float>);
template void write_npy<double>(const std::filesystem::path&, MatrixView<double>);

}  // namespace popalign::io
