#pragma once
// Implementation of ot/sinkhorn.hpp (include that header; this one is included at its bottom).
// The equations and the choices are in the file comment of sinkhorn.hpp and in docs/ot.md.
//
//   detail::Side, apply_rule, update_side   one half-step's rule per side (hard, KL, capacity)
//   detail::StoredKernel                    the stored-kernel evaluation path
//   detail::newton_step                     Sinkhorn-Newton on a stored kernel (balanced)
//   detail::Solver                          the solve, one named function per stage:
//     Solver()            validate, weights and rules of both sides (setup_sides)
//     start()             initial potentials (zero, or a warm start)
//     eps_scaling()       the online eps-scaling schedule
//     iterate_at_target() iterations at reg: target_iteration(), newton_phase(),
//                         adapt_overrelaxation(), convergence and cancellation checks
//     finish()            marginals, errors, objective and cost at the final potentials
#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/ot/geometry.hpp>
#include <popalign/ot/sinkhorn.hpp>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <cstdint>

namespace popalign::ot {

namespace detail {

enum class Rule { hard, soft, capacity };

struct Side {
  Rule rule = Rule::hard;
  double rho = std::numeric_limits<double>::infinity();
  Vector<double> w;       // weights (a or b)
  Vector<double> logw;    // log weights (-inf for 0)
  Vector<double> logcap;  // capacity: log(cap_i / a_i)
};

/// New potential from the balanced value, for one entry.
inline double apply_rule(const Side& s, Index i, double bal, double eps) {
  switch (s.rule) {
    case Rule::hard:
      return bal;
    case Rule::soft:
      return s.rho / (s.rho + eps) * bal;
    case Rule::capacity:
      return std::min(0.0, bal + eps * s.logcap[i]);
  }
  return bal;
}

/// Over-relaxed step from the old potential towards the rule's value (omega = 1: plain).
inline double relax(const Side& s, double old, double target, double omega) {
  if (omega == 1.0) return target;
  const double v = old + omega * (target - old);
  return s.rule == Rule::capacity ? std::min(0.0, v) : v;
}

/// Applies the rule to every entry; returns the L1 change of the masses the plain (omega = 1)
/// step makes, i.e. the distance of the side from its fixed point.
inline double update_side(const Side& s, const Vector<double>& bal, double eps, Vector<double>& pot,
                          double omega = 1.0) {
  double err = 0;
  for (Index i = 0; i < pot.size(); ++i) {
    const double nw = apply_rule(s, i, bal[i], eps);
    if (s.w[i] > 0)
      err += s.w[i] * std::abs(std::exp((pot[i] - bal[i]) / eps) - std::exp((nw - bal[i]) / eps));
    pot[i] = relax(s, pot[i], nw, omega);
  }
  return err;
}

inline bool all_finite(const Vector<double>& v) { return v.allFinite(); }

#if defined(__AVX2__) && defined(__FMA__)
inline double dot_kernel(const float* k, const double* w, Index m) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  Index j = 0;
  for (; j + 8 <= m; j += 8) {
    const __m256 kv = _mm256_loadu_ps(k + j);
    s0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(kv)), _mm256_loadu_pd(w + j), s0);
    s1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(kv, 1)), _mm256_loadu_pd(w + j + 4),
                         s1);
  }
  alignas(32) double t[4];
  _mm256_store_pd(t, _mm256_add_pd(s0, s1));
  double s = (t[0] + t[1]) + (t[2] + t[3]);
  for (; j < m; ++j) s += static_cast<double>(k[j]) * w[j];
  return s;
}
inline void axpy_kernel(double alpha, const float* k, double* acc, Index m) {
  const __m256d al = _mm256_set1_pd(alpha);
  Index j = 0;
  for (; j + 8 <= m; j += 8) {
    const __m256 kv = _mm256_loadu_ps(k + j);
    _mm256_storeu_pd(acc + j, _mm256_fmadd_pd(al, _mm256_cvtps_pd(_mm256_castps256_ps128(kv)),
                                              _mm256_loadu_pd(acc + j)));
    _mm256_storeu_pd(acc + j + 4, _mm256_fmadd_pd(al, _mm256_cvtps_pd(_mm256_extractf128_ps(kv, 1)),
                                                  _mm256_loadu_pd(acc + j + 4)));
  }
  for (; j < m; ++j) acc[j] += alpha * static_cast<double>(k[j]);
}
#else
inline double dot_kernel(const float* k, const double* w, Index m) {
  double s = 0;
  for (Index j = 0; j < m; ++j) s += static_cast<double>(k[j]) * w[j];
  return s;
}
inline void axpy_kernel(double alpha, const float* k, double* acc, Index m) {
  for (Index j = 0; j < m; ++j) acc[j] += alpha * static_cast<double>(k[j]);
}
#endif
inline double dot_kernel(const double* k, const double* w, Index m) {
  return Eigen::Map<const Eigen::VectorXd>(k, m).dot(Eigen::Map<const Eigen::VectorXd>(w, m));
}
inline void axpy_kernel(double alpha, const double* k, double* acc, Index m) {
  Eigen::Map<Eigen::VectorXd>(acc, m) += alpha * Eigen::Map<const Eigen::VectorXd>(k, m);
}

/// Rows of the stored kernel are processed in blocks of up to kRowBlock rows that share every
/// load of the column weights (dot) and of the column accumulator (axpy): the pass reads w and
/// acc (doubles, in L2) once per block instead of once per row. Each row's arithmetic, and the
/// order in which rows are added into acc, are those of dot_kernel / axpy_kernel row by row, so
/// the results are bit-identical to the row-by-row pass.
inline constexpr Index kRowBlock = 8;

