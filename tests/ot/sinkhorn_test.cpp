#include <popalign/ot/sinkhorn.hpp>

#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <vector>

#include <popalign/core/random.hpp>
#include <popalign/ot/plan.hpp>

#include "ot/reference.hpp"

namespace popalign::ot {
namespace {

using testing::load_case;
using testing::matrix;
using testing::vector;

template <class T>
class SinkhornTest : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SinkhornTest, Scalars);

template <class T>
constexpr bool is_float = std::is_same_v<T, float>;

template <class T>
RowMatrix<T> gaussian_sample(Index n, const Eigen::VectorXd& mean, const Eigen::MatrixXd& cov,
                             Rng& rng) {
  const Eigen::MatrixXd L = cov.llt().matrixL();
  RowMatrix<T> out(n, mean.size());
  Eigen::VectorXd z(mean.size());
  for (Index i = 0; i < n; ++i) {
    for (Index k = 0; k < z.size(); ++k) z[k] = rng.normal();
    out.row(i) = (mean + L * z).transpose().template cast<T>();
  }
  return out;
}

Eigen::MatrixXd sqrtm(const Eigen::MatrixXd& A) {
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(A);
  return es.eigenvectors() * es.eigenvalues().cwiseMax(0).cwiseSqrt().asDiagonal() *
         es.eigenvectors().transpose();
}

/// Bures-Wasserstein: W2^2 between N(m1, A) and N(m2, B).
double bures_wasserstein2(const Eigen::VectorXd& m1, const Eigen::MatrixXd& A,
                          const Eigen::VectorXd& m2, const Eigen::MatrixXd& B) {
  const Eigen::MatrixXd rA = sqrtm(A);
  return (m1 - m2).squaredNorm() + A.trace() + B.trace() - 2 * sqrtm(rA * B * rA).trace();
}

/// Entropic OT between Gaussians (Janati et al. 2020, Thm. 1; Mallasto et al. 2021), for
/// <P, ||x - y||^2> + eps KL(P | alpha x beta), sigma^2 = eps / 2:
///   |m1-m2|^2 + Tr A + Tr B - Tr D + d s2 (1 - log(2 s2)) + s2 log det(D + s2 I),
///   D = (4 A^1/2 B A^1/2 + s2^2 I)^1/2.
double entropic_gaussian_ot(const Eigen::VectorXd& m1, const Eigen::MatrixXd& A,
                            const Eigen::VectorXd& m2, const Eigen::MatrixXd& B, double eps) {
  const double s2 = eps / 2;
  const auto d = static_cast<double>(A.rows());
  const Eigen::MatrixXd rA = sqrtm(A);
  const Eigen::MatrixXd I = Eigen::MatrixXd::Identity(A.rows(), A.rows());
  const Eigen::MatrixXd D = sqrtm(4 * rA * B * rA + s2 * s2 * I);
  return (m1 - m2).squaredNorm() + A.trace() + B.trace() - D.trace() +
         d * s2 * (1 - std::log(2 * s2)) + s2 * std::log((D + s2 * I).determinant());
}

TEST(GaussianClosedForms, EntropicTendsToBuresAsEpsVanishes) {
  Eigen::VectorXd m1(2), m2(2);
  m1 << 0, 0;
  m2 << 1, -0.5;
  Eigen::MatrixXd A(2, 2), B(2, 2);
  A << 1.0, 0.3, 0.3, 0.5;
  B << 0.7, -0.2, -0.2, 1.2;
  const double w = bures_wasserstein2(m1, A, m2, B);
  EXPECT_NEAR(entropic_gaussian_ot(m1, A, m2, B, 1e-7), w, 1e-5);
  EXPECT_GT(entropic_gaussian_ot(m1, A, m2, B, 0.1), w);
  // 1-D Bures = (m1 - m2)^2 + (s1 - s2)^2.
  Eigen::VectorXd a1(1), a2(1);
  a1 << 0.5;
  a2 << -1;
  Eigen::MatrixXd v1(1, 1), v2(1, 1);
  v1 << 4.0;
  v2 << 0.25;
  EXPECT_NEAR(bures_wasserstein2(a1, v1, a2, v2), 2.25 + 2.25, 1e-12);
}

TYPED_TEST(SinkhornTest, EntropicOtBetweenGaussiansMatchesClosedForm) {
  using T = TypeParam;
  Rng rng(2024);
  Eigen::VectorXd m1(2), m2(2);
  m1 << 0, 0;
  m2 << 1.0, -0.5;
  Eigen::MatrixXd A(2, 2), B(2, 2);
  A << 1.0, 0.3, 0.3, 0.5;
  B << 0.7, -0.2, -0.2, 1.2;
  const Index n = 3000;
  const RowMatrix<T> x = gaussian_sample<T>(n, m1, A, rng);
  const RowMatrix<T> y = gaussian_sample<T>(n, m2, B, rng);
  const double eps = 1.0;
  SinkhornOptions opt;
  opt.reg = eps;
  opt.tol = 1e-7;
  opt.storage = KernelStorage::online;
  const auto r = sinkhorn_points<T>(x, y, Vector<double>(), Vector<double>(), 1.0, opt);
  ASSERT_TRUE(r.converged()) << to_string(r);
  const double expected = entropic_gaussian_ot(m1, A, m2, B, eps);
  // Finite-sample estimate of a smooth functional: a few percent at n = 3000.
  EXPECT_NEAR(r.objective, expected, 0.03 * expected) << to_string(r);
}

TYPED_TEST(SinkhornTest, SmallRegCostApproachesBuresWasserstein) {
  using T = TypeParam;
  Rng rng(99);
  Eigen::VectorXd m1(2), m2(2);
  m1 << 0, 0;
  m2 << 2.0, 1.0;
  Eigen::MatrixXd A(2, 2), B(2, 2);
  A << 1.0, 0.0, 0.0, 1.0;
  B << 2.0, 0.5, 0.5, 1.0;
  const Index n = 1000;
  const RowMatrix<T> x = gaussian_sample<T>(n, m1, A, rng);
  const RowMatrix<T> y = gaussian_sample<T>(n, m2, B, rng);
  SinkhornOptions opt;
  opt.reg = 0.05;
  opt.tol = 1e-6;
  const auto r = sinkhorn_points<T>(x, y, Vector<double>(), Vector<double>(), 1.0, opt);
  ASSERT_TRUE(r.converged()) << to_string(r);
  const double w = bures_wasserstein2(m1, A, m2, B);
  EXPECT_NEAR(r.cost, w, 0.05 * w) << to_string(r);
}

TYPED_TEST(SinkhornTest, OneDimensionalOtBySorting) {
  // Uniform 1-D samples: the exact plan matches sorted values. For the entropic plan,
  // W <= <P, C> <= objective <= W + eps log n.
  using T = TypeParam;
  Rng rng(5);
  const Index n = 200;
  RowMatrix<T> x(n, 1), y(n, 1);
  std::vector<double> xs, ys;
  for (Index i = 0; i < n; ++i) {
    x(i, 0) = static_cast<T>(rng.normal());
    y(i, 0) = static_cast<T>(rng.exponential());
    xs.push_back(static_cast<double>(x(i, 0)));
    ys.push_back(static_cast<double>(y(i, 0)));
  }
  std::sort(xs.begin(), xs.end());
  std::sort(ys.begin(), ys.end());
  double w = 0, maxc = 0;
  for (Index i = 0; i < n; ++i) w += (xs[i] - ys[i]) * (xs[i] - ys[i]) / static_cast<double>(n);
  for (double a : xs)
    for (double b : ys) maxc = std::max(maxc, (a - b) * (a - b));
  SinkhornOptions opt;
  opt.reg = 5e-3 * maxc;
  opt.tol = is_float<T> ? 1e-5 : 1e-8;
  opt.max_iter = 20000;
  const auto r = sinkhorn_points<T>(x, y, Vector<double>(), Vector<double>(), 1.0, opt);
  ASSERT_TRUE(r.converged()) << to_string(r);
  const double slack = is_float<T> ? 1e-4 * maxc : 1e-9 * maxc;
  EXPECT_GE(r.cost, w - slack);
  EXPECT_LE(r.cost, r.objective + slack);
  EXPECT_LE(r.objective, w + opt.reg * std::log(static_cast<double>(n)) + slack);
  EXPECT_LE(r.error_a, 10 * opt.tol);
  EXPECT_LE(r.error_b, 10 * opt.tol);
}

TYPED_TEST(SinkhornTest, SmallEpsMarginalsThanksToEpsScaling) {
  using T = TypeParam;
  Rng rng(17);
  const Index n = 300, m = 250;
  RowMatrix<T> x(n, 3), y(m, 3);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < 3; ++k) x(i, k) = static_cast<T>(rng.normal());
  for (Index j = 0; j < m; ++j)
    for (Index k = 0; k < 3; ++k) y(j, k) = static_cast<T>(rng.uniform(-2, 2));
  const PointCloud<T> geom(x, y, 1.0);
  RowMatrix<double> C(n, m);
  for (Index i = 0; i < n; ++i) geom.cost_row(i, C.row(i).data());
  const double scale = C.maxCoeff();
  for (KernelStorage storage : {KernelStorage::online, KernelStorage::stored}) {
    SinkhornOptions opt;
    opt.reg = 1e-3 * scale;
    opt.tol = is_float<T> ? 1e-5 : 1e-8;
    opt.max_iter = 20000;
    opt.storage = storage;
    const auto r = sinkhorn(geom, Vector<double>(), Vector<double>(), opt);
    ASSERT_TRUE(r.converged()) << to_string(r);
    EXPECT_EQ(r.stored_kernel, storage == KernelStorage::stored);
    // The dense plan's marginals, computed independently.
    const RowMatrix<double> P = dense_plan(geom, r);
    const double ea = (P.rowwise().sum().array() - 1.0 / n).abs().sum();
    const double eb = (P.colwise().sum().array() - 1.0 / m).abs().sum();
    EXPECT_LE(ea, 20 * opt.tol);
    EXPECT_LE(eb, 20 * opt.tol);
  }
}

