#pragma once
// NumPy .npy files for float and double matrices (format versions 1.0, 2.0 and 3.0 read, 1.0
// written; no third-party library, src/io/npy.cpp). A 1-D array reads as an n x 1 matrix, a 0-D
// one as 1 x 1; C and Fortran order are both read; a float file read as double (or the reverse)
// is converted. Writing is C order, little endian, with NumPy's header layout (np.save writes
// the same bytes), through `<path>.tmp` + rename. Errors are IoError naming the file.
#include <filesystem>

#include <popalign/core/types.hpp>

namespace popalign::io {

/// Reads a 1-D or 2-D array of float32 or float64 as a RowMatrix<T>.
template <Real T>
RowMatrix<T> read_npy(const std::filesystem::path& path);

/// Writes a 2-D array of T (dtype '<f4' or '<f8').
template <Real T>
void write_npy(const std::filesystem::path& path, MatrixView<T> values);

extern template RowMatrix<float> read_npy<float>(const std::filesystem::path&);
extern template RowMatrix<double> read_npy<double>(const std::filesystem::path&);
extern template void write_npy<float>(const std::filesystem::path&, MatrixView<float>);
extern template void write_npy<double>(const std::filesystem::path&, MatrixView<double>);

}  // namespace popalign::io