#if defined(__AVX2__) && defined(__FMA__)
template <int R>
inline void dot_rows_fixed(const float* k, Index m, const double* w, double* out) {
  __m256d s0[R], s1[R];
  for (int q = 0; q < R; ++q) s0[q] = s1[q] = _mm256_setzero_pd();
  Index j = 0;
  for (; j + 8 <= m; j += 8) {
    const __m256d w0 = _mm256_loadu_pd(w + j), w1 = _mm256_loadu_pd(w + j + 4);
    for (int q = 0; q < R; ++q) {
      const __m256 kv = _mm256_loadu_ps(k + q * m + j);
      s0[q] = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(kv)), w0, s0[q]);
      s1[q] = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(kv, 1)), w1, s1[q]);
    }
  }
  for (int q = 0; q < R; ++q) {
    alignas(32) double t[4];
    _mm256_store_pd(t, _mm256_add_pd(s0[q], s1[q]));
    double s = (t[0] + t[1]) + (t[2] + t[3]);
    const float* kq = k + q * m;
    for (Index jj = j; jj < m; ++jj) s += static_cast<double>(kq[jj]) * w[jj];
    out[q] = s;
  }
}
template <int R>
inline void axpy_rows_fixed(const double* alpha, const float* k, Index m, double* acc) {
  __m256d al[R];
  for (int q = 0; q < R; ++q) al[q] = _mm256_set1_pd(alpha[q]);
  Index j = 0;
  for (; j + 8 <= m; j += 8) {
    __m256d a0 = _mm256_loadu_pd(acc + j), a1 = _mm256_loadu_pd(acc + j + 4);
    for (int q = 0; q < R; ++q) {
      const __m256 kv = _mm256_loadu_ps(k + q * m + j);
      a0 = _mm256_fmadd_pd(al[q], _mm256_cvtps_pd(_mm256_castps256_ps128(kv)), a0);
      a1 = _mm256_fmadd_pd(al[q], _mm256_cvtps_pd(_mm256_extractf128_ps(kv, 1)), a1);
    }
    _mm256_storeu_pd(acc + j, a0);
    _mm256_storeu_pd(acc + j + 4, a1);
  }
  for (int q = 0; q < R; ++q)
    for (Index jj = j; jj < m; ++jj) acc[jj] += alpha[q] * static_cast<double>(k[q * m + jj]);
}
/// out[q] = dot_kernel(k + q m, w, m) for q < r (r <= kRowBlock rows, row-major, stride m).
inline void dot_rows(const float* k, Index r, Index m, const double* w, double* out) {
  switch (r) {
    case 8:
      return dot_rows_fixed<8>(k, m, w, out);
    case 4:
      return dot_rows_fixed<4>(k, m, w, out);
    default:
      for (Index q = 0; q < r; ++q) out[q] = dot_kernel(k + q * m, w, m);
  }
}
/// acc += alpha[q] * row q, for q = 0, 1, ... in order (bit-identical to axpy_kernel per row).
inline void axpy_rows(const double* alpha, const float* k, Index r, Index m, double* acc) {
  switch (r) {
    case 8:
      return axpy_rows_fixed<8>(alpha, k, m, acc);
    case 4:
      return axpy_rows_fixed<4>(alpha, k, m, acc);
    default:
      for (Index q = 0; q < r; ++q)
        if (alpha[q] != 0) axpy_kernel(alpha[q], k + q * m, acc, m);
  }
}
#else
inline void dot_rows(const float* k, Index r, Index m, const double* w, double* out) {
  for (Index q = 0; q < r; ++q) out[q] = dot_kernel(k + q * m, w, m);
}
inline void axpy_rows(const double* alpha, const float* k, Index r, Index m, double* acc) {
  for (Index q = 0; q < r; ++q)
    if (alpha[q] != 0) axpy_kernel(alpha[q], k + q * m, acc, m);
}
#endif
inline void dot_rows(const double* k, Index r, Index m, const double* w, double* out) {
  for (Index q = 0; q < r; ++q) out[q] = dot_kernel(k + q * m, w, m);
}
inline void axpy_rows(const double* alpha, const double* k, Index r, Index m, double* acc) {
  for (Index q = 0; q < r; ++q)
    if (alpha[q] != 0) axpy_kernel(alpha[q], k + q * m, acc, m);
}

#if defined(__AVX2__) && defined(__FMA__)
/// exp of 4 doubles in [-708, 709] (larger arguments are clamped to 709): round-to-nearest range
/// reduction x = k ln 2 + r (ln 2 in two parts), Taylor polynomial of degree 11 on |r| <= 0.35
/// (relative error < 1e-14, measured 8.8e-15 against glibc), times 2^k from the exponent bits.
/// Used to build a float stored kernel, whose rounding to float (6e-8) dominates.
inline __m256d exp_pd(__m256d x) {
  x = _mm256_min_pd(x, _mm256_set1_pd(709.0));
  x = _mm256_max_pd(x, _mm256_set1_pd(-708.0));
  const __m256d k = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(6.93147180369123816490e-01), x);
  r = _mm256_fnmadd_pd(k, _mm256_set1_pd(1.90821492927058770002e-10), r);
  __m256d p = _mm256_set1_pd(1.0 / 39916800.0);
  for (const double c : {1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0,
                         1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0})
    p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(c));
  const __m256i e = _mm256_slli_epi64(
      _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(k)), _mm256_set1_epi64x(1023)), 52);
  return _mm256_mul_pd(p, _mm256_castsi256_pd(e));
}
#endif

/// K row i of a float stored kernel: exp((fb + gbar_j - c_j) / eps) rounded to float, entries
/// whose exponent is below cutoff stored as 0. The exponent is formed in double as in the
/// generic path; only the exp differs (see exp_pd).
inline void kernel_row(const double* c, double fb, const double* gbar, double eps, double cutoff,
                       Index m, float* out) {
  Index j = 0;
#if defined(__AVX2__) && defined(__FMA__)
  const __m256d vf = _mm256_set1_pd(fb), ve = _mm256_set1_pd(eps), vc = _mm256_set1_pd(cutoff);
  for (; j + 4 <= m; j += 4) {
    const __m256d e = _mm256_div_pd(
        _mm256_sub_pd(_mm256_add_pd(vf, _mm256_loadu_pd(gbar + j)), _mm256_loadu_pd(c + j)), ve);
    const __m256d v =
        _mm256_blendv_pd(exp_pd(e), _mm256_setzero_pd(), _mm256_cmp_pd(e, vc, _CMP_LT_OQ));
    _mm_storeu_ps(out + j, _mm256_cvtpd_ps(v));
  }
#endif
  for (; j < m; ++j) {
    const double e = (fb + gbar[j] - c[j]) / eps;
    out[j] = e < cutoff ? 0.0f : static_cast<float>(std::exp(e));
  }
}

