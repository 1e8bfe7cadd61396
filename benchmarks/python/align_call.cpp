// The C++ side of benchmarks/python/align_speed.py: times align<T>() on two .npy files (the same
// arrays the Python side aligns), the same options, in one process, and prints one JSON line per
// repetition: {"seconds": wall time of the align() call, "inner": Diagnostics::seconds}.
//
//   popalign_python_align_call POOL.npy REFERENCE.npy N SEED REPS float|double THREADS
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include <popalign/align/align.hpp>
#include <popalign/io/npy.hpp>

using namespace popalign;

template <Real T>
int run(const char* pool_path, const char* ref_path, Index n, std::uint64_t seed, int reps,
        int threads) {
  const RowMatrix<T> pool = io::read_npy<T>(pool_path);
  const RowMatrix<T> ref = io::read_npy<T>(ref_path);
  align::AlignOptions o;
  o.n = n;
  o.seed = seed;
  o.execution.threads = threads;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const align::AlignResult res = align::align<T>(pool, ref, o);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("{{\"seconds\": {:.6f}, \"inner\": {:.6f}, \"selected\": {}, \"first\": {}}}\n", s,
               res.diagnostics.seconds, res.indices.size(),
               res.indices.empty() ? -1 : res.indices[0]);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 8) {
    fmt::print(stderr, "usage: {} POOL.npy REFERENCE.npy N SEED REPS float|double THREADS\n",
               argv[0]);
    return 2;
  }
  const Index n = std::atol(argv[3]);
  const auto seed = static_cast<std::uint64_t>(std::atoll(argv[4]));
  const int reps = std::atoi(argv[5]);
  const int threads = std::atoi(argv[7]);
  return std::string(argv[6]) == "float" ? run<float>(argv[1], argv[2], n, seed, reps, threads)
                                         : run<double>(argv[1], argv[2], n, seed, reps, threads);
}
