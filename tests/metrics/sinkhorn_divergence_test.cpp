#include <popalign/metrics/sinkhorn_divergence.hpp>

#include <gtest/gtest.h>

#include <popalign/core/random.hpp>

#include "density/reference_file.hpp"

namespace popalign::metrics {
namespace {

template <class T>
class SinkhornDivergenceTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SinkhornDivergenceTest, Scalars);

// Reference: POT's sinkhorn_log (cross term) and a symmetric log-domain fixed point (self terms),
// full entropic objective; see tests/data/make_metrics_reference.py.
TYPED_TEST(SinkhornDivergenceTest, MatchesPotReference) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/metrics/metrics_reference.txt");
  const RowMatrix<T> x = ref.array("sink.x").cast<T>();
  const RowMatrix<T> y = ref.array("sink.y").cast<T>();
  for (const std::string tag : {"sink.reg0.1", "sink.reg1"}) {
    SinkhornDivergenceOptions opt;
    opt.sinkhorn.reg = ref.scalar(tag + ".reg");
    // float kernels carry ~1e-7 relative exponent error: ask for what they can reach.
    opt.sinkhorn.tol = sizeof(T) == 4 ? 1e-6 : 1e-10;
    opt.sinkhorn.max_iter = 100000;
    const auto r = sinkhorn_divergence<T>(x, y, ref.vector("sink.a"), ref.vector("sink.b"), opt);
    EXPECT_TRUE(r.converged()) << tag;
    const double tol = sizeof(T) == 4 ? 1e-4 : 1e-7;
    EXPECT_NEAR(r.ot_ab, ref.scalar(tag + ".full_ab"), tol) << tag;
    EXPECT_NEAR(r.ot_aa, ref.scalar(tag + ".full_aa"), tol) << tag;
    EXPECT_NEAR(r.ot_bb, ref.scalar(tag + ".full_bb"), tol) << tag;
    EXPECT_NEAR(r.divergence, ref.scalar(tag + ".divergence_full"), 2 * tol) << tag;
    EXPECT_GT(r.divergence, 0.0);
  }
}

TYPED_TEST(SinkhornDivergenceTest, ZeroForIdenticalSamples) {
  using T = TypeParam;
  Rng rng(2);
  RowMatrix<T> x(30, 2);
  for (Index i = 0; i < 30; ++i) x.row(i) << T(rng.normal()), T(rng.normal());
  SinkhornDivergenceOptions opt;
  opt.sinkhorn.reg = 0.5;
  const auto r = sinkhorn_divergence<T>(x, x, Vector<double>(), Vector<double>(), opt);
  EXPECT_NEAR(r.divergence, 0.0, sizeof(T) == 4 ? 1e-5 : 1e-8);
}

TYPED_TEST(SinkhornDivergenceTest, BadArguments) {
  using T = TypeParam;
  const RowMatrix<T> x = RowMatrix<T>::Random(5, 2);
  SinkhornDivergenceOptions opt;
  opt.sinkhorn.reg = 0;
  try {
    sinkhorn_divergence<T>(x, x, Vector<double>(), Vector<double>(), opt);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "reg");
  }
  Vector<double> w = Vector<double>::Ones(5);
  w[0] = -1;
  try {
    sinkhorn_divergence<T>(x, x, w);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "a_weights");
  }
}

}  // namespace
}  // namespace popalign::metrics
