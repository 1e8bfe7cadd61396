#include <popalign/io/data_dir.hpp>

#include <gtest/gtest.h>

#include <cstdlib>

#include <popalign/core/error.hpp>

namespace popalign::io {
namespace {

TEST(DataDir, EnvironmentOverridesTheBuiltInDirectory) {
  const char* old = std::getenv("POPALIGN_DATA_DIR");
  const std::string saved = old ? old : "";
  ::unsetenv("POPALIGN_DATA_DIR");
  EXPECT_TRUE(std::filesystem::exists(data_dir() / "instruments" / "ipip50_bfm.json"));
  ::setenv("POPALIGN_DATA_DIR", POPALIGN_IO_TEST_DATA, 1);
  EXPECT_EQ(data_dir(), std::filesystem::path(POPALIGN_IO_TEST_DATA));
  ::setenv("POPALIGN_DATA_DIR", "/nonexistent/popalign/data", 1);
  EXPECT_THROW(data_dir(), IoError);
  if (old)
    ::setenv("POPALIGN_DATA_DIR", saved.c_str(), 1);
  else
    ::unsetenv("POPALIGN_DATA_DIR");
}

}  // namespace
}  // namespace popalign::io
