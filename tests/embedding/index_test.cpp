#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <popalign/core/random.hpp>
#include <popalign/embedding/index.hpp>

using namespace popalign;
using namespace popalign::embedding;

namespace {

popalign::Execution with_threads(int threads) {
  popalign::Execution e;
  e.threads = threads;
  return e;
}
RowMatrix<float> random_rows(Index n, Index d, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix<float> m(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j) m(i, j) = static_cast<float>(rng.normal());
  return m;
}

// Brute force in double: ids sorted by score desc, then id asc.
std::vector<std::vector<Index>> brute(const RowMatrix<float>& base, const RowMatrix<float>& q,
                                      Index k, Metric metric,
                                      std::vector<std::vector<double>>* scores = nullptr) {
  std::vector<std::vector<Index>> out;
  for (Index i = 0; i < q.rows(); ++i) {
    std::vector<double> s(static_cast<std::size_t>(base.rows()));
    for (Index j = 0; j < base.rows(); ++j) {
      double v = base.row(j).cast<double>().dot(q.row(i).cast<double>());
      if (metric == Metric::cosine) {
        const double nb = base.row(j).cast<double>().norm(), nq = q.row(i).cast<double>().norm();
        v = (nb > 0 && nq > 0) ? v / (nb * nq) : 0.0;
      }
      s[static_cast<std::size_t>(j)] = v;
    }
    std::vector<Index> idx(static_cast<std::size_t>(base.rows()));
    std::iota(idx.begin(), idx.end(), Index{0});
    std::stable_sort(idx.begin(), idx.end(), [&](Index a, Index b) {
      return s[static_cast<std::size_t>(a)] > s[static_cast<std::size_t>(b)];
    });
    idx.resize(static_cast<std::size_t>(std::min(k, base.rows())));
    out.push_back(idx);
    if (scores) scores->push_back(s);
  }
  return out;
}
}  // namespace

class ExactIndexTest : public ::testing::TestWithParam<std::tuple<Metric, Index, int>> {};

