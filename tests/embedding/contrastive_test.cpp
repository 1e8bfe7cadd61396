#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <popalign/core/random.hpp>
#include <popalign/embedding/contrastive.hpp>

using namespace popalign;
using namespace popalign::embedding;

namespace {
// Pairs whose query and positive share a hidden "topic" direction, hidden under noise in
// other coordinates: a linear head can learn to amplify the topic coordinates.
void synthetic_pairs(Index n, Index d, std::uint64_t seed, RowMatrix<float>& q,
                     RowMatrix<float>& p) {
  Rng rng(seed);
  q.resize(n, d);
  p.resize(n, d);
  for (Index i = 0; i < n; ++i) {
    for (Index j = 0; j < d; ++j) {
      const bool topic = j < d / 4;
      const float shared = static_cast<float>(rng.normal());
      q(i, j) = topic ? 0.4f * shared + 0.1f * static_cast<float>(rng.normal())
                      : static_cast<float>(rng.normal());
      p(i, j) = topic ? 0.4f * shared + 0.1f * static_cast<float>(rng.normal())
                      : static_cast<float>(rng.normal());
    }
  }
}
}  // namespace

TEST(Contrastive, LossDecreasesAndHeadImprovesRetrieval) {
  RowMatrix<float> q, p;
  synthetic_pairs(512, 16, 3, q, p);
  for (auto kind : {HeadKind::linear, HeadKind::mlp}) {
    ContrastiveOptions o{.kind = kind,
                         .epochs = 6,
                         .batch_size = 32,
                         .learning_rate = 1e-2,
                         .temperature = 0.1,
                         .hard_negatives = 2,
                         .seed = 9};
    const ContrastiveResult r = train_projection_head(q, p, o);
    ASSERT_EQ(r.epoch_loss.size(), 6u);
    EXPECT_LT(r.epoch_loss.back(), 0.8 * r.epoch_loss.front())
        << r.epoch_loss.front() << " -> " << r.epoch_loss.back();
    EXPECT_EQ(r.status, "ok");
    EXPECT_GT(r.mined, 0);
    // Own-positive cosine rank improves: mean cos(q_i, p_i) - mean cos(q_i, p_j).
    auto margin = [&](const ProjectionHead& h) {
      const RowMatrix<float> zq = h.forward(q), zp = h.forward(p);
      const Eigen::MatrixXf s = zq * zp.transpose();
      return (s.diagonal().mean() - s.mean());
    };
    EXPECT_GT(margin(r.head), margin(ProjectionHead::identity(16)) + 0.05f);
  }
}

TEST(Contrastive, SameSeedSameHead) {
  RowMatrix<float> q, p;
  synthetic_pairs(200, 8, 4, q, p);
  ContrastiveOptions o{.epochs = 2, .batch_size = 16, .seed = 1};
  o.execution.threads = 1;
  const auto a = train_projection_head(q, p, o);
  const auto b = train_projection_head(q, p, o);
  EXPECT_EQ(a.head.w(), b.head.w());
  EXPECT_EQ(a.epoch_loss, b.epoch_loss);
  o.seed = 2;
  const auto c = train_projection_head(q, p, o);
  EXPECT_NE(a.head.w(), c.head.w());
}

TEST(Contrastive, FilterDropsPlantedFalseNegatives) {
  // Row 1's positive is a near copy of row 0's positive: for query 0 it is the hardest
  // "negative" and a false one. The filter must skip it; without the filter it is mined first.
  RowMatrix<float> q, p;
  synthetic_pairs(50, 8, 5, q, p);
  p.row(1) = p.row(0) + 0.01f * RowMatrix<float>::Ones(1, 8);
  q.row(0) = p.row(0);  // query 0 says the same as its positive
  RowMatrix<float> zq = q, zp = p;
  for (Index i = 0; i < zq.rows(); ++i) {
    zq.row(i).normalize();
    zp.row(i).normalize();
  }
  Index dropped = 0;
  const auto unfiltered = mine_hard_negatives(zq, zp, 3, 10, false, 0.9, &dropped);
  EXPECT_EQ(dropped, 0);
  ASSERT_FALSE(unfiltered[0].empty());
  EXPECT_EQ(unfiltered[0][0], 1);
  const auto filtered = mine_hard_negatives(zq, zp, 3, 10, true, 0.9, &dropped);
  EXPECT_GE(dropped, 2);  // row 1 for query 0 and row 0 for query 1
  EXPECT_EQ(std::count(filtered[0].begin(), filtered[0].end(), Index{1}), 0);
  EXPECT_EQ(std::count(filtered[1].begin(), filtered[1].end(), Index{0}), 0);
  EXPECT_EQ(filtered[0].size(), 3u);  // next-best candidates take the place
  for (const auto& row : filtered)
    for (Index c : row) EXPECT_GE(c, 0);
  // Own positive is never a negative.
  for (std::size_t i = 0; i < filtered.size(); ++i)
    EXPECT_EQ(std::count(unfiltered[i].begin(), unfiltered[i].end(), static_cast<Index>(i)), 0);
  // And training with duplicates counts the in-batch drops.
  ContrastiveOptions o{.epochs = 1, .batch_size = 50, .filter_threshold = 0.9};
  const auto r = train_projection_head(q, p, o);
  EXPECT_GE(r.dropped_in_batch, 2);
  o.filter_negatives = false;
  EXPECT_EQ(train_projection_head(q, p, o).dropped_in_batch, 0);
}