// eps = 1e-3 of the cost scale: plain Sinkhorn crawls (POT's sinkhorn_log stops unconverged at
// 3000 iterations on such problems); the stored kernel's Sinkhorn-Newton phase with the dense
// direct solve reaches 1e-10 within 100 iterations (61 + 4 Newton steps here; plain
// over-relaxed Sinkhorn needs ~300), and the CG-based Newton phase lands on the same plan.
TEST(SinkhornNewton, DirectSolveConvergesAtTinyEps) {
  Rng rng(23);
  const Index n = 300, m = 250;
  RowMatrix<double> x(n, 5), y(m, 5);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < 5; ++k) x(i, k) = rng.normal();
  for (Index j = 0; j < m; ++j)
    for (Index k = 0; k < 5; ++k) y(j, k) = 0.9 * rng.normal() + 0.3;
  const PointCloud<double> unit(x, y, 1.0);
  RowMatrix<double> C(n, m);
  for (Index i = 0; i < n; ++i) unit.cost_row(i, C.row(i).data());
  const PointCloud<double> geom(x, y, 1.0 / C.maxCoeff());
  SinkhornOptions opt;
  opt.reg = 1e-3;
  opt.tol = 1e-10;
  opt.max_iter = 100;
  opt.storage = KernelStorage::stored;
  const auto r = sinkhorn(geom, Vector<double>(), Vector<double>(), opt);
  ASSERT_TRUE(r.converged()) << to_string(r);
  EXPECT_GT(r.newton_steps, 0);
  const RowMatrix<double> P = dense_plan(geom, r);
  EXPECT_LE((P.rowwise().sum().array() - 1.0 / n).abs().sum(), 1e-9);
  EXPECT_LE((P.colwise().sum().array() - 1.0 / m).abs().sum(), 1e-9);
  // Without Newton the same budget is not enough (the test would be vacuous otherwise).
  SinkhornOptions plain = opt;
  plain.newton = false;
  const auto rp = sinkhorn(geom, Vector<double>(), Vector<double>(), plain);
  EXPECT_FALSE(rp.converged());
  // The CG Newton solver: same plan where it converges, to its lower accuracy.
  SinkhornOptions cg = opt;
  cg.newton_direct_max = 0;
  cg.tol = 1e-6;
  cg.max_iter = 5000;
  const auto rc = sinkhorn(geom, Vector<double>(), Vector<double>(), cg);
  ASSERT_TRUE(rc.converged()) << to_string(rc);
  EXPECT_LE((dense_plan(geom, rc) - P).cwiseAbs().sum(), 1e-5);
  EXPECT_NEAR(rc.cost, r.cost, 1e-6 * r.cost);
}

