#pragma once
// Cost geometries for the Sinkhorn solvers.
//
// A geometry knows the cost C_ij between source i (n of them) and target j (m of them) and
// provides the two log-sum-exp reductions a Sinkhorn half-step needs:
//   row_lse:  out_i = log sum_j exp(h_j - C_ij / eps)
//   col_lse:  out_j = log sum_i exp(h_i - C_ij / eps)
// plus single rows/columns of C in double (for the stored-kernel path and plan extraction),
// an upper bound of max C (the start of eps-scaling) and <P, C> for a plan given by potentials.
//
// * DenseCost<T>: a user-supplied n x m cost matrix (a view: the matrix must outlive it).
//   The reductions are exact two-pass (max, then sum of exp) in double over rows / column blocks.
// * PointCloud<T>: C_ij = scale * ||x_i - y_j||^2, never stored; the reductions are calls to
//   kernels::gaussian_lse (c = scale / eps), so memory is O((n + m) d). For T = float the
//   exponents carry the kernel's f32 error (~1e-7 * scale * R^2 / eps absolute, see
//   docs/kernels.md).
//
// Both are cheap to copy (views + O((n+m) d) prepared data). Thread safety: const methods may
// be called concurrently.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <concepts>
#include <limits>
#include <string>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/kernels/gaussian_lse.hpp>

namespace popalign::ot {

/// What the solvers require of a geometry (DenseCost and PointCloud model it).
template <class G>
concept SinkhornGeometry = requires(const G& g, const Vector<double>& h, double eps,
                                    Vector<double>& out, const Execution& ex, Index i,
                                    double* buf) {
  typename G::Scalar;
  { g.rows() } -> std::convertible_to<Index>;
  { g.cols() } -> std::convertible_to<Index>;
  { g.max_cost_bound() } -> std::convertible_to<double>;
  g.row_lse(h, eps, out, ex);
  g.col_lse(h, eps, out, ex);
  g.cost_row(i, buf);
  g.cost_col(i, buf);
};

namespace detail {
inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();

/// log sum exp of a double array (two-pass, exact shift). -inf for an empty / all -inf array.
template <class ArrayLike>
double log_sum_exp(const ArrayLike& e) {
  if (e.size() == 0) return kNegInf;
  const double mx = e.maxCoeff();
  if (!(mx > kNegInf)) return kNegInf;
  return mx + std::log((e - mx).exp().sum());
}
}  // namespace detail

/// A dense cost matrix M (n x m), held by view.
template <Real T>
class DenseCost {
 public:
  using Scalar = T;

  explicit DenseCost(MatrixView<T> M) : M_(M) {
    check_argument(M_.rows() > 0 && M_.cols() > 0, "M", "cost matrix is empty");
    check_argument(M_.allFinite(), "M", "contains NaN or infinite values");
    max_ = static_cast<double>(M_.maxCoeff());
    min_ = static_cast<double>(M_.minCoeff());
  }

  Index rows() const noexcept { return M_.rows(); }
  Index cols() const noexcept { return M_.cols(); }
  double max_cost_bound() const noexcept { return std::max(max_ - std::min(min_, 0.0), 0.0); }
  const MatrixView<T>& matrix() const noexcept { return M_; }

  void row_lse(const Vector<double>& h, double eps, Vector<double>& out,
               const Execution& ex) const {
    out.resize(rows());
    parallel_for(rows(), ex.resolved_threads(), 16, [&](Index b, Index e) {
      Eigen::ArrayXd buf(cols());
      for (Index i = b; i < e; ++i) {
        buf = h.array() - M_.row(i).transpose().template cast<double>().array() / eps;
        out[i] = detail::log_sum_exp(buf);
      }
    });
  }

  void col_lse(const Vector<double>& h, double eps, Vector<double>& out,
               const Execution& ex) const {
    out.resize(cols());
    constexpr Index kBlock = 256;
    const Index blocks = (cols() + kBlock - 1) / kBlock;
    parallel_for(blocks, ex.resolved_threads(), 1, [&](Index b, Index e) {
      Eigen::ArrayXd mx(kBlock), sum(kBlock), row(kBlock);
      for (Index blk = b; blk < e; ++blk) {
        const Index j0 = blk * kBlock, w = std::min(kBlock, cols() - j0);
        mx.head(w).setConstant(detail::kNegInf);
        for (Index i = 0; i < rows(); ++i) {
          if (!(h[i] > detail::kNegInf)) continue;
          row.head(w) =
              h[i] - M_.row(i).segment(j0, w).transpose().template cast<double>().array() / eps;
          mx.head(w) = mx.head(w).max(row.head(w));
        }
        sum.head(w).setZero();
        for (Index i = 0; i < rows(); ++i) {
          if (!(h[i] > detail::kNegInf)) continue;
          row.head(w) =
              h[i] - M_.row(i).segment(j0, w).transpose().template cast<double>().array() / eps;
          for (Index jj = 0; jj < w; ++jj)
            if (mx[jj] > detail::kNegInf) row[jj] -= mx[jj];
          sum.head(w) += row.head(w).exp();
        }
        for (Index jj = 0; jj < w; ++jj)
          out[j0 + jj] = mx[jj] > detail::kNegInf ? mx[jj] + std::log(sum[jj]) : detail::kNegInf;
      }
    });
  }

