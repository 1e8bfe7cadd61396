#pragma once
// Debiased Sinkhorn divergence (Ramdas et al. 2017; Genevay et al. 2018; Feydy et al. 2019)
// between two weighted point clouds, with cost C(x, y) = scale * ||x - y||^2:
//
//   S_eps(a, b) = OT_eps(a, b) - 1/2 OT_eps(a, a) - 1/2 OT_eps(b, b)
//
// where OT_eps is the entropic objective min_P <P, C> + eps KL(P | a b^T) (the full primal value,
// ot::SinkhornResult::objective, not only its linear part <P, C>). S is >= 0, zero iff a = b,
// metrises weak convergence, and interpolates between OT (eps -> 0) and an MMD with kernel -C
// (eps -> inf). The cross term OT(a, b) is solved by ot::sinkhorn_points (log domain,
// eps-scaling, the fused kernel; O(n + m) memory). The symmetric terms OT(a, a), OT(b, b) have a
// symmetric optimum P = diag(e^{f/eps} a) K diag(e^{f/eps} a); alternating Sinkhorn can oscillate
// on them (POT 0.8.2's sinkhorn_log stalls at ~1e-8 marginal error on such problems), so they
// use the averaged symmetric fixed point of Feydy et al. (2019),
//   f <- (f + T(f)) / 2,   T(f)_i = -eps log sum_j a_j exp((f_j - C_ij) / eps),
// one fused-kernel call per iteration, with the same eps-scaling schedule and stopping rule
// (L1 error of the row masses <= tol + rtol) as the ot solver. At the optimum
//   OT(a, a) = 2 <f, r> - eps (sum r - 1),  r_i = a_i exp((f_i - T(f)_i) / eps) = P 1.
// Non-convergence is reported in the result, not thrown.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

#include <popalign/core/types.hpp>
#include <popalign/kernels/gaussian_lse.hpp>
#include <popalign/metrics/univariate.hpp>
#include <popalign/ot/sinkhorn.hpp>

namespace popalign::metrics {

struct SinkhornDivergenceOptions {
  ot::SinkhornOptions sinkhorn{};  ///< reg (eps), tolerances, threads; balanced problems
  double scale = 1.0;              ///< cost = scale * squared Euclidean distance

