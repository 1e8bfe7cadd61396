#include <popalign/core/execution.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <vector>

namespace popalign {
namespace {

TEST(ParallelFor, CoversEveryIndexOnceForAnyThreadCount) {
  for (int threads : {1, 2, 3, 8}) {
    for (Index n : {0, 1, 7, 1000, 12345}) {
      std::vector<int> hits(static_cast<std::size_t>(n), 0);
      parallel_for(n, threads, 16, [&](Index b, Index e) {
        for (Index i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
      });
      for (int h : hits) ASSERT_EQ(h, 1) << "threads=" << threads << " n=" << n;
    }
  }
}

TEST(Execution, ThreadsResolveAndValidate) {
  Execution ex;
  EXPECT_GE(ex.resolved_threads(), 1);
  const int cores = Execution{}.resolved_threads();  // 0 = all cores
  ex.threads = 3;
  EXPECT_EQ(ex.resolved_threads(), std::min(3, cores));
  // Capped at the cores: OpenMP crashes when asked for 100000 threads (issue 16).
  ex.threads = 100000;
  EXPECT_EQ(ex.resolved_threads(), cores);
  ex.threads = 1;
  EXPECT_EQ(ex.resolved_threads(), 1);
  ex.threads = -1;
  EXPECT_THROW(ex.validate(), InvalidArgument);
}

TEST(Execution, ProgressCallbackAndTokenStopTheRun) {
  Execution ex;
  std::vector<double> seen;
  ex.progress = [&](std::string_view, double f) {
    seen.push_back(f);
    return f >= 0.5;
  };
  EXPECT_FALSE(ex.report("stage", 0.25));
  EXPECT_TRUE(ex.report("stage", 0.5));
  EXPECT_THROW(ex.checkpoint("stage", 0.75), Cancelled);
  EXPECT_EQ(seen.size(), 3u);

  Execution quiet;
  CancellationToken copy = quiet.cancel;
  EXPECT_NO_THROW(quiet.checkpoint("s", 0.1));
  copy.cancel();
  EXPECT_THROW(quiet.checkpoint("s", 0.2), Cancelled);
}

}  // namespace
}  // namespace popalign
