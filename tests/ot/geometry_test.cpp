#include <popalign/ot/geometry.hpp>

#include <gtest/gtest.h>

#include <cmath>

#include <popalign/core/random.hpp>

namespace popalign::ot {
namespace {

template <class T>
class GeometryTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(GeometryTest, Scalars);

TYPED_TEST(GeometryTest, PointCloudAndDenseCostAgree) {
  using T = TypeParam;
  Rng rng(1);
  RowMatrix<T> x(37, 3), y(29, 3);
  for (Index i = 0; i < x.rows(); ++i)
    for (Index k = 0; k < 3; ++k) x(i, k) = static_cast<T>(rng.normal());
  for (Index j = 0; j < y.rows(); ++j)
    for (Index k = 0; k < 3; ++k) y(j, k) = static_cast<T>(rng.normal(1.0, 0.5));
  const double scale = 0.3;
  const PointCloud<T> pc(x, y, scale);
  RowMatrix<T> M(37, 29);
  RowMatrix<double> Md(37, 29);
  for (Index i = 0; i < 37; ++i)
    for (Index j = 0; j < 29; ++j) {
      double d2 = 0;
      for (Index k = 0; k < 3; ++k) {
        const double diff = static_cast<double>(x(i, k)) - static_cast<double>(y(j, k));
        d2 += diff * diff;
      }
      Md(i, j) = scale * d2;
      M(i, j) = static_cast<T>(scale * d2);
    }
  // cost_row / cost_col in double.
  Eigen::VectorXd row(29), col(37);
  pc.cost_row(4, row.data());
  pc.cost_col(7, col.data());
  for (Index j = 0; j < 29; ++j) EXPECT_NEAR(row[j], Md(4, j), 1e-12);
  for (Index i = 0; i < 37; ++i) EXPECT_NEAR(col[i], Md(i, 7), 1e-12);
  EXPECT_GE(pc.max_cost_bound(), Md.maxCoeff());
  const DenseCost<T> dc(M);
  EXPECT_GE(dc.max_cost_bound(), static_cast<double>(M.maxCoeff()) - 1e-6);
  // Reductions.
  Vector<double> hc(29), hr(37);
  for (Index j = 0; j < 29; ++j) hc[j] = rng.normal();
  for (Index i = 0; i < 37; ++i) hr[i] = rng.normal();
  hr[3] = -std::numeric_limits<double>::infinity();
  const double eps = 0.05;
  Vector<double> a1, a2, b1, b2;
  pc.row_lse(hc, eps, a1, {});
  dc.row_lse(hc, eps, a2, {});
  pc.col_lse(hr, eps, b1, {});
  dc.col_lse(hr, eps, b2, {});
  const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-10;
  for (Index i = 0; i < 37; ++i) {
    double mx = -1e300;
    for (Index j = 0; j < 29; ++j) mx = std::max(mx, hc[j] - Md(i, j) / eps);
    double s = 0;
    for (Index j = 0; j < 29; ++j) s += std::exp(hc[j] - Md(i, j) / eps - mx);
    EXPECT_NEAR(a1[i], mx + std::log(s), tol);
    EXPECT_NEAR(a2[i], mx + std::log(s), tol);
  }
  for (Index j = 0; j < 29; ++j) EXPECT_NEAR(b1[j], b2[j], tol);
  // Transport cost of the plan exp(la_i + lb_j - C/eps): both geometries agree with a direct sum.
  Vector<double> la = hr, lb = hc;
  la[3] = -std::numeric_limits<double>::infinity();
  double direct = 0;
  for (Index i = 0; i < 37; ++i)
    for (Index j = 0; j < 29; ++j)
      if (std::isfinite(la[i])) direct += std::exp(la[i] + lb[j] - Md(i, j) / eps) * Md(i, j);
  const double rel = std::is_same_v<T, float> ? 1e-4 : 1e-10;
  EXPECT_NEAR(pc.transport_cost(la, lb, eps, {}), direct, rel * std::abs(direct));
  EXPECT_NEAR(dc.transport_cost(la, lb, eps, {}), direct, rel * std::abs(direct));
}

}  // namespace
}  // namespace popalign::ot
