// Bindings of the numeric core: align (the Resample pipeline), Sinkhorn, Gaussian KDE.
// float64 arrays run the double instantiation; float32 pool AND reference run the float one;
// both without copying. Long calls go through run_cancellable (Ctrl-C cancels them).
#include <cmath>
#include <limits>
#include <string>

#include <popalign/align/align.hpp>
#include <popalign/density/kde.hpp>
#include <popalign/ot/plan.hpp>
#include <popalign/ot/sinkhorn.hpp>

#include "common.hpp"

namespace popalign::python {

namespace {

py::dict comparison_dict(align::Comparison&& c) {
  py::dict d;
  d["w1"] = to_numpy(std::move(c.w1));
  d["mean_gap"] = to_numpy(std::move(c.mean_gap));
  d["sd_gap"] = to_numpy(std::move(c.sd_gap));
  d["mean_w1"] = c.mean_w1;
  d["sliced_w2"] = c.sliced_wasserstein;
  d["correlation_distance"] = c.correlation.normalized;
  d["correlation_mae"] = c.correlation.mae;
  py::dict p;  // the five population metrics, reference-standardised (metrics/population.hpp)
  p["mean_w1"] = c.population.mean_w1;
  p["frechet"] = c.population.frechet;
  p["sliced_wasserstein"] = c.population.sliced_wasserstein;
  p["mmd2"] = c.population.mmd2;
  p["mmd2_biased"] = c.population.mmd2_biased;
  p["mmd_bandwidth"] = c.population.mmd_bandwidth;
  p["correlation_mae"] = c.population.correlation_mae;
  d["population"] = p;
  return d;
}

py::dict diagnostics_dict(align::Diagnostics&& g, const std::vector<std::string>& traits) {
  py::dict d;
  d["method"] = std::string(align::to_string(g.method));
  d["output"] = std::string(align::to_string(g.output));
  d["seed"] = g.seed;
  d["pool_size"] = g.pool_size;
  d["reference_size"] = g.reference_size;
  d["dimension"] = g.dimension;
  d["requested"] = g.requested;
  d["selected"] = g.selected;
  d["candidates"] = g.candidates;
  d["has_weights"] = g.has_weights;
  d["ess"] = g.ess;
  d["raw_ess"] = g.raw_ess;
  d["k_hat"] = g.k_hat;
  d["truncated"] = g.truncated;
  d["uncovered_reference"] = g.uncovered_reference;
  d["has_transport"] = g.has_transport;
  d["ot_status"] = std::string(ot::to_string(g.ot_status));
  d["ot_iterations"] = g.ot_iterations;
  d["ot_total_iterations"] = g.ot_total_iterations;
  d["ot_error"] = g.ot_error;
  d["eps"] = g.eps;
  d["transport_cost"] = g.transport_cost;
  d["saturated"] = g.saturated;
  d["calibration_error"] = g.calibration_error;
  d["refine_before"] = g.refine_before;
  d["refine_after"] = g.refine_after;
  d["refine_proposals"] = g.refine_proposals;
  d["refine_swaps"] = g.refine_swaps;
  py::list stages;
  for (const auto& s : g.stages) stages.append(py::make_tuple(s.name, s.seconds));
  d["stages"] = stages;
  d["seconds"] = g.seconds;
  d["warnings"] = g.warnings;
  d["summary"] = g.summary(traits);
  d["before"] = comparison_dict(std::move(g.before));
  d["after"] = comparison_dict(std::move(g.after));
  return d;
}

py::dict result_dict(align::AlignResult&& r, const std::vector<std::string>& traits) {
  py::dict d;
  std::vector<std::int64_t> idx(r.indices.begin(), r.indices.end());
  std::vector<std::int64_t> cnt(r.counts.begin(), r.counts.end());
  d["indices"] = to_numpy(std::move(idx));
  d["counts"] = to_numpy(std::move(cnt));
  d["weights"] = to_numpy(std::move(r.weights));
  d["inclusion"] = to_numpy(std::move(r.inclusion));
  d["importance_weights"] = to_numpy(std::move(r.importance_weights));
  d["diagnostics"] = diagnostics_dict(std::move(r.diagnostics), traits);
  return d;
}

bool is_float32(py::handle a) {
  return py::isinstance<py::array>(a) &&
         py::reinterpret_borrow<py::array>(a).dtype().is(py::dtype::of<float>());
}

template <Real T>
py::dict run_align(py::handle pool, py::handle reference, const align::AlignOptions& options,
                   bool copy, const std::vector<std::string>& traits) {
  MatrixArg<T> p(pool, "pool", copy);
  MatrixArg<T> r(reference, "reference", copy);
  const CancellationToken token = options.execution.cancel;
  align::AlignResult res =
      run_cancellable(token, [&] { return align::align<T>(p.view, r.view, options); });
  return result_dict(std::move(res), traits);
}

ot::SinkhornOptions sinkhorn_options(double reg, Index max_iter, double tol, double rtol,
                                     double reg_m_a, double reg_m_b, bool eps_scaling,
                                     double eps_scaling_factor, Index eps_scaling_iterations,
                                     double eps_start, const std::string& storage,
                                     std::size_t kernel_memory, bool overrelaxation, bool newton,
                                     bool compute_cost, const Execution& ex) {
  ot::SinkhornOptions o;
  o.reg = reg;
  o.max_iter = max_iter;
  o.tol = tol;
  o.rtol = rtol;
  o.reg_m_a = reg_m_a;
  o.reg_m_b = reg_m_b;
  o.eps_scaling = eps_scaling;
  o.eps_scaling_factor = eps_scaling_factor;
  o.eps_scaling_iterations = eps_scaling_iterations;
  o.eps_start = eps_start;
  if (storage == "automatic")
    o.storage = ot::KernelStorage::automatic;
  else if (storage == "online")
    o.storage = ot::KernelStorage::online;
  else if (storage == "stored")
    o.storage = ot::KernelStorage::stored;
  else
    throw InvalidArgument("storage",
                          "must be 'automatic', 'online' or 'stored', got '" + storage + "'");
  o.kernel_memory_budget = kernel_memory;
  o.overrelaxation = overrelaxation;
  o.newton = newton;
  o.compute_cost = compute_cost;
  o.execution = ex;
  o.validate();
  return o;
}

ot::Potentials warm_start(py::handle warm) {
  ot::Potentials p;
  if (warm.is_none()) return p;
  auto t = py::reinterpret_borrow<py::tuple>(warm);
  if (t.size() != 2) throw InvalidArgument("warm", "must be a pair (f, g) of potentials");
  VectorArg f(t[0], "warm[0]", true), g(t[1], "warm[1]", true);
  p.f = f.ref();
  p.g = g.ref();
  return p;
}

template <class G>
py::dict sinkhorn_result(ot::SinkhornResult&& r, const G* geom, bool plan, Index max_plan_entries,
                         const Execution& ex) {
  py::dict d;
  if (plan && geom) d["plan"] = to_numpy(ot::dense_plan(*geom, r, max_plan_entries, ex));
  d["status"] = std::string(ot::to_string(r.status));
  d["iterations"] = r.iterations;
  d["total_iterations"] = r.total_iterations;
  d["error_a"] = r.error_a;
  d["error_b"] = r.error_b;
  d["cost"] = r.cost;
  d["objective"] = r.objective;
  d["reg"] = r.reg;
  d["stored_kernel"] = r.stored_kernel;
  d["newton_steps"] = r.newton_steps;
  d["f"] = to_numpy(std::move(r.f));
  d["g"] = to_numpy(std::move(r.g));
  d["row_mass"] = to_numpy(std::move(r.row_mass));
  d["col_mass"] = to_numpy(std::move(r.col_mass));
  return d;
}

density::Bandwidth parse_bandwidth(py::handle bw) {
  if (bw.is_none()) return density::Bandwidth::scott();
  if (py::isinstance<py::str>(bw)) {
    const auto s = bw.cast<std::string>();
    if (s == "scott") return density::Bandwidth::scott();
    if (s == "silverman") return density::Bandwidth::silverman();
    throw InvalidArgument("bandwidth",
                          "must be 'scott', 'silverman' or a positive factor, got '" + s + "'");
  }
  return density::Bandwidth::with_factor(bw.cast<double>());
}

/// A Kde over float64 data that keeps the data array alive (the Kde copies what it needs).
class PyKde {
 public:
  PyKde(py::handle data, py::handle weights, py::handle bandwidth, int threads, bool copy)
      : kde_(make(data, weights, bandwidth, threads, copy)) {}
  py::array_t<double> log_density(py::handle points, bool copy) const {
    MatrixArg<double> p(points, "points", copy);
    const CancellationToken token = kde_.options().execution.cancel;
    return to_numpy(run_cancellable(token, [&] { return kde_.log_density(p.view); }));
  }
  const density::Kde<double>& kde() const { return kde_; }