/// Asks Linux for transparent huge pages on a large buffer that is about to be written for
/// the first time: first-touch page faults of a 400 MB kernel cost about 1.2 CPU-s in 4 KiB
/// pages on this project's VMs and half that in 2 MiB pages (docs/ot.md). A hint only.
inline void advise_huge_pages(void* data, std::size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes < (std::size_t{16} << 20)) return;
  const auto page = std::uintptr_t{4096};
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#else
  (void)data;
  (void)bytes;
#endif
}

/// The stored-kernel path: K_ij = exp((fbar_i + gbar_j - C_ij)/eps) in T.
template <Real T>
class StoredKernel {
 public:
  static constexpr double kCutoff = std::is_same_v<T, float> ? -87.0 : -300.0;

  template <class G>
  void build(const G& geom, const Vector<double>& f, const Vector<double>& g, double eps,
             const Execution& ex) {
    n_ = geom.rows();
    m_ = geom.cols();
    if (K_.rows() != n_ || K_.cols() != m_) {
      K_.resize(n_, m_);
      advise_huge_pages(K_.data(), static_cast<std::size_t>(K_.size()) * sizeof(T));
    }
    fbar_ = f;
    gbar_ = g;
    eps_ = eps;
    parallel_for(n_, ex.resolved_threads(), 8, [&](Index b, Index e) {
      Eigen::ArrayXd c(m_);
      for (Index i = b; i < e; ++i) {
        geom.cost_row(i, c.data());
        // Entries below exp(cutoff) (relative to the O(1) entries of a balanced kernel) are
        // stored as exact zeros: no subnormal numbers in the hot loops.
        if constexpr (std::is_same_v<T, float>) {
          kernel_row(c.data(), fbar_[i], gbar_.data(), eps, kCutoff, m_, K_.data() + i * m_);
        } else {
          c = (fbar_[i] + gbar_.array() - c) / eps;
          K_.row(i) = (c < kCutoff).select(0.0, c.exp()).template cast<T>().transpose();
        }
      }
    });
  }

  bool needs_absorb(const Vector<double>& f, const Vector<double>& g, double threshold) const {
    const double lim = threshold * eps_;
    return (f - fbar_).cwiseAbs().maxCoeff() > lim || (g - gbar_).cwiseAbs().maxCoeff() > lim;
  }

  static constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

  const Vector<double>& fbar() const noexcept { return fbar_; }
  const RowMatrix<T>& matrix() const noexcept { return K_; }
  const Vector<double>& gbar() const noexcept { return gbar_; }
  double eps() const noexcept { return eps_; }

  /// One fused pass: rows = K wc (n), cols = K^T wr (m). Same fixed row groups as iterate().
  void apply(const Vector<double>& wc, const Vector<double>& wr, Vector<double>& rows,
             Vector<double>& cols, const Execution& ex) {
    rows.resize(n_);
    cols.resize(m_);
    for_each_block(ex, [&](Index, Index i0, Index r, const T* k, double* acc) {
      dot_rows(k, r, m_, wc.data(), rows.data() + i0);
      axpy_rows(wr.data() + i0, k, r, m_, acc);
    });
    for (Index j = 0; j < m_; ++j) cols[j] = column_sum(j);
  }

  /// <P, C> = sum_ij wr_i K_ij wc_j C_ij with C_ij from geom.cost_row (double), in one pass
  /// over K: O(n m d) arithmetic and one read of K instead of the geometry's d + 2 kernel
  /// reductions. Rows in the fixed groups of iterate(), partial sums added in group order.
  template <class G>
  double transport_cost(const G& geom, const Vector<double>& wc, const Vector<double>& wr,
                        const Execution& ex) const {
    const Index groups = row_groups();
    const Index per = (n_ + groups - 1) / groups;
    std::vector<double> parts(static_cast<std::size_t>(groups), 0.0);
    parallel_for(groups, ex.resolved_threads(), 1, [&](Index gb, Index ge) {
      Eigen::ArrayXd c(m_);
      for (Index grp = gb; grp < ge; ++grp) {
        double sum = 0;
        for (Index i = grp * per; i < std::min(n_, (grp + 1) * per); ++i) {
          if (wr[i] == 0) continue;
          geom.cost_row(i, c.data());
          c *= Eigen::Map<const Eigen::ArrayXd>(wc.data(), m_);
          sum += wr[i] * dot_kernel(K_.data() + i * m_, c.data(), m_);
        }
        parts[static_cast<std::size_t>(grp)] = sum;
      }
    });
    double total = 0;
    for (double v : parts) total += v;
    return total;
  }

  /// One fused iteration: f half-step (rule of side A), then g half-step (side B) from the
  /// column sums accumulated in the same pass. Returns {err_a, err_b}, or NaNs when a row or
  /// column of the stored kernel has underflowed to zero (f and g are then partly updated and
  /// the caller restores them and takes a log-domain step instead); bal_g receives the
  /// balanced g values (for the final column masses).
  std::pair<double, double> iterate(const Side& A, const Side& B, Vector<double>& f,
                                    Vector<double>& g, Vector<double>& bal_g, const Execution& ex,
                                    double omega) {
    const double eps = eps_;
    Vector<double> w(m_);
    for (Index j = 0; j < m_; ++j)
      w[j] = B.w[j] > 0 ? B.w[j] * std::exp((g[j] - gbar_[j]) / eps) : 0.0;
    std::vector<double> err_parts(static_cast<std::size_t>(row_groups()), 0.0);
    std::atomic<bool> failed{false};
    for_each_block(ex, [&](Index grp, Index i0, Index r, const T* k, double* acc) {
      double sums[kRowBlock], alpha[kRowBlock];
      dot_rows(k, r, m_, w.data(), sums);
      for (Index q = 0; q < r; ++q) {
        const Index i = i0 + q;
        const double s = sums[q];
        alpha[q] = 0;  // rows that add nothing to the column sums
        if (!(s > 0) || !std::isfinite(s)) {
          failed.store(true, std::memory_order_relaxed);
          continue;
        }
        const double bal = fbar_[i] - eps * std::log(s);
        const double nw = apply_rule(A, i, bal, eps);
        if (A.w[i] > 0) {
          err_parts[static_cast<std::size_t>(grp)] +=
              A.w[i] * std::abs(std::exp((f[i] - bal) / eps) - std::exp((nw - bal) / eps));
          f[i] = relax(A, f[i], nw, omega);
          alpha[q] = A.w[i] * std::exp((f[i] - fbar_[i]) / eps);
        } else {
          f[i] = nw;
        }
      }
      axpy_rows(alpha, k, r, m_, acc);
    });
    if (failed.load()) return {kNaN, kNaN};
    double err_a = 0;
    for (double e : err_parts) err_a += e;
    bal_g.resize(m_);
    for (Index j = 0; j < m_; ++j) {
      const double cs = column_sum(j);
      if (!(cs > 0) && B.w[j] > 0) return {kNaN, kNaN};
      bal_g[j] = gbar_[j] - eps * std::log(cs);
    }
    const double err_b = update_side(B, bal_g, eps, g, omega);
    return {err_a, err_b};
  }

