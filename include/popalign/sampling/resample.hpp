#pragma once
// Resampling from weights, all seeded with popalign::Rng (the same weights and seed give the same
// indices on every platform).
//
//   multinomial_resample      m i.i.d. draws, P(i) = w_i                     O(n + m)
//   systematic_resample       one uniform, m evenly spaced points            O(n + m)
//   residual_resample         floor(m w_i) copies + multinomial remainder    O(n + m)
//   sample_without_replacement   k distinct units, successive sampling ∝ w   O(n + k log k)
//                             (Efraimidis–Spirakis keys as an exponential race)
//   inclusion_probabilities   pi_i = min(1, c w_i) with sum pi = N           O(n log n)
//   sample_fixed_size         exactly N distinct units with P(i in S) = pi_i O(n)
//                             (systematic / Madow sampling, randomised order)
//
// The first three return, for every draw, the index of the unit drawn (an index can repeat),
// sorted ascending; counts() turns them into multiplicities. Multinomial, systematic and
// residual resampling are unbiased: E[count_i] = m w_i. Systematic has the smallest variance
// (|count_i - m w_i| < 1), residual is in between.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/random.hpp>
#include <popalign/core/types.hpp>
#include <popalign/sampling/importance.hpp>

namespace popalign::sampling {

namespace detail {

inline std::vector<double> cumulative(const Vector<double>& w) {
  std::vector<double> c(static_cast<std::size_t>(w.size()));
  double s = 0.0;
  for (Index i = 0; i < w.size(); ++i) {
    s += w[i];
    c[static_cast<std::size_t>(i)] = s;
  }
  return c;
}

}  // namespace detail

/// Multiplicity of each unit 0..n-1 in a list of drawn indices.
inline std::vector<Index> counts(const std::vector<Index>& indices, Index n) {
  check_argument(n >= 0, "n", "must be >= 0");
  std::vector<Index> c(static_cast<std::size_t>(n), 0);
  for (Index i : indices) {
    check_argument(i >= 0 && i < n, "indices", "index " + std::to_string(i) + " out of range");
    ++c[static_cast<std::size_t>(i)];
  }
  return c;
}

/// m independent draws with P(i) = w_i / sum w. The m uniforms are generated already sorted
/// (normalised partial sums of m+1 exponential spacings, the order statistics of m uniforms) and
/// merged with the weight CDF in one O(n + m) pass, instead of m binary searches with random
/// memory access.
template <Real T>
std::vector<Index> multinomial_resample(const Eigen::Ref<const Vector<T>>& weights, Index m,
                                        Rng& rng) {
  check_argument(m >= 0, "m", "must be >= 0");
  const Vector<double> w = detail::normalized_copy<T>(weights, "weights");
  const std::vector<double> c = detail::cumulative(w);
  std::vector<double> u(static_cast<std::size_t>(m));
  double s = 0.0;
  for (auto& v : u) {
    s += rng.exponential();
    v = s;
  }
  const double total = (s + rng.exponential()) / c.back();
  std::vector<Index> out(static_cast<std::size_t>(m));
  Index i = 0;
  const Index n = w.size();
  for (std::size_t k = 0; k < u.size(); ++k) {
    const double p = u[k] / total;
    while (i < n - 1 && c[static_cast<std::size_t>(i)] <= p) ++i;
    out[k] = i;
  }
  for (auto& o : out)  // a final zero-weight unit can only be reached through rounding
    while (o > 0 && w[o] == 0.0) --o;
  return out;
}

/// Systematic resampling (Kitagawa 1996; Carpenter, Clifford & Fearnhead 1999): points
/// (u + k) / m, k = 0..m-1, with one u ~ U[0,1), mapped through the weight CDF. Each unit gets
/// floor(m w_i) or ceil(m w_i) copies.
template <Real T>
std::vector<Index> systematic_resample(const Eigen::Ref<const Vector<T>>& weights, Index m,
                                       Rng& rng) {
  check_argument(m >= 0, "m", "must be >= 0");
  const Vector<double> w = detail::normalized_copy<T>(weights, "weights");
  const std::vector<double> c = detail::cumulative(w);
  std::vector<Index> out(static_cast<std::size_t>(m));
  const double u = rng.uniform();
  const double total = c.back();
  Index i = 0;
  const Index n = w.size();
  for (Index k = 0; k < m; ++k) {
    const double p = (u + static_cast<double>(k)) / static_cast<double>(m) * total;
    while (i < n - 1 && c[static_cast<std::size_t>(i)] <= p) ++i;
    out[static_cast<std::size_t>(k)] = i;
  }
  // A final zero-weight unit can only be reached through rounding: step back to a positive one.
  for (auto& o : out)
    while (o > 0 && w[o] == 0.0) --o;
  return out;
}

/// Residual resampling (Liu & Chen 1998): floor(m w_i) deterministic copies, the remaining
/// m - sum floor(m w_i) draws multinomial on the residuals m w_i - floor(m w_i).
template <Real T>
std::vector<Index> residual_resample(const Eigen::Ref<const Vector<T>>& weights, Index m,
                                     Rng& rng) {
  check_argument(m >= 0, "m", "must be >= 0");
  const Vector<double> w = detail::normalized_copy<T>(weights, "weights");
  std::vector<Index> out;
  out.reserve(static_cast<std::size_t>(m));
  Vector<double> resid(w.size());
  Index fixed = 0;
  for (Index i = 0; i < w.size(); ++i) {
    const double mw = static_cast<double>(m) * w[i];
    // The 1e-9 keeps an integer m w_i that rounding put just below (e.g. float weights) whole.
    const Index f = static_cast<Index>(std::floor(mw + 1e-9));
    for (Index r = 0; r < f; ++r) out.push_back(i);
    fixed += f;
    resid[i] = std::max(mw - static_cast<double>(f), 0.0);
  }
  const Index rest = m - fixed;
  if (rest > 0) {
    std::vector<Index> extra = multinomial_resample<double>(resid, rest, rng);
    out.insert(out.end(), extra.begin(), extra.end());
  }
  out.resize(static_cast<std::size_t>(m));  // rounding can only make `fixed` exceed m by 0
  std::sort(out.begin(), out.end());
  return out;
}

/// k distinct units drawn by successive sampling proportional to the weights (draw one unit
/// with P ∝ w, remove it, repeat), in O(n + k log k): each unit with w_i > 0 gets the key
/// E_i / w_i with E_i ~ Exp(1) (the exponential race; equivalent to Efraimidis & Spirakis 2006
/// keys u^(1/w)) and the k smallest keys win. Returns the units in order of selection
/// (smallest key first). Note: P(i in S) is NOT k w_i (use sample_fixed_size for that).
template <Real T>
std::vector<Index> sample_without_replacement(const Eigen::Ref<const Vector<T>>& weights, Index k,
                                              Rng& rng) {
  const Vector<double> w = detail::normalized_copy<T>(weights, "weights");
  const Index positive = (w.array() > 0.0).count();
  check_argument(k >= 0 && k <= positive, "k",
                 "must be in [0, " + std::to_string(positive) + "] (units with positive weight)");
  std::vector<std::pair<double, Index>> keys;
  keys.reserve(static_cast<std::size_t>(positive));
  for (Index i = 0; i < w.size(); ++i) {
    const double e = rng.exponential();  // drawn for every unit: indices stay aligned with seeds
    if (w[i] > 0.0) keys.emplace_back(e / w[i], i);
  }
  auto kth = keys.begin() + k;
  std::nth_element(keys.begin(), kth, keys.end());
  std::sort(keys.begin(), kth);
  std::vector<Index> out(static_cast<std::size_t>(k));
  for (Index j = 0; j < k; ++j)
    out[static_cast<std::size_t>(j)] = keys[static_cast<std::size_t>(j)].second;
  return out;
}

/// Inclusion probabilities proportional to size with a cap: pi_i = min(1, c w_i), with c chosen
/// so that sum pi = N exactly (units whose c w_i would exceed 1 are set to 1 and the rest are
/// rescaled, repeatedly, as in Tillé 2006 §2.10). Needs N <= number of positive weights.
template <Real T>
Vector<double> inclusion_probabilities(const Eigen::Ref<const Vector<T>>& weights, Index N) {
  const Vector<double> w = detail::normalized_copy<T>(weights, "weights");
  const Index n = w.size();
  const Index positive = (w.array() > 0.0).count();
  check_argument(N >= 0 && N <= positive, "N",
                 "must be in [0, " + std::to_string(positive) + "] (units with positive weight)");
  Vector<double> pi = Vector<double>::Zero(n);
  if (N == 0) return pi;
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return w[a] > w[b]; });
  // Find the number t of capped units: the largest weights get pi = 1 while
  // (N - t) * w_(t) / (sum of the remaining weights) >= 1.
  std::vector<double> suffix(static_cast<std::size_t>(n) + 1, 0.0);
  for (Index j = n - 1; j >= 0; --j)
    suffix[static_cast<std::size_t>(j)] = suffix[static_cast<std::size_t>(j + 1)] + w[order[j]];
  Index t = 0;
  while (t < N) {
    const double rest = suffix[static_cast<std::size_t>(t)];
    if (static_cast<double>(N - t) * w[order[t]] / rest >= 1.0) {
      ++t;
    } else {
      break;
    }
  }
  const double rest = suffix[static_cast<std::size_t>(t)];
  for (Index j = 0; j < n; ++j) {
    const Index i = order[static_cast<std::size_t>(j)];
    pi[i] =
        j < t ? 1.0 : (rest > 0 ? std::min(1.0, static_cast<double>(N - t) * w[i] / rest) : 0.0);
  }
  return pi;
}