template <class T>
void compare_to_reference(const std::string& name, double reg_m_a, double reg_m_b,
                          double plan_atol) {
  const auto ref = load_case(name);
  const RowMatrix<T> x = matrix<T>(ref["x"]), y = matrix<T>(ref["y"]);
  const Vector<double> a = vector(ref["a"]), b = vector(ref["b"]);
  const RowMatrix<double> Pref = matrix<double>(ref["plan"]);
  const double scale = ref["scale"].get<double>();
  const PointCloud<T> geom(x, y, scale);
  for (KernelStorage storage : {KernelStorage::online, KernelStorage::stored}) {
    SinkhornOptions opt;
    opt.reg = ref["reg"].get<double>();
    opt.reg_m_a = reg_m_a;
    opt.reg_m_b = reg_m_b;
    // f32 online: the kernel's exponent error (~1e-7 * C / eps) puts a floor near 1e-6 on the
    // marginal error; the stored kernel and f64 converge further.
    opt.tol = is_float<T> ? 3e-6 : 1e-13;
    opt.storage = storage;
    const auto r = sinkhorn(geom, a, b, opt);
    ASSERT_TRUE(r.converged()) << name << ": " << to_string(r);
    const RowMatrix<double> P = dense_plan(geom, r);
    EXPECT_LE((P - Pref).cwiseAbs().maxCoeff(), plan_atol) << name;
    EXPECT_NEAR(r.cost, ref["cost"].get<double>(), is_float<T> ? 1e-5 : 1e-10) << name;
    EXPECT_NEAR(r.row_mass.sum(), Pref.sum(), is_float<T> ? 1e-5 : 1e-10) << name;
    // Dense-cost geometry gives the same answer.
    RowMatrix<T> M(x.rows(), y.rows());
    for (Index i = 0; i < x.rows(); ++i) {
      Eigen::VectorXd c(y.rows());
      geom.cost_row(i, c.data());
      M.row(i) = c.transpose().template cast<T>();
    }
    const auto rd = sinkhorn<T>(a, b, M, opt);
    ASSERT_TRUE(rd.converged()) << name << ": " << to_string(rd);
    EXPECT_LE((dense_plan(DenseCost<T>(M), rd) - Pref).cwiseAbs().maxCoeff(), plan_atol) << name;
  }
}

