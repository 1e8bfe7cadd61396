#pragma once
// Energy distance between two weighted samples in R^d (Székely & Rizzo 2004):
//
//   D^2 = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||,     energy_distance = sqrt(D^2)
//
// with the expectations under the weighted empirical measures (V-statistics, the i = j terms
// included; they are zero). In 1-D, D^2 = 2 int (F - G)^2 dx, so the value equals
// scipy.stats.energy_distance (which returns sqrt(2 int (F-G)^2)), weights included.
// Cost O((n + m)^2 d) exact pairwise sums, tiled over rows, parallel, accumulated in double in a
// fixed order. (The Euclidean distance is not a Gaussian kernel, so this is not a fused-kernel
// computation.)
#include <algorithm>
#include <cmath>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/metrics/univariate.hpp>

namespace popalign::metrics {

struct EnergyOptions {
  Execution execution{};
  void validate() const { execution.validate(); }
};

namespace detail {

/// sum_i wx_i sum_j wy_j ||x_i - y_j|| in double.
template <Real T>
double mean_pair_distance(MatrixView<T> x, const Vector<double>& wx, MatrixView<T> y,
                          const Vector<double>& wy, int threads) {
  const Index n = x.rows(), m = y.rows(), d = x.cols();
  const Eigen::MatrixXd yd = y.template cast<double>();
  std::vector<double> row(static_cast<std::size_t>(n));
  parallel_for(n, threads, 16, [&](Index begin, Index end) {
    Eigen::VectorXd xi(d);
    for (Index i = begin; i < end; ++i) {
      if (wx[i] == 0.0) {
        row[static_cast<std::size_t>(i)] = 0.0;
        continue;
      }
      for (Index k = 0; k < d; ++k) xi[k] = static_cast<double>(x(i, k));
      double s = 0.0;
      for (Index j = 0; j < m; ++j) {
        double r2 = 0.0;
        for (Index k = 0; k < d; ++k) {
          const double t = xi[k] - yd(j, k);
          r2 += t * t;
        }
        s += wy[j] * std::sqrt(r2);
      }
      row[static_cast<std::size_t>(i)] = wx[i] * s;
    }
  });
  double total = 0.0;
  for (double v : row) total += v;
  return total;
}

}  // namespace detail

/// sqrt(D^2) (see the file comment); D^2 is clamped at 0 against rounding.
template <Real T>
double energy_distance(MatrixView<T> a, MatrixView<T> b,
                       const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
                       const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>(),
                       const EnergyOptions& options = {}) {
  options.validate();
  detail::check_samples<T>(a, b);
  const Vector<double> wa = detail::normalized_weights(a_weights, a.rows(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.rows(), "b_weights");
  const int th = options.execution.resolved_threads();
  const double ab = detail::mean_pair_distance<T>(a, wa, b, wb, th);
  const double aa = detail::mean_pair_distance<T>(a, wa, a, wa, th);
  const double bb = detail::mean_pair_distance<T>(b, wb, b, wb, th);
  return std::sqrt(std::max(0.0, 2.0 * ab - aa - bb));
}

}  // namespace popalign::metrics
