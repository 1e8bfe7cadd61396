#include <gtest/gtest.h>

#include <atomic>
#include <popalign/embedding/embedder.hpp>

using namespace popalign;
using namespace popalign::embedding;

namespace {
// A minimal EmbedderLike type: counts calls and texts; embedding = (length, first char, 1).
struct CountingBag {
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<std::atomic<int>> texts_seen = std::make_shared<std::atomic<int>>(0);
  RowMatrix<float> embed(const std::vector<std::string>& t) const {
    ++*calls;
    *texts_seen += static_cast<int>(t.size());
    RowMatrix<float> m(static_cast<Index>(t.size()), 3);
    for (std::size_t i = 0; i < t.size(); ++i)
      m.row(static_cast<Index>(i)) << static_cast<float>(t[i].size()),
          t[i].empty() ? 0.0f : static_cast<float>(t[i][0]), 1.0f;
    return m;
  }
  Index dimension() const { return 3; }
  bool normalized() const { return false; }
};
struct WrongShape {
  RowMatrix<float> embed(const std::vector<std::string>&) const { return RowMatrix<float>(1, 2); }
  Index dimension() const { return 3; }
  bool normalized() const { return true; }
};
static_assert(EmbedderLike<CountingBag>);
static_assert(!EmbedderLike<int>);
}  // namespace

TEST(Embedder, AdapterForwardsAndChecksShape) {
  CountingBag bag;
  auto e = make_embedder(bag, "bag");
  EXPECT_EQ(e->dimension(), 3);
  EXPECT_FALSE(e->normalized());
  EXPECT_EQ(e->name(), "bag");
  const RowMatrix<float> m = e->embed({"ab", "xyz"});
  ASSERT_EQ(m.rows(), 2);
  EXPECT_FLOAT_EQ(m(1, 0), 3.0f);
  EXPECT_FLOAT_EQ(m(0, 1), static_cast<float>('a'));
  const Vector<float> one = e->embed_one("q");
  EXPECT_FLOAT_EQ(one[0], 1.0f);
  auto bad = make_embedder(WrongShape{}, "wrong");
  EXPECT_THROW(bad->embed({"a", "b"}), BackendError);
}

TEST(Embedder, CachingEmbedsEachNewTextOnceInOneBatch) {
  CountingBag bag;
  auto inner = make_embedder(bag);
  CachingEmbedder cache(inner);
  const RowMatrix<float> a = cache.embed({"one", "two", "one"});
  EXPECT_EQ(*bag.calls, 1);
  EXPECT_EQ(*bag.texts_seen, 2);  // duplicate embedded once
  EXPECT_EQ(cache.misses(), 3u);
  const RowMatrix<float> b = cache.embed({"two", "three", "one"});
  EXPECT_EQ(*bag.calls, 2);
  EXPECT_EQ(*bag.texts_seen, 3);  // only "three" was new
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(b.row(0), a.row(1));
  EXPECT_EQ(b.row(2), a.row(0));
  (void)cache.embed({"one", "two"});
  EXPECT_EQ(*bag.calls, 2);  // all cached: no inner call
  EXPECT_EQ(cache.size(), 3u);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
}

TEST(Embedder, CacheEvictsLeastRecentlyUsed) {
  CountingBag bag;
  CachingEmbedder cache(make_embedder(bag), CacheOptions{.max_entries = 2});
  (void)cache.embed({"a"});
  (void)cache.embed({"b"});
  (void)cache.embed({"a"});  // a is now most recent
  (void)cache.embed({"c"});  // evicts b
  EXPECT_EQ(cache.size(), 2u);
  const int before = *bag.texts_seen;
  (void)cache.embed({"a"});
  EXPECT_EQ(*bag.texts_seen, before);
  (void)cache.embed({"b"});
  EXPECT_EQ(*bag.texts_seen, before + 1);
}

TEST(Embedder, CachingRejectsNull) { EXPECT_THROW(CachingEmbedder(nullptr), InvalidArgument); }

TEST(Embedder, NormalizeRowsKeepsZeroRows) {
  RowMatrix<float> m(2, 2);
  m << 3, 4, 0, 0;
  normalize_rows(m);
  EXPECT_FLOAT_EQ(m(0, 0), 0.6f);
  EXPECT_FLOAT_EQ(m(0, 1), 0.8f);
  EXPECT_EQ(m(1, 0), 0.0f);
}