 private:
  /// Rows go in fixed groups (independent of the thread count), each with its own column
  /// accumulator, so the results do not depend on the number of threads.
  Index row_groups() const noexcept { return std::min<Index>(n_, 32); }

  /// One pass over K: block(group, i0, r, K row i0, the group's column accumulator) for every
  /// block of r <= kRowBlock consecutive rows i0 .. i0 + r - 1 of a group, in order; the
  /// accumulators start at zero.
  template <class BlockFn>
  void for_each_block(const Execution& ex, BlockFn&& block) {
    const Index groups = row_groups();
    const Index per = (n_ + groups - 1) / groups;
    acc_.resize(static_cast<std::size_t>(groups * m_));
    const int threads =
        static_cast<double>(n_) * static_cast<double>(m_) < 1e5 ? 1 : ex.resolved_threads();
    parallel_for(groups, threads, 1, [&](Index gb, Index ge) {
      for (Index grp = gb; grp < ge; ++grp) {
        double* acc = acc_.data() + grp * m_;
        std::fill(acc, acc + m_, 0.0);
        const Index i1 = std::min(n_, (grp + 1) * per);
        for (Index i = grp * per; i < i1; i += kRowBlock) {
          const Index r = std::min(kRowBlock, i1 - i);
          block(grp, i, r, K_.data() + i * m_, acc);
        }
      }
    });
  }

  /// Column j of K^T (row weights) after for_each_block: the group accumulators summed in order.
  double column_sum(Index j) const {
    double cs = 0;
    for (Index grp = 0; grp < row_groups(); ++grp)
      cs += acc_[static_cast<std::size_t>(grp * m_ + j)];
    return cs;
  }

  Index n_ = 0, m_ = 0;
  RowMatrix<T> K_;
  Vector<double> fbar_, gbar_;
  std::vector<double> acc_;
  double eps_ = 1;
};