TYPED_TEST(SinkhornTest, BalancedMatchesPotSinkhornLog) {
  using T = TypeParam;
  const double inf = std::numeric_limits<double>::infinity();
  compare_to_reference<T>("balanced_reg05", inf, inf, is_float<T> ? 2e-6 : 1e-12);
  compare_to_reference<T>("balanced_reg01", inf, inf, is_float<T> ? 2e-5 : 1e-12);
}

TYPED_TEST(SinkhornTest, UnbalancedMatchesPot) {
  using T = TypeParam;
  const auto ref = load_case("unbalanced");
  const double rho = ref["reg_m"].get<double>();
  compare_to_reference<T>("unbalanced", rho, rho, is_float<T> ? 2e-6 : 1e-11);
}

TYPED_TEST(SinkhornTest, SemiRelaxedMatchesReference) {
  using T = TypeParam;
  const auto ref = load_case("semi_relaxed");
  compare_to_reference<T>("semi_relaxed", ref["reg_m"].get<double>(),
                          std::numeric_limits<double>::infinity(), is_float<T> ? 2e-6 : 1e-11);
}

TYPED_TEST(SinkhornTest, CapacityConstraintRespectedAndApproachesLp) {
  using T = TypeParam;
  const auto ref = load_case("capacity_lp");
  const RowMatrix<T> x = matrix<T>(ref["x"]), y = matrix<T>(ref["y"]);
  const Vector<double> b = vector(ref["b"]), cap = vector(ref["cap"]);
  const double N = ref["N"].get<double>();
  const PointCloud<T> geom(x, y, ref["scale"].get<double>());
  const double lp = ref["lp_cost"].get<double>();
  double previous_gap = std::numeric_limits<double>::infinity();
  for (double reg : {0.05, 0.01, 0.002}) {
    SinkhornOptions opt;
    opt.reg = reg;
    opt.tol = is_float<T> ? 1e-6 : 1e-11;
    opt.max_iter = 100000;
    const auto r = capacity_constrained_sinkhorn(geom, Vector<double>(), b, cap, opt);
    ASSERT_TRUE(r.converged()) << to_string(r);
    const Vector<double>& s = r.row_mass;
    EXPECT_NEAR(s.sum(), N, 100 * opt.tol);
    EXPECT_LE(s.maxCoeff(), 1.0 + 100 * opt.tol);
    EXPECT_GE(s.minCoeff(), 0.0);
    EXPECT_LE((r.col_mass - b).cwiseAbs().sum(), 100 * opt.tol);
    // Dual feasibility: f <= 0, and a source below its capacity has f = 0 (complementarity).
    for (Index i = 0; i < s.size(); ++i) {
      EXPECT_LE(r.f[i], 1e-12);
      if (s[i] < 1.0 - 1e-3) {
        EXPECT_NEAR(r.f[i], 0.0, 1e-9);
      }
    }
    // The LP (eps -> 0) is a lower bound; the entropic cost approaches it.
    EXPECT_GE(r.cost, lp - (is_float<T> ? 1e-5 : 1e-10));
    const double gap = r.cost - lp;
    EXPECT_LT(gap, previous_gap);
    previous_gap = gap;
  }
  EXPECT_LT(previous_gap, 0.02 * lp);
  // Brute force over the LP's vertex: the selection mass s also approaches the LP's s.
  SinkhornOptions opt;
  opt.reg = 5e-4;
  opt.tol = is_float<T> ? 1e-6 : 1e-10;
  opt.max_iter = 200000;
  const auto r = capacity_constrained_sinkhorn(geom, Vector<double>(), b, cap, opt);
  ASSERT_TRUE(r.converged()) << to_string(r);
  EXPECT_LE((r.row_mass - vector(ref["lp_s"])).cwiseAbs().maxCoeff(), 0.05);
}

