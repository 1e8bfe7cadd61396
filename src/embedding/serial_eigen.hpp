#pragma once
// Private to src/embedding. Eigen parallelises large matrix products with OpenMP on its own
// (all cores) when called outside a parallel region. Its blocking then depends on the thread
// count, so results differ in the last bits between machines, and on a busy machine small
// products spin-wait far longer than they compute. Code that must give the same bytes
// everywhere (training, heads) runs its products inside this scope: the calling thread's
// OpenMP thread count is 1 for the scope (restored after, also on exceptions). Explicit
// `num_threads` clauses (our own parallel loops) are not affected.
#if defined(_OPENMP)
#include <omp.h>
#endif

namespace popalign::embedding::detail {

class SerialEigenScope {
 public:
#if defined(_OPENMP)
  SerialEigenScope() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SerialEigenScope() { omp_set_num_threads(saved_); }
#else
  SerialEigenScope() = default;
#endif
  SerialEigenScope(const SerialEigenScope&) = delete;
  SerialEigenScope& operator=(const SerialEigenScope&) = delete;

 private:
#if defined(_OPENMP)
  int saved_;
#endif
};

}  // namespace popalign::embedding::detail
