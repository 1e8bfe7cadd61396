#include <popalign/density/bandwidth.hpp>

#include <gtest/gtest.h>

#include <cmath>

#include "density/reference_file.hpp"

namespace popalign::density {
namespace {

TEST(Bandwidth, ScottAndSilvermanFactors) {
  EXPECT_NEAR(scott_factor(1e5, 5), std::pow(1e5, -1.0 / 9.0), 1e-15);
  EXPECT_NEAR(scott_factor(1e5, 30), 0.7128, 1e-4);  // the number quoted in DESIGN.md
  EXPECT_NEAR(silverman_factor(100, 2), std::pow(100.0 * 4.0 / 4.0, -1.0 / 6.0), 1e-15);
  EXPECT_NEAR(silverman_factor(100, 1), std::pow(100.0 * 0.75, -0.2), 1e-15);
}

TEST(Bandwidth, KishEffectiveN) {
  EXPECT_DOUBLE_EQ(kish_effective_n(Vector<double>(), 7), 7.0);
  Vector<double> w(4);
  w << 1, 1, 2, 0;
  EXPECT_NEAR(kish_effective_n(w, 4), 16.0 / 6.0, 1e-15);
}

template <class T>
class BandwidthTyped : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(BandwidthTyped, Scalars);

// SciPy's covariance is factor^2 * numpy.cov(aweights=w): recover numpy's weighted covariance.
TYPED_TEST(BandwidthTyped, WeightedCovarianceMatchesNumpy) {
  using T = TypeParam;
  const testing::ReferenceFile ref(POPALIGN_TEST_DATA_DIR "/density/kde_scipy.txt");
  for (const char* c : {"w2", "u5", "f3"}) {
    const std::string name(c);
    const RowMatrix<T> data = ref.array(name + ".data").cast<T>();
    const Vector<double> w = ref.vector(name + ".weights");
    Eigen::RowVectorXd mean;
    Eigen::MatrixXd cov;
    weighted_mean_covariance<T>(data, w, mean, cov);
    const double f = ref.scalar(name + ".factor");
    const Eigen::MatrixXd expected = ref.array(name + ".covariance") / (f * f);
    const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
    EXPECT_LT((cov - expected).cwiseAbs().maxCoeff(), tol * expected.cwiseAbs().maxCoeff()) << name;
    EXPECT_NEAR(kish_effective_n(w, w.size()), ref.scalar(name + ".neff"), 1e-9 * w.size());
  }
}

TEST(Bandwidth, ValidateNamesTheField) {
  auto arg_of = [](const Bandwidth& b, Index d) {
    try {
      b.validate(d);
    } catch (const InvalidArgument& e) {
      return e.argument();
    }
    return std::string("none");
  };
  EXPECT_EQ(arg_of(Bandwidth::with_scalar(0.0), 2), "bandwidth.scalar");
  EXPECT_EQ(arg_of(Bandwidth::with_scalar(-1.0), 2), "bandwidth.scalar");
  EXPECT_EQ(arg_of(Bandwidth::with_scalar(std::nan("")), 2), "bandwidth.scalar");
  EXPECT_EQ(arg_of(Bandwidth::with_factor(0.0), 2), "bandwidth.factor");
  Vector<double> diag(2);
  diag << 1.0, 0.0;
  EXPECT_EQ(arg_of(Bandwidth::with_diagonal(diag), 2), "bandwidth.diagonal");
  diag << 1.0, 2.0;
  EXPECT_EQ(arg_of(Bandwidth::with_diagonal(diag), 3), "bandwidth.diagonal");
  RowMatrix<double> H(2, 2);
  H << 1, 2, 2, 1;  // indefinite
  EXPECT_EQ(arg_of(Bandwidth::with_full(H), 2), "bandwidth.full");
  H << 1, 0.5, 0.4, 1;  // not symmetric
  EXPECT_EQ(arg_of(Bandwidth::with_full(H), 2), "bandwidth.full");
  H << 1, 0.5, 0.5, 1;
  EXPECT_EQ(arg_of(Bandwidth::with_full(H), 2), "none");
  EXPECT_EQ(arg_of(Bandwidth::scott(), 2), "none");
}

}  // namespace
}  // namespace popalign::density
