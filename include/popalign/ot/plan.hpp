#pragma once
// The transport plan, only on request, from a SinkhornResult and its geometry:
//   P_ij = exp(log a_i + log b_j + (f_i + g_j - C_ij) / eps).
// * dense_plan: the n x m matrix (small problems; refuses more than max_entries).
// * top_k_plan: for each target column j, the k sources with the largest P_ij and their mass.
// * sample_assignments: for each column j, one source drawn with probability P_ij / (P^T 1)_j
//   (seeded: column j uses Rng(seed).split(j), so the draw does not depend on threads).
// Columns are evaluated independently in O(n d) time each (cost column in double), in parallel.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/random.hpp>
#include <popalign/core/types.hpp>
#include <popalign/ot/geometry.hpp>
#include <popalign/ot/sinkhorn.hpp>

namespace popalign::ot {

namespace detail {
template <SinkhornGeometry G>
void check_plan_inputs(const G& geom, const SinkhornResult& r) {
  check_argument(
      r.f.size() == geom.rows() && r.log_a.size() == geom.rows(), "result",
      "potentials do not match the geometry's " + std::to_string(geom.rows()) + " sources");
  check_argument(
      r.g.size() == geom.cols() && r.log_b.size() == geom.cols(), "result",
      "potentials do not match the geometry's " + std::to_string(geom.cols()) + " targets");
  check_argument(r.reg > 0, "result", "has no regularisation (not a solved result)");
}

/// e_i = log a_i + (f_i - C_ij) / eps for column j (log P_ij up to the column constant).
template <SinkhornGeometry G>
void column_log_weights(const G& geom, const SinkhornResult& r, Index j, Eigen::ArrayXd& e) {
  e.resize(geom.rows());
  geom.cost_col(j, e.data());
  e = r.log_a.array() + (r.f.array() - e) / r.reg;
}
}  // namespace detail

/// The dense plan (n x m, double). Throws InvalidArgument("max_entries") when n*m is larger.
template <SinkhornGeometry G>
RowMatrix<double> dense_plan(const G& geom, const SinkhornResult& result,
                             Index max_entries = Index{1} << 26, const Execution& ex = {}) {
  detail::check_plan_inputs(geom, result);
  const Index n = geom.rows(), m = geom.cols();
  check_argument(
      static_cast<double>(n) * static_cast<double>(m) <= static_cast<double>(max_entries),
      "max_entries",
      "a dense plan of " + std::to_string(n) + " x " + std::to_string(m) +
          " exceeds the limit; use top_k_plan or sample_assignments");
  RowMatrix<double> P(n, m);
  parallel_for(n, ex.resolved_threads(), 8, [&](Index b, Index e) {
    Eigen::ArrayXd c(m);
    for (Index i = b; i < e; ++i) {
      geom.cost_row(i, c.data());
      P.row(i) = (result.log_a[i] + result.log_b.array() +
                  (result.f[i] + result.g.array() - c) / result.reg)
                     .exp()
                     .transpose();
    }
  });
  return P;
}

/// Per-column top-k entries of the plan: row j of `sources` lists the k sources with the
/// largest mass in column j (descending; ties by lower index), `mass` their P_ij.
struct TopKPlan {
  RowMatrix<Index> sources;  ///< m x k
  RowMatrix<double> mass;    ///< m x k
};

template <SinkhornGeometry G>
TopKPlan top_k_plan(const G& geom, const SinkhornResult& result, Index k,
                    const Execution& ex = {}) {
  detail::check_plan_inputs(geom, result);
  const Index n = geom.rows(), m = geom.cols();
  check_argument(k >= 1 && k <= n, "k", "must be in [1, " + std::to_string(n) + "]");
  TopKPlan out{RowMatrix<Index>(m, k), RowMatrix<double>(m, k)};
  parallel_for(m, ex.resolved_threads(), 4, [&](Index b, Index e) {
    Eigen::ArrayXd w;
    std::vector<Index> idx(static_cast<std::size_t>(n));
    for (Index j = b; j < e; ++j) {
      detail::column_log_weights(geom, result, j, w);
      std::iota(idx.begin(), idx.end(), Index{0});
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                        [&](Index p, Index q) { return w[p] > w[q] || (w[p] == w[q] && p < q); });
      const double col = result.log_b[j] + result.g[j] / result.reg;
      for (Index t = 0; t < k; ++t) {
        out.sources(j, t) = idx[static_cast<std::size_t>(t)];
        out.mass(j, t) = std::exp(w[idx[static_cast<std::size_t>(t)]] + col);
      }
    }
  });
  return out;
}

/// For every target j, one source i drawn with probability P_ij / sum_i P_ij.
template <SinkhornGeometry G>
std::vector<Index> sample_assignments(const G& geom, const SinkhornResult& result,
                                      std::uint64_t seed, const Execution& ex = {}) {
  detail::check_plan_inputs(geom, result);
  const Index n = geom.rows(), m = geom.cols();
  std::vector<Index> out(static_cast<std::size_t>(m));
  const Rng base(seed);
  parallel_for(m, ex.resolved_threads(), 4, [&](Index b, Index e) {
    Eigen::ArrayXd w;
    for (Index j = b; j < e; ++j) {
      detail::column_log_weights(geom, result, j, w);
      const double mx = w.maxCoeff();
      w = (w - mx).exp();
      const double total = w.sum();
      Rng rng = base.split(static_cast<std::uint64_t>(j));
      const double u = rng.uniform() * total;
      double acc = 0;
      Index pick = n - 1;
      for (Index i = 0; i < n; ++i) {
        acc += w[i];
        if (u < acc) {
          pick = i;
          break;
        }
      }
      // Never pick a zero-probability source through rounding at the end.
      while (pick > 0 && w[pick] == 0) --pick;
      out[static_cast<std::size_t>(j)] = pick;
    }
  });
  return out;
}

}  // namespace popalign::ot