  /// C_i,: in double (m entries).
  void cost_row(Index i, double* out) const {
    Eigen::Map<Eigen::RowVectorXd>(out, cols()) = M_.row(i).template cast<double>();
  }
  /// C_:,j in double (n entries).
  void cost_col(Index j, double* out) const {
    Eigen::Map<Eigen::VectorXd>(out, rows()) = M_.col(j).template cast<double>();
  }

  /// <P, C> for P_ij = exp(la_i + lb_j - C_ij / eps) where la/lb include potentials and
  /// log-weights (la_i = log a_i + f_i / eps ...).
  double transport_cost(const Vector<double>& la, const Vector<double>& lb, double eps,
                        const Execution& ex) const {
    std::vector<double> partial(static_cast<std::size_t>(rows()));
    parallel_for(rows(), ex.resolved_threads(), 16, [&](Index b, Index e) {
      Eigen::ArrayXd c(cols());
      for (Index i = b; i < e; ++i) {
        if (!(la[i] > detail::kNegInf)) {
          partial[static_cast<std::size_t>(i)] = 0;
          continue;
        }
        c = M_.row(i).transpose().template cast<double>().array();
        partial[static_cast<std::size_t>(i)] = ((la[i] + lb.array() - c / eps).exp() * c).sum();
      }
    });
    double s = 0;
    for (double p : partial) s += p;
    return s;
  }

 private:
  MatrixView<T> M_;
  double max_ = 0, min_ = 0;
};

/// Two point clouds with squared-Euclidean cost times `scale`: C_ij = scale * ||x_i - y_j||^2.
/// x (n x d) and y (m x d) are held by view. `lse_options` tunes the kernel (its execution
/// member is replaced by the solver's).
template <Real T>
class PointCloud {
 public:
  using Scalar = T;

  PointCloud(MatrixView<T> x, MatrixView<T> y, double scale = 1.0) : x_(x), y_(y), scale_(scale) {
    check_argument(x_.rows() > 0, "x", "is empty");
    check_argument(y_.rows() > 0, "y", "is empty");
    check_argument(
        x_.cols() == y_.cols(), "y",
        "has " + std::to_string(y_.cols()) + " columns but x has " + std::to_string(x_.cols()));
    check_argument(std::isfinite(scale) && scale > 0, "scale", "must be finite and > 0");
    check_argument(x_.allFinite(), "x", "contains NaN or infinite values");
    check_argument(y_.allFinite(), "y", "contains NaN or infinite values");
    const Index d = x_.cols();
    origin_ =
        (x_.template cast<double>().colwise().sum() + y_.template cast<double>().colwise().sum()) /
        static_cast<double>(x_.rows() + y_.rows());
    double rx = 0, ry = 0;
    for (Index i = 0; i < x_.rows(); ++i)
      rx = std::max(rx, (x_.row(i).template cast<double>() - origin_).squaredNorm());
    for (Index j = 0; j < y_.rows(); ++j)
      ry = std::max(ry, (y_.row(j).template cast<double>() - origin_).squaredNorm());
    bound_ = scale_ * std::pow(std::sqrt(rx) + std::sqrt(ry), 2);
    // Centred double copies, transposed (d x n, d x m) for vectorised cost rows / columns.
    xt_.resize(d, x_.rows());
    yt_.resize(d, y_.rows());
    for (Index i = 0; i < x_.rows(); ++i)
      xt_.col(i) = (x_.row(i).template cast<double>() - origin_).transpose();
    for (Index j = 0; j < y_.rows(); ++j)
      yt_.col(j) = (y_.row(j).template cast<double>() - origin_).transpose();
  }

  Index rows() const noexcept { return x_.rows(); }
  Index cols() const noexcept { return y_.rows(); }
  Index dim() const noexcept { return x_.cols(); }
  double scale() const noexcept { return scale_; }
  /// (sqrt(max_i |x_i - o|^2) + sqrt(max_j |y_j - o|^2))^2 * scale >= max C.
  double max_cost_bound() const noexcept { return bound_; }
  const MatrixView<T>& x() const noexcept { return x_; }
  const MatrixView<T>& y() const noexcept { return y_; }