/// Sinkhorn-Newton steps (Brauer, Clason, Lorenz & Wirth 2017) on a stored kernel, for the
/// balanced problem: Newton's method on the dual F(f, g) = <a, f> + <b, g> - eps |P(f, g)|,
///   [diag(r)  P      ] [df]         [a - r]
///   [P^T      diag(c)] [dg] = eps * [b - c],   r = P 1, c = P^T 1,
/// solved directly when min(n, m) <= direct_max (Schur complement on the smaller side, Cholesky
/// in double; cg_iterations then counts factorisations), else inexactly by Jacobi-
/// preconditioned conjugate gradients (each CG iteration is one fused pass over K); then a
/// backtracking step that must reduce ||a - r||_1 + ||b - c||_1. Converges quadratically near
/// the solution where plain Sinkhorn crawls (small eps). Returns false when a full step fails to
/// gain 10% (the caller goes back to Sinkhorn): at very small eps the Newton system is so
/// ill-conditioned that CG stalls (typically once the L1 error is ~1e-5 at eps = 1e-3 of the
/// cost scale); the direct solve does not (n = m = 1000, eps = 1e-3: L1 2e-9 in 10 steps).
template <Real T, class G>
bool newton_step(StoredKernel<T>& K, const G& geom, const Side& A, const Side& B, Vector<double>& f,
                 Vector<double>& g, double& err, double absorb_threshold, const Execution& ex,
                 Index& cg_iterations, Index& absorptions, Index direct_max) {
  const Index n = f.size(), m = g.size();
  auto scalings = [&](const Vector<double>& ff, const Vector<double>& gg, Vector<double>& u,
                      Vector<double>& v) {
    const double eps = K.eps();
    u.resize(n);
    v.resize(m);
    for (Index i = 0; i < n; ++i)
      u[i] = A.w[i] > 0 ? A.w[i] * std::exp((ff[i] - K.fbar()[i]) / eps) : 0.0;
    for (Index j = 0; j < m; ++j)
      v[j] = B.w[j] > 0 ? B.w[j] * std::exp((gg[j] - K.gbar()[j]) / eps) : 0.0;
  };
  Vector<double> u, v, Kv, Ktu;
  auto marginals = [&](const Vector<double>& ff, const Vector<double>& gg, Vector<double>& r,
                       Vector<double>& c) {
    if (K.needs_absorb(ff, gg, absorb_threshold)) {
      K.build(geom, ff, gg, K.eps(), ex);
      ++absorptions;
    }
    scalings(ff, gg, u, v);
    K.apply(v, u, Kv, Ktu, ex);
    r = u.cwiseProduct(Kv);
    c = v.cwiseProduct(Ktu);
    return (A.w - r).cwiseAbs().sum() + (B.w - c).cwiseAbs().sum();
  };
  Vector<double> r, c;
  err = marginals(f, g, r, c);
  if (!std::isfinite(err)) return false;
  const double eps = K.eps();
  Vector<double> rhs(n + m);
  rhs.head(n) = eps * (A.w - r);
  rhs.tail(m) = eps * (B.w - c);
  Vector<double> minv(n + m);
  for (Index i = 0; i < n; ++i) minv[i] = r[i] > 0 ? 1.0 / r[i] : 0.0;
  for (Index j = 0; j < m; ++j) minv[n + j] = c[j] > 0 ? 1.0 / c[j] : 0.0;
  Vector<double> t1, t2, wq(m), wp(n);
  auto hess = [&](const Vector<double>& z, Vector<double>& out) {
    for (Index j = 0; j < m; ++j) wq[j] = v[j] * z[n + j];
    for (Index i = 0; i < n; ++i) wp[i] = u[i] * z[i];
    K.apply(wq, wp, t1, t2, ex);
    out.resize(n + m);
    for (Index i = 0; i < n; ++i) out[i] = r[i] * z[i] + u[i] * t1[i];
    for (Index j = 0; j < m; ++j) out[n + j] = v[j] * t2[j] + c[j] * z[n + j];
  };
  // H is singular along z0 = (1_n, -1_m) (adding a constant to f and subtracting it from g
  // leaves P unchanged); the right-hand side and every residual are kept orthogonal to z0 so
  // that rounding cannot feed that direction.
  auto project = [&](Vector<double>& vec) {
    const double t = (vec.head(n).sum() - vec.tail(m).sum()) / static_cast<double>(n + m);
    vec.head(n).array() -= t;
    vec.tail(m).array() += t;
  };
  project(rhs);
  Vector<double> x = Vector<double>::Zero(n + m);
  if (std::min(n, m) <= direct_max &&
      static_cast<double>(n) * static_cast<double>(m) <= double{1 << 25}) {
    // Direct solve: eliminate the larger side, e.g. for n <= m
    //   dg = diag(1/c) (rhs_g - P^T df),
    //   (diag(r) - P diag(1/c) P^T) df = rhs_f - P diag(1/c) rhs_g,
    // whose matrix S is positive semi-definite with S 1 = 0 (the z0 direction); adding
    // tau 1 1^T (tau n = mean(r)) makes it definite without changing the solution orthogonal to
    // 1. Conditioning is not an issue for a dense factorisation in double at the sizes used.
    Eigen::MatrixXd P = u.asDiagonal() * K.matrix().template cast<double>() * v.asDiagonal();
    const bool rows_side = n <= m;
    if (!rows_side) P.transposeInPlace();  // now P is k x l with k = min(n, m)
    const Vector<double>& rk = rows_side ? r : c;
    const Vector<double>& cl = rows_side ? c : r;
    const Index k = P.rows(), l = P.cols();
    const Vector<double> rhs_k =
        rows_side ? Vector<double>(rhs.head(n)) : Vector<double>(rhs.tail(m));
    const Vector<double> rhs_l =
        rows_side ? Vector<double>(rhs.tail(m)) : Vector<double>(rhs.head(n));
    Vector<double> cinv(l);
    for (Index j = 0; j < l; ++j) cinv[j] = cl[j] > 0 ? 1.0 / cl[j] : 0.0;
    const Vector<double> sq = cinv.cwiseSqrt();
    P = P * sq.asDiagonal();  // Q = P diag(1/c)^(1/2), in place (one k x l matrix in memory)
    Eigen::MatrixXd S(k, k);
    S.setZero();
    // S = diag(rk) - Q Q^T with Q = P diag(1/c)^(1/2): a symmetric rank-l update.
    S.selfadjointView<Eigen::Lower>().rankUpdate(P, -1.0);
    S = S.selfadjointView<Eigen::Lower>();
    const double tau = rk.mean() / static_cast<double>(k);
    S.array() += tau;
    for (Index i = 0; i < k; ++i) S(i, i) += rk[i] > 0 ? rk[i] : 1.0;
    const Vector<double> rhs_s = rhs_k - P * sq.cwiseProduct(rhs_l);
    Vector<double> dk;
    Eigen::LLT<Eigen::MatrixXd> llt(S);
    if (llt.info() == Eigen::Success) {
      dk = llt.solve(rhs_s);
    } else {
      Eigen::LDLT<Eigen::MatrixXd> ldlt(S);
      if (ldlt.info() != Eigen::Success) return false;
      dk = ldlt.solve(rhs_s);
    }
    const Vector<double> dl =
        cinv.cwiseProduct(rhs_l) - sq.cwiseProduct(Vector<double>(P.transpose() * dk));
    if (!dk.allFinite() || !dl.allFinite()) return false;
    if (rows_side) {
      x.head(n) = dk;
      x.tail(m) = dl;
    } else {
      x.head(n) = dl;
      x.tail(m) = dk;
    }
    ++cg_iterations;
  } else {
    // Preconditioned CG with forcing term eta = min(0.1, sqrt(err)).
    const double eta = std::min(0.1, std::sqrt(err));
    Vector<double> res = rhs, z = minv.cwiseProduct(res), p = z, hp;
    double rz = res.dot(z);
    const double rhs_norm = rhs.norm();
    for (Index it = 0; it < 300 && res.norm() > eta * rhs_norm; ++it) {
      hess(p, hp);
      ++cg_iterations;
      const double php = p.dot(hp);
      if (!(php > 0)) break;
      const double alpha = rz / php;
      x += alpha * p;
      res -= alpha * hp;
      project(res);
      z = minv.cwiseProduct(res);
      const double rz_new = res.dot(z);
      p = z + (rz_new / rz) * p;
      rz = rz_new;
    }
  }
  // Backtracking on the L1 marginal error.
  Vector<double> f_try, g_try, r_try, c_try;
  for (double step = 1.0; step >= 1.0 / 64; step *= 0.5) {
    f_try = f + step * x.head(n);
    g_try = g + step * x.tail(m);
    const double e = marginals(f_try, g_try, r_try, c_try);
    if (std::isfinite(e) && e < err) {
      f = f_try;
      g = g_try;
      // A damped step, or one that gains less than 10%, means CG has hit the conditioning floor:
      // accept it but let the caller return to (over-relaxed) Sinkhorn iterations.
      const bool good = step == 1.0 && e < 0.9 * err;
      err = e;
      return good;
    }
  }
  return false;
}

inline Vector<double> safe_log(const Vector<double>& w) {
  Vector<double> out(w.size());
  for (Index i = 0; i < w.size(); ++i)
    out[i] = w[i] > 0 ? std::log(w[i]) : -std::numeric_limits<double>::infinity();
  return out;
}

