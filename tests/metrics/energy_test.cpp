#include <popalign/metrics/energy.hpp>

#include <gtest/gtest.h>

#include "density/reference_file.hpp"

namespace popalign::metrics {
namespace {

template <class T>
class EnergyTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(EnergyTest, Scalars);

TYPED_TEST(EnergyTest, MatchesScipyIn1dAndBruteForceIn3d) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/metrics/metrics_reference.txt");
  const double tol = sizeof(T) == 4 ? 2e-6 : 1e-12;
  for (const std::string p : {"one_d", "ties"}) {
    const RowMatrix<T> u = ref.array(p + ".u").cast<T>();
    const RowMatrix<T> v = ref.array(p + ".v").cast<T>();
    EXPECT_NEAR(energy_distance<T>(u, v, ref.vector(p + ".uw"), ref.vector(p + ".vw")),
                ref.scalar(p + ".energy"), tol)
        << p;
    EXPECT_NEAR(energy_distance<T>(u, v), ref.scalar(p + ".energy_unweighted"), tol) << p;
  }
  const RowMatrix<T> x = ref.array("multi.x").cast<T>();
  const RowMatrix<T> y = ref.array("multi.y").cast<T>();
  EXPECT_NEAR(energy_distance<T>(x, y, ref.vector("multi.wx"), ref.vector("multi.wy")),
              ref.scalar("multi.energy"), tol);
  EXPECT_NEAR(energy_distance<T>(x, x), 0.0, 1e-6);
}

TYPED_TEST(EnergyTest, BadWeights) {
  using T = TypeParam;
  const RowMatrix<T> x = RowMatrix<T>::Random(5, 2);
  try {
    energy_distance<T>(x, x, Vector<double>::Zero(5));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "a_weights");
  }
}

}  // namespace
}  // namespace popalign::metrics
