#include <popalign/core/types.hpp>

#include <gtest/gtest.h>

#include <limits>

namespace popalign {
namespace {

TEST(TraitTable, ValidateNamesTheBadMember) {
  TraitTable<double> t;
  t.values = RowMatrix<double>::Zero(3, 2);
  t.traits = {"E", "N"};
  t.ids = {"a", "b", "c"};
  EXPECT_NO_THROW(t.validate());
  t.ids.pop_back();
  try {
    t.validate();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "ids");
  }
  t.ids.push_back("c");
  t.weights = Vector<double>::Ones(3);
  t.weights[1] = std::numeric_limits<double>::quiet_NaN();
  try {
    t.validate();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "weights");
  }
}

TEST(RowMatrix, IsRowMajor) {
  RowMatrix<float> m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  EXPECT_EQ(m.data()[1], 2.0f);
  EXPECT_TRUE(RowMatrix<float>::IsRowMajor);
}

}  // namespace
}  // namespace popalign
