#pragma once
// Million-person data made from the shipped BIG5 respondents (data/big5), for the alignment at
// 10^6 x 10^6 (docs/align.md, docs/performance.md). Used by make_big5_million.cpp (writes CSVs)
// and align_scale.cpp (generates in memory).
//
// The population is the cleaned BIG5 people scored on the IPIP-50 domains (E, N, A, C, O; all
// parts of demo::load_big5_split, ~19.7k people), "dequantised": a person drawn from it gets
// independent uniform jitter of +-1/2 score step on every trait (the domain scores lie on a grid
// of 0.1; the jitter spreads each grid point over its own cell, so the population is a continuous
// density that is the BIG5 histogram at the grid's resolution). Three independent seeded samples
// of it (streams of Rng(seed)):
//   reference  m people, i.i.d. from the population
//   test       t people, i.i.d. from the population: held out, every error is measured against it
//   pool       n people from the population tilted by the bias profile of demo::draw_biased_pool,
//              w(z) = exp(sum_k beta_k z_k - 1/2 sum_k (1/s_k^2 - 1) z_k^2) with z standardised by
//              the population (demo::bias_log_weights), by rejection sampling (accept with
//              probability w / w_max): for an infinite population this is what the demo's
//              successive sampling without replacement converges to.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <popalign/core/random.hpp>
#include <popalign/demo/demo.hpp>

namespace popalign::bench {

struct MillionData {
  std::vector<std::string> traits;          ///< E, N, A, C, O
  RowMatrix<double> pool, reference, test;  ///< domain scores (1..5, jittered)
  Index population = 0;                     ///< BIG5 people drawn from
  double acceptance = 0;                    ///< pool rejection sampling acceptance rate
};

inline MillionData make_big5_million(const std::filesystem::path& data_dir, Index n_pool,
                                     Index m_ref, Index n_test, demo::BiasProfile profile,
                                     std::uint64_t seed) {
  const demo::Big5Split sp = demo::load_big5_split(data_dir, 1);
  const Index p = sp.source.rows() + sp.reference.rows() + sp.test.rows();
  RowMatrix<double> pop(p, sp.source.cols());
  pop << sp.source, sp.reference, sp.test;
  const Index d = pop.cols();
  // Score step per trait: the smallest positive gap between sorted values.
  Vector<double> step(d);
  for (Index k = 0; k < d; ++k) {
    std::vector<double> v(static_cast<std::size_t>(p));
    for (Index i = 0; i < p; ++i) v[static_cast<std::size_t>(i)] = pop(i, k);
    std::sort(v.begin(), v.end());
    double g = 1e300;
    for (std::size_t i = 1; i < v.size(); ++i)
      if (v[i] - v[i - 1] > 1e-9) g = std::min(g, v[i] - v[i - 1]);
    step[k] = g;
  }
  const Eigen::RowVectorXd mu = pop.colwise().mean();
  const Eigen::RowVectorXd sd =
      ((pop.rowwise() - mu).array().square().colwise().sum() / static_cast<double>(p)).sqrt();
  auto draw = [&](Rng& r, double* out) {
    const Index i = static_cast<Index>(r.uniform_int(static_cast<std::uint64_t>(p)));
    for (Index k = 0; k < d; ++k) out[k] = pop(i, k) + step[k] * (r.uniform() - 0.5);
  };
  MillionData out;
  out.traits = sp.traits;
  out.population = p;
  const Rng root(seed);
  auto sample = [&](Index count, std::uint64_t stream) {
    RowMatrix<double> x(count, d);
    Rng r = root.split(stream);
    for (Index i = 0; i < count; ++i) draw(r, x.row(i).data());
    return x;
  };
  out.reference = sample(m_ref, 1);
  out.test = sample(n_test, 2);
  // Pool: rejection sampling of the tilt. Envelope: log w is a sum over traits of
  // beta z - c z^2 (concave or linear), so its maximum over the population's range of z (with
  // jitter) is the sum of the per-trait maxima (ends of the range or the stationary point).
  const demo::BiasSpec spec = demo::bias_spec(profile);
  double lw_max = 0;
  {
    for (Index k = 0; k < d; ++k) {
      const double s2 = spec.sd[k] * spec.sd[k];
      const double beta = spec.mean[k] / s2, c = 0.5 * (1.0 / s2 - 1.0);
      const double lo = (pop.col(k).minCoeff() - step[k] / 2 - mu[k]) / sd[k];
      const double hi = (pop.col(k).maxCoeff() + step[k] / 2 - mu[k]) / sd[k];
      auto f = [&](double z) { return beta * z - c * z * z; };
      double best = std::max(f(lo), f(hi));
      if (c > 0) {
        const double zs = std::clamp(beta / (2 * c), lo, hi);
        best = std::max(best, f(zs));
      }
      lw_max += best;
    }
  }
  out.pool.resize(n_pool, d);
  Rng rp = root.split(3);
  std::vector<double> x(static_cast<std::size_t>(d));
  std::uint64_t tries = 0;
  for (Index i = 0; i < n_pool;) {
    draw(rp, x.data());
    ++tries;
    double lw = 0;  // demo::bias_log_weights of the row, inline
    for (Index k = 0; k < d; ++k) {
      const double z = (x[static_cast<std::size_t>(k)] - mu[k]) / sd[k];
      const double s2 = spec.sd[k] * spec.sd[k];
      lw += spec.mean[k] / s2 * z - 0.5 * (1.0 / s2 - 1.0) * z * z;
    }
    if (rp.uniform() < std::exp(lw - lw_max)) {
      for (Index k = 0; k < d; ++k) out.pool(i, k) = x[static_cast<std::size_t>(k)];
      ++i;
    }
  }
  out.acceptance = static_cast<double>(n_pool) / static_cast<double>(tries);
  return out;
}

}  // namespace popalign::bench
