#pragma once
// Entropic optimal transport by log-domain Sinkhorn iterations.
//
// Problem (a: n source weights, b: m target weights, C: n x m cost, eps = reg > 0):
//
//   min_P  <P, C> + eps KL(P | a b^T) + F_a(P 1) + F_b(P^T 1)
//
// with, per side, F = the hard constraint (P 1 = a), a KL penalty rho KL(P 1 | a)
// (semi-relaxed / unbalanced, rho = reg_m_a / reg_m_b as in POT), or, for the source side of
// capacity_constrained_sinkhorn, the inequality P 1 <= cap (a is then only the entropic prior
// on sources). KL is the generalised one, KL(p|q) = sum p log(p/q) - p + q.
//
// Potentials (f, g) in cost units parametrise the plan:
//   P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps).
// (POT's sinkhorn_log potentials are f + eps log a and g + eps log b.)
//
// One iteration = an f half-step then a g half-step. The balanced value of f,
//   fb_i = -eps log sum_j b_j exp((g_j - C_ij) / eps)        (row i then carries a_i),
// is one kernel reduction; the side's rule maps it to the new f:
//   hard:     f = fb
//   KL(rho):  f = rho / (rho + eps) * fb                     (exact block maximisation)
//   capacity: f = min(0, fb + eps log(cap_i / a_i))          (exact block maximisation of the
//                                                              dual with f <= 0)
// Row i carries a_i exp((f_i - fb_i) / eps), so the L1 change of the row masses made by the
// half-step, sum_i a_i |exp((f_old_i - fb_i)/eps) - exp((f_new_i - fb_i)/eps)|, costs nothing
// extra; for a hard side it is exactly the L1 marginal error ||P 1 - a||_1 before the step.
// The run stops when both sides' errors are <= tol + rtol * total mass.
//
// eps-scaling: unless warm-started, the run starts at eps_0 = eps_start (default: an upper
// bound of max C) and multiplies eps by eps_scaling_factor after eps_scaling_iterations
// iterations until it reaches reg; potentials carry over (they are in cost units). Warm starts
// (f, g) skip the schedule.
//
// Two evaluation paths (the same iteration):
//  * online: each half-step is one call of the geometry's reduction (point clouds: the fused
//    gaussian_lse kernel; O(n + m) memory);
//  * stored kernel: K_ij = exp((fbar_i + gbar_j - C_ij) / eps) is built once in T (the
//    exponent in double) with fbar, gbar the current potentials, and iterations work on the
//    scalings exp((f - fbar)/eps), exp((g - gbar)/eps): one pass over K per iteration does
//    the f half-step row by row and accumulates the column sums of the g half-step while the
//    row is in cache. When |f - fbar| or |g - gbar| exceeds absorb_threshold * eps, the
//    potentials are absorbed into K (rebuilt). Used when n*m*sizeof(T) fits
//    kernel_memory_budget (storage = automatic) for the iterations at the target reg.
// Results do not depend on the thread count (fixed reduction orders).
//
// Reporting rule (the same as align::align): non-convergence is a status in the result
// (Status::max_iterations, Status::numerical_error), never an exception; a cancellation token or a
// progress callback that returns true stops the run with popalign::Cancelled; bad arguments throw
// popalign::InvalidArgument naming the argument.
//
// This header holds what a user calls (options, result, the four entry points); the solver's
// detail (the iteration, the stored kernel, Sinkhorn-Newton) is in ot/sinkhorn_impl.hpp, included
// at the bottom.
#include <fmt/format.h>

#include <Eigen/Core>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

#include <popalign/core/error.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>
#include <popalign/ot/geometry.hpp>

