// align/compress.hpp: the greedy-bisection compression into weighted atoms and its W2 bound,
// checked against closed forms and against POT's exact ot.emd2 (tests/align/emd2.py, run with
// /usr/bin/python3), with a negative control (corrupted atoms must fail the same check).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <popalign/align/compress.hpp>
#include <popalign/core/random.hpp>

#include "align/test_util.hpp"

namespace {

using namespace popalign;
using align::Atoms;
using align::compress_points;
using align::CompressOptions;

RowMatrix<double> gaussian(Index n, Index d, std::uint64_t seed, double shift = 0) {
  Rng r(seed);
  RowMatrix<double> x(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) x(i, k) = shift + r.normal();
  return x;
}

/// Exact W2^2 between (x, w) and the atoms by POT; NaN (skip) when POT is not available.
double pot_w2sq(const RowMatrix<double>& x, const Vector<double>& w, const RowMatrix<double>& c,
                const Vector<double>& mass) {
  const auto dir = test::temp_dir("compress_pot");
  const auto in = dir / "in.txt", out = dir / "out.txt";
  {
    std::ofstream f(in);
    f.precision(17);
    f << x.rows() << " " << c.rows() << " " << x.cols() << "\n";
    for (Index i = 0; i < x.rows(); ++i) {
      f << (w.size() ? w[i] : 1.0);
      for (Index k = 0; k < x.cols(); ++k) f << " " << x(i, k);
      f << "\n";
    }
    for (Index a = 0; a < c.rows(); ++a) {
      f << mass[a];
      for (Index k = 0; k < c.cols(); ++k) f << " " << c(a, k);
      f << "\n";
    }
  }
  const std::string cmd = "/usr/bin/python3 '" + std::string(POPALIGN_SOURCE_DIR) +
                          "/tests/align/emd2.py' '" + in.string() + "' '" + out.string() + "'";
  const int rc = std::system(cmd.c_str());
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) return std::nan("");
  double v = std::nan("");
  std::ifstream(out) >> v;
  std::filesystem::remove_all(dir);
  return v;
}

/// The property the compression promises: exact W2 <= reported bound (with a tolerance for
/// the LP's rounding). Returns false when it does not hold.
bool bound_holds(double exact_w2sq, double bound_w2) {
  return exact_w2sq <= bound_w2 * bound_w2 * (1 + 1e-9) + 1e-12;
}

TEST(Compress, DuplicatedPointsAreExact) {
  // 7 distinct locations, each repeated: 7 atoms reproduce the measure exactly.
  const RowMatrix<double> loc = gaussian(7, 3, 1);
  RowMatrix<double> x(7 * 13, 3);
  for (Index i = 0; i < x.rows(); ++i) x.row(i) = loc.row(i % 7);
  CompressOptions o;
  o.max_atoms = 50;
  const Atoms at = compress_points<double>(x, {}, o);
  ASSERT_EQ(at.size(), 7);
  EXPECT_EQ(at.w2, 0.0);
  EXPECT_LT(at.max_radius, 1e-12);  // the mean of equal doubles rounds
  for (Index a = 0; a < 7; ++a) EXPECT_EQ(at.mass[a], 13.0);
  for (Index i = 0; i < x.rows(); ++i)
    EXPECT_LT((at.centres.row(at.atom_of[static_cast<std::size_t>(i)]) - x.row(i)).norm(), 1e-12);
}

TEST(Compress, SeparatedClustersClosedForm) {
  // Two clusters 100 sd apart, two atoms: the atoms are the cluster means, the cells are the
  // Voronoi cells, so W2^2 = the mean within-cluster squared distance, equal to POT's exact value.
  RowMatrix<double> x(400, 2);
  x << gaussian(150, 2, 2), gaussian(250, 2, 3, 100.0);
  CompressOptions o;
  o.max_atoms = 2;
  const Atoms at = compress_points<double>(x, {}, o);
  ASSERT_EQ(at.size(), 2);
  const Eigen::RowVectorXd m1 = x.topRows(150).colwise().mean();
  const Eigen::RowVectorXd m2 = x.bottomRows(250).colwise().mean();
  const double ss = (x.topRows(150).rowwise() - m1).squaredNorm() +
                    (x.bottomRows(250).rowwise() - m2).squaredNorm();
  EXPECT_NEAR(at.w2 * at.w2, ss / 400.0, 1e-10);
  const Index a1 = at.atom_of[0];
  EXPECT_NEAR((at.centres.row(a1) - m1).norm(), 0.0, 1e-12);
  EXPECT_EQ(at.mass[a1], 150.0);
  EXPECT_EQ(at.mass[1 - a1], 250.0);
  const double exact = pot_w2sq(x, {}, at.centres, at.mass);
  if (std::isnan(exact)) GTEST_SKIP() << "/usr/bin/python3 with POT not available";
  EXPECT_NEAR(exact, at.w2 * at.w2, 1e-8 * (1 + exact));
}

