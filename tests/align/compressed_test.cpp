// align() with Scaling::compress (align/compressed_impl.hpp): one atom per person reproduces the
// exact pipeline; with few atoms the selection stays close and the diagnostics report the
// compression's own error; the automatic switch, every output, options and determinism.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <popalign/align/align.hpp>

#include "align/test_util.hpp"

namespace popalign::align {
namespace {

/// A correlated Gaussian reference and a shifted, squeezed pool (d = 3).
struct Data {
  RowMatrix<double> pool, reference;
  Data(Index n, Index m, std::uint64_t seed) {
    Rng rng(seed);
    const Index d = 3;
    reference.resize(m, d);
    pool.resize(n, d);
    for (Index i = 0; i < m; ++i) {
      const double c = rng.normal();
      for (Index k = 0; k < d; ++k) reference(i, k) = 0.5 * c + rng.normal();
    }
    for (Index i = 0; i < n; ++i) {
      const double c = rng.normal();
      for (Index k = 0; k < d; ++k)
        pool(i, k) = (k == 0 ? 0.6 : -0.3) + 0.7 * (0.5 * c + rng.normal());
    }
  }
};

AlignOptions exact_options(Index N) {
  AlignOptions o;
  o.n = N;
  o.seed = 3;
  o.execution.threads = 2;
  o.kde_max_points = 1 << 20;  // no subsample anywhere: the exact pipeline
  o.ot_max_reference = 1 << 20;
  o.max_candidates = 0;
  return o;
}

TEST(AlignCompressed, OneAtomPerPersonReproducesTheExactPipeline) {
  const Data d(600, 500, 1);
  AlignOptions o = exact_options(60);
  o.scaling = Scaling::subsample;
  const AlignResult exact = align<double>(d.pool, d.reference, o);
  o.scaling = Scaling::compress;
  o.atoms = 1000;  // > n and m: every person is its own atom
  const AlignResult comp = align<double>(d.pool, d.reference, o);
  const auto& c = comp.diagnostics.compression;
  ASSERT_TRUE(c.used);
  EXPECT_FALSE(exact.diagnostics.compression.used);
  EXPECT_EQ(c.pool_atoms, 600);
  EXPECT_EQ(c.reference_atoms, 500);
  EXPECT_EQ(c.pool_w2, 0.0);
  EXPECT_EQ(c.reference_w2, 0.0);
  EXPECT_EQ(c.candidate_w2, 0.0);
  // The atom KDE is the exact KDE; the probes' reference KDEs run in f32 (~1e-6 relative).
  EXPECT_LT(c.log_ratio_error_max, 1e-5);
  EXPECT_EQ(comp.diagnostics.candidates, exact.diagnostics.candidates);
  EXPECT_NEAR(comp.diagnostics.eps, exact.diagnostics.eps, 1e-12);
  EXPECT_LT((comp.importance_weights - exact.importance_weights).cwiseAbs().maxCoeff(), 1e-12);
  EXPECT_LT((comp.inclusion - exact.inclusion).cwiseAbs().maxCoeff(), 1e-4);
  EXPECT_EQ(comp.diagnostics.ot_status, ot::Status::converged);
}

TEST(AlignCompressed, FewAtomsStayCloseAndReportTheirError) {
  const Data d(20000, 20000, 2);
  AlignOptions o = exact_options(1000);
  o.scaling = Scaling::compress;
  o.atoms = 512;
  const AlignResult r = align<double>(d.pool, d.reference, o);
  const auto& dg = r.diagnostics;
  const auto& c = dg.compression;
  ASSERT_TRUE(c.used);
  EXPECT_EQ(c.pool_atoms, 512);
  EXPECT_EQ(c.reference_atoms, 512);
  EXPECT_GT(c.reference_w2, 0.1);
  EXPECT_LT(c.reference_w2, 0.8);
  EXPECT_GT(c.candidate_atoms, 100);
  EXPECT_LE(c.candidate_atoms, 512);
  EXPECT_EQ(c.probes, 256);
  EXPECT_GT(c.log_ratio_error, 0.0);
  EXPECT_LT(c.log_ratio_error, 0.5);
  EXPECT_EQ(r.indices.size(), 1000u);
  EXPECT_TRUE(r.converged());
  // The selection is far closer to the reference than the pool (negative control: the pool).
  EXPECT_LT(dg.after.mean_w1, 0.3 * dg.before.mean_w1);
  EXPECT_NE(dg.summary().find("compression: pool 512 atoms"), std::string::npos);
  // More atoms: smaller compression error.
  o.atoms = 4096;
  const AlignResult fine = align<double>(d.pool, d.reference, o);
  EXPECT_LT(fine.diagnostics.compression.reference_w2, c.reference_w2);
  EXPECT_LT(fine.diagnostics.compression.log_ratio_error, c.log_ratio_error);
}

TEST(AlignCompressed, AutomaticAboveTheThreshold) {
  const Data d(3000, 2000, 3);
  AlignOptions o;
  o.n = 100;
  o.atoms = 256;
  o.compress_above = 2999;
  EXPECT_TRUE(align<double>(d.pool, d.reference, o).diagnostics.compression.used);
  o.compress_above = 3000;
  EXPECT_FALSE(align<double>(d.pool, d.reference, o).diagnostics.compression.used);
  o.scaling = Scaling::compress;
  EXPECT_TRUE(align<double>(d.pool, d.reference, o).diagnostics.compression.used);
}

TEST(AlignCompressed, EveryMethodAndOutputFloatAndDeterminism) {
  const Data d(4000, 3000, 4);
  const RowMatrix<float> pf = d.pool.cast<float>(), rf = d.reference.cast<float>();
  for (Method m : {Method::resample, Method::ot, Method::importance, Method::random})
    for (Output out : {Output::distinct, Output::multiset, Output::weights}) {
      AlignOptions o;
      o.n = 200;
      o.method = m;
      o.output = out;
      o.seed = 5;
      o.scaling = Scaling::compress;
      o.atoms = 300;
      const AlignResult a = align<float>(pf, rf, o);
      const AlignResult b = align<float>(pf, rf, o);
      EXPECT_EQ(a.indices, b.indices) << to_string(m) << " " << to_string(out);
      EXPECT_EQ(a.counts, b.counts);
      EXPECT_NEAR(a.weights.sum(), 1.0, 1e-9);
      if (out == Output::distinct) {
        EXPECT_EQ(a.indices.size(), 200u);
      }
      const bool transport = m == Method::resample || m == Method::ot;
      EXPECT_EQ(a.diagnostics.has_transport, transport);
      EXPECT_EQ(a.diagnostics.compression.candidate_atoms > 0, transport);
    }
}

TEST(AlignCompressed, CalibrationOptionReachesTheAtomPath) {
  // options.calibration is honoured with compression (it used to be per-trait raking whatever
  // the option): with one atom per person, compressed pairwise raking reproduces the exact
  // pipeline's pairwise raking, and differs from marginal raking (negative control).
  const Data d(600, 500, 6);
  AlignOptions o = exact_options(60);
  o.calibration = Calibration::pairwise;
  o.scaling = Scaling::subsample;
  const AlignResult exact = align<double>(d.pool, d.reference, o);
  o.scaling = Scaling::compress;
  o.atoms = 1000;
  const AlignResult pair = align<double>(d.pool, d.reference, o);
  o.calibration = Calibration::marginal;
  const AlignResult marg = align<double>(d.pool, d.reference, o);
  o.calibrate = false;
  const AlignResult none = align<double>(d.pool, d.reference, o);
  ASSERT_TRUE(pair.diagnostics.compression.used);
  EXPECT_LT((pair.inclusion - exact.inclusion).cwiseAbs().maxCoeff(), 1e-4);
  EXPECT_NEAR(pair.diagnostics.calibration_error, exact.diagnostics.calibration_error, 1e-3);
  EXPECT_GT((pair.inclusion - marg.inclusion).cwiseAbs().maxCoeff(), 1e-3);
  EXPECT_TRUE(std::isfinite(marg.diagnostics.calibration_error));
  EXPECT_TRUE(std::isnan(none.diagnostics.calibration_error));
}

TEST(AlignCompressed, OptionsAreValidated) {
  AlignOptions o;
  o.n = 10;
  o.atoms = 8;
  try {
    o.validate();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("atoms"), std::string::npos);
  }
  o.atoms = 16;
  o.compress_above = -1;
  EXPECT_THROW(o.validate(), InvalidArgument);
  EXPECT_EQ(parse_scaling("compress"), Scaling::compress);
  EXPECT_EQ(parse_scaling("subsample"), Scaling::subsample);
  EXPECT_EQ(parse_scaling("auto"), Scaling::automatic);
  EXPECT_FALSE(parse_scaling("atoms").has_value());
  EXPECT_EQ(to_string(Scaling::compress), "compress");
}

std::string csv(const RowMatrix<double>& x, bool with_id) {
  std::string s = with_id ? "id,a,b,c\n" : "a,b,c\n";
  for (Index i = 0; i < x.rows(); ++i)
    s += (with_id ? "p" + std::to_string(i) + "," : std::string()) +
         fmt::format("{:.6f},{:.6f},{:.6f}\n", x(i, 0), x(i, 1), x(i, 2));
  return s;
}

TEST(AlignCompressed, CommandLineFlags) {
  const Data d(3000, 2000, 6);
  const auto dir = test::temp_dir("compressed_cli");
  test::write_text(dir / "pool.csv", csv(d.pool, true));
  test::write_text(dir / "ref.csv", csv(d.reference, false));
  const std::string base = "align --pool '" + (dir / "pool.csv").string() + "' --reference '" +
                           (dir / "ref.csv").string() + "' --n 100 --out '" +
                           (dir / "out.csv").string() + "'";
  const auto ok = test::run_popalign(base + " --scaling compress --atoms 64", dir);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("compression: pool 64 atoms"), std::string::npos) << ok.out;
  const auto plain = test::run_popalign(base + " --scaling subsample", dir);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.find("compression:"), std::string::npos);
  const auto bad = test::run_popalign(base + " --scaling atoms", dir);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--scaling"), std::string::npos) << bad.err;
  const auto few = test::run_popalign(base + " --atoms 3", dir);
  EXPECT_NE(few.exit_code, 0);
  EXPECT_NE(few.err.find("--atoms"), std::string::npos) << few.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace popalign::align