 private:
  static density::Kde<double> make(py::handle data, py::handle weights, py::handle bandwidth,
                                   int threads, bool copy) {
    MatrixArg<double> x(data, "data", copy);
    VectorArg w(weights, "weights", copy);
    density::KdeOptions o;
    o.bandwidth = parse_bandwidth(bandwidth);
    o.execution.threads = threads;
    py::gil_scoped_release nogil;
    return density::Kde<double>(x.view, w.ref(), o);
  }
  density::Kde<double> kde_;
};

}  // namespace

void bind_numeric(py::module_& m) {
  py::class_<align::AlignOptions>(
      m, "AlignOptions", "Options of align(); attributes as in popalign::align::AlignOptions.")
      .def(py::init<>())
      .def_readwrite("n", &align::AlignOptions::n)
      .def_property(
          "method",
          [](const align::AlignOptions& o) { return std::string(align::to_string(o.method)); },
          [](align::AlignOptions& o, const std::string& s) {
            const auto mm = align::parse_method(s);
            if (!mm)
              throw InvalidArgument("method",
                                    "must be 'resample', 'is', 'ot' or 'random', got '" + s + "'");
            o.method = *mm;
          })
      .def_property(
          "output",
          [](const align::AlignOptions& o) { return std::string(align::to_string(o.output)); },
          [](align::AlignOptions& o, const std::string& s) {
            if (s == "distinct")
              o.output = align::Output::distinct;
            else if (s == "multiset")
              o.output = align::Output::multiset;
            else if (s == "weights")
              o.output = align::Output::weights;
            else
              throw InvalidArgument("output",
                                    "must be 'distinct', 'multiset' or 'weights', got '" + s + "'");
          })
      .def_readwrite("seed", &align::AlignOptions::seed)
      .def_readwrite("bandwidth_factor", &align::AlignOptions::bandwidth_factor)
      .def_property(
          "truncation",
          [](const align::AlignOptions& o) {
            switch (o.truncation) {
              case sampling::Truncation::none:
                return std::string("none");
              case sampling::Truncation::ionides:
                return std::string("ionides");
              case sampling::Truncation::psis:
                return std::string("psis");
            }
            return std::string("unknown");
          },
          [](align::AlignOptions& o, const std::string& s) {
            if (s == "none")
              o.truncation = sampling::Truncation::none;
            else if (s == "ionides")
              o.truncation = sampling::Truncation::ionides;
            else if (s == "psis")
              o.truncation = sampling::Truncation::psis;
            else
              throw InvalidArgument("truncation",
                                    "must be 'psis', 'ionides' or 'none', got '" + s + "'");
          })
      .def_readwrite("kde_max_points", &align::AlignOptions::kde_max_points)
      .def_readwrite("candidate_factor", &align::AlignOptions::candidate_factor)
      .def_readwrite("max_candidates", &align::AlignOptions::max_candidates)
      .def_readwrite("reg", &align::AlignOptions::reg)
      .def_readwrite("ot_max_reference", &align::AlignOptions::ot_max_reference)
      .def_readwrite("ot_kernel_memory", &align::AlignOptions::ot_kernel_memory)
      .def_readwrite("max_iter", &align::AlignOptions::max_iter)
      .def_readwrite("ot_tolerance", &align::AlignOptions::ot_tolerance)
      .def_readwrite("max_count", &align::AlignOptions::max_count)
      .def_readwrite("weighted_prior", &align::AlignOptions::weighted_prior)
      .def_readwrite("calibrate", &align::AlignOptions::calibrate)
      .def_readwrite("calibration_bins", &align::AlignOptions::calibration_bins)
      .def_readwrite("calibration_sweeps", &align::AlignOptions::calibration_sweeps)
      .def_property(
          "calibration",
          [](const align::AlignOptions& o) { return std::string(align::to_string(o.calibration)); },
          [](align::AlignOptions& o, const std::string& s) {
            const auto c = align::parse_calibration(s);
            if (!c)
              throw InvalidArgument("calibration",
                                    "must be 'marginal', 'pairwise' or 'sliced', got '" + s + "'");
            o.calibration = *c;
          })
      .def_property(
          "refine",
          [](const align::AlignOptions& o) { return std::string(align::to_string(o.refine)); },
          [](align::AlignOptions& o, const std::string& s) {
            const auto r = align::parse_refinement(s);
            if (!r) throw InvalidArgument("refine", "must be 'swap' or 'none', got '" + s + "'");
            o.refine = *r;
          })
      .def_readwrite("refine_proposals", &align::AlignOptions::refine_proposals)
      .def_readwrite("refine_correlation_weight", &align::AlignOptions::refine_correlation_weight)
      .def_property(
          "rounding",
          [](const align::AlignOptions& o) {
            return std::string(o.rounding == align::Rounding::ordered ? "ordered" : "systematic");
          },
          [](align::AlignOptions& o, const std::string& s) {
            if (s == "ordered")
              o.rounding = align::Rounding::ordered;
            else if (s == "systematic")
              o.rounding = align::Rounding::systematic;
            else
              throw InvalidArgument("rounding",
                                    "must be 'ordered' or 'systematic', got '" + s + "'");
          })
      .def_readwrite("ess_warn_fraction", &align::AlignOptions::ess_warn_fraction)
      .def_readwrite("coverage_ratio", &align::AlignOptions::coverage_ratio)
      .def_readwrite("coverage_warn_fraction", &align::AlignOptions::coverage_warn_fraction)
      .def_readwrite("compute_metrics", &align::AlignOptions::compute_metrics)
      .def_readwrite("sliced_projections", &align::AlignOptions::sliced_projections)
      .def_property(
          "threads", [](const align::AlignOptions& o) { return o.execution.threads; },
          [](align::AlignOptions& o, int t) { o.execution.threads = t; })
      .def("validate", &align::AlignOptions::validate);

  m.def(
      "align",
      [](py::handle pool, py::handle reference, align::AlignOptions options, bool copy,
         py::object progress, const std::vector<std::string>& traits) {
        options.execution = make_execution(options.execution.threads, std::move(progress));
        options.validate();
        if (is_float32(pool) && is_float32(reference))
          return run_align<float>(pool, reference, options, copy, traits);
        return run_align<double>(pool, reference, options, copy, traits);
      },
      py::arg("pool"), py::arg("reference"), py::arg("options"), py::arg("copy") = true,
      py::arg("progress") = py::none(), py::arg("traits") = std::vector<std::string>{});

  m.def(
      "sinkhorn",
      [](py::handle a, py::handle b, py::handle M, double reg, Index max_iter, double tol,
         double rtol, double reg_m_a, double reg_m_b, bool eps_scaling, double eps_scaling_factor,
         Index eps_scaling_iterations, double eps_start, const std::string& storage,
         std::size_t kernel_memory, bool overrelaxation, bool newton, bool compute_cost,
         py::handle warm, bool plan, Index max_plan_entries, int threads, bool copy,
         py::object progress) {
        VectorArg va(a, "a", copy), vb(b, "b", copy);
        MatrixArg<double> cost(M, "M", copy);
        const Execution ex = make_execution(threads, std::move(progress));
        const auto o =
            sinkhorn_options(reg, max_iter, tol, rtol, reg_m_a, reg_m_b, eps_scaling,
                             eps_scaling_factor, eps_scaling_iterations, eps_start, storage,
                             kernel_memory, overrelaxation, newton, compute_cost, ex);
        const ot::Potentials w = warm_start(warm);
        const ot::DenseCost<double> geom(cost.view);
        ot::SinkhornResult r = run_cancellable(
            ex.cancel, [&] { return ot::sinkhorn(geom, va.ref(), vb.ref(), o, w); });
        return sinkhorn_result(std::move(r), &geom, plan, max_plan_entries, ex);
      },
      py::arg("a"), py::arg("b"), py::arg("M"), py::arg("reg"), py::arg("max_iter"), py::arg("tol"),
      py::arg("rtol"), py::arg("reg_m_a"), py::arg("reg_m_b"), py::arg("eps_scaling"),
      py::arg("eps_scaling_factor"), py::arg("eps_scaling_iterations"), py::arg("eps_start"),
      py::arg("storage"), py::arg("kernel_memory"), py::arg("overrelaxation"), py::arg("newton"),
      py::arg("compute_cost"), py::arg("warm"), py::arg("plan"), py::arg("max_plan_entries"),
      py::arg("threads"), py::arg("copy"), py::arg("progress"));

  m.def(
      "sinkhorn_points",
      [](py::handle x, py::handle y, py::handle a, py::handle b, double scale, double reg,
         Index max_iter, double tol, double rtol, double reg_m_a, double reg_m_b, bool eps_scaling,
         double eps_scaling_factor, Index eps_scaling_iterations, double eps_start,
         const std::string& storage, std::size_t kernel_memory, bool overrelaxation, bool newton,
         bool compute_cost, py::handle warm, bool plan, Index max_plan_entries, int threads,
         bool copy, py::object progress) {
        VectorArg va(a, "a", copy), vb(b, "b", copy);
        MatrixArg<double> px(x, "x", copy), py_(y, "y", copy);
        const Execution ex = make_execution(threads, std::move(progress));
        const auto o =
            sinkhorn_options(reg, max_iter, tol, rtol, reg_m_a, reg_m_b, eps_scaling,
                             eps_scaling_factor, eps_scaling_iterations, eps_start, storage,
                             kernel_memory, overrelaxation, newton, compute_cost, ex);
        const ot::Potentials w = warm_start(warm);
        check_argument(scale > 0 && std::isfinite(scale), "scale", "must be finite and > 0");
        const ot::PointCloud<double> geom(px.view, py_.view, scale);
        ot::SinkhornResult r = run_cancellable(
            ex.cancel, [&] { return ot::sinkhorn(geom, va.ref(), vb.ref(), o, w); });
        return sinkhorn_result(std::move(r), &geom, plan, max_plan_entries, ex);
      },
      py::arg("x"), py::arg("y"), py::arg("a"), py::arg("b"), py::arg("scale"), py::arg("reg"),
      py::arg("max_iter"), py::arg("tol"), py::arg("rtol"), py::arg("reg_m_a"), py::arg("reg_m_b"),
      py::arg("eps_scaling"), py::arg("eps_scaling_factor"), py::arg("eps_scaling_iterations"),
      py::arg("eps_start"), py::arg("storage"), py::arg("kernel_memory"), py::arg("overrelaxation"),
      py::arg("newton"), py::arg("compute_cost"), py::arg("warm"), py::arg("plan"),
      py::arg("max_plan_entries"), py::arg("threads"), py::arg("copy"), py::arg("progress"));

  py::class_<PyKde>(m, "Kde", "Exact Gaussian KDE (SciPy gaussian_kde conventions).")
      .def(py::init<py::handle, py::handle, py::handle, int, bool>(), py::arg("data"),
           py::arg("weights") = py::none(), py::arg("bandwidth") = py::none(),
           py::arg("threads") = 0, py::arg("copy") = true)
      .def("log_density", &PyKde::log_density, py::arg("points"), py::arg("copy") = true)
      .def_property_readonly("size", [](const PyKde& k) { return k.kde().size(); })
      .def_property_readonly("dim", [](const PyKde& k) { return k.kde().dim(); })
      .def_property_readonly("factor", [](const PyKde& k) { return k.kde().factor(); })
      .def_property_readonly("effective_n", [](const PyKde& k) { return k.kde().effective_n(); })
      .def_property_readonly(
          "covariance",
          [](const PyKde& k) { return to_numpy(RowMatrix<double>(k.kde().kernel_covariance())); })
      .def_property_readonly("warnings", [](const PyKde& k) { return k.kde().warnings(); });
}

}  // namespace popalign::python