/// One solve. A struct of the solver's state with one member function per stage; run() calls
/// them in order. Not reused across solves.
template <SinkhornGeometry G>
struct Solver {
  using T = typename G::Scalar;

  const G& geom;
  const SinkhornOptions& opt;
  const Execution& ex;
  Index n = 0, m = 0;
  Side A, B;
  double mass_a = 0, mass_b = 0;  // total masses of the user's a and b
  double eps_target = 0, threshold = 0;
  bool warm_started = false;
  SinkhornResult res;
  Vector<double> f, g;
  Vector<double> h, lse, bal_f, bal_g;  // scratch of the half-steps
  Vector<double> f_backup, g_backup;
  double omega = 1.0;  // over-relaxation factor (adapted at the target reg)
  bool stored = false, built = false;
  StoredKernel<T> K;
  StoredKernel<float> Kf;     // options.kernel_precision = f32 with a double geometry
  bool float_kernel = false;  // Kf is the stored kernel

  /// fn(the stored kernel in use): K, or Kf for a float kernel of a double geometry.
  template <class Fn>
  decltype(auto) with_kernel(Fn&& fn) {
    if constexpr (!std::is_same_v<T, float>)
      if (float_kernel) return fn(Kf);
    return fn(K);
  }
  std::vector<double> history;  // error per target-reg iteration (over-relaxation)
  double last_rho = 0;
  Index newton_next = 0;  // earliest iteration for the next Newton phase
  Index newton_backoff = 0;
  bool relax_disabled = false;
  double best_error = std::numeric_limits<double>::infinity();
  double stored_cost = std::numeric_limits<double>::quiet_NaN();  // <P, C> through K (finish)

  Solver(const G& geometry, VectorView<double> a_in, VectorView<double> b_in,
         const Vector<double>* cap, const SinkhornOptions& options)
      : geom(geometry), opt(options), ex(options.execution) {
    opt.validate();
    n = geom.rows();
    m = geom.cols();
    setup_sides(a_in, b_in, cap);
    res.reg = opt.reg;
    eps_target = opt.reg;
    threshold = opt.tol + opt.rtol * std::max(mass_a, mass_b);
    newton_next = opt.newton_after;
    newton_backoff = opt.newton_after;
  }

  /// Weights, log weights and the rule of each side; validates a, b, cap and the masses.
  void setup_sides(VectorView<double> a_in, VectorView<double> b_in, const Vector<double>* cap) {
    A.w = a_in.size() == 0 ? Vector<double>::Constant(n, 1.0 / static_cast<double>(n))
                           : Vector<double>(a_in);
    B.w = b_in.size() == 0 ? Vector<double>::Constant(m, 1.0 / static_cast<double>(m))
                           : Vector<double>(b_in);
    check_weights(A.w, "a", n, "sources (rows)");
    check_weights(B.w, "b", m, "targets (columns)");
    A.logw = safe_log(A.w);
    B.logw = safe_log(B.w);
    mass_a = A.w.sum();
    mass_b = B.w.sum();
    if (cap != nullptr) {
      check_weights(*cap, "cap", n, "sources", /*allow_zero_total=*/true);
      check_argument(
          cap->sum() >= mass_b * (1 - 1e-12), "cap",
          fmt::format("total capacity {:g} is less than the target mass {:g}", cap->sum(), mass_b));
      check_argument(std::isinf(opt.reg_m_b), "reg_m_b",
                     "must be infinite (hard target marginal) in a capacity-constrained problem");
      A.rule = Rule::capacity;
      A.logcap.resize(n);
      for (Index i = 0; i < n; ++i)
        A.logcap[i] = (*cap)[i] > 0 ? std::log((*cap)[i]) - A.logw[i]
                                    : -std::numeric_limits<double>::infinity();
      // A source with zero capacity carries nothing: give it zero prior weight.
      for (Index i = 0; i < n; ++i)
        if ((*cap)[i] <= 0) {
          A.w[i] = 0;
          A.logw[i] = -std::numeric_limits<double>::infinity();
        }
    } else {
      if (std::isfinite(opt.reg_m_a)) {
        A.rule = Rule::soft;
        A.rho = opt.reg_m_a;
      }
      if (std::isfinite(opt.reg_m_b)) {
        B.rule = Rule::soft;
        B.rho = opt.reg_m_b;
      }
      if (A.rule == Rule::hard && B.rule == Rule::hard)
        check_argument(std::abs(mass_a - mass_b) <= opt.mass_tolerance * std::max(mass_a, mass_b),
                       "b",
                       fmt::format("total mass {:.17g} differs from the total mass of a {:.17g} "
                                   "(balanced problem; normalise or use reg_m_a / reg_m_b)",
                                   mass_b, mass_a));
    }
  }

  /// Initial potentials: the warm start (validated) or zero.
  void start(const Potentials& warm) {
    warm_started = warm.f.size() > 0 || warm.g.size() > 0;
    if (warm_started) {
      check_argument(warm.f.size() == n, "f",
                     "warm-start potential f has " + std::to_string(warm.f.size()) +
                         " entries for " + std::to_string(n) + " sources");
      check_argument(warm.g.size() == m, "g",
                     "warm-start potential g has " + std::to_string(warm.g.size()) +
                         " entries for " + std::to_string(m) + " targets");
      check_argument(warm.f.allFinite(), "f", "warm-start potential is not finite");
      check_argument(warm.g.allFinite(), "g", "warm-start potential is not finite");
      f = warm.f;
      g = warm.g;
    } else {
      f = Vector<double>::Zero(n);
      g = Vector<double>::Zero(m);
    }
    bal_f.resize(n);
    bal_g.resize(m);
    float_kernel = !std::is_same_v<T, float> && opt.kernel_precision == KernelPrecision::f32;
    const double bytes = static_cast<double>(n) * static_cast<double>(m) *
                         static_cast<double>(float_kernel ? sizeof(float) : sizeof(T));
    stored = opt.storage == KernelStorage::stored ||
             (opt.storage == KernelStorage::automatic &&
              bytes <= static_cast<double>(opt.kernel_memory_budget));
    res.stored_kernel = stored;
  }