  kernels::LseOptions lse_options{};
  /// T = double only: the online reductions (row_lse / col_lse) use float arithmetic on the
  /// double coordinates (kernels::gaussian_lse_mixed<float>, ~2.5x faster, exponent error
  /// ~1e-7 relative). Meant for the eps-scaling stages before a stored kernel
  /// (SinkhornOptions::kernel_precision = f32), whose iterations and cost stay exact in double.
  bool float_reductions = false;

  void row_lse(const Vector<double>& h, double eps, Vector<double>& out,
               const Execution& ex) const {
    out.resize(rows());
    lse(x_, y_, h, scale_ / eps, out, ex);
  }
  void col_lse(const Vector<double>& h, double eps, Vector<double>& out,
               const Execution& ex) const {
    out.resize(cols());
    lse(y_, x_, h, scale_ / eps, out, ex);
  }

  /// C_i,: in double (exact differences, no cancellation; vectorised along j).
  void cost_row(Index i, double* out) const {
    Eigen::Map<Eigen::ArrayXd> o(out, cols());
    o.setZero();
    for (Index k = 0; k < dim(); ++k) o += (yt_.row(k).transpose().array() - xt_(k, i)).square();
    o *= scale_;
  }
  void cost_col(Index j, double* out) const {
    Eigen::Map<Eigen::ArrayXd> o(out, rows());
    o.setZero();
    for (Index k = 0; k < dim(); ++k) o += (xt_.row(k).transpose().array() - yt_(k, j)).square();
    o *= scale_;
  }

  /// <P, C> for P_ij = exp(la_i + lb_j - C_ij / eps), computed in O((n + m) d) memory with d + 1
  /// kernel calls: sum_ij P_ij ||x_i - y_j||^2 = sum_i r_i |x_i|^2 + sum_j c_j |y_j|^2
  /// - 2 sum_ik x_ik B_ik, where B_i = sum_j P_ij y_j (barycentric sums, from the kernel with
  /// log-weights lb_j + log(y_jk - min_k y_k)). Coordinates are centred first.
  double transport_cost(const Vector<double>& la, const Vector<double>& lb, double eps,
                        const Execution& ex) const {
    const Index n = rows(), m = cols(), d = dim();
    const double c = scale_ / eps;
    const kernels::LseOptions opt = with(ex);
    Vector<double> l0(n), lk(n);
    kernels::gaussian_lse<T>(x_, y_, lb, c, l0, opt);
    Vector<double> col_mass(m), lc(m);
    kernels::gaussian_lse<T>(y_, x_, la, c, lc, opt);
    double total = 0;
    for (Index j = 0; j < m; ++j)
      if (lb[j] > detail::kNegInf) total += std::exp(lb[j] + lc[j]) * yt_.col(j).squaredNorm();
    for (Index i = 0; i < n; ++i)
      if (la[i] > detail::kNegInf) total += std::exp(la[i] + l0[i]) * xt_.col(i).squaredNorm();
    Vector<double> hk(m);
    for (Index k = 0; k < d; ++k) {
      const double lo = yt_.row(k).minCoeff();
      for (Index j = 0; j < m; ++j) {
        const double v = yt_(k, j) - lo;
        hk[j] = v > 0 ? lb[j] + std::log(v) : detail::kNegInf;
      }
      kernels::gaussian_lse<T>(x_, y_, hk, c, lk, opt);
      for (Index i = 0; i < n; ++i) {
        if (!(la[i] > detail::kNegInf)) continue;
        const double bik = std::exp(la[i] + lk[i]) + lo * std::exp(la[i] + l0[i]);
        total -= 2.0 * xt_(k, i) * bik;
      }
    }
    return scale_ * total;
  }

 private:
  void lse(const MatrixView<T>& a, const MatrixView<T>& b, const Vector<double>& h, double c,
           Vector<double>& out, const Execution& ex) const {
    if constexpr (std::is_same_v<T, double>) {
      if (float_reductions) {
        kernels::gaussian_lse_mixed<float>(a, b, h, c, out, with(ex));
        return;
      }
    }
    kernels::gaussian_lse<T>(a, b, h, c, out, with(ex));
  }

  kernels::LseOptions with(const Execution& ex) const {
    kernels::LseOptions o = lse_options;
    o.execution = ex;
    return o;
  }

  MatrixView<T> x_, y_;
  double scale_;
  Eigen::RowVectorXd origin_;
  RowMatrix<double> xt_, yt_;  // d x n and d x m, centred
  double bound_ = 0;
};

}  // namespace popalign::ot
