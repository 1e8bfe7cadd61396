#pragma once
// Thread-count control, progress reporting and cancellation.
//
// There is no global state: every long-running call takes an `Execution` (usually as a member
// of its Options struct). threads == 0 means "all cores" (std::thread::hardware_concurrency);
// a larger count is capped at the number of cores (OpenMP fails or crashes when asked for, e.g.,
// 100000 threads, and more threads than cores never helps these loops).
// Parallel loops split work by index ranges whose results are written to disjoint outputs, and
// every reduction is done in a fixed order, so results do not depend on the thread count.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>

#include <popalign/core/error.hpp>
#include <popalign/core/types.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace popalign {

/// Shared flag to stop a run from another thread. Copies share the flag.
class CancellationToken {
 public:
  CancellationToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() noexcept { flag_->store(true, std::memory_order_relaxed); }
  bool cancelled() const noexcept { return flag_->load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

/// Progress callback: (stage name, fraction done in [0,1]). Returning true asks the run to stop.
/// The numeric layers (kernels, density, ot, sampling, metrics, align) then throw
/// popalign::Cancelled; their results carry a status only for non-convergence. (Batch calls of
/// the LLM layer instead give each unfinished item a cancelled outcome.)
using ProgressCallback = std::function<bool(std::string_view stage, double fraction)>;

struct Execution {
  int threads = 0;            ///< 0 = all cores
  ProgressCallback progress;  ///< optional
  CancellationToken cancel;   ///< optional; a default token is never cancelled

  void validate() const { check_argument(threads >= 0, "threads", "must be >= 0 (0 = all cores)"); }

  /// Number of threads actually used: `threads`, capped at the number of cores (all of them
  /// for 0).
  int resolved_threads() const noexcept {
    const unsigned hc = std::thread::hardware_concurrency();
    const int cores = hc == 0 ? 1 : static_cast<int>(std::min<unsigned>(hc, 1u << 16));
    return threads > 0 && threads < cores ? threads : cores;
  }

  /// Reports progress; returns true when the run should stop (callback said so or cancelled).
  bool report(std::string_view stage, double fraction) const {
    bool stop = cancel.cancelled();
    if (progress) stop = progress(stage, fraction) || stop;
    return stop;
  }

  /// Like report() but throws Cancelled when the run should stop.
  void checkpoint(std::string_view stage, double fraction) const {
    if (report(stage, fraction)) throw Cancelled(std::string(stage));
  }
};

/// Calls body(begin, end) on disjoint chunks covering [0, n), on up to `threads` threads.
/// Chunks are contiguous and at least `grain` long. body must not throw.
template <class Body>
void parallel_for(Index n, int threads, Index grain, Body&& body) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  Index chunks = (n + grain - 1) / grain;
  if (threads < 1) threads = 1;
#if defined(_OPENMP)
  if (threads == 1 || chunks == 1) {
    body(Index{0}, n);
    return;
  }
  // More chunks than threads for load balance, each still >= grain.
  chunks = std::min<Index>(chunks, static_cast<Index>(threads) * 8);
  const Index step = (n + chunks - 1) / chunks;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (Index c = 0; c < chunks; ++c) {
    const Index b = c * step;
    const Index e = std::min(n, b + step);
    if (b < e) body(b, e);
  }
#else
  (void)chunks;
  body(Index{0}, n);
#endif
}

}  // namespace popalign