  void validate() const {
    sinkhorn.validate();
    check_argument(std::isfinite(scale) && scale > 0, "scale", "must be finite and > 0");
    check_argument(
        std::isinf(sinkhorn.reg_m_a) && std::isinf(sinkhorn.reg_m_b), "sinkhorn",
        "the divergence is defined here for balanced problems (reg_m_a = reg_m_b = inf)");
  }
};

struct SinkhornDivergenceResult {
  double divergence = 0.0;                       ///< S_eps(a, b)
  double ot_ab = 0.0, ot_aa = 0.0, ot_bb = 0.0;  ///< the three entropic objectives
  ot::Status status_ab = ot::Status::max_iterations;
  ot::Status status_aa = ot::Status::max_iterations;
  ot::Status status_bb = ot::Status::max_iterations;
  Index iterations = 0;  ///< total over the three solves (target reg)
  bool converged() const noexcept {
    return status_ab == ot::Status::converged && status_aa == ot::Status::converged &&
           status_bb == ot::Status::converged;
  }
};

namespace detail {

struct SymmetricOt {
  double objective = 0.0;
  ot::Status status = ot::Status::max_iterations;
  Index iterations = 0;
};

/// OT_eps(w, w) on the point cloud x with cost scale * ||x_i - x_j||^2 (see the file comment).
template <Real T>
SymmetricOt symmetric_entropic_ot(MatrixView<T> x, const Vector<double>& w, double scale,
                                  const ot::SinkhornOptions& opt) {
  const Index n = x.rows();
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  Vector<double> logw(n);
  for (Index i = 0; i < n; ++i) logw[i] = w[i] > 0 ? std::log(w[i]) : kNegInf;
  const Eigen::RowVectorXd mean = x.template cast<double>().colwise().mean();
  double r2 = 0.0;
  for (Index i = 0; i < n; ++i)
    r2 = std::max(r2, (x.row(i).template cast<double>() - mean).squaredNorm());
  const double bound = scale * 4.0 * r2;
  kernels::LseOptions lse;
  lse.execution = opt.execution;
  Vector<double> f = Vector<double>::Zero(n), tf(n), h(n);
  auto apply_t = [&](double eps) {
    h = logw + f / eps;
    kernels::gaussian_lse<T>(x, x, h, scale / eps, tf, lse);
    tf *= -eps;
  };
  SymmetricOt out;
  if (opt.eps_scaling) {
    double eps = opt.eps_start > 0 ? opt.eps_start : bound;
    while (eps > opt.reg) {
      for (Index k = 0; k < opt.eps_scaling_iterations; ++k) {
        apply_t(eps);
        f = 0.5 * (f + tf);
      }
      eps *= opt.eps_scaling_factor;
    }
  }
  const double eps = opt.reg;
  const double threshold = opt.tol + opt.rtol;
  for (Index it = 0; it < opt.max_iter; ++it) {
    apply_t(eps);
    if (!tf.allFinite()) {
      out.status = ot::Status::numerical_error;
      return out;
    }
    double err = 0.0, mass = 0.0, fr = 0.0;
    for (Index i = 0; i < n; ++i) {
      if (!(w[i] > 0)) continue;
      const double r = w[i] * std::exp((f[i] - tf[i]) / eps);
      err += std::abs(r - w[i]);
      mass += r;
      fr += f[i] * r;
    }
    out.iterations = it + 1;
    if (std::isfinite(err) && err <= threshold) {
      out.status = ot::Status::converged;
      out.objective = 2.0 * fr - eps * (mass - 1.0);
      return out;
    }
    f = 0.5 * (f + tf);
  }
  // Not converged: the objective of the last iterate's plan.
  apply_t(eps);
  double mass = 0.0, fr = 0.0;
  for (Index i = 0; i < n; ++i) {
    if (!(w[i] > 0)) continue;
    const double r = w[i] * std::exp((f[i] - tf[i]) / eps);
    mass += r;
    fr += f[i] * r;
  }
  out.objective = 2.0 * fr - eps * (mass - 1.0);
  return out;
}

}  // namespace detail

template <Real T>
SinkhornDivergenceResult sinkhorn_divergence(
    MatrixView<T> a, MatrixView<T> b,
    const Eigen::Ref<const Vector<double>>& a_weights = Vector<double>(),
    const Eigen::Ref<const Vector<double>>& b_weights = Vector<double>(),
    const SinkhornDivergenceOptions& options = {}) {
  options.validate();
  detail::check_samples<T>(a, b);
  const Vector<double> wa = detail::normalized_weights(a_weights, a.rows(), "a_weights");
  const Vector<double> wb = detail::normalized_weights(b_weights, b.rows(), "b_weights");
  SinkhornDivergenceResult r;
  const auto ab = ot::sinkhorn_points<T>(a, b, wa, wb, options.scale, options.sinkhorn);
  const auto aa = detail::symmetric_entropic_ot<T>(a, wa, options.scale, options.sinkhorn);
  const auto bb = detail::symmetric_entropic_ot<T>(b, wb, options.scale, options.sinkhorn);
  r.ot_ab = ab.objective;
  r.ot_aa = aa.objective;
  r.ot_bb = bb.objective;
  r.status_ab = ab.status;
  r.status_aa = aa.status;
  r.status_bb = bb.status;
  r.iterations = ab.iterations + aa.iterations + bb.iterations;
  r.divergence = r.ot_ab - 0.5 * (r.ot_aa + r.ot_bb);
  return r;
}

}  // namespace popalign::metrics
