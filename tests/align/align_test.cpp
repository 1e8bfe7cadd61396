// Tests of include/popalign/align/align.hpp: the Resample pipeline on synthetic data.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <popalign/align/align.hpp>

namespace popalign::align {
namespace {

/// Rows of a d-dimensional Gaussian with the given mean and sd.
template <class T>
RowMatrix<T> gaussian(Index n, Index d, double mean, double sd, Rng& rng) {
  RowMatrix<T> x(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < d; ++k) x(i, k) = static_cast<T>(rng.normal(mean, sd));
  return x;
}

/// Pool = 600 rows of the target component N(0, 1) + 400 rows of a far component N(3, 0.5);
/// reference = 1500 rows of N(0, 1). Rows of the target component are the first 600.
template <class T>
struct Mixture {
  RowMatrix<T> pool, reference;
  static constexpr Index kTarget = 600;
  Mixture() {
    Rng rng(42);
    const Index d = 3;
    RowMatrix<T> a = gaussian<T>(kTarget, d, 0.0, 1.0, rng);
    RowMatrix<T> b = gaussian<T>(400, d, 3.0, 0.5, rng);
    pool.resize(a.rows() + b.rows(), d);
    pool << a, b;
    reference = gaussian<T>(1500, d, 0.0, 1.0, rng);
  }
};

template <class T>
class AlignTyped : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(AlignTyped, Scalars);

TYPED_TEST(AlignTyped, RecoversTheTargetComponentOfAMixture) {
  using T = TypeParam;
  Mixture<T> m;
  for (Method method : {Method::resample, Method::ot, Method::importance}) {
    AlignOptions o;
    o.n = 200;
    o.method = method;
    o.seed = 7;
    o.execution.threads = 2;
    const AlignResult r = align<T>(m.pool, m.reference, o);
    ASSERT_EQ(r.indices.size(), 200u) << to_string(method);
    Index from_target = 0;
    for (Index i : r.indices) from_target += i < Mixture<T>::kTarget ? 1 : 0;
    // The far component is ~5 sd away in 3-d: essentially nothing of it may be selected.
    EXPECT_GE(from_target, 196) << to_string(method);
    const auto& dg = r.diagnostics;
    EXPECT_LT(dg.after.mean_w1, 0.35 * dg.before.mean_w1) << to_string(method);
    EXPECT_LT(dg.after.sliced_wasserstein, dg.before.sliced_wasserstein) << to_string(method);
  }
}

TYPED_TEST(AlignTyped, EveryMethodReturnsNDistinctIds) {
  using T = TypeParam;
  Mixture<T> m;
  for (Method method : {Method::resample, Method::importance, Method::ot, Method::random}) {
    AlignOptions o;
    o.n = 250;
    o.method = method;
    o.seed = 3;
    const AlignResult r = align<T>(m.pool, m.reference, o);
    ASSERT_EQ(r.indices.size(), 250u) << to_string(method);
    const std::set<Index> uniq(r.indices.begin(), r.indices.end());
    EXPECT_EQ(uniq.size(), 250u) << to_string(method);
    EXPECT_TRUE(std::is_sorted(r.indices.begin(), r.indices.end()));
    for (Index c : r.counts) EXPECT_EQ(c, 1);
    EXPECT_NEAR(r.weights.sum(), 1.0, 1e-12);
    EXPECT_EQ(r.diagnostics.selected, 250);
    // Inclusion probabilities of the rounding sum to N.
    EXPECT_NEAR(r.inclusion.sum(), 250.0, 1e-6) << to_string(method);
  }
}

TYPED_TEST(AlignTyped, SameSeedSameSelectionAnyThreadCount) {
  using T = TypeParam;
  Mixture<T> m;
  AlignOptions o;
  o.n = 150;
  o.seed = 11;
  o.execution.threads = 1;
  const AlignResult a = align<T>(m.pool, m.reference, o);
  o.execution.threads = 2;
  const AlignResult b = align<T>(m.pool, m.reference, o);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.weights, b.weights);
  o.seed = 12;
  const AlignResult c = align<T>(m.pool, m.reference, o);
  EXPECT_NE(a.indices, c.indices);
}

TEST(Align, DiagnosticsAreFilled) {
  Mixture<double> m;
  AlignOptions o;
  o.n = 200;
  o.seed = 5;
  const AlignResult r = align<double>(m.pool, m.reference, o);
  const Diagnostics& dg = r.diagnostics;
  EXPECT_EQ(dg.method, Method::resample);
  EXPECT_EQ(dg.pool_size, 1000);
  EXPECT_EQ(dg.reference_size, 1500);
  EXPECT_EQ(dg.dimension, 3);
  EXPECT_TRUE(dg.has_weights);
  EXPECT_GT(dg.ess, 1.0);
  EXPECT_LE(dg.ess, 1000.0);
  EXPECT_GT(dg.raw_ess, 1.0);
  EXPECT_TRUE(std::isfinite(dg.uncovered_reference));
  EXPECT_TRUE(dg.has_transport);
  EXPECT_EQ(dg.ot_status, ot::Status::converged);
  EXPECT_GT(dg.ot_iterations, 0);
  EXPECT_GT(dg.eps, 0.0);
  EXPECT_EQ(dg.candidates, 1000);  // candidate_factor 6 * N > pool: the whole pool
  ASSERT_EQ(dg.before.w1.size(), 3);
  ASSERT_EQ(dg.after.w1.size(), 3);
  ASSERT_EQ(dg.before.mean_gap.size(), 3);
  ASSERT_EQ(dg.after.sd_gap.size(), 3);
  // The far component pulls the pool mean up by ~1.2 in every trait.
  for (Index k = 0; k < 3; ++k) {
    EXPECT_GT(dg.before.mean_gap[k], 0.8);
    EXPECT_LT(std::abs(dg.after.mean_gap[k]), 0.2);
  }
  EXPECT_TRUE(std::isfinite(dg.before.correlation.normalized));
  EXPECT_TRUE(std::isfinite(dg.after.sliced_wasserstein));
  std::set<std::string> stages;
  for (const auto& s : dg.stages) {
    stages.insert(s.name);
    EXPECT_GE(s.seconds, 0.0);
  }
  for (const char* s :
       {"standardise", "density ratio", "candidates", "transport", "rounding", "metrics"})
    EXPECT_TRUE(stages.count(s)) << s;
  EXPECT_EQ(r.importance_weights.size(), 1000);
  // The importance weights favour the target component.
  EXPECT_GT(r.importance_weights.head(600).sum(), 0.95);
  const std::string s = dg.summary({"a", "b", "c"});
  EXPECT_NE(s.find("ESS"), std::string::npos);
  EXPECT_NE(s.find("converged"), std::string::npos);
}

TEST(Align, BriefAndFormatterGiveOneLine) {
  Mixture<double> m;
  AlignOptions o;
  o.n = 200;
  o.seed = 5;
  const AlignResult r = align<double>(m.pool, m.reference, o);
  const std::string b = r.brief();
  EXPECT_EQ(b.find('\n'), std::string::npos) << b;
  EXPECT_EQ(b, r.diagnostics.brief());
  EXPECT_EQ(fmt::format("{}", r), b);
  EXPECT_EQ(fmt::format("{}", r.diagnostics), b);
  EXPECT_NE(b.find("resample (distinct), seed 5: 200 of 1000 personas, reference 1500, d = 3"),
            std::string::npos)
      << b;
  EXPECT_NE(b.find("transport converged after"), std::string::npos) << b;
  EXPECT_NE(b.find(fmt::format("mean W1 {:.4f} -> {:.4f}", r.diagnostics.before.mean_w1,
                               r.diagnostics.after.mean_w1)),
            std::string::npos)
      << b;
  EXPECT_TRUE(r.converged());
  // The comparison is the metrics layer's record: its per-trait W1 and mean agree with
  // metrics::compare on the same selection (sliced W2 differs: align's is on standardised traits).
  RowMatrix<double> sel(static_cast<Index>(r.indices.size()), 3);
  for (std::size_t i = 0; i < r.indices.size(); ++i)
    sel.row(static_cast<Index>(i)) = m.pool.row(r.indices[i]);
  const metrics::Comparison c = metrics::compare<double>(sel, m.reference);
  for (Index k = 0; k < 3; ++k) EXPECT_NEAR(r.diagnostics.after.w1[k], c.w1[k], 1e-12);
  EXPECT_NEAR(r.diagnostics.after.mean_w1, c.mean_w1, 1e-12);
  EXPECT_NEAR(r.diagnostics.after.correlation.frobenius, c.correlation.frobenius, 1e-12);
  // Without transport: no transport part, converged() is true.
  o.method = Method::random;
  const AlignResult rr = align<double>(m.pool, m.reference, o);
  EXPECT_EQ(rr.brief().find("transport"), std::string::npos) << rr.brief();
  EXPECT_TRUE(rr.converged());
}

TEST(Align, NonConvergenceIsAStatusAndCancellationThrows) {
  Mixture<double> m;
  AlignOptions o;
  o.n = 200;
  o.seed = 5;
  o.max_iter = 1;
  o.ot_tolerance = 1e-12;
  for (Method method : {Method::resample, Method::ot}) {
    o.method = method;
    const AlignResult r = align<double>(m.pool, m.reference, o);  // no exception
    EXPECT_FALSE(r.converged()) << to_string(method);
    EXPECT_EQ(r.diagnostics.ot_status, ot::Status::max_iterations);
    EXPECT_EQ(r.indices.size(), 200u);
    bool warned = false;
    for (const auto& w : r.diagnostics.warnings)
      warned = warned || w.find("the transport stopped after 1 iterations") != std::string::npos;
    EXPECT_TRUE(warned);
    EXPECT_NE(r.brief().find("transport max_iterations after 1 iterations"), std::string::npos)
        << r.brief();
  }
  // The same rule as ot::sinkhorn: a progress callback returning true at any stage, or a
  // cancelled token, throws Cancelled naming the stage; a callback returning false does not.
  o = AlignOptions{};
  o.n = 200;
  std::vector<std::string> seen;
  o.execution.progress = [&](std::string_view stage, double) {
    seen.emplace_back(stage);
    return false;
  };
  EXPECT_NO_THROW(align<double>(m.pool, m.reference, o));
  for (const char* stage : {"standardise", "density ratio", "transport", "sinkhorn", "metrics"}) {
    EXPECT_NE(std::find(seen.begin(), seen.end(), stage), seen.end()) << stage;
    o.execution.progress = [stage](std::string_view s, double) { return s == stage; };
    try {
      align<double>(m.pool, m.reference, o);
      ADD_FAILURE() << "no Cancelled at " << stage;
    } catch (const Cancelled& e) {
      EXPECT_NE(std::string(e.what()).find(stage), std::string::npos) << e.what();
    }
  }
  o.execution.progress = nullptr;
  o.execution.cancel.cancel();
  EXPECT_THROW(align<double>(m.pool, m.reference, o), Cancelled);
}

TEST(Align, WarnsWhenThePoolCannotCoverTheReference) {
  Rng rng(9);
  // Pool entirely 4 sd away from the reference.
  const RowMatrix<double> pool = gaussian<double>(500, 2, 4.0, 0.5, rng);
  const RowMatrix<double> ref = gaussian<double>(800, 2, 0.0, 1.0, rng);
  AlignOptions o;
  o.n = 100;
  const AlignResult r = align<double>(pool, ref, o);
  ASSERT_FALSE(r.diagnostics.warnings.empty());
  bool cover = false;
  for (const auto& w : r.diagnostics.warnings)
    cover = cover || w.find("cannot cover") != std::string::npos;
  EXPECT_TRUE(cover);
  EXPECT_GT(r.diagnostics.uncovered_reference, 0.5);

  // A pool drawn from the reference itself raises no coverage warning.
  const RowMatrix<double> good = gaussian<double>(1000, 2, 0.0, 1.0, rng);
  const AlignResult g = align<double>(good, ref, o);
  for (const auto& w : g.diagnostics.warnings)
    EXPECT_EQ(w.find("cannot cover"), std::string::npos) << w;
  EXPECT_LT(g.diagnostics.uncovered_reference, 0.05);
}

TEST(Align, MultisetCountsSumToN) {
  Mixture<double> m;
  for (Method method : {Method::resample, Method::importance, Method::ot, Method::random}) {
    AlignOptions o;
    o.n = 1500;  // more than the pool: only possible with replacement
    o.method = method;
    o.output = Output::multiset;
    const AlignResult r = align<double>(m.pool, m.reference, o);
    Index total = 0;
    for (Index c : r.counts) {
      EXPECT_GE(c, 1);
      total += c;
    }
    EXPECT_EQ(total, 1500) << to_string(method);
    EXPECT_EQ(r.indices.size(), r.counts.size());
    EXPECT_NEAR(r.weights.sum(), 1.0, 1e-12);
  }
}

TEST(Align, WeightsOnlyCoversThePool) {
  Mixture<double> m;
  AlignOptions o;
  o.n = 200;
  o.output = Output::weights;
  o.method = Method::importance;
  const AlignResult r = align<double>(m.pool, m.reference, o);
  EXPECT_TRUE(r.counts.empty());
  EXPECT_NEAR(r.weights.sum(), 1.0, 1e-12);
  EXPECT_GT(r.weights.head(600).sum(), 0.95);
  o.method = Method::resample;
  const AlignResult t = align<double>(m.pool, m.reference, o);
  EXPECT_NEAR(t.weights.sum(), 1.0, 1e-9);
  EXPECT_GT(t.weights.head(600).sum(), 0.95);
}

TEST(Align, RejectsBadInput) {
  Mixture<double> m;
  AlignOptions o;
  o.n = 1001;
  try {
    (void)align<double>(m.pool, m.reference, o);
    FAIL() << "N > pool accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "n");
    EXPECT_NE(std::string(e.what()).find("1000"), std::string::npos);
  }
  o.n = 0;
  EXPECT_THROW((void)align<double>(m.pool, m.reference, o), InvalidArgument);
  o.n = 10;
  RowMatrix<double> bad = m.pool;
  bad(3, 1) = std::numeric_limits<double>::quiet_NaN();
  try {
    (void)align<double>(bad, m.reference, o);
    FAIL() << "NaN accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "pool");
  }
  RowMatrix<double> constant = m.reference;
  constant.col(2).setConstant(1.0);
  EXPECT_THROW((void)align<double>(m.pool, constant, o), InvalidArgument);
  const RowMatrix<double> wrong_d = m.reference.leftCols(2);
  EXPECT_THROW((void)align<double>(m.pool, wrong_d, o), InvalidArgument);
  o.reg = -1;
  try {
    o.validate();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "reg");
  }
}

TEST(Align, ParsesMethodNames) {
  EXPECT_EQ(parse_method("resample"), Method::resample);
  EXPECT_EQ(parse_method("is"), Method::importance);
  EXPECT_EQ(parse_method("ot"), Method::ot);
  EXPECT_EQ(parse_method("random"), Method::random);
  EXPECT_FALSE(parse_method("nearest").has_value());
  EXPECT_EQ(to_string(Method::importance), "is");
}

}  // namespace
}  // namespace popalign::align