namespace popalign::ot {

/// How a solve ended. Cancellation is not a status: it throws popalign::Cancelled.
enum class Status {
  converged,        ///< both marginal errors <= tol + rtol * mass
  max_iterations,   ///< max_iter reached first
  numerical_error,  ///< a potential became NaN / infinite
};

constexpr std::string_view to_string(Status s) noexcept {
  switch (s) {
    case Status::converged:
      return "converged";
    case Status::max_iterations:
      return "max_iterations";
    case Status::numerical_error:
      return "numerical_error";
  }
  return "unknown";
}

/// How the Gibbs kernel is evaluated at the target reg.
enum class KernelStorage { automatic, online, stored };

/// Scalar of a stored kernel: the geometry's, or float for a double geometry (costs, potentials
/// and sums stay in double; only K is rounded to float, 6e-8 relative, in half the memory).
enum class KernelPrecision { geometry, f32 };

/// Options of every Sinkhorn entry point (POT's names where POT has the option).
/// validate() throws InvalidArgument naming the bad field.
struct SinkhornOptions {
  double reg = 0.05;       ///< eps, in cost units (POT: reg)
  Index max_iter = 10000;  ///< iterations at the target reg (POT: numItermax)
  double tol = 1e-9;       ///< absolute L1 marginal error (POT: stopThr, but POT uses L2)
  double rtol = 0.0;       ///< plus rtol * total mass
  double reg_m_a = std::numeric_limits<double>::infinity();  ///< KL strength, source side
  double reg_m_b = std::numeric_limits<double>::infinity();  ///< KL strength, target side
  bool eps_scaling = true;
  double eps_scaling_factor = 0.5;   ///< eps_{k+1} = factor * eps_k, in (0, 1)
  Index eps_scaling_iterations = 1;  ///< iterations per intermediate eps (as GeomLoss)
  double eps_start = 0.0;            ///< 0 = the geometry's bound of max C
  KernelStorage storage = KernelStorage::automatic;
  std::size_t kernel_memory_budget = std::size_t{512} << 20;  ///< bytes for a stored kernel
  /// Stored kernel in float for a double geometry (see KernelPrecision; docs/ot.md)
  KernelPrecision kernel_precision = KernelPrecision::geometry;
  double absorb_threshold = 30.0;  ///< stored path: absorb when |f - fbar| > this * eps
  bool overrelaxation = true;      ///< adaptive over-relaxation at the target reg
  /// Iterations over which the error ratio rho is measured; over-relaxation starts after twice
  /// as many iterations at the target reg (docs/ot.md)
  Index overrelaxation_window = 10;
  bool newton = true;  ///< balanced + stored kernel: Sinkhorn-Newton when Sinkhorn is slow
  /// Sinkhorn iterations at the target reg before Newton may start (when the measured rate is
  /// slower than 0.9 per iteration, or unconditionally after 5 times as many)
  Index newton_after = 20;
  Index max_newton_steps = 50;
  /// Newton systems with min(n, m) <= this (and n m <= 2^25) are solved directly (dense Schur
  /// complement and Cholesky in double, O(n m min(n, m)) per step) instead of by conjugate
  /// gradients, which stall at small eps; 0 = always CG.
  Index newton_direct_max = 2048;
  double max_overrelaxation = 1.95;  ///< upper bound of the relaxation factor, in [1, 2)
  bool compute_cost = true;          ///< compute <P, C> (one extra O(nm) pass)
  /// Stored-kernel runs: <P, C> in one pass over the stored kernel with the costs from the
  /// geometry in double (false: the geometry's transport_cost, d + 2 kernel reductions for
  /// point clouds). Off by default so that existing outputs keep their bytes (the value moves in
  /// the ~9th digit: the stored kernel's rounding, 6e-8 per entry in f32)
  bool stored_kernel_cost = false;
  double mass_tolerance = 1e-6;  ///< balanced: allowed relative |sum a - sum b|
  Execution execution{};

  void validate() const {
    check_argument(std::isfinite(reg) && reg > 0, "reg", "must be finite and > 0");
    check_argument(max_iter >= 1, "max_iter", "must be >= 1");
    check_argument(tol >= 0 && !std::isnan(tol), "tol", "must be >= 0");
    check_argument(rtol >= 0 && !std::isnan(rtol), "rtol", "must be >= 0");
    check_argument(reg_m_a > 0 && !std::isnan(reg_m_a), "reg_m_a", "must be > 0 (inf = hard)");
    check_argument(reg_m_b > 0 && !std::isnan(reg_m_b), "reg_m_b", "must be > 0 (inf = hard)");
    check_argument(eps_scaling_factor > 0 && eps_scaling_factor < 1, "eps_scaling_factor",
                   "must be in (0, 1)");
    check_argument(eps_scaling_iterations >= 1, "eps_scaling_iterations", "must be >= 1");
    check_argument(eps_start >= 0 && std::isfinite(eps_start), "eps_start",
                   "must be >= 0 (0 = automatic)");
    check_argument(absorb_threshold > 0 && absorb_threshold <= 300, "absorb_threshold",
                   "must be in (0, 300]");
    check_argument(mass_tolerance >= 0, "mass_tolerance", "must be >= 0");
    check_argument(newton_after >= 2, "newton_after", "must be >= 2");
    check_argument(max_newton_steps >= 0, "max_newton_steps", "must be >= 0");
    check_argument(newton_direct_max >= 0, "newton_direct_max", "must be >= 0");
    check_argument(max_overrelaxation >= 1 && max_overrelaxation < 2, "max_overrelaxation",
                   "must be in [1, 2)");
    check_argument(overrelaxation_window >= 2, "overrelaxation_window", "must be >= 2");
    execution.validate();
  }
};

/// Potentials (f, g) in cost units, e.g. a warm start.
struct Potentials {
  Vector<double> f, g;
};

/// What a solve returns: potentials, status, iteration counts, marginal errors, cost, objective
/// and the marginals of the plan. Print it with to_string() / fmt::format("{}", r) (one line).
struct SinkhornResult {
  Vector<double> f, g;  ///< potentials at the target reg
  Status status = Status::max_iterations;
  Index iterations = 0;        ///< iterations at the target reg
  Index total_iterations = 0;  ///< including the eps-scaling stages
  double error_a = 0;          ///< final L1 row-mass error (see header comment)
  double error_b = 0;          ///< final L1 column-mass error
  double cost = std::numeric_limits<double>::quiet_NaN();       ///< <P, C>
  double objective = std::numeric_limits<double>::quiet_NaN();  ///< primal entropic objective
  double reg = 0;                                               ///< eps used
  bool stored_kernel = false;   ///< the stored-kernel path ran the target-reg iterations
  Index absorptions = 0;        ///< stored path: kernel rebuilds
  Index newton_steps = 0;       ///< Sinkhorn-Newton steps taken (stored path, balanced)
  Index cg_iterations = 0;      ///< conjugate-gradient iterations inside them
  Vector<double> row_mass;      ///< P 1 (capacity problems: the per-source mass s)
  Vector<double> col_mass;      ///< P^T 1
  Vector<double> log_a, log_b;  ///< log weights used (plan extraction needs them)

