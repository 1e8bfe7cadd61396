#include <popalign/core/types.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <string>

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

TEST(CheckWeights, OneCheckWithMessagesNamingTheArgument) {
  auto message = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "no throw";
  };
  const Vector<double> w = (Vector<double>(3) << 1.0, 2.0, 0.5).finished();
  EXPECT_EQ(check_weights(w, "w"), 3.5);
  EXPECT_EQ(check_weights(w, "w", 3), 3.5);
  EXPECT_EQ(message([&] { check_weights(w, "a", 4, "sources (rows)"); }),
            "invalid argument 'a': has 3 entries for 4 sources (rows)");
  EXPECT_EQ(message([&] { check_weights(Vector<double>(), "w"); }),
            "invalid argument 'w': is empty");
  Vector<double> bad = w;
  bad[1] = -1.0;
  EXPECT_EQ(message([&] { check_weights(bad, "b"); }),
            "invalid argument 'b': entry 1 is negative or not finite");
  bad[1] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(message([&] { check_weights(bad, "b"); }),
            "invalid argument 'b': entry 1 is negative or not finite");
  bad[1] = std::numeric_limits<double>::infinity();
  EXPECT_EQ(message([&] { check_weights(bad, "b"); }),
            "invalid argument 'b': entry 1 is negative or not finite");
  const Vector<float> zero = Vector<float>::Zero(2);
  EXPECT_EQ(message([&] { check_weights(zero, "weights"); }),
            "invalid argument 'weights': all entries are zero");
  EXPECT_EQ(check_weights(zero, "cap", 2, "sources", /*allow_zero_total=*/true), 0.0);
}

TEST(RowMatrix, IsRowMajor) {
  RowMatrix<float> m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  EXPECT_EQ(m.data()[1], 2.0f);
  EXPECT_TRUE(RowMatrix<float>::IsRowMajor);
}

}  // namespace
}  // namespace popalign