TYPED_TEST(SinkhornTest, SelectsNDistinctPersonasWithUnitCapacity) {
  using T = TypeParam;
  Rng rng(8);
  const Index n = 400, m = 150, N = 100;
  RowMatrix<T> x(n, 5), y(m, 5);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < 5; ++k) x(i, k) = static_cast<T>(rng.normal());
  for (Index j = 0; j < m; ++j)
    for (Index k = 0; k < 5; ++k) y(j, k) = static_cast<T>(rng.normal(0.5, 0.8));
  const Vector<double> b = Vector<double>::Constant(m, static_cast<double>(N) / m);
  const Vector<double> cap = Vector<double>::Ones(n);
  SinkhornOptions opt;
  opt.reg = 0.05;
  opt.tol = 1e-6;
  const auto r =
      capacity_constrained_sinkhorn(PointCloud<T>(x, y, 0.1), Vector<double>(), b, cap, opt);
  ASSERT_TRUE(r.converged()) << to_string(r);
  EXPECT_NEAR(r.row_mass.sum(), static_cast<double>(N), 1e-4);
  EXPECT_LE(r.row_mass.maxCoeff(), 1.0 + 1e-5);
  // Sources near the target distribution are selected more.
  Index saturated = 0;
  for (Index i = 0; i < n; ++i) saturated += r.row_mass[i] > 0.99;
  EXPECT_GT(saturated, 0);
}

TYPED_TEST(SinkhornTest, WarmStartReducesIterations) {
  using T = TypeParam;
  Rng rng(31);
  const Index n = 200, m = 180;
  RowMatrix<T> x(n, 2), y(m, 2);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < 2; ++k) x(i, k) = static_cast<T>(rng.normal());
  for (Index j = 0; j < m; ++j)
    for (Index k = 0; k < 2; ++k) y(j, k) = static_cast<T>(rng.normal(0.3, 1.0));
  const PointCloud<T> geom(x, y, 0.1);
  SinkhornOptions opt;
  opt.reg = 0.01;
  opt.tol = is_float<T> ? 1e-6 : 1e-9;
  opt.eps_scaling = false;
  const auto cold = sinkhorn(geom, Vector<double>(), Vector<double>(), opt);
  ASSERT_TRUE(cold.converged());
  // Slightly different target weights, warm-started from the first solution.
  Vector<double> b(m);
  for (Index j = 0; j < m; ++j) b[j] = (1.0 + 0.05 * std::sin(static_cast<double>(j)));
  b /= b.sum();
  const auto cold2 = sinkhorn(geom, Vector<double>(), b, opt);
  const auto warm2 = sinkhorn(geom, Vector<double>(), b, opt, cold.potentials());
  ASSERT_TRUE(cold2.converged());
  ASSERT_TRUE(warm2.converged());
  // Re-solving the same problem from its own solution takes one iteration.
  const auto again = sinkhorn(geom, Vector<double>(), Vector<double>(), opt, cold.potentials());
  EXPECT_TRUE(again.converged());
  EXPECT_LE(again.iterations, 3);  // f32 stored kernel: rounding of K costs one more
  EXPECT_LT(warm2.iterations, cold2.iterations * 3 / 4)
      << "cold " << to_string(cold2) << "\nwarm " << to_string(warm2) << "\nfirst "
      << to_string(cold);
  EXPECT_NEAR(warm2.objective, cold2.objective, 1e-5 * std::abs(cold2.objective) + 1e-7);
}

