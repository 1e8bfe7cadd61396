// .npy files (see include/popalign/io/npy.hpp): read by popalign's own bounded parser below,
// written through xtensor's xnpy.
#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string_view>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include <popalign/io/csv.hpp>
#include <popalign/io/npy.hpp>

namespace popalign::io {

namespace {

// The reader is popalign's own (xtensor's load_npy_file indexes an empty header and allocates
// whatever size a header claims: found by fuzz/fuzz_npy). Layout: "\x93NUMPY", major and minor
// version bytes, the header length (2 bytes little endian in version 1, 4 bytes in 2 and 3), the
// header (a Python dict literal ending in '\n' with 'descr', 'fortran_order' and 'shape', in
// any order), then the data. The data size is checked against the file size before anything is
// allocated.

[[noreturn]] void bad(const std::string& name, const std::string& what) {
  throw IoError(name, fmt::format("not a valid .npy file: {}", what));
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// The text of the value after 'key': up to the next top-level ',' or the closing '}'.
std::string_view dict_value(std::string_view dict, std::string_view key, const std::string& name) {
  const std::string quoted = fmt::format("'{}'", key);
  auto p = dict.find(quoted);
  if (p == std::string_view::npos) bad(name, fmt::format("missing '{}' key", key));
  p += quoted.size();
  while (p < dict.size() && dict[p] == ' ') ++p;
  if (p >= dict.size() || dict[p] != ':') bad(name, fmt::format("no ':' after '{}'", key));
  ++p;
  std::size_t e = p;
  int parens = 0;
  bool quote = false;
  for (; e < dict.size(); ++e) {
    const char c = dict[e];
    if (c == '\'') quote = !quote;
    if (quote) continue;
    if (c == '(') ++parens;
    if (c == ')') --parens;
    if (parens == 0 && (c == ',' || c == '}')) break;
  }
  return trim_spaces(dict.substr(p, e - p));
}

struct NpyHeader {
  std::string dtype;
  bool fortran = false;
  std::vector<std::size_t> shape;
};

NpyHeader parse_header(std::string_view h, const std::string& name) {
  while (!h.empty() && (h.back() == ' ' || h.back() == '\n' || h.back() == '\0'))
    h.remove_suffix(1);
  h = trim_spaces(h);
  if (h.size() < 2 || h.front() != '{' || h.back() != '}') bad(name, "the header is not a dict");
  NpyHeader out;
  const auto descr = dict_value(h, "descr", name);
  if (descr.size() < 2 || descr.front() != '\'' || descr.back() != '\'')
    bad(name, "'descr' is not a string");
  out.dtype = std::string(descr.substr(1, descr.size() - 2));
  const auto order = dict_value(h, "fortran_order", name);
  if (order == "True")
    out.fortran = true;
  else if (order != "False")
    bad(name, "'fortran_order' is neither True nor False");
  auto shape = dict_value(h, "shape", name);
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')')
    bad(name, "'shape' is not a tuple");
  shape = shape.substr(1, shape.size() - 2);
  while (!trim_spaces(shape).empty()) {
    const auto comma = shape.find(',');
    const auto item = trim_spaces(shape.substr(0, comma));
    std::size_t v = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size())
      bad(name, fmt::format("bad dimension '{}' in 'shape'", item));
    out.shape.push_back(v);
    if (comma == std::string_view::npos) break;
    shape.remove_prefix(comma + 1);
  }
  return out;
}

template <class Src, class T>
RowMatrix<T> copy_out(const char* bytes, const NpyHeader& h) {
  const Index rows = h.shape.empty() ? 1 : static_cast<Index>(h.shape[0]);
  const Index cols = h.shape.size() == 2 ? static_cast<Index>(h.shape[1]) : 1;
  RowMatrix<T> out(rows, cols);
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) {
      const Index k = h.fortran ? j * rows + i : i * cols + j;
      Src x;
      std::memcpy(&x, bytes + static_cast<std::size_t>(k) * sizeof(Src), sizeof(Src));
      out(i, j) = static_cast<T>(x);
    }
  return out;
}

}  // namespace

template <Real T>
RowMatrix<T> read_npy(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(name, "cannot open file for reading");
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(name, "read error");
  static constexpr std::string_view magic = "\x93NUMPY";
  if (file.size() < magic.size() + 4 || std::string_view(file).substr(0, magic.size()) != magic)
    bad(name, "no \\x93NUMPY magic");
  const auto byte = [&](std::size_t i) {
    return static_cast<std::size_t>(static_cast<unsigned char>(file[i]));
  };
  const std::size_t major = byte(6);
  std::size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = byte(8) | byte(9) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (file.size() < 12) bad(name, "truncated header");
    header_len = byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24;
    offset = 12;
  } else {
    bad(name, fmt::format("unsupported format version {}", major));
  }
  if (header_len > file.size() - offset) bad(name, "truncated header");
  const NpyHeader h = parse_header(std::string_view(file).substr(offset, header_len), name);
  offset += header_len;
  if (h.dtype != "<f8" && h.dtype != "<f4")
    throw IoError(name,
                  fmt::format("unsupported dtype '{}' (popalign reads '<f4' and '<f8')", h.dtype));
  if (h.shape.size() > 2)
    throw IoError(name,
                  fmt::format("expected a 1-D or 2-D array, found {} dimensions", h.shape.size()));
  const std::size_t item = h.dtype == "<f8" ? 8 : 4;
  std::size_t count = 1;
  for (const auto d : h.shape) {
    if (d > static_cast<std::size_t>(std::numeric_limits<Index>::max()) ||
        (d != 0 && count > (std::numeric_limits<std::size_t>::max() / item) / d))
      bad(name, "'shape' too large");
    count *= d;
  }
  const std::size_t n_bytes = count * item;
  if (file.size() - offset < n_bytes)
    throw IoError(name,
                  fmt::format("truncated .npy file: the header promises {} data bytes", n_bytes));
  const char* data = file.data() + offset;
  return item == 8 ? copy_out<double, T>(data, h) : copy_out<float, T>(data, h);
}

template <Real T>
void write_npy(const std::filesystem::path& path, MatrixView<T> values) {
  std::vector<std::size_t> shape{static_cast<std::size_t>(values.rows()),
                                 static_cast<std::size_t>(values.cols())};
  xt::xarray<T, xt::layout_type::row_major> arr(shape);
  for (Index i = 0; i < values.rows(); ++i)
    for (Index j = 0; j < values.cols(); ++j)
      arr(static_cast<std::size_t>(i), static_cast<std::size_t>(j)) = values(i, j);
  std::string bytes;
  try {
    bytes = xt::dump_npy(arr);
  } catch (const std::exception& e) {
    throw IoError(path.string(), fmt::format("cannot encode .npy: {}", e.what()));
  }
  write_file_atomically(path, bytes);
}

template RowMatrix<float> read_npy<float>(const std::filesystem::path&);
template RowMatrix<double> read_npy<double>(const std::filesystem::path&);
template void write_npy<float>(const std::filesystem::path&, MatrixView<float>);
template void write_npy<double>(const std::filesystem::path&, MatrixView<double>);

}  // namespace popalign::io
