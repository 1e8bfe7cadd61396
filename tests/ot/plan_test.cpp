#include <popalign/ot/plan.hpp>

#include <gtest/gtest.h>

#include <vector>

#include <popalign/core/random.hpp>

namespace popalign::ot {
namespace {

template <class T>
class PlanTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(PlanTest, Scalars);

template <class T>
struct Problem {
  RowMatrix<T> x, y;
};

template <class T>
Problem<T> make_problem(Index n, Index m) {
  Rng rng(77);
  Problem<T> p{RowMatrix<T>(n, 2), RowMatrix<T>(m, 2)};
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < 2; ++k) p.x(i, k) = static_cast<T>(rng.normal());
  for (Index j = 0; j < m; ++j)
    for (Index k = 0; k < 2; ++k) p.y(j, k) = static_cast<T>(rng.normal(0.2, 1.0));
  return p;
}

TYPED_TEST(PlanTest, TopKAndDensePlanAgree) {
  using T = TypeParam;
  const auto p = make_problem<T>(60, 45);
  const PointCloud<T> geom(p.x, p.y, 0.5);
  SinkhornOptions opt;
  opt.reg = 0.05;
  const auto r = sinkhorn(geom, Vector<double>(), Vector<double>(), opt);
  ASSERT_TRUE(r.converged());
  const RowMatrix<double> P = dense_plan(geom, r);
  const TopKPlan top = top_k_plan(geom, r, 3);
  for (Index j = 0; j < 45; ++j) {
    Index best = 0;
    P.col(j).maxCoeff(&best);
    EXPECT_EQ(top.sources(j, 0), best);
    EXPECT_NEAR(top.mass(j, 0), P(best, j), 1e-12);
    EXPECT_GE(top.mass(j, 0), top.mass(j, 1));
    EXPECT_GE(top.mass(j, 1), top.mass(j, 2));
  }
  EXPECT_THROW(dense_plan(geom, r, 100), InvalidArgument);
  EXPECT_THROW(top_k_plan(geom, r, 0), InvalidArgument);
  EXPECT_THROW(top_k_plan(geom, r, 61), InvalidArgument);
}

TYPED_TEST(PlanTest, SampledAssignmentsFollowThePlanAndAreSeeded) {
  using T = TypeParam;
  const auto p = make_problem<T>(5, 4000);
  // Few sources, many identical-looking draws: frequencies estimate P_ij / b_j averaged.
  const PointCloud<T> geom(p.x, p.y, 0.5);
  SinkhornOptions opt;
  opt.reg = 0.5;
  const auto r = sinkhorn(geom, Vector<double>(), Vector<double>(), opt);
  ASSERT_TRUE(r.converged());
  const auto s1 = sample_assignments(geom, r, 123);
  Execution one;
  one.threads = 1;
  const auto s2 = sample_assignments(geom, r, 123, one);
  const auto s3 = sample_assignments(geom, r, 124);
  EXPECT_EQ(s1, s2);
  EXPECT_NE(s1, s3);
  // Each source receives about its row mass (1/5) of the m draws.
  std::vector<double> counts(5, 0.0);
  for (Index i : s1) counts[static_cast<std::size_t>(i)] += 1.0;
  const RowMatrix<double> P = dense_plan(geom, r);
  for (Index i = 0; i < 5; ++i) {
    const double expected = 4000.0 * P.row(i).sum();
    EXPECT_NEAR(counts[static_cast<std::size_t>(i)], expected, 4 * std::sqrt(expected));
  }
}

}  // namespace
}  // namespace popalign::ot