TEST(Contrastive, OptionsAndShapesAreValidated) {
  RowMatrix<float> q, p;
  synthetic_pairs(10, 4, 1, q, p);
  EXPECT_THROW(train_projection_head(q, p, ContrastiveOptions{.temperature = 0}), InvalidArgument);
  EXPECT_THROW(train_projection_head(q, p, ContrastiveOptions{.batch_size = 1}), InvalidArgument);
  EXPECT_THROW(train_projection_head(q, p, ContrastiveOptions{.hard_negatives = 40}),
               InvalidArgument);
  EXPECT_THROW(train_projection_head(q, p.topRows(5), ContrastiveOptions{}), InvalidArgument);
  try {
    ContrastiveOptions{.epochs = 0}.validate();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "epochs");
  }
  // Cancellation returns what was trained so far, with a status.
  ContrastiveOptions o{.epochs = 3};
  o.execution.cancel.cancel();
  EXPECT_EQ(train_projection_head(q, p, o).status, "cancelled");
}

TEST(Contrastive, DecayTowardIdentityKeepsTheHeadNearTheBase) {
  RowMatrix<float> q, p;
  synthetic_pairs(128, 8, 5, q, p);
  ContrastiveOptions o;
  o.epochs = 2;
  o.batch_size = 32;
  o.learning_rate = 1e-2;
  o.hard_negatives = 0;
  o.weight_decay = 1.0 / o.learning_rate;  // (1 - lr wd) = 0: full decay at every step
  o.execution.threads = 1;
  o.decay_to_identity = true;
  const auto to_identity = train_projection_head(q, p, o);
  o.decay_to_identity = false;
  const auto to_zero = train_projection_head(q, p, o);
  const RowMatrix<float> eye = RowMatrix<float>::Identity(8, 8);
  // After a full decay only the last Adam step (|step| <~ a few lr) separates W from its target.
  EXPECT_LT((to_identity.head.w() - eye).cwiseAbs().maxCoeff(), 5 * o.learning_rate);
  EXPECT_LT(to_zero.head.w().cwiseAbs().maxCoeff(), 5 * o.learning_rate);
  // The default (weak) decay toward the identity still trains: the head moves away from I.
  o.weight_decay = 1e-4;
  o.decay_to_identity = true;
  const auto trained = train_projection_head(q, p, o);
  EXPECT_GT((trained.head.w() - eye).cwiseAbs().maxCoeff(), 1e-3f);
  o.decay_to_identity = false;
  const auto plain = train_projection_head(q, p, o);
  EXPECT_FALSE(trained.head.w() == plain.head.w());  // the option changes the update
}

TEST(Contrastive, SymmetricLossMatchesTheFormulaAndTrains) {
  // One batch holding every pair, no hard negatives, no filter: the first epoch's loss is the
  // loss of the identity head, (mean_i L_i + mean_j L'_j) / 2 with
  // L_i = -s_ii / tau + log sum_j exp(s_ij / tau) and L'_j = -s_jj / tau + log sum_i exp(s_ij /
  // tau).
  RowMatrix<float> q, p;
  synthetic_pairs(24, 8, 6, q, p);
  const double tau = 0.1;
  ContrastiveOptions o{.epochs = 1,
                       .batch_size = 24,
                       .temperature = tau,
                       .symmetric = true,
                       .hard_negatives = 0,
                       .filter_negatives = false,
                       .seed = 2};
  const ContrastiveResult r = train_projection_head(q, p, o);
  ASSERT_EQ(r.epoch_loss.size(), 1u);
  RowMatrix<double> zq = q.cast<double>(), zp = p.cast<double>();
  zq.rowwise().normalize();
  zp.rowwise().normalize();
  const Eigen::MatrixXd s = zq * zp.transpose();
  double rows = 0, cols = 0;
  for (Index i = 0; i < 24; ++i) {
    rows += -s(i, i) / tau + std::log((s.row(i).array() / tau).exp().sum());
    cols += -s(i, i) / tau + std::log((s.col(i).array() / tau).exp().sum());
  }
  EXPECT_NEAR(r.epoch_loss[0], 0.5 * (rows + cols) / 24.0, 1e-4);
  o.symmetric = false;
  EXPECT_NEAR(train_projection_head(q, p, o).epoch_loss[0], rows / 24.0, 1e-4);

  // And it learns: the own-positive margin grows, in both directions.
  RowMatrix<float> q2, p2;
  synthetic_pairs(512, 16, 3, q2, p2);
  const ContrastiveResult t = train_projection_head(q2, p2,
                                                    ContrastiveOptions{.epochs = 6,
                                                                       .batch_size = 32,
                                                                       .learning_rate = 1e-2,
                                                                       .temperature = 0.1,
                                                                       .symmetric = true,
                                                                       .hard_negatives = 2,
                                                                       .seed = 9});
  EXPECT_LT(t.epoch_loss.back(), 0.8 * t.epoch_loss.front());
  const RowMatrix<float> zq2 = t.head.forward(q2), zp2 = t.head.forward(p2);
  const Eigen::MatrixXf s2 = zq2 * zp2.transpose();
  RowMatrix<float> bq = q2, bp = p2;
  bq.rowwise().normalize();
  bp.rowwise().normalize();
  const Eigen::MatrixXf s0 = bq * bp.transpose();
  EXPECT_GT(s2.diagonal().mean() - s2.mean(), s0.diagonal().mean() - s0.mean() + 0.05f);
}