  bool converged() const noexcept { return status == Status::converged; }
  Potentials potentials() const { return {f, g}; }
};

/// One line: status, iterations, errors, cost, objective.
inline std::string to_string(const SinkhornResult& r) {
  return fmt::format(
      "{} after {} iterations ({} with eps-scaling, {} Newton steps, reg {:g}, {} kernel): "
      "marginal errors {:.3g} / {:.3g}, cost {:.10g}, objective {:.10g}",
      to_string(r.status), r.iterations, r.total_iterations, r.newton_steps, r.reg,
      r.stored_kernel ? "stored" : "online", r.error_a, r.error_b, r.cost, r.objective);
}

/// Sinkhorn on any geometry. a, b: weights (empty = uniform 1/n, 1/m). Balanced unless
/// options.reg_m_a / reg_m_b are finite (semi-relaxed: one finite; unbalanced: both).
/// warm: potentials (f, g) from an earlier solve (skips eps-scaling).
/// Throws InvalidArgument naming a, b, reg, f, g or an option; Cancelled when the token or the
/// progress callback stops the run; non-convergence is a status.
template <SinkhornGeometry G>
SinkhornResult sinkhorn(const G& geometry, VectorView<double> a, VectorView<double> b,
                        const SinkhornOptions& options = {}, const Potentials& warm = {});

/// Dense cost matrix M (n x m), POT-style: sinkhorn(a, b, M, {.reg = 0.01}).
template <Real T>
SinkhornResult sinkhorn(VectorView<double> a, VectorView<double> b, MatrixView<T> M,
                        const SinkhornOptions& options = {}, const Potentials& warm = {});

/// Point clouds with C_ij = scale * ||x_i - y_j||^2, evaluated online by the fused kernel
/// (or through a stored kernel when it fits options.kernel_memory_budget).
template <Real T>
SinkhornResult sinkhorn_points(MatrixView<T> x, MatrixView<T> y, VectorView<double> a,
                               VectorView<double> b, double scale,
                               const SinkhornOptions& options = {}, const Potentials& warm = {});

/// Capacity-constrained entropic OT: min <P,C> + eps KL(P | a b^T) s.t. P 1 <= cap, P^T 1 = b.
/// a is the entropic prior over sources (empty = uniform); cap_i >= 0 with sum cap >= sum b.
/// result.row_mass is s = P 1 (in [0, cap]); e.g. selecting N of n candidates against m
/// reference people: b = N/m each, cap = 1, and s sums to N.
template <SinkhornGeometry G>
SinkhornResult capacity_constrained_sinkhorn(const G& geometry, VectorView<double> a,
                                             VectorView<double> b, VectorView<double> cap,
                                             const SinkhornOptions& options = {},
                                             const Potentials& warm = {});

}  // namespace popalign::ot

template <>
struct fmt::formatter<popalign::ot::Status> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(popalign::ot::Status s, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(popalign::ot::to_string(s), ctx);
  }
};

template <>
struct fmt::formatter<popalign::ot::SinkhornResult> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const popalign::ot::SinkhornResult& r, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(popalign::ot::to_string(r), ctx);
  }
};

#include <popalign/ot/sinkhorn_impl.hpp>
