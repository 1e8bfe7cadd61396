#include <popalign/core/error.hpp>

#include <gtest/gtest.h>

namespace popalign {
namespace {

TEST(Errors, InvalidArgumentNamesTheArgument) {
  try {
    check_argument(false, "reg", "must be > 0");
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "reg");
    EXPECT_NE(std::string(e.what()).find("'reg'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("must be > 0"), std::string::npos);
  }
  EXPECT_NO_THROW(check_argument(true, "reg", "unused"));
}

TEST(Errors, IoErrorNamesFileAndLine) {
  const ParseError e("pool.csv", 17, "cell 'x' is not a number");
  EXPECT_EQ(e.file(), "pool.csv");
  EXPECT_EQ(e.line(), 17u);
  EXPECT_STREQ(e.what(), "pool.csv:17: cell 'x' is not a number");
  const IoError no_line("missing.csv", "cannot open");
  EXPECT_STREQ(no_line.what(), "missing.csv: cannot open");
}

TEST(Errors, HierarchyCatchesAsBase) {
  EXPECT_THROW(throw ParseError("f", 1, "m"), IoError);
  EXPECT_THROW(throw NumericalError("nan"), Error);
  EXPECT_THROW(throw Cancelled(), Error);
  EXPECT_THROW(throw BackendError("x"), std::runtime_error);
}

}  // namespace
}  // namespace popalign
