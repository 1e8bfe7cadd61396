#pragma once
// Sliced Wasserstein distance between two weighted samples in R^d.
//
//   SW_p(a, b) = ( (1/L) sum_l W_p^p(<theta_l, a>, <theta_l, b>) )^(1/p)
//
// over L directions theta_l drawn uniformly on the unit sphere (normalised standard normal
// vectors from popalign::Rng, so the same seed gives the same directions everywhere), each 1-D
// W_p computed exactly by merging the projected samples' quantile functions. This is POT's
// ot.sliced_wasserstein_distance estimator; with the same directions (POT's `projections`
// argument holds them as the columns of a d x L matrix) the values agree to rounding.
// Cost O(L (n + m)(d + log(n + m))); directions run in parallel, and the per-direction values are
// summed in a fixed order (the result does not depend on the thread count).
#include <cmath>
#include <cstdint>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/core/random.hpp>
#include <popalign/core/types.hpp>
#include <popalign/metrics/univariate.hpp>

namespace popalign::metrics {

struct SlicedOptions {
  Index n_projections = 128;  ///< L
  double p = 2.0;             ///< order, >= 1 (POT's default is 2)
  std::uint64_t seed = 0;     ///< seeds the directions
  Execution execution{};

  void validate() const {
    check_argument(n_projections >= 1, "n_projections", "must be >= 1");
    check_argument(std::isfinite(p) && p >= 1.0, "p", "must be finite and >= 1");
    execution.validate();
  }
};

/// L x d matrix of unit directions (rows), uniform on the sphere, from `seed`.
inline RowMatrix<double> random_directions(Index n_projections, Index d, std::uint64_t seed) {
  check_argument(n_projections >= 1, "n_projections", "must be >= 1");
  check_argument(d >= 1, "d", "must be >= 1");
  Rng rng(seed);
  RowMatrix<double> dirs(n_projections, d);
  for (Index l = 0; l < n_projections; ++l) {
    double norm2 = 0.0;
    do {
      for (Index k = 0; k < d; ++k) dirs(l, k) = rng.normal();
      norm2 = dirs.row(l).squaredNorm();
    } while (norm2 == 0.0);
    dirs.row(l) /= std::sqrt(norm2);
  }
  return dirs;
}

/// Sliced W_p along the given directions (rows of `directions`, L x d; they are used as given,
/// not normalised, exactly like POT's `projections`). Options: p and execution are used.
template <Real T>
double sliced_wasserstein(MatrixView<T> a, MatrixView<T> b,
                          const Eigen::Ref<const Vector<double>>& a_weights,
                          const Eigen::Ref<const Vector<double>>& b_weights,
                          const Eigen::Ref<const RowMatrix<double>>& directions,
                          const SlicedOptions& options = {}) {
  options.validate();
  detail::check_samples<T>(a, b);
  check_argument(directions.rows() >= 1 && directions.cols() == a.cols(), "directions",
                 "must be L x d with L >= 1 and d = " + std::to_string(a.cols()));
  check_argument(directions.allFinite(), "directions", "contains NaN or infinite values");
  const Vector<double> wa = detail::normalized_weights(a_weights, a.rows(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.rows(), "b_weights");
  const Index L = directions.rows();
  std::vector<double> per(static_cast<std::size_t>(L));
  const Eigen::MatrixXd ad = a.template cast<double>();
  const Eigen::MatrixXd bd = b.template cast<double>();
  parallel_for(L, options.execution.resolved_threads(), 1, [&](Index begin, Index end) {
    for (Index l = begin; l < end; ++l) {
      const Eigen::VectorXd th = directions.row(l).transpose();
      const Eigen::VectorXd pa = ad * th, pb = bd * th;
      std::vector<double> va(pa.data(), pa.data() + pa.size());
      std::vector<double> vb(pb.data(), pb.data() + pb.size());
      per[static_cast<std::size_t>(l)] = detail::wasserstein_pp_sorted(
          detail::sort_weighted(va, wa), detail::sort_weighted(vb, wb), options.p);
    }
  });
  double s = 0.0;
  for (double v : per) s += v;
  return std::pow(s / static_cast<double>(L), 1.0 / options.p);
}

/// Sliced W_p with options.n_projections random directions from options.seed.
template <Real T>
double sliced_wasserstein(MatrixView<T> a, MatrixView<T> b,
                          const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
                          const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>(),
                          const SlicedOptions& options = {}) {
  options.validate();
  detail::check_samples<T>(a, b);
  const RowMatrix<double> dirs = random_directions(options.n_projections, a.cols(), options.seed);
  return sliced_wasserstein<T>(a, b, a_weights, b_weights, dirs, options);
}

}  // namespace popalign::metrics