  /// One online (log-domain) iteration at eps; returns {err_a, err_b}.
  std::pair<double, double> online_iteration(double eps) {
    h = B.logw + g / eps;
    geom.row_lse(h, eps, lse, ex);
    bal_f = -eps * lse;
    const double ea = update_side(A, bal_f, eps, f, omega);
    h = A.logw + f / eps;
    geom.col_lse(h, eps, lse, ex);
    bal_g = -eps * lse;
    const double eb = update_side(B, bal_g, eps, g, omega);
    return std::pair<double, double>{ea, eb};
  }

  /// eps-scaling stages (online), unless warm-started or switched off.
  void eps_scaling() {
    if (!opt.eps_scaling || warm_started) return;
    double eps = opt.eps_start > 0 ? opt.eps_start : geom.max_cost_bound();
    while (eps > eps_target * (1 + 1e-12)) {
      for (Index it = 0; it < opt.eps_scaling_iterations; ++it) {
        online_iteration(eps);
        ++res.total_iterations;
      }
      if (!all_finite(f) || !all_finite(g)) break;
      ex.checkpoint("sinkhorn eps-scaling", 0.0);
      eps *= opt.eps_scaling_factor;
    }
  }

  /// One iteration at the target reg: through the stored kernel once it is built (absorbing or
  /// redoing an underflowed step in the log domain), else online. Returns {err_a, err_b}.
  std::pair<double, double> target_iteration() {
    return with_kernel([&](auto& kernel) { return target_iteration(kernel); });
  }
  template <class Kernel>
  std::pair<double, double> target_iteration(Kernel& kern) {
    double ea = 0, eb = 0;
    if (stored && built && kern.needs_absorb(f, g, opt.absorb_threshold)) {
      ++res.absorptions;
      kern.build(geom, f, g, eps_target, ex);
    }
    if (stored && built) {
      f_backup = f;
      g_backup = g;
      std::tie(ea, eb) = kern.iterate(A, B, f, g, bal_g, ex, omega);
      if (std::isnan(ea)) {
        // Underflowed kernel row/column: restore, take a log-domain step, rebuild.
        f = f_backup;
        g = g_backup;
        std::tie(ea, eb) = online_iteration(eps_target);
        kern.build(geom, f, g, eps_target, ex);
        ++res.absorptions;
      }
    } else if (stored) {
      // The first step at the target reg is log-domain, so that K is built from balanced
      // potentials (every row and column then has entries of order one).
      std::tie(ea, eb) = online_iteration(eps_target);
      if (all_finite(f) && all_finite(g)) {
        kern.build(geom, f, g, eps_target, ex);
        built = true;
      }
    } else {
      std::tie(ea, eb) = online_iteration(eps_target);
    }
    return {ea, eb};
  }

  /// Slow linear (or sublinear) convergence on a stored kernel of a balanced problem: time for
  /// Sinkhorn-Newton steps.
  bool newton_due() const {
    return opt.newton && stored && built && A.rule == Rule::hard && B.rule == Rule::hard &&
           res.iterations >= newton_next && res.newton_steps < opt.max_newton_steps &&
           (last_rho > 0.9 || res.iterations >= 5 * opt.newton_after);
  }

  /// Newton steps from the total error err until converged or a step fails; true if converged.
  bool newton_phase(double err) {
    while (res.newton_steps < opt.max_newton_steps) {
      const bool ok = with_kernel([&](auto& kernel) {
        return newton_step(kernel, geom, A, B, f, g, err, opt.absorb_threshold, ex,
                           res.cg_iterations, res.absorptions, opt.newton_direct_max);
      });
      if (!ok) {
        // Not (yet) in Newton's basin, or at the conditioning floor: back to Sinkhorn,
        // and try again after twice as many iterations as last time.
        newton_backoff *= 2;
        newton_next = res.iterations + newton_backoff;
        break;
      }
      ++res.newton_steps;
      if (err <= threshold) break;
    }
    return err <= threshold;
  }

  /// Over-relaxation (Thibault et al. 2017, "Overrelaxed Sinkhorn-Knopp"; Young's SOR rule):
  /// once the plain iteration is in its linear regime with per-iteration error ratio rho
  /// (measured over a window), use omega = 2 / (1 + sqrt(1 - rho)), which turns the rate rho
  /// into about omega - 1. If the error then grows 10x above its best value, fall back to
  /// omega = 1 for the rest of the run. e = this iteration's err_a + err_b.
  void adapt_overrelaxation(double e) {
    history.push_back(e);
    const auto k = history.size();
    const auto kWindow = static_cast<std::size_t>(opt.overrelaxation_window);
    if (k >= 2 * kWindow && history[k - 1 - kWindow] > 0)
      last_rho = std::pow(e / history[k - 1 - kWindow], 1.0 / kWindow);
    if (opt.overrelaxation && omega == 1.0 && !relax_disabled && k >= 2 * kWindow &&
        history[k - 1 - kWindow] > 0) {
      const double rho = last_rho;
      if (rho > 0.3 && rho < 1.0) {
        omega = std::min(opt.max_overrelaxation, 2.0 / (1.0 + std::sqrt(1.0 - rho)));
        best_error = e;
      }
    } else if (omega > 1.0) {
      best_error = std::min(best_error, e);
      if (e > 10.0 * best_error) {
        omega = 1.0;
        relax_disabled = true;
      }
    }
  }

  /// Iterations at the target reg until converged, max_iter, or non-finite potentials.
  void iterate_at_target() {
    for (Index it = 0; it < opt.max_iter; ++it) {
      const auto [ea, eb] = target_iteration();
      ++res.iterations;
      ++res.total_iterations;
      if (!std::isfinite(ea) || !std::isfinite(eb) || !all_finite(f) || !all_finite(g)) {
        if (!all_finite(f) || !all_finite(g)) {
          res.status = Status::numerical_error;
          return;
        }
        continue;  // a transient overflow of the mass error; keep going
      }
      if (ea <= threshold && eb <= threshold) {
        res.status = Status::converged;
        return;
      }
      if (newton_due()) {
        if (newton_phase(ea + eb)) {
          res.status = Status::converged;
          return;
        }
        continue;
      }
      adapt_overrelaxation(ea + eb);
      ex.checkpoint("sinkhorn", static_cast<double>(it + 1) / static_cast<double>(opt.max_iter));
    }
  }