/// Options of sample_fixed_size().
struct FixedSizeOptions {
  /// Randomly permute the units before the systematic pass (Goodman & Kish 1950). Without it,
  /// Madow's ordered systematic sampling never selects some pairs of neighbours together; the
  /// first-order inclusion probabilities pi_i are exact either way.
  bool randomize_order = true;
  /// |sum pi - round(sum pi)| allowed, per unit (times n); at least 4 epsilon of T.
  double sum_tolerance = 1e-9;
  void validate() const {
    check_argument(sum_tolerance >= 0 && std::isfinite(sum_tolerance), "sum_tolerance",
                   "must be finite and >= 0");
  }
};

/// Systematic (Madow 1949) sampling with unequal probabilities: given pi_i in [0, 1] summing to
/// an integer N, selects exactly N distinct units with P(i selected) = pi_i. The units are laid
/// end to end on [0, N) as intervals of length pi_i; one u ~ U[0,1) selects the units whose
/// interval contains one of u, u+1, ..., u+N-1 (an interval of length <= 1 holds at most one).
/// Returns the selected indices sorted ascending.
template <Real T>
std::vector<Index> sample_fixed_size(const Eigen::Ref<const Vector<T>>& inclusion_probabilities,
                                     Rng& rng, const FixedSizeOptions& options = {}) {
  options.validate();
  const auto& p = inclusion_probabilities;
  const Index n = p.size();
  check_argument(n > 0, "inclusion_probabilities", "is empty");
  double total = 0.0;
  for (Index i = 0; i < n; ++i) {
    const double v = static_cast<double>(p[i]);
    check_argument(std::isfinite(v) && v >= 0.0 && v <= 1.0, "inclusion_probabilities",
                   "entry " + std::to_string(i) + " is not in [0, 1]");
    total += v;
  }
  const double N = std::round(total);
  // At least a few ulps of T per unit: float probabilities cannot sum more exactly than that.
  const double tol =
      std::max(options.sum_tolerance, 4.0 * static_cast<double>(std::numeric_limits<T>::epsilon()));
  check_argument(std::abs(total - N) <= tol * std::max<double>(1.0, static_cast<double>(n)),
                 "inclusion_probabilities",
                 "must sum to an integer (sum is " + std::to_string(total) + ")");
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  if (options.randomize_order) rng.shuffle(order);
  const double u = rng.uniform();
  const double scale = total > 0 ? N / total : 0.0;  // make the last cumulative value exactly N
  std::vector<Index> out;
  out.reserve(static_cast<std::size_t>(N));
  double c_prev = 0.0, c = 0.0;
  // Number of lattice points u + k (k integer) in [c_prev, c) is ceil(c - u) - ceil(c_prev - u).
  double prev_ceil = std::ceil(c_prev - u);
  for (Index j = 0; j < n; ++j) {
    const Index i = order[static_cast<std::size_t>(j)];
    c += static_cast<double>(p[i]) * scale;
    if (j == n - 1) c = N;
    const double cur_ceil = std::ceil(c - u);
    if (cur_ceil > prev_ceil && p[i] > 0) out.push_back(i);
    prev_ceil = cur_ceil;
    c_prev = c;
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace popalign::sampling
