#pragma once
// Fréchet distance between the Gaussian fits of two weighted samples (the quantity behind FID):
//
//   FD(a, b) = ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr( (S_a^{1/2} S_b S_a^{1/2})^{1/2} )
//
// which is the squared 2-Wasserstein distance between N(mu_a, S_a) and N(mu_b, S_b). It is
// reported squared, as FID is (units: squared trait units). mu and S are the weighted mean and the
// weighted population covariance (sum-one weights, no small-sample correction).
//
// The trace term uses the symmetric form: S_a^{1/2} is computed with a self-adjoint eigensolver
// (V diag(sqrt(max(lambda, 0))) V^T), M = S_a^{1/2} S_b S_a^{1/2} is symmetrised and its trace
// square root is sum_k sqrt(max(lambda_k(M), 0)). The product S_a S_b of the textbook formula
// is not symmetric, and its general (Schur) square root turns complex or inaccurate when a
// covariance is singular or near-singular (a constant or duplicated trait, fewer rows than
// traits); the symmetric form only meets symmetric positive semi-definite matrices, whose tiny
// negative eigenvalues (rounding) are clamped at 0. The result is clamped at 0 too. Accuracy:
// rounding for well-conditioned covariances; for (near-)singular ones about sqrt(machine
// epsilon) x the covariance scale (a zero eigenvalue computed as 1e-16 has the square root
// 1e-8), always finite and >= 0.
// Cost O(n d^2 + d^3).
#include <algorithm>
#include <cmath>

#include <Eigen/Eigenvalues>

#include <popalign/core/types.hpp>
#include <popalign/metrics/univariate.hpp>

namespace popalign::metrics {

/// Weighted mean and population covariance of the rows of a (a Gaussian fit).
struct GaussianFit {
  Eigen::VectorXd mean;
  Eigen::MatrixXd covariance;
};

template <Real T>
GaussianFit gaussian_fit(MatrixView<T> a,
                         const Eigen::Ref<const Vector<double>>& weights = Vector<double>()) {
  check_argument(a.rows() > 0, "a", "is empty (no rows)");
  check_argument(a.allFinite(), "a", "contains NaN or infinite values");
  const Vector<double> w = detail::normalized_weights(weights, a.rows(), "weights");
  const Index d = a.cols();
  GaussianFit g;
  g.mean = a.template cast<double>().transpose() * w;
  g.covariance = Eigen::MatrixXd::Zero(d, d);
  for (Index i = 0; i < a.rows(); ++i) {
    if (w[i] == 0) continue;
    const Eigen::VectorXd x = a.row(i).template cast<double>().transpose() - g.mean;
    g.covariance.noalias() += w[i] * x * x.transpose();
  }
  return g;
}

/// Symmetric square root of a symmetric positive semi-definite matrix (eigenvalues < 0 from
/// rounding are clamped at 0).
inline Eigen::MatrixXd sqrtm_psd(const Eigen::MatrixXd& s) {
  const Eigen::MatrixXd sym = 0.5 * (s + s.transpose());
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(sym);
  const Eigen::VectorXd root = es.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  return es.eigenvectors() * root.asDiagonal() * es.eigenvectors().transpose();
}

/// FD between two Gaussians given by their means and covariances (see the file comment).
inline double frechet_distance(const GaussianFit& a, const GaussianFit& b) {
  check_argument(a.mean.size() == b.mean.size() && a.covariance.rows() == a.mean.size() &&
                     b.covariance.rows() == b.mean.size(),
                 "b", "has another dimension than a");
  const Eigen::MatrixXd ra = sqrtm_psd(a.covariance);
  const Eigen::MatrixXd m = ra * b.covariance * ra;
  const Eigen::MatrixXd msym = 0.5 * (m + m.transpose());
  const Eigen::VectorXd lambda =
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(msym, Eigen::EigenvaluesOnly).eigenvalues();
  const double tr_sqrt = lambda.cwiseMax(0.0).cwiseSqrt().sum();
  const double fd =
      (a.mean - b.mean).squaredNorm() + a.covariance.trace() + b.covariance.trace() - 2.0 * tr_sqrt;
  return std::max(0.0, fd);
}

/// FD between the Gaussian fits of two weighted samples (n x d and m x d).
template <Real T>
double frechet_distance(MatrixView<T> a, MatrixView<T> b,
                        const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
                        const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>()) {
  detail::check_samples<T>(a, b);
  detail::normalized_weights(a_weights, a.rows(), "a_weights");  // names the bad argument
  detail::normalized_weights(b_weights, b.rows(), "b_weights");
  return frechet_distance(gaussian_fit<T>(a, a_weights), gaussian_fit<T>(b, b_weights));
}

}  // namespace popalign::metrics
