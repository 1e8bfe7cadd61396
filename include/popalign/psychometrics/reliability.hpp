#pragma once
// Internal consistency: Cronbach's alpha and corrected item-total correlations.
//
//   alpha = k / (k - 1) * (1 - sum_j var(x_j) / var(sum_j x_j))
// over the rows in which every item is answered (rows with a NaN are left out, listwise), with
// sample variances (n - 1). Accumulation is in double for float input. alpha is NaN when it is
// undefined: fewer than 2 items, fewer than 2 complete rows, or a constant total score.
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include <popalign/core/types.hpp>

namespace popalign::psychometrics {

struct AlphaResult {
  double alpha = std::numeric_limits<double>::quiet_NaN();
  std::size_t rows = 0;   ///< complete rows used
  std::size_t items = 0;  ///< items (columns)
};

/// Cronbach's alpha of the columns of `items` (keyed: reverse-keyed items already reversed).
template <Real T>
AlphaResult cronbach_alpha(MatrixView<T> items) {
  AlphaResult r;
  const Index n = items.rows(), k = items.cols();
  r.items = static_cast<std::size_t>(k);
  std::vector<double> sum(static_cast<std::size_t>(k), 0.0), sum2(static_cast<std::size_t>(k), 0.0);
  double tsum = 0, tsum2 = 0;
  // Shifted sums (shift = first complete row) keep the variances accurate for large n.
  std::vector<double> shift;
  double tshift = 0;
  for (Index i = 0; i < n; ++i) {
    bool complete = true;
    for (Index j = 0; j < k && complete; ++j)
      complete = !std::isnan(static_cast<double>(items(i, j)));
    if (!complete) continue;
    if (shift.empty()) {
      shift.resize(static_cast<std::size_t>(k));
      for (Index j = 0; j < k; ++j) shift[j] = static_cast<double>(items(i, j));
      tshift = 0;
      for (Index j = 0; j < k; ++j) tshift += shift[j];
    }
    double t = 0;
    for (Index j = 0; j < k; ++j) {
      const double x = static_cast<double>(items(i, j));
      t += x;
      const double d = x - shift[j];
      sum[j] += d;
      sum2[j] += d * d;
    }
    const double dt = t - tshift;
    tsum += dt;
    tsum2 += dt * dt;
    ++r.rows;
  }
  if (k < 2 || r.rows < 2) return r;
  const double m = static_cast<double>(r.rows);
  double item_var = 0;
  for (Index j = 0; j < k; ++j) item_var += (sum2[j] - sum[j] * sum[j] / m) / (m - 1);
  const double total_var = (tsum2 - tsum * tsum / m) / (m - 1);
  if (!(total_var > 0)) return r;
  const double kk = static_cast<double>(k);
  r.alpha = kk / (kk - 1) * (1 - item_var / total_var);
  return r;
}

/// Corrected item-total correlation of each column: Pearson r between the item and the sum of
/// the other items, on complete rows. NaN for an item with zero variance.
template <Real T>
std::vector<double> corrected_item_total(MatrixView<T> items) {
  const Index n = items.rows(), k = items.cols();
  std::vector<Index> rows;
  for (Index i = 0; i < n; ++i) {
    bool complete = true;
    for (Index j = 0; j < k && complete; ++j)
      complete = !std::isnan(static_cast<double>(items(i, j)));
    if (complete) rows.push_back(i);
  }
  std::vector<double> out(static_cast<std::size_t>(k), std::numeric_limits<double>::quiet_NaN());
  if (rows.size() < 2 || k < 2) return out;
  const double m = static_cast<double>(rows.size());
  for (Index j = 0; j < k; ++j) {
    double sx = 0, sy = 0;
    for (Index i : rows) {
      double t = 0;
      for (Index l = 0; l < k; ++l) t += static_cast<double>(items(i, l));
      sx += static_cast<double>(items(i, j));
      sy += t - static_cast<double>(items(i, j));
    }
    const double mx = sx / m, my = sy / m;
    double sxx = 0, syy = 0, sxy = 0;
    for (Index i : rows) {
      double t = 0;
      for (Index l = 0; l < k; ++l) t += static_cast<double>(items(i, l));
      const double x = static_cast<double>(items(i, j)) - mx;
      const double y = t - static_cast<double>(items(i, j)) - my;
      sxx += x * x;
      syy += y * y;
      sxy += x * y;
    }
    if (sxx > 0 && syy > 0) out[static_cast<std::size_t>(j)] = sxy / std::sqrt(sxx * syy);
  }
  return out;
}

}  // namespace popalign::psychometrics