TYPED_TEST(SinkhornTest, ThreadCountDoesNotChangeBytes) {
  using T = TypeParam;
  Rng rng(4);
  // Large enough for the kernel and the stored path to run multithreaded.
  RowMatrix<T> x(700, 3), y(520, 3);
  for (Index i = 0; i < 700; ++i)
    for (Index k = 0; k < 3; ++k) x(i, k) = static_cast<T>(rng.normal());
  for (Index j = 0; j < 520; ++j)
    for (Index k = 0; k < 3; ++k) y(j, k) = static_cast<T>(rng.normal());
  for (KernelStorage storage : {KernelStorage::online, KernelStorage::stored}) {
    SinkhornOptions o1, o3;
    o1.reg = o3.reg = 0.5;
    o1.tol = o3.tol = is_float<T> ? 1e-6 : 1e-9;
    o1.storage = o3.storage = storage;
    o1.execution.threads = 1;
    o3.execution.threads = 3;
    const auto r1 = sinkhorn_points<T>(x, y, Vector<double>(), Vector<double>(), 1.0, o1);
    const auto r3 = sinkhorn_points<T>(x, y, Vector<double>(), Vector<double>(), 1.0, o3);
    ASSERT_EQ(r1.iterations, r3.iterations);
    ASSERT_EQ(0, std::memcmp(r1.f.data(), r3.f.data(), sizeof(double) * 700));
    ASSERT_EQ(0, std::memcmp(r1.g.data(), r3.g.data(), sizeof(double) * 520));
    ASSERT_EQ(r1.cost, r3.cost);
  }
}

TYPED_TEST(SinkhornTest, StatusMaxIterationsAndCancellation) {
  using T = TypeParam;
  RowMatrix<T> x = RowMatrix<T>::Random(50, 2), y = RowMatrix<T>::Random(40, 2);
  SinkhornOptions opt;
  opt.reg = 0.001;
  opt.max_iter = 3;
  opt.eps_scaling = false;
  opt.tol = 1e-12;
  const auto r = sinkhorn_points<T>(x, y, Vector<double>(), Vector<double>(), 1.0, opt);
  EXPECT_EQ(r.status, Status::max_iterations);
  EXPECT_EQ(r.iterations, 3);
  EXPECT_EQ(fmt::format("{}", r.status), "max_iterations");
  EXPECT_NE(fmt::format("{}", r).find("max_iterations after 3 iterations"), std::string::npos);
  // Cancellation is an exception (popalign::Cancelled), never a status: from the token, and
  // from a progress callback that returns true, on the online and the stored-kernel path and
  // during eps-scaling; the negative control (a callback that returns false) converges.
  opt.max_iter = 10000;
  opt.tol = 1e-3;
  opt.reg = 0.05;
  for (KernelStorage storage : {KernelStorage::online, KernelStorage::stored}) {
    SCOPED_TRACE(static_cast<int>(storage));
    SinkhornOptions o = opt;
    o.storage = storage;
    o.execution.cancel = CancellationToken{};  // copies share the flag: a fresh one per run
    std::vector<std::string> stages;
    o.execution.progress = [&](std::string_view stage, double) {
      stages.emplace_back(stage);
      return false;
    };
    EXPECT_EQ(sinkhorn_points<T>(x, y, Vector<double>(), Vector<double>(), 1.0, o).status,
              Status::converged);
    EXPECT_FALSE(stages.empty());
    o.tol = 1e-14;  // cannot converge before the first checkpoint
    o.execution.progress = [](std::string_view stage, double) { return stage == "sinkhorn"; };
    EXPECT_THROW(sinkhorn_points<T>(x, y, Vector<double>(), Vector<double>(), 1.0, o), Cancelled);
    o.eps_scaling = true;
    o.execution.progress = [](std::string_view stage, double) {
      return stage == "sinkhorn eps-scaling";
    };
    try {
      sinkhorn_points<T>(x, y, Vector<double>(), Vector<double>(), 1.0, o);
      ADD_FAILURE() << "no Cancelled during eps-scaling";
    } catch (const Cancelled& e) {
      EXPECT_NE(std::string(e.what()).find("sinkhorn eps-scaling"), std::string::npos) << e.what();
    }
    o.execution.progress = nullptr;
    o.execution.cancel.cancel();
    EXPECT_THROW(sinkhorn_points<T>(x, y, Vector<double>(), Vector<double>(), 1.0, o), Cancelled);
  }
}