TEST_P(ExactIndexTest, MatchesBruteForce) {
  const auto [metric, k, threads] = GetParam();
  // Sizes that are not multiples of the blocks; small blocks force many tasks and merges.
  const RowMatrix<float> base = random_rows(1037, 24, 11);
  const RowMatrix<float> q = random_rows(75, 24, 12);
  const ExactIndex index(base,
                         ExactIndexOptions{.metric = metric, .base_block = 100, .chunk_rows = 300});
  const Neighbors nb = index.search(q, k, with_threads(threads));
  std::vector<std::vector<double>> s;
  const auto ref = brute(base, q, k, metric, &s);
  ASSERT_EQ(nb.queries(), 75);
  ASSERT_EQ(nb.k(), k);
  for (Index i = 0; i < q.rows(); ++i) {
    for (Index j = 0; j < k; ++j) {
      const auto want = ref[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
      // Float vs double may swap near-ties: then the scores must agree closely.
      if (nb.ids(i, j) != want) {
        EXPECT_NEAR(s[static_cast<std::size_t>(i)][static_cast<std::size_t>(nb.ids(i, j))],
                    s[static_cast<std::size_t>(i)][static_cast<std::size_t>(want)], 1e-5);
      }
      EXPECT_NEAR(nb.scores(i, j), s[static_cast<std::size_t>(i)][static_cast<std::size_t>(want)],
                  1e-4);
      if (j > 0) {
        EXPECT_GE(nb.scores(i, j - 1), nb.scores(i, j));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Metrics, ExactIndexTest,
                         ::testing::Values(std::make_tuple(Metric::cosine, Index{1}, 1),
                                           std::make_tuple(Metric::cosine, Index{10}, 2),
                                           std::make_tuple(Metric::dot, Index{7}, 1),
                                           std::make_tuple(Metric::dot, Index{50}, 3)));

TEST(ExactIndex, ResultsDoNotDependOnThreadCount) {
  const RowMatrix<float> base = random_rows(5000, 32, 1);
  const RowMatrix<float> q = random_rows(70, 32, 2);
  const ExactIndex index(base, ExactIndexOptions{.chunk_rows = 1024});
  const Neighbors a = index.search(q, 10, with_threads(1));
  const Neighbors b = index.search(q, 10, with_threads(2));
  const Neighbors c = index.search(q, 10, with_threads(5));
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.scores, b.scores);
  EXPECT_EQ(a.ids, c.ids);
}

TEST(ExactIndex, TiesBreakByLowerIdAndShortIndexPads) {
  RowMatrix<float> base(4, 2);
  base << 1, 0, 0, 1, 1, 0, 2, 0;  // rows 0, 2, 3 have cosine 1 with (1, 0)
  RowMatrix<float> q(1, 2);
  q << 3, 0;
  const ExactIndex index(base, ExactIndexOptions{.base_block = 1, .chunk_rows = 2});
  const Neighbors nb = index.search(q, 6);
  EXPECT_EQ(nb.ids(0, 0), 0);
  EXPECT_EQ(nb.ids(0, 1), 2);
  EXPECT_EQ(nb.ids(0, 2), 3);
  EXPECT_EQ(nb.ids(0, 3), 1);
  EXPECT_EQ(nb.ids(0, 4), -1);
  EXPECT_TRUE(std::isinf(nb.scores(0, 5)));
  const ExactIndex dot(base, ExactIndexOptions{.metric = Metric::dot});
  EXPECT_EQ(dot.search(q, 1).ids(0, 0), 3);  // largest inner product
}

TEST(ExactIndex, RejectsBadInput) {
  const ExactIndex index(random_rows(10, 4, 1));
  EXPECT_THROW(index.search(random_rows(2, 5, 1), 3), InvalidArgument);
  EXPECT_THROW(index.search(random_rows(2, 4, 1), 0), InvalidArgument);
  RowMatrix<float> bad = random_rows(3, 4, 1);
  bad(1, 1) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(ExactIndex{bad}, InvalidArgument);
  EXPECT_THROW(index.search(bad, 1), InvalidArgument);
  EXPECT_THROW(ExactIndex(random_rows(3, 4, 1), ExactIndexOptions{.base_block = 0}),
               InvalidArgument);
  EXPECT_EQ(index.search(RowMatrix<float>(0, 4), 3).queries(), 0);
}

TEST(HnswIndex, RecallAgainstExactIsHigh) {
  // Clustered data, like embeddings: 4000 points around 40 centres in 32-d.
  Rng rng(5);
  const RowMatrix<float> centres = random_rows(40, 32, 6);
  RowMatrix<float> base(4000, 32);
  for (Index i = 0; i < base.rows(); ++i)
    for (Index j = 0; j < 32; ++j)
      base(i, j) = centres(i % 40, j) + 0.5f * static_cast<float>(rng.normal());
  const RowMatrix<float> q = random_rows(200, 32, 7);
  const ExactIndex exact(base);
  const HnswIndex approx(base, HnswOptions{.m = 16, .ef_construction = 100, .ef_search = 100});
  const Neighbors e = exact.search(q, 10, with_threads(2));
  const Neighbors a = approx.search(q, 10, with_threads(2));
  const double recall = recall_at_k(a, e, 10);
  EXPECT_GT(recall, 0.95) << "recall@10 = " << recall;
  EXPECT_LE(recall, 1.0);
  // Scores are cosines, best first.
  for (Index j = 1; j < 10; ++j) EXPECT_GE(a.scores(0, j - 1), a.scores(0, j));
  // A tiny candidate list loses recall: the measure can fail.
  HnswIndex weak(base, HnswOptions{.m = 2, .ef_construction = 2, .ef_search = 1});
  const double weak_recall = recall_at_k(weak.search(q, 10), e, 10);
  EXPECT_LT(weak_recall, recall);
  // Same options, same graph, same answers.
  const HnswIndex again(base, HnswOptions{.m = 16, .ef_construction = 100, .ef_search = 100});
  EXPECT_EQ(again.search(q, 10).ids, a.ids);
  EXPECT_EQ(approx.size(), 4000);
  EXPECT_EQ(approx.dimension(), 32);
  EXPECT_THROW(approx.search(random_rows(1, 3, 1), 1), InvalidArgument);
}

TEST(HnswIndex, RecallOfExactAgainstItselfIsOne) {
  const RowMatrix<float> base = random_rows(300, 8, 1);
  const ExactIndex exact(base);
  const Neighbors e = exact.search(random_rows(20, 8, 2), 5);
  EXPECT_DOUBLE_EQ(recall_at_k(e, e, 5), 1.0);
  EXPECT_THROW(recall_at_k(e, e, 6), InvalidArgument);
}
