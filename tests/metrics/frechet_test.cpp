#include <popalign/metrics/frechet.hpp>

#include <gtest/gtest.h>

#include <cmath>

#include "density/reference_file.hpp"

namespace popalign::metrics {
namespace {

template <class T>
class FrechetTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(FrechetTest, Scalars);

TYPED_TEST(FrechetTest, MatchesScipySqrtmOnWeightedSamples) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/metrics/population_reference.txt");
  const RowMatrix<T> x = ref.array("fd.x").cast<T>();
  const RowMatrix<T> y = ref.array("fd.y").cast<T>();
  const double tol = sizeof(T) == 4 ? 2e-5 : 1e-10;
  EXPECT_NEAR(frechet_distance<T>(x, y, ref.vector("fd.wx"), ref.vector("fd.wy")),
              ref.scalar("fd.frechet"), tol);
  EXPECT_NEAR(frechet_distance<T>(x, y), ref.scalar("fd.frechet_uniform"), tol);
  // Negative control: a sample against itself is 0, and against a copy shifted by delta it is
  // exactly ||delta||^2 (the covariance term cancels).
  EXPECT_NEAR(frechet_distance<T>(x, x), 0.0, sizeof(T) == 4 ? 1e-5 : 1e-12);
  RowMatrix<T> shifted = x;
  shifted.col(0).array() += T(0.5);
  shifted.col(2).array() -= T(1.0);
  EXPECT_NEAR(frechet_distance<T>(x, shifted), 1.25, sizeof(T) == 4 ? 1e-5 : 1e-12);
}

TEST(FrechetClosedForm, CommutingCovariancesIncludingSingularOnes) {
  // S_a = Q diag(1, 0, 4) Q^T and S_b = Q diag(4, 1, 0) Q^T share eigenvectors, so
  // FD = ||mu_a - mu_b||^2 + sum_k (sqrt(l_a,k) - sqrt(l_b,k))^2 = 2 + (1 + 1 + 4) = 8. Both are
  // singular: the textbook non-symmetric sqrtm(S_a S_b) is ill-posed here.
  const double c = std::cos(0.7), s = std::sin(0.7);
  Eigen::Matrix3d q;
  q << c, -s, 0, s * 0.6, c * 0.6, -0.8, s * 0.8, c * 0.8, 0.6;
  ASSERT_NEAR((q * q.transpose() - Eigen::Matrix3d::Identity()).norm(), 0.0, 1e-12);
  GaussianFit a, b;
  a.mean = Eigen::VectorXd::Zero(3);
  b.mean = Eigen::VectorXd::Zero(3);
  a.mean[0] = 1;
  b.mean[1] = 1;
  Eigen::VectorXd la(3), lb(3);
  la << 1, 0, 4;
  lb << 4, 1, 0;
  a.covariance = q * la.asDiagonal() * q.transpose();
  b.covariance = q * lb.asDiagonal() * q.transpose();
  // A zero eigenvalue computed as ~1e-16 has a square root ~1e-8: singular covariances are
  // accurate to about sqrt(machine epsilon) x scale, not to rounding (documented).
  EXPECT_NEAR(frechet_distance(a, b), 8.0, 1e-6);
  EXPECT_NEAR(frechet_distance(b, a), 8.0, 1e-6);  // symmetric
  EXPECT_NEAR(frechet_distance(a, a), 0.0, 1e-6);
  // Non-commuting 2-D case in closed form: for 2 x 2 SPD matrices,
  // tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) with M = S_a^{1/2} S_b S_a^{1/2}.
  GaussianFit u, v;
  u.mean = v.mean = Eigen::VectorXd::Zero(2);
  u.covariance = (Eigen::Matrix2d() << 2.0, 0.5, 0.5, 1.0).finished();
  v.covariance = (Eigen::Matrix2d() << 1.0, -0.3, -0.3, 0.5).finished();
  const double tr_m = (u.covariance * v.covariance).trace();
  const double det_m = u.covariance.determinant() * v.covariance.determinant();
  const double expected =
      u.covariance.trace() + v.covariance.trace() - 2.0 * std::sqrt(tr_m + 2.0 * std::sqrt(det_m));
  EXPECT_NEAR(frechet_distance(u, v), expected, 1e-12);
}

TYPED_TEST(FrechetTest, NearSingularCovariancesStayFiniteAndBadArguments) {
  using T = TypeParam;
  // A duplicated trait and fewer rows than traits: covariances are singular; the result is
  // finite, >= 0, and 0 for the sample against itself.
  RowMatrix<T> a(3, 4), b(3, 4);
  a << T(1), T(1), T(0), T(2), T(2), T(2), T(1), T(0), T(3), T(3), T(1), T(1);
  b << T(0), T(0), T(1), T(1), T(1), T(1), T(0), T(2), T(4), T(4), T(2), T(0);
  const double fd = frechet_distance<T>(a, b);
  EXPECT_TRUE(std::isfinite(fd));
  EXPECT_GE(fd, 0.0);
  EXPECT_NEAR(frechet_distance<T>(a, a), 0.0, 1e-5);
  try {
    frechet_distance<T>(a, RowMatrix<T>::Zero(3, 2));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "b");
  }
  try {
    frechet_distance<T>(a, b, Vector<double>::Ones(2));
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "a_weights");
  }
}

}  // namespace
}  // namespace popalign::metrics
