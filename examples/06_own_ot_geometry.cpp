// 06: plug your own cost (a "geometry") into the Sinkhorn solver.
//
// The solvers never see a cost matrix: they ask a geometry for the two log-sum-exp reductions of
// a Sinkhorn half-step (include/popalign/ot/geometry.hpp),
//   row_lse:  out_i = log sum_j exp(h_j - C_ij / eps)
//   col_lse:  out_j = log sum_i exp(h_i - C_ij / eps)
// plus single rows and columns of C, an upper bound of max C (where eps-scaling starts) and
// <P, C> for a plan given by log-potentials. Any type with these members satisfies the
// SinkhornGeometry concept and works with sinkhorn(), capacity_constrained_sinkhorn() and the
// plan helpers; DenseCost and PointCloud are popalign's two.
//
// The geometry below is the L1 (city-block) distance between answer vectors of a Likert
// questionnaire, computed on the fly (O((n + m) d) memory instead of n m), a natural cost for
// ordinal answers where the squared Euclidean cost of PointCloud over-weights one large gap. The
// example solves a problem with it (online reductions, so the solver calls row_lse / col_lse)
// and checks the answer against the same problem given as a precomputed DenseCost matrix.
//
// Checked by ctest (examples/run_example.cmake): exit status 0 and the output matches
// ctest-expect: city-block geometry: converged after
// ctest-expect: the geometry agrees with the dense cost matrix
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <popalign/core.hpp>
#include <popalign/ot/sinkhorn.hpp>

using popalign::Index;
using popalign::RowMatrix;
using popalign::Vector;

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// log sum exp of v, exact two-pass; -inf when v is empty or all -inf.
double log_sum_exp(const std::vector<double>& v) {
  double mx = kNegInf;
  for (double x : v) mx = std::max(mx, x);
  if (!(mx > kNegInf)) return kNegInf;
  double s = 0;
  for (double x : v) s += std::exp(x - mx);
  return mx + std::log(s);
}

// C_ij = sum_k |x_ik - y_jk|. Holds views: x and y must outlive it. Const methods are safe to
// call concurrently (no mutable state); this one ignores the Execution's thread count.
class CityBlockCost {
 public:
  using Scalar = double;

  CityBlockCost(const RowMatrix<double>& x, const RowMatrix<double>& y) : x_(x), y_(y) {
    popalign::check_argument(x.cols() == y.cols(), "y", "needs as many columns as x");
    // Bound of max C: the sum over columns of the largest gap between the two clouds' values.
    bound_ = 0;
    for (Index k = 0; k < x.cols(); ++k) {
      const double lo = std::min(x.col(k).minCoeff(), y.col(k).minCoeff());
      const double hi = std::max(x.col(k).maxCoeff(), y.col(k).maxCoeff());
      bound_ += hi - lo;
    }
  }

  Index rows() const { return x_.rows(); }
  Index cols() const { return y_.rows(); }
  double max_cost_bound() const { return bound_; }
  double cost(Index i, Index j) const { return (x_.row(i) - y_.row(j)).cwiseAbs().sum(); }

  void row_lse(const Vector<double>& h, double eps, Vector<double>& out,
               const popalign::Execution&) const {
    out.resize(rows());
    std::vector<double> e(static_cast<std::size_t>(cols()));
    for (Index i = 0; i < rows(); ++i) {
      for (Index j = 0; j < cols(); ++j) e[static_cast<std::size_t>(j)] = h[j] - cost(i, j) / eps;
      out[i] = log_sum_exp(e);
    }
  }
  void col_lse(const Vector<double>& h, double eps, Vector<double>& out,
               const popalign::Execution&) const {
    out.resize(cols());
    std::vector<double> e(static_cast<std::size_t>(rows()));
    for (Index j = 0; j < cols(); ++j) {
      for (Index i = 0; i < rows(); ++i) e[static_cast<std::size_t>(i)] = h[i] - cost(i, j) / eps;
      out[j] = log_sum_exp(e);
    }
  }
  void cost_row(Index i, double* out) const {
    for (Index j = 0; j < cols(); ++j) out[j] = cost(i, j);
  }
  void cost_col(Index j, double* out) const {
    for (Index i = 0; i < rows(); ++i) out[i] = cost(i, j);
  }
  // <P, C> for P_ij = exp(la_i + lb_j - C_ij / eps).
  double transport_cost(const Vector<double>& la, const Vector<double>& lb, double eps,
                        const popalign::Execution&) const {
    double s = 0;
    for (Index i = 0; i < rows(); ++i) {
      if (!(la[i] > kNegInf)) continue;
      for (Index j = 0; j < cols(); ++j) {
        const double c = cost(i, j);
        s += std::exp(la[i] + lb[j] - c / eps) * c;
      }
    }
    return s;
  }

 private:
  const RowMatrix<double>& x_;
  const RowMatrix<double>& y_;
  double bound_ = 0;
};

static_assert(popalign::ot::SinkhornGeometry<CityBlockCost>);

// n answer vectors to d five-point items; `lean` moves every answer up by that much on average.
RowMatrix<double> answers(Index n, Index d, double lean, std::uint64_t seed) {
  popalign::Rng rng(seed);
  RowMatrix<double> out(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k)
      out(i, k) = std::clamp(std::round(3.0 + lean + 1.1 * rng.normal()), 1.0, 5.0);
  return out;
}

}  // namespace

int main() {
  const RowMatrix<double> personas = answers(300, 10, 0.6, 1);  // agree too readily
  const RowMatrix<double> people = answers(200, 10, 0.0, 2);
  const CityBlockCost geometry(personas, people);

  popalign::ot::SinkhornOptions options;
  options.reg = 0.05 * geometry.max_cost_bound() / 10;  // eps relative to a typical cost
  options.tol = 1e-9;
  options.storage = popalign::ot::KernelStorage::online;  // the solver calls row_lse / col_lse
  // Empty weight vectors: uniform a and b.
  const auto r = popalign::ot::sinkhorn(geometry, Vector<double>(), Vector<double>(), options);
  fmt::print("city-block geometry: {}\n", r);
  fmt::print("mean L1 distance moved per persona: {:.4f} answer points over 10 items\n", r.cost);

  // The same problem with the cost matrix written out, solved by popalign's DenseCost.
  RowMatrix<double> M(geometry.rows(), geometry.cols());
  for (Index i = 0; i < M.rows(); ++i) geometry.cost_row(i, M.row(i).data());
  const auto dense = popalign::ot::sinkhorn<double>(Vector<double>(), Vector<double>(), M, options);
  const double diff = std::abs(r.cost - dense.cost) / dense.cost;
  fmt::print("dense cost matrix:   cost {:.10g} ({} iterations); relative difference {:.1e}\n",
             dense.cost, dense.total_iterations, diff);
  const bool ok = r.converged() && dense.converged() && diff < 1e-9;
  fmt::print("{}\n", ok ? "the geometry agrees with the dense cost matrix" : "MISMATCH");
  return ok ? 0 : 1;
}