TYPED_TEST(SinkhornTest, BadArgumentsThrowNamingTheArgument) {
  using T = TypeParam;
  const RowMatrix<T> x = RowMatrix<T>::Random(5, 2), y = RowMatrix<T>::Random(4, 2);
  const Vector<double> a = Vector<double>::Constant(5, 0.2), b = Vector<double>::Constant(4, 0.25);
  auto expect_arg = [](auto&& fn, const std::string& name) {
    try {
      fn();
      ADD_FAILURE() << "no throw for " << name;
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.argument(), name) << e.what();
    }
  };
  SinkhornOptions opt;
  auto run = [&](const Vector<double>& aa, const Vector<double>& bb, const SinkhornOptions& o) {
    return sinkhorn_points<T>(x, y, aa, bb, 1.0, o);
  };
  Vector<double> neg = a;
  neg[1] = -0.1;
  expect_arg([&] { run(neg, b, opt); }, "a");
  Vector<double> nan = b;
  nan[0] = std::nan("");
  expect_arg([&] { run(a, nan, opt); }, "b");
  expect_arg([&] { run(Vector<double>::Constant(4, 0.25), b, opt); }, "a");
  expect_arg([&] { run(a, Vector<double>::Constant(4, 0.3), opt); }, "b");  // mass mismatch
  SinkhornOptions bad = opt;
  bad.reg = 0;
  expect_arg([&] { run(a, b, bad); }, "reg");
  bad = opt;
  bad.reg = -1;
  expect_arg([&] { run(a, b, bad); }, "reg");
  bad = opt;
  bad.eps_scaling_factor = 1.5;
  expect_arg([&] { run(a, b, bad); }, "eps_scaling_factor");
  expect_arg([&] { sinkhorn_points<T>(RowMatrix<T>(0, 2), y, Vector<double>(), b, 1.0, opt); },
             "x");
  expect_arg([&] { sinkhorn_points<T>(x, RowMatrix<T>::Random(4, 3), a, b, 1.0, opt); }, "y");
  expect_arg([&] { sinkhorn_points<T>(x, y, a, b, 0.0, opt); }, "scale");
  RowMatrix<T> M = RowMatrix<T>::Random(5, 4);
  M(2, 2) = std::numeric_limits<T>::quiet_NaN();
  expect_arg([&] { sinkhorn<T>(a, b, M, opt); }, "M");
  expect_arg([&] { sinkhorn<T>(a, b, RowMatrix<T>(0, 0), opt); }, "M");
  const PointCloud<T> geom(x, y);
  expect_arg(
      [&] { capacity_constrained_sinkhorn(geom, a, b, Vector<double>::Constant(5, 0.1), opt); },
      "cap");
  expect_arg(
      [&] { capacity_constrained_sinkhorn(geom, a, b, Vector<double>::Constant(3, 1.0), opt); },
      "cap");
  Potentials warm{Vector<double>::Zero(3), Vector<double>::Zero(4)};
  expect_arg([&] { sinkhorn(geom, a, b, opt, warm); }, "f");
}

// The row-blocked pass over a stored kernel (blocks of up to kRowBlock rows sharing the loads of
// the column weights and the accumulator) is bit-identical to the row-by-row kernels, for every
// block size and row lengths that are not multiples of the SIMD width.
TEST(StoredKernelPass, RowBlocksAreBitIdenticalToRowByRow) {
  Rng rng(12);
  for (Index m : {1, 7, 8, 13, 64, 203}) {
    RowMatrix<float> k(detail::kRowBlock, m);
    Vector<double> w(m), acc0(m), alpha(detail::kRowBlock);
    for (Index i = 0; i < k.size(); ++i) k.data()[i] = static_cast<float>(rng.uniform() * 3);
    for (Index j = 0; j < m; ++j) w[j] = rng.uniform();
    for (Index j = 0; j < m; ++j) acc0[j] = rng.uniform();
    for (Index q = 0; q < alpha.size(); ++q) alpha[q] = q == 2 ? 0.0 : rng.uniform();
    for (Index r = 1; r <= detail::kRowBlock; ++r) {
      double sums[detail::kRowBlock];
      detail::dot_rows(k.data(), r, m, w.data(), sums);
      Vector<double> acc = acc0, ref = acc0;
      detail::axpy_rows(alpha.data(), k.data(), r, m, acc.data());
      for (Index q = 0; q < r; ++q) {
        EXPECT_EQ(sums[q], detail::dot_kernel(k.data() + q * m, w.data(), m)) << m << " " << r;
        if (alpha[q] != 0) detail::axpy_kernel(alpha[q], k.data() + q * m, ref.data(), m);
      }
      EXPECT_EQ(0, std::memcmp(acc.data(), ref.data(), sizeof(double) * static_cast<size_t>(m)))
          << m << " " << r;
    }
  }
}

// The float kernel build: exp((fb + gbar_j - c_j) / eps) rounded to float, 0 below the cutoff;
// the vectorised exp against std::exp (negative control: a wrong entry is detected).
TEST(StoredKernelPass, FloatKernelRowMatchesStdExp) {
  const Index m = 1001;
  Vector<double> c(m), gbar(m);
  for (Index j = 0; j < m; ++j) {
    c[j] = 0.9 * static_cast<double>(j);  // exponents from +5 down to about -900
    gbar[j] = 0.01 * static_cast<double>(j % 7);
  }
  const double fb = 5.0, eps = 1.0, cutoff = -87.0;
  std::vector<float> out(static_cast<size_t>(m));
  detail::kernel_row(c.data(), fb, gbar.data(), eps, cutoff, m, out.data());
  Index mismatches = 0;
  for (Index j = 0; j < m; ++j) {
    const double e = (fb + gbar[j] - c[j]) / eps;
    const float expected = e < cutoff ? 0.0f : static_cast<float>(std::exp(e));
    if (out[static_cast<size_t>(j)] != expected) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0);
  out[3] *= 1.0000001f;
  EXPECT_NE(out[3], static_cast<float>(std::exp((fb + gbar[3] - c[3]) / eps)));
}