TEST(Compress, BoundAgainstPotEmd2) {
  // Weighted Gaussian points: POT's exact W2 never exceeds the reported coupling bound, and the
  // bound is not loose (within 30%: the cells are nearly Voronoi).
  const RowMatrix<double> x = gaussian(300, 3, 4);
  Rng r(5);
  Vector<double> w(300);
  for (Index i = 0; i < 300; ++i) w[i] = 0.2 + r.uniform();
  for (Index k : {1, 8, 40}) {
    CompressOptions o;
    o.max_atoms = k;
    const Atoms at = compress_points<double>(x, w, o);
    EXPECT_EQ(at.size(), k);
    EXPECT_NEAR(at.mass.sum(), w.sum(), 1e-9);
    const double exact = pot_w2sq(x, w, at.centres, at.mass);
    if (std::isnan(exact)) GTEST_SKIP() << "/usr/bin/python3 with POT not available";
    EXPECT_TRUE(bound_holds(exact, at.w2)) << "k " << k << ": " << exact << " vs " << at.w2;
    EXPECT_GT(exact, 0.7 * 0.7 * at.w2 * at.w2) << "k " << k;
    if (k == 1) {  // one atom: the weighted variance
      EXPECT_NEAR(exact, at.w2 * at.w2, 1e-9);
    }
  }
}

TEST(Compress, NegativeControlCorruptedAtomsFailTheCheck) {
  // The same check must fail when the atoms are wrong: centres moved by 1 sd, bound unchanged.
  const RowMatrix<double> x = gaussian(200, 2, 6);
  CompressOptions o;
  o.max_atoms = 16;
  const Atoms at = compress_points<double>(x, {}, o);
  RowMatrix<double> moved = at.centres;
  moved.col(0).array() += 1.0;
  const double exact = pot_w2sq(x, {}, moved, at.mass);
  if (std::isnan(exact)) GTEST_SKIP() << "/usr/bin/python3 with POT not available";
  EXPECT_FALSE(bound_holds(exact, at.w2));
}

TEST(Compress, ErrorFallsWithAtomsAndTargetStopsEarly) {
  const RowMatrix<double> x = gaussian(20000, 5, 7);
  double prev = 1e300;
  for (Index k : {16, 256, 4096}) {
    CompressOptions o;
    o.max_atoms = k;
    const Atoms at = compress_points<double>(x, {}, o);
    EXPECT_LT(at.w2, prev);
    prev = at.w2;
    // The bound from the assignment, recomputed independently.
    double ss = 0;
    for (Index i = 0; i < x.rows(); ++i)
      ss += (x.row(i) - at.centres.row(at.atom_of[static_cast<std::size_t>(i)])).squaredNorm();
    EXPECT_NEAR(at.w2, std::sqrt(ss / 20000.0), 1e-9);
  }
  CompressOptions o;
  o.max_atoms = 4096;
  o.target_w2 = 0.8;
  const Atoms at = compress_points<double>(x, {}, o);
  EXPECT_LE(at.w2, 0.8);
  EXPECT_LT(at.size(), 4096);
}

TEST(Compress, FloatInputAndDeterminism) {
  const RowMatrix<double> x = gaussian(5000, 4, 8);
  const RowMatrix<float> xf = x.cast<float>();
  CompressOptions o;
  o.max_atoms = 300;
  const Atoms a = compress_points<float>(xf, {}, o);
  const Atoms b = compress_points<float>(xf, {}, o);
  EXPECT_EQ(a.atom_of, b.atom_of);
  EXPECT_EQ(a.centres, b.centres);
  EXPECT_EQ(a.size(), 300);
  EXPECT_NEAR(a.mass.sum(), 5000.0, 0);
}

TEST(Compress, ZeroWeightsAndSubsetCentres) {
  RowMatrix<double> x = gaussian(100, 2, 9);
  Vector<double> w = Vector<double>::Ones(100);
  w.head(10).setZero();
  CompressOptions o;
  o.max_atoms = 8;
  const Atoms at = compress_points<double>(x, w, o);
  EXPECT_NEAR(at.mass.sum(), 90.0, 1e-12);
  for (Index a = 0; a < at.size(); ++a) EXPECT_GT(at.mass[a], 0);
  std::vector<char> keep(100, 0);
  keep[50] = 1;
  const auto [c, cnt] = align::subset_centres<double>(x, at, keep);
  const Index a50 = at.atom_of[50];
  EXPECT_EQ(cnt[a50], 1.0);
  EXPECT_EQ(cnt.sum(), 1.0);
  EXPECT_EQ(c.row(a50), x.row(50));
}

TEST(Compress, BadArgumentsNameTheField) {
  const RowMatrix<double> x = gaussian(10, 2, 10);
  CompressOptions o;
  o.max_atoms = 0;
  try {
    compress_points<double>(x, {}, o);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("max_atoms"), std::string::npos);
  }
  RowMatrix<double> bad = x;
  bad(3, 1) = std::nan("");
  EXPECT_THROW(compress_points<double>(bad), InvalidArgument);
  EXPECT_THROW(compress_points<double>(x, Vector<double>::Ones(3)), InvalidArgument);
  EXPECT_THROW(compress_points<double>(x, Vector<double>::Zero(10)), InvalidArgument);
  CompressOptions t;
  t.target_w2 = -1;
  EXPECT_THROW(compress_points<double>(x, {}, t), InvalidArgument);
}

}  // namespace
