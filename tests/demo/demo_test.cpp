// Tests of include/popalign/demo/demo.hpp: bias profiles, the BIG5 split and a quick demo run.
#include <gtest/gtest.h>

#include <set>

#include <popalign/demo/demo.hpp>

namespace popalign::demo {
namespace {

using align::Method;

TEST(Demo, BiasWeightsTiltAndSqueeze) {
  // Under w(z), N(0,1) becomes N(mu, s^2): check on a fine 1-D grid via the 5-d formula.
  const BiasSpec spec = bias_spec(BiasProfile::llm);
  RowMatrix<double> z = RowMatrix<double>::Zero(2001, 5);
  for (Index i = 0; i < z.rows(); ++i) z(i, 2) = -8.0 + 16.0 * static_cast<double>(i) / 2000.0;
  const Vector<double> lw = bias_log_weights(z, spec);
  double s0 = 0, s1 = 0, s2 = 0;
  for (Index i = 0; i < z.rows(); ++i) {
    const double p = std::exp(lw[i] - 0.5 * z(i, 2) * z(i, 2));
    s0 += p;
    s1 += p * z(i, 2);
    s2 += p * z(i, 2) * z(i, 2);
  }
  const double mean = s1 / s0, var = s2 / s0 - mean * mean;
  EXPECT_NEAR(mean, spec.mean[2], 1e-6);
  EXPECT_NEAR(std::sqrt(var), spec.sd[2], 1e-6);
  EXPECT_EQ(parse_bias_profile("squeezed"), BiasProfile::squeezed);
  EXPECT_FALSE(parse_bias_profile("flat").has_value());
  EXPECT_EQ(all_bias_profiles().size(), 4u);
}

TEST(Demo, SplitIsDisjointAndDeterministic) {
  const Big5Split a = load_big5_split(POPALIGN_DATA_DIR, 3);
  const Big5Split b = load_big5_split(POPALIGN_DATA_DIR, 3);
  EXPECT_EQ(a.traits, (std::vector<std::string>{"E", "N", "A", "C", "O"}));
  // 19,719 rows minus the one with a missed item: half, a quarter, a quarter.
  EXPECT_EQ(a.source.rows() + a.reference.rows() + a.test.rows(), 19718);
  EXPECT_EQ(a.source.rows(), 9859);
  EXPECT_EQ(a.reference.rows(), 4929);
  EXPECT_TRUE(a.source == b.source);
  EXPECT_TRUE(a.test == b.test);
  // Scale means from the data README: E 3.01, N 3.10, A 3.84, C 3.35, O 3.91.
  const Eigen::RowVectorXd mu = a.reference.colwise().mean();
  EXPECT_NEAR(mu[0], 3.01, 0.05);
  EXPECT_NEAR(mu[2], 3.84, 0.05);
  EXPECT_NEAR(mu[4], 3.91, 0.05);
  const std::vector<Index> pool =
      draw_biased_pool(a.source, a.reference, BiasProfile::llm, 1000, 3);
  EXPECT_EQ(std::set<Index>(pool.begin(), pool.end()).size(), 1000u);
  // The llm pool is more agreeable and calmer than the reference.
  RowMatrix<double> p(1000, 5);
  for (Index i = 0; i < 1000; ++i) p.row(i) = a.source.row(pool[static_cast<std::size_t>(i)]);
  EXPECT_GT(p.col(2).mean(), mu[2] + 0.1);
  EXPECT_LT(p.col(1).mean(), mu[1] - 0.1);
}

TEST(Demo, QuickRunImprovesOverThePool) {
  DemoOptions o;
  o.data_dir = POPALIGN_DATA_DIR;
  o.seed = 2;
  o.max_part_size = 1500;
  o.pool_size = 600;
  o.n = 150;
  o.methods = {Method::random, Method::resample};
  const DemoResult r = run_demo(o);
  EXPECT_EQ(r.pool.rows(), 600);
  EXPECT_EQ(r.reference.rows(), 1500);
  ASSERT_EQ(r.methods.size(), 2u);
  EXPECT_EQ(r.methods[1].result.indices.size(), 150u);
  EXPECT_GT(r.reduction(Method::resample), 0.3);
  EXPECT_GT(r.reduction(Method::resample), r.reduction(Method::random) + 0.2);
  const std::string t = r.table();
  EXPECT_NE(t.find("resample"), std::string::npos);
  EXPECT_NE(t.find("W1 A"), std::string::npos);
}

}  // namespace
}  // namespace popalign::demo