// A double geometry with a float stored kernel and float eps-scaling reductions solves the
// double problem: the plan matches POT's (sinkhorn_log, stopThr 1e-14) to the rounding of K,
// closer than the float geometry can (its coordinates are rounded), and the cost through the
// stored kernel matches POT's and the geometry's transport_cost.
TEST(SinkhornFloatKernel, DoubleGeometryMatchesPot) {
  for (const char* name : {"balanced_reg05", "balanced_reg01"}) {
    const auto ref = load_case(name);
    const RowMatrix<double> x = matrix<double>(ref["x"]), y = matrix<double>(ref["y"]);
    const RowMatrix<double> Pref = matrix<double>(ref["plan"]);
    const Vector<double> a = vector(ref["a"]), b = vector(ref["b"]);
    PointCloud<double> geom(x, y, ref["scale"].get<double>());
    geom.float_reductions = true;
    SinkhornOptions opt;
    opt.reg = ref["reg"].get<double>();
    opt.tol = 1e-12;
    opt.storage = KernelStorage::stored;
    opt.kernel_precision = KernelPrecision::f32;
    opt.stored_kernel_cost = true;
    const auto r = sinkhorn(geom, a, b, opt);
    ASSERT_TRUE(r.converged()) << name << ": " << to_string(r);
    EXPECT_TRUE(r.stored_kernel);
    const double err = (dense_plan(geom, r) - Pref).cwiseAbs().maxCoeff();
    // Simulated in float64 (K rounded to float, solved, plan from the exact kernel): 2.2e-8 and
    // 4.2e-8 of the largest entry; the float geometry: 1.6e-7 and 9.2e-7.
    EXPECT_LE(err, 8e-8 * Pref.maxCoeff()) << name;
    EXPECT_NEAR(r.cost, ref["cost"].get<double>(), 1e-8 * ref["cost"].get<double>()) << name;
    SinkhornOptions geometry_cost = opt;
    geometry_cost.stored_kernel_cost = false;
    const auto rg = sinkhorn(geom, a, b, geometry_cost);
    EXPECT_EQ(
        0, std::memcmp(r.f.data(), rg.f.data(), sizeof(double) * static_cast<size_t>(r.f.size())));
    EXPECT_NEAR(r.cost, rg.cost, 1e-8 * rg.cost) << name;
    // Negative control: the float geometry (rounded coordinates) misses the same bound.
    const RowMatrix<float> xf = x.cast<float>(), yf = y.cast<float>();
    const PointCloud<float> geomf(xf, yf, ref["scale"].get<double>());
    SinkhornOptions optf = opt;
    optf.tol = 1e-10;
    const auto rf = sinkhorn(geomf, a, b, optf);
    ASSERT_TRUE(rf.converged()) << name << ": " << to_string(rf);
    EXPECT_GT((dense_plan(geom, rf) - Pref).cwiseAbs().maxCoeff(), 8e-8 * Pref.maxCoeff()) << name;
  }
}

// Over-relaxation that starts earlier (window 5: after 10 iterations instead of 20) reaches the
// same solution; the window is validated.
TEST(SinkhornOverrelaxation, ShorterWindowSameSolution) {
  const auto ref = load_case("balanced_reg01");
  const RowMatrix<double> x = matrix<double>(ref["x"]), y = matrix<double>(ref["y"]);
  const RowMatrix<double> Pref = matrix<double>(ref["plan"]);
  const Vector<double> a = vector(ref["a"]), b = vector(ref["b"]);
  const PointCloud<double> geom(x, y, ref["scale"].get<double>());
  SinkhornOptions opt;
  opt.reg = ref["reg"].get<double>();
  opt.tol = 1e-13;
  opt.overrelaxation_window = 5;
  const auto r = sinkhorn(geom, a, b, opt);
  ASSERT_TRUE(r.converged()) << to_string(r);
  EXPECT_LE((dense_plan(geom, r) - Pref).cwiseAbs().maxCoeff(), 1e-12);
  opt.overrelaxation_window = 1;
  try {
    sinkhorn(geom, a, b, opt);
    ADD_FAILURE() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "overrelaxation_window");
  }
}

}  // namespace
}  // namespace popalign::ot
