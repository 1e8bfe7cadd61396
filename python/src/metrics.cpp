// Bindings of popalign::metrics: distances between two weighted samples (float64).
#include <popalign/metrics/compare.hpp>
#include <popalign/metrics/correlation.hpp>
#include <popalign/metrics/energy.hpp>
#include <popalign/metrics/frechet.hpp>
#include <popalign/metrics/mmd.hpp>
#include <popalign/metrics/population.hpp>
#include <popalign/metrics/sinkhorn_divergence.hpp>
#include <popalign/metrics/sliced.hpp>
#include <popalign/metrics/univariate.hpp>

#include "common.hpp"

namespace popalign::python {

namespace {

/// The two samples and their weights of every metric call.
struct Samples {
  MatrixArg<double> a, b;
  VectorArg wa, wb;
  Samples(py::handle a_, py::handle b_, py::handle wa_, py::handle wb_, bool copy)
      : a(a_, "a", copy),
        b(b_, "b", copy),
        wa(wa_, "a_weights", copy),
        wb(wb_, "b_weights", copy) {}
};

py::dict population_dict(const metrics::PopulationMetrics& p) {
  py::dict d;
  d["mean_w1"] = p.mean_w1;
  d["frechet"] = p.frechet;
  d["sliced_wasserstein"] = p.sliced_wasserstein;
  d["mmd2"] = p.mmd2;
  d["mmd2_biased"] = p.mmd2_biased;
  d["mmd_bandwidth"] = p.mmd_bandwidth;
  d["correlation_mae"] = p.correlation_mae;
  return d;
}

#define POPALIGN_SAMPLE_ARGS \
  py::arg("a"), py::arg("b"), py::arg("a_weights") = py::none(), py::arg("b_weights") = py::none()

}  // namespace

void bind_metrics(py::module_& m) {
  m.def(
      "wasserstein_1d",
      [](py::handle a, py::handle b, py::handle wa, py::handle wb, double p, bool copy) {
        CArray<double> x = as_array<double>(a, "a", copy, 1), y = as_array<double>(b, "b", copy, 1);
        VectorArg va(wa, "a_weights", copy), vb(wb, "b_weights", copy);
        Eigen::Map<const Vector<double>> mx(x.data(), x.shape(0)), my(y.data(), y.shape(0));
        return without_gil(
            [&] { return metrics::wasserstein_1d<double>(mx, my, va.ref(), vb.ref(), p); });
      },
      POPALIGN_SAMPLE_ARGS, py::arg("p") = 1.0, py::arg("copy") = true);
  m.def(
      "ks_1d",
      [](py::handle a, py::handle b, py::handle wa, py::handle wb, bool copy) {
        CArray<double> x = as_array<double>(a, "a", copy, 1), y = as_array<double>(b, "b", copy, 1);
        VectorArg va(wa, "a_weights", copy), vb(wb, "b_weights", copy);
        Eigen::Map<const Vector<double>> mx(x.data(), x.shape(0)), my(y.data(), y.shape(0));
        return without_gil([&] { return metrics::ks_1d<double>(mx, my, va.ref(), vb.ref()); });
      },
      POPALIGN_SAMPLE_ARGS, py::arg("copy") = true);

  auto per_column = [&m](const char* name,
                         Vector<double> (*fn)(MatrixView<double>, MatrixView<double>,
                                              const Eigen::Ref<const Vector<double>>&,
                                              const Eigen::Ref<const Vector<double>>&)) {
    m.def(
        name,
        [fn](py::handle a, py::handle b, py::handle wa, py::handle wb, bool copy) {
          Samples s(a, b, wa, wb, copy);
          return to_numpy(
              without_gil([&] { return fn(s.a.view, s.b.view, s.wa.ref(), s.wb.ref()); }));
        },
        POPALIGN_SAMPLE_ARGS, py::arg("copy") = true);
  };
  per_column("column_wasserstein1", &metrics::column_wasserstein1<double>);
  per_column("column_ks", &metrics::column_ks<double>);
  per_column("mean_gap", &metrics::mean_gap<double>);
  per_column("sd_gap", &metrics::sd_gap<double>);

  m.def(
      "correlation_distance",
      [](py::handle a, py::handle b, py::handle wa, py::handle wb, bool copy) {
        Samples s(a, b, wa, wb, copy);
        const auto c = without_gil([&] {
          return metrics::correlation_distance<double>(s.a.view, s.b.view, s.wa.ref(), s.wb.ref());
        });
        return py::make_tuple(c.frobenius, c.normalized, c.mae);
      },
      POPALIGN_SAMPLE_ARGS, py::arg("copy") = true);

  m.def(
      "frechet_distance",
      [](py::handle a, py::handle b, py::handle wa, py::handle wb, bool copy) {
        Samples s(a, b, wa, wb, copy);
        return without_gil([&] {
          return metrics::frechet_distance<double>(s.a.view, s.b.view, s.wa.ref(), s.wb.ref());
        });
      },
      POPALIGN_SAMPLE_ARGS, py::arg("copy") = true);

  m.def(
      "population_metrics",
      [](py::handle a, py::handle b, py::handle wa, py::handle wb, bool sliced, bool mmd,
         Index n_projections, std::uint64_t seed, Index mmd_max_points, double bandwidth,
         int threads, bool copy) {
        Samples s(a, b, wa, wb, copy);
        metrics::PopulationOptions o;
        o.compute_sliced = sliced;
        o.compute_mmd = mmd;
        o.sliced.n_projections = n_projections;
        o.sliced.seed = seed;
        o.mmd.seed = seed;
        o.subsample_seed = seed;
        o.mmd_max_points = mmd_max_points;
        o.mmd.bandwidth = bandwidth;
        o.sliced.execution = make_execution(threads, py::none());
        o.mmd.execution = o.sliced.execution;
        const auto p = run_cancellable(o.sliced.execution.cancel, [&] {
          return metrics::population_metrics<double>(s.a.view, s.b.view, s.wa.ref(), s.wb.ref(), o);
        });
        return population_dict(p);
      },
      POPALIGN_SAMPLE_ARGS, py::arg("sliced") = true, py::arg("mmd") = true,
      py::arg("n_projections") = 128, py::arg("seed") = 0, py::arg("mmd_max_points") = 4000,
      py::arg("bandwidth") = 0.0, py::arg("threads") = 0, py::arg("copy") = true);

  m.def(
      "sliced_wasserstein",
      [](py::handle a, py::handle b, py::handle wa, py::handle wb, Index n_projections, double p,
         std::uint64_t seed, py::handle directions, int threads, bool copy) {
        Samples s(a, b, wa, wb, copy);
        metrics::SlicedOptions o;
        o.n_projections = n_projections;
        o.p = p;
        o.seed = seed;
        o.execution = make_execution(threads, py::none());
        if (directions.is_none())
          return run_cancellable(o.execution.cancel, [&] {
            return metrics::sliced_wasserstein<double>(s.a.view, s.b.view, s.wa.ref(), s.wb.ref(),
                                                       o);
          });
        MatrixArg<double> dirs(directions, "directions", copy);
        return run_cancellable(o.execution.cancel, [&] {
          return metrics::sliced_wasserstein<double>(s.a.view, s.b.view, s.wa.ref(), s.wb.ref(),
                                                     dirs.view, o);
        });
      },
      POPALIGN_SAMPLE_ARGS, py::arg("n_projections") = 128, py::arg("p") = 2.0, py::arg("seed") = 0,
      py::arg("directions") = py::none(), py::arg("threads") = 0, py::arg("copy") = true);
  m.def(
      "random_directions",
      [](Index n, Index d, std::uint64_t seed) {
        return to_numpy(metrics::random_directions(n, d, seed));
      },
      py::arg("n_projections"), py::arg("d"), py::arg("seed") = 0);

  m.def(
      "mmd",
      [](py::handle a, py::handle b, py::handle wa, py::handle wb, double bandwidth,
         Index median_sample, std::uint64_t seed, int threads, bool copy) {
        Samples s(a, b, wa, wb, copy);
        metrics::MmdOptions o;
        o.bandwidth = bandwidth;
        o.median_sample = median_sample;
        o.seed = seed;
        o.execution = make_execution(threads, py::none());
        const auto r = run_cancellable(o.execution.cancel, [&] {
          return metrics::gaussian_mmd<double>(s.a.view, s.b.view, s.wa.ref(), s.wb.ref(), o);
        });
        py::dict d;
        d["mmd2_biased"] = r.mmd2_biased;
        d["mmd2_unbiased"] = r.mmd2_unbiased;
        d["bandwidth"] = r.bandwidth;
        d["mmd"] = r.mmd();
        return d;
      },
      POPALIGN_SAMPLE_ARGS, py::arg("bandwidth") = 0.0, py::arg("median_sample") = 1000,
      py::arg("seed") = 0, py::arg("threads") = 0, py::arg("copy") = true);

  m.def(
      "energy_distance",
      [](py::handle a, py::handle b, py::handle wa, py::handle wb, int threads, bool copy) {
        Samples s(a, b, wa, wb, copy);
        metrics::EnergyOptions o;
        o.execution = make_execution(threads, py::none());
        return run_cancellable(o.execution.cancel, [&] {
          return metrics::energy_distance<double>(s.a.view, s.b.view, s.wa.ref(), s.wb.ref(), o);
        });
      },
      POPALIGN_SAMPLE_ARGS, py::arg("threads") = 0, py::arg("copy") = true);

  m.def(
      "sinkhorn_divergence",
      [](py::handle a, py::handle b, py::handle wa, py::handle wb, double reg, double scale,
         Index max_iter, double tol, int threads, bool copy) {
        Samples s(a, b, wa, wb, copy);
        metrics::SinkhornDivergenceOptions o;
        o.sinkhorn.reg = reg;
        o.sinkhorn.max_iter = max_iter;
        o.sinkhorn.tol = tol;
        o.scale = scale;
        o.sinkhorn.execution = make_execution(threads, py::none());
        const auto r = run_cancellable(o.sinkhorn.execution.cancel, [&] {
          return metrics::sinkhorn_divergence<double>(s.a.view, s.b.view, s.wa.ref(), s.wb.ref(),
                                                      o);
        });
        py::dict d;
        d["divergence"] = r.divergence;
        d["ot_ab"] = r.ot_ab;
        d["ot_aa"] = r.ot_aa;
        d["ot_bb"] = r.ot_bb;
        d["converged"] = r.converged();
        d["iterations"] = r.iterations;
        return d;
      },
      POPALIGN_SAMPLE_ARGS, py::arg("reg") = 0.05, py::arg("scale") = 1.0,
      py::arg("max_iter") = 10000, py::arg("tol") = 1e-9, py::arg("threads") = 0,
      py::arg("copy") = true);

  m.def(
      "compare",
      [](py::handle a, py::handle b, py::handle wa, py::handle wb,
         std::vector<std::string> trait_names, bool sliced, bool mmd, Index n_projections,
         std::uint64_t seed, int threads, bool copy) {
        Samples s(a, b, wa, wb, copy);
        metrics::CompareOptions o;
        o.trait_names = std::move(trait_names);
        o.compute_sliced = sliced;
        o.compute_mmd = mmd;
        o.sliced.n_projections = n_projections;
        o.sliced.seed = seed;
        o.mmd.seed = seed;
        o.sliced.execution = make_execution(threads, py::none());
        o.mmd.execution = o.sliced.execution;
        auto c = run_cancellable(o.sliced.execution.cancel, [&] {
          return metrics::compare<double>(s.a.view, s.b.view, s.wa.ref(), s.wb.ref(), o);
        });
        py::dict d;
        d["table"] = metrics::to_string(c);  // before the vectors are moved out
        d["traits"] = c.traits;
        d["w1"] = to_numpy(std::move(c.w1));
        d["ks"] = to_numpy(std::move(c.ks));
        d["mean_gap"] = to_numpy(std::move(c.mean_gap));
        d["sd_gap"] = to_numpy(std::move(c.sd_gap));
        d["correlation_frobenius"] = c.correlation.frobenius;
        d["correlation_distance"] = c.correlation.normalized;
        d["correlation_mae"] = c.correlation.mae;
        d["population"] = population_dict(c.population);
        d["sliced_wasserstein"] = c.sliced_wasserstein;
        d["mmd2"] = c.mmd2;
        d["mmd_bandwidth"] = c.mmd_bandwidth;
        return d;
      },
      POPALIGN_SAMPLE_ARGS, py::arg("trait_names") = std::vector<std::string>{},
      py::arg("sliced") = true, py::arg("mmd") = true, py::arg("n_projections") = 128,
      py::arg("seed") = 0, py::arg("threads") = 0, py::arg("copy") = true);
}

}  // namespace popalign::python