  /// Final masses from fresh half-steps at the final potentials: through the stored kernel
  /// when it was used (the same arithmetic that decided convergence), else the geometry; then
  /// the marginal errors, the objective and the cost.
  void finish() {
    with_kernel([&](auto& kernel) { finish_masses(kernel); });
    finish_results();
  }

  /// The balanced potentials bal_f, bal_g at the final f, g (and <P, C> through a stored K).
  template <class Kernel>
  void finish_masses(Kernel& kern) {
    if (stored && built) {
      if (kern.needs_absorb(f, g, opt.absorb_threshold)) {
        kern.build(geom, f, g, eps_target, ex);
        ++res.absorptions;
      }
      Vector<double> wc(m), wr(n), rows, cols;
      for (Index j = 0; j < m; ++j)
        wc[j] = B.w[j] > 0 ? B.w[j] * std::exp((g[j] - kern.gbar()[j]) / eps_target) : 0.0;
      for (Index i = 0; i < n; ++i)
        wr[i] = A.w[i] > 0 ? A.w[i] * std::exp((f[i] - kern.fbar()[i]) / eps_target) : 0.0;
      kern.apply(wc, wr, rows, cols, ex);
      bal_f = kern.fbar().array() - eps_target * rows.array().log();
      bal_g = kern.gbar().array() - eps_target * cols.array().log();
      if (opt.compute_cost && opt.stored_kernel_cost)
        stored_cost = kern.transport_cost(geom, wc, wr, ex);
    } else {
      h = B.logw + g / eps_target;
      geom.row_lse(h, eps_target, lse, ex);
      bal_f = -eps_target * lse;
      h = A.logw + f / eps_target;
      geom.col_lse(h, eps_target, lse, ex);
      bal_g = -eps_target * lse;
    }
  }

  /// Masses, marginal errors, objective and cost from f, g, bal_f, bal_g.
  void finish_results() {
    res.row_mass.resize(n);
    res.col_mass.resize(m);
    for (Index i = 0; i < n; ++i)
      res.row_mass[i] = A.w[i] > 0 ? A.w[i] * std::exp((f[i] - bal_f[i]) / eps_target) : 0.0;
    for (Index j = 0; j < m; ++j)
      res.col_mass[j] = B.w[j] > 0 ? B.w[j] * std::exp((g[j] - bal_g[j]) / eps_target) : 0.0;
    {
      Vector<double> fa = f, gb = g;
      res.error_a = update_side(A, bal_f, eps_target, fa);
      res.error_b = update_side(B, bal_g, eps_target, gb);
    }
    // Objective: <f, r> + <g, c> - eps (|P| - |a||b|) + soft penalties.
    const double mass_p = res.row_mass.sum();
    double obj =
        f.dot(res.row_mass) + g.dot(res.col_mass) - eps_target * (mass_p - mass_a * mass_b);
    auto kl = [](const Vector<double>& p, const Vector<double>& q) {
      double s = 0;
      for (Index i = 0; i < p.size(); ++i) {
        if (p[i] > 0) s += p[i] * std::log(p[i] / q[i]);
        s += q[i] - p[i];
      }
      return s;
    };
    if (A.rule == Rule::soft) obj += A.rho * kl(res.row_mass, A.w);
    if (B.rule == Rule::soft) obj += B.rho * kl(res.col_mass, B.w);
    res.objective = obj;
    if (opt.compute_cost && !std::isnan(stored_cost))
      res.cost = stored_cost;
    else if (opt.compute_cost)
      res.cost = geom.transport_cost(Vector<double>(A.logw + f / eps_target),
                                     Vector<double>(B.logw + g / eps_target), eps_target, ex);
  }

  /// The solve: start, eps-scaling, target-reg iterations, finish. Cancelled propagates (the
  /// reductions and the checkpoints throw it).
  SinkhornResult run(const Potentials& warm) {
    start(warm);
    eps_scaling();
    if (all_finite(f) && all_finite(g))
      iterate_at_target();
    else
      res.status = Status::numerical_error;
    if (res.status == Status::max_iterations && res.iterations == 0)
      res.status = Status::numerical_error;
    res.f = f;
    res.g = g;
    res.log_a = A.logw;
    res.log_b = B.logw;
    if (res.status == Status::numerical_error) return res;
    finish();
    return std::move(res);
  }
};

template <SinkhornGeometry G>
SinkhornResult solve(const G& geom, VectorView<double> a, VectorView<double> b,
                     const Vector<double>* cap, const SinkhornOptions& opt,
                     const Potentials& warm) {
  Solver<G> solver(geom, a, b, cap, opt);
  return solver.run(warm);
}

}  // namespace detail

template <SinkhornGeometry G>
SinkhornResult sinkhorn(const G& geometry, VectorView<double> a, VectorView<double> b,
                        const SinkhornOptions& options, const Potentials& warm) {
  return detail::solve(geometry, a, b, nullptr, options, warm);
}

template <Real T>
SinkhornResult sinkhorn(VectorView<double> a, VectorView<double> b, MatrixView<T> M,
                        const SinkhornOptions& options, const Potentials& warm) {
  return detail::solve(DenseCost<T>(M), a, b, nullptr, options, warm);
}

template <Real T>
SinkhornResult sinkhorn_points(MatrixView<T> x, MatrixView<T> y, VectorView<double> a,
                               VectorView<double> b, double scale, const SinkhornOptions& options,
                               const Potentials& warm) {
  return detail::solve(PointCloud<T>(x, y, scale), a, b, nullptr, options, warm);
}

template <SinkhornGeometry G>
SinkhornResult capacity_constrained_sinkhorn(const G& geometry, VectorView<double> a,
                                             VectorView<double> b, VectorView<double> cap,
                                             const SinkhornOptions& options,
                                             const Potentials& warm) {
  const Vector<double> c(cap);
  return detail::solve(geometry, a, b, &c, options, warm);
}

}  // namespace popalign::ot
