#include <popalign/io/npy.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include <fstream>

#include <popalign/core/random.hpp>
#include <popalign/io/csv.hpp>

#include "io/temp_dir.hpp"

namespace popalign::io {
namespace {

using popalign::testing::TempDir;
using ::testing::HasSubstr;

const std::filesystem::path kData = POPALIGN_IO_TEST_DATA;

template <class T>
class NpyTyped : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(NpyTyped, Scalars);

TYPED_TEST(NpyTyped, RoundTripIsExact) {
  using T = TypeParam;
  TempDir dir;
  Rng rng(3);
  RowMatrix<T> m(17, 5);
  for (Index i = 0; i < m.rows(); ++i)
    for (Index j = 0; j < m.cols(); ++j) m(i, j) = static_cast<T>(rng.normal());
  write_npy<T>(dir / "m.npy", m);
  const RowMatrix<T> back = read_npy<T>(dir / "m.npy");
  EXPECT_EQ(back.rows(), 17);
  EXPECT_EQ(back.cols(), 5);
  EXPECT_TRUE(back == m);
  // Same values, same bytes.
  write_npy<T>(dir / "n.npy", m);
  EXPECT_EQ(read_file(dir / "m.npy"), read_file(dir / "n.npy"));
  // Empty matrix.
  RowMatrix<T> e(0, 3);
  write_npy<T>(dir / "e.npy", e);
  EXPECT_EQ(read_npy<T>(dir / "e.npy").rows(), 0);
}

TYPED_TEST(NpyTyped, ReadsNumpyFiles) {
  using T = TypeParam;
  const RowMatrix<T> c = read_npy<T>(kData / "c_f8.npy");
  ASSERT_EQ(c.rows(), 2);
  ASSERT_EQ(c.cols(), 3);
  EXPECT_EQ(c(0, 1), static_cast<T>(2.5));
  EXPECT_EQ(c(1, 0), static_cast<T>(4e-10));
  const RowMatrix<T> f = read_npy<T>(kData / "fortran_f4.npy");  // Fortran order
  ASSERT_EQ(f.rows(), 2);
  EXPECT_EQ(f(0, 2), static_cast<T>(3));
  EXPECT_EQ(f(1, 0), static_cast<T>(4));
  EXPECT_EQ(f(1, 2), static_cast<T>(6.5));
  const RowMatrix<T> v = read_npy<T>(kData / "vec_f8.npy");  // 1-D -> n x 1
  ASSERT_EQ(v.rows(), 4);
  ASSERT_EQ(v.cols(), 1);
  EXPECT_EQ(v(3, 0), static_cast<T>(0.4));
}

TEST(Npy, WrittenFileHasNumpyHeader) {
  TempDir dir;
  RowMatrix<double> m = RowMatrix<double>::Ones(2, 3);
  write_npy<double>(dir / "h.npy", m);
  const std::string bytes = read_file(dir / "h.npy");
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_THAT(bytes, HasSubstr("'descr': '<f8'"));
  EXPECT_THAT(bytes, HasSubstr("'fortran_order': False"));
  EXPECT_THAT(bytes, HasSubstr("(2, 3)"));
}

TEST(Npy, WritesTheBytesNumpyWrites) {
  // c_f8.npy was written by np.save (tests/io/data/make_npy_fixtures.py): header layout,
  // padding and data bytes must be the same.
  TempDir dir;
  write_npy<double>(dir / "c.npy", read_npy<double>(kData / "c_f8.npy"));
  EXPECT_EQ(read_file(dir / "c.npy"), read_file(kData / "c_f8.npy"));
}

TEST(Npy, ErrorsNameTheFile) {
  TempDir dir;
  EXPECT_THROW(read_npy<double>(dir / "missing.npy"), IoError);
  try {
    read_npy<double>(kData / "int_i8.npy");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("int_i8.npy"));
    EXPECT_THAT(e.what(), HasSubstr("unsupported dtype '<i8'"));
  }
  // Truncated data.
  std::string bytes = read_file(kData / "c_f8.npy");
  write_file_atomically(dir / "t.npy", bytes.substr(0, bytes.size() - 8));
  try {
    read_npy<double>(dir / "t.npy");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("truncated"));
  }
  write_file_atomically(dir / "g.npy", "not an npy file at all");
  EXPECT_THROW(read_npy<float>(dir / "g.npy"), IoError);
}

TEST(Npy, HostileHeadersAreErrors) {
  // Found by fuzz/fuzz_npy: an empty header was undefined behaviour in xtensor's reader; a shape
  // claiming 2^60 elements must be refused from the file size, before allocating.
  TempDir dir;
  const auto npy = [](const std::string& header, const std::string& data) {
    std::string h = header;
    std::string out = std::string("\x93NUMPY\x01\x00", 8);
    out += static_cast<char>(h.size() & 0xff);
    out += static_cast<char>(h.size() >> 8);
    return out + h + data;
  };
  const auto message = [&](const std::string& bytes) -> std::string {
    write_file_atomically(dir / "h.npy", bytes);
    try {
      read_npy<double>(dir / "h.npy");
    } catch (const IoError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_THAT(message(npy("", "")), HasSubstr("h.npy: not a valid .npy file"));
  EXPECT_THAT(
      message(
          npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,), }\n", "")),
      HasSubstr("the shape is too large"));
  EXPECT_THAT(message(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }\n",
                          std::string(8, '\0'))),
              HasSubstr("truncated .npy file"));
  EXPECT_THAT(
      message(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }\n",
                  "")),
      HasSubstr("the shape is too large"));
  EXPECT_THAT(message(npy("{'descr': '<f8', 'fortran_order': maybe, 'shape': (1,), }\n", "")),
              HasSubstr("fortran_order"));
  EXPECT_THAT(message(npy("{'descr': '<f8', 'fortran_order': False, 'shape': (x,), }\n", "")),
              HasSubstr("expected a non-negative integer in 'shape'"));
  EXPECT_THAT(message(std::string("\x93NUMPY\x01\x00\xff\xff", 10)), HasSubstr("truncated header"));
  // Negative control: keys in any order, Fortran order, 2 x 2 doubles.
  std::string data(32, '\0');
  const double v[4] = {1, 3, 2, 4};  // column-major [[1, 2], [3, 4]]
  std::memcpy(data.data(), v, sizeof v);
  write_file_atomically(dir / "ok.npy",
                        npy("{'shape': (2, 2), 'fortran_order': True, 'descr': '<f8'}\n", data));
  const auto m = read_npy<double>(dir / "ok.npy");
  ASSERT_EQ(m.rows(), 2);
  ASSERT_EQ(m.cols(), 2);
  EXPECT_EQ(m(0, 1), 2.0);
  EXPECT_EQ(m(1, 0), 3.0);
}

}  // namespace
}  // namespace popalign::io
