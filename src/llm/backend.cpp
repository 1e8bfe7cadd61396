// complete_one and complete_batch (chunked batches with progress and cancellation).
#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include <popalign/llm/backend.hpp>

namespace popalign::llm {

Outcome complete_one(LlmBackend& backend, const Request& request) {
  std::vector<Outcome> out = backend.complete(std::span<const Request>(&request, 1));
  if (out.size() != 1)
    throw BackendError(backend.name() + ": complete() returned " + std::to_string(out.size()) +
                       " outcomes for 1 request");
  return std::move(out.front());
}

void BatchOptions::validate() const {
  check_argument(parallel_chunks >= 1 && parallel_chunks <= 1024, "parallel_chunks",
                 "must be in [1, 1024] (one thread each)");
  execution.validate();
}

std::vector<Outcome> complete_batch(LlmBackend& backend, std::span<const Request> batch,
                                    const BatchOptions& options) {
  options.validate();
  const std::size_t n = batch.size();
  const std::size_t chunk =
      options.chunk_size == 0 ? std::max<std::size_t>(n, 1) : options.chunk_size;
  const std::size_t n_chunks = (n + chunk - 1) / chunk;
  std::vector<std::optional<Outcome>> slots(n);
  std::atomic<std::size_t> next_chunk{0};
  std::atomic<bool> stop{false};
  std::mutex progress_mutex;
  std::size_t done = 0;
  std::exception_ptr error;

  if (options.execution.report("llm", 0.0)) stop = true;
  auto worker = [&] {
    for (;;) {
      if (stop.load()) return;
      const std::size_t c = next_chunk.fetch_add(1);
      if (c >= n_chunks) return;
      const std::size_t b = c * chunk;
      const std::size_t e = std::min(n, b + chunk);
      std::vector<Outcome> out;
      try {
        out = backend.complete(batch.subspan(b, e - b));
        if (out.size() != e - b)
          throw BackendError(backend.name() + ": complete() returned " +
                             std::to_string(out.size()) + " outcomes for " + std::to_string(e - b) +
                             " requests");
      } catch (...) {
        std::lock_guard lock(progress_mutex);
        if (!error) error = std::current_exception();
        stop = true;
        return;
      }
      for (std::size_t i = b; i < e; ++i) slots[i].emplace(std::move(out[i - b]));
      std::lock_guard lock(progress_mutex);
      done += e - b;
      if (options.execution.report("llm", static_cast<double>(done) / static_cast<double>(n)))
        stop = true;
    }
  };
  const int threads = static_cast<int>(std::min<std::size_t>(
      static_cast<std::size_t>(options.parallel_chunks), std::max<std::size_t>(n_chunks, 1)));
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);

  std::vector<Outcome> result;
  result.reserve(n);
  for (auto& s : slots) {
    if (s)
      result.push_back(std::move(*s));
    else
      result.push_back(
          Failure{ErrorKind::cancelled, 0, "cancelled before the request was sent", {}});
  }
  return result;
}

}  // namespace popalign::llm
