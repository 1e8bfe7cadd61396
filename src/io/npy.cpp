// .npy read/write through xtensor's xnpy (see include/popalign/io/npy.hpp).
#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include <popalign/io/csv.hpp>
#include <popalign/io/npy.hpp>

namespace popalign::io {

namespace {

template <class Src, class T>
RowMatrix<T> copy_out(xt::detail::npy_file& file, const std::string& name) {
  auto arr = file.cast<Src>(true);  // a view on the file's buffer, honouring its order
  const auto& shape = arr.shape();
  Index rows = 1, cols = 1;
  if (shape.size() == 1) {
    rows = static_cast<Index>(shape[0]);
  } else if (shape.size() == 2) {
    rows = static_cast<Index>(shape[0]);
    cols = static_cast<Index>(shape[1]);
  } else if (shape.size() != 0) {
    throw IoError(name,
                  fmt::format("expected a 1-D or 2-D array, found {} dimensions", shape.size()));
  }
  RowMatrix<T> out(rows, cols);
  if (shape.size() == 2) {
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j)
        out(i, j) = static_cast<T>(arr(static_cast<std::size_t>(i), static_cast<std::size_t>(j)));
  } else if (shape.size() == 1) {
    for (Index i = 0; i < rows; ++i) out(i, 0) = static_cast<T>(arr(static_cast<std::size_t>(i)));
  } else {
    out(0, 0) = static_cast<T>(arr());
  }
  return out;
}

}  // namespace

template <Real T>
RowMatrix<T> read_npy(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(name, "cannot open file for reading");
  try {
    auto file = xt::detail::load_npy_file(in);
    if (static_cast<std::size_t>(in.gcount()) != file.n_bytes() || in.fail())
      throw IoError(name, fmt::format("truncated .npy file: the header promises {} data bytes",
                                      file.n_bytes()));
    if (file.m_typestring == "<f8") {
      return copy_out<double, T>(file, name);  // the buffer stays owned by `file`
    }
    if (file.m_typestring == "<f4") {
      return copy_out<float, T>(file, name);
    }
    throw IoError(name, fmt::format("unsupported dtype '{}' (popalign reads '<f4' and '<f8')",
                                    file.m_typestring));
  } catch (const IoError&) {
    throw;
  } catch (const std::exception& e) {
    throw IoError(name, fmt::format("not a valid .npy file: {}", e.what()));
  }
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
