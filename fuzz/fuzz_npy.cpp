// Fuzz target: the .npy reader (io/npy.hpp read_npy<float>, read_npy<double>). read_npy takes a
// path, so each input is written to one temporary file per process (in TMPDIR) first.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <popalign/io/npy.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("popalign_fuzz_npy_" + std::to_string(::getpid()) + ".npy");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  fuzz::expect_popalign_errors([&] { (void)io::read_npy<float>(path); });
  fuzz::expect_popalign_errors([&] { (void)io::read_npy<double>(path); });
  return 0;
}
