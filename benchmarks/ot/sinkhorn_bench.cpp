// Sinkhorn iteration throughput: a fixed number of iterations (tol = 0, no eps-scaling) on two
// d = 5 point clouds, online (fused kernel) and stored-kernel paths, f32/f64, 1 and 2 threads.
// Counters: iterations/s and pairs/s (2 n m pair evaluations per iteration). Below: the levers
// of the stored-kernel path measured one at a time (namespace levers).
//   build/<dir>/benchmarks/popalign_bench_ot [--benchmark_filter=Stored|KernelBuild]
#include <popalign/ot/sinkhorn.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <popalign/core/random.hpp>

namespace {

using popalign::Index;
using popalign::RowMatrix;
using popalign::Vector;

template <class T>
RowMatrix<T> cloud(Index n, std::uint64_t seed, double shift) {
  popalign::Rng rng(seed);
  RowMatrix<T> out(n, 5);
  for (Index i = 0; i < n; ++i)
    for (Index k = 0; k < 5; ++k) out(i, k) = static_cast<T>(rng.normal(shift, 1.0));
  return out;
}

template <class T>
void BM_SinkhornIterations(benchmark::State& state) {
  const Index n = state.range(0);
  const bool stored = state.range(1) != 0;
  const int threads = static_cast<int>(state.range(2));
  const RowMatrix<T> x = cloud<T>(n, 1, 0.0), y = cloud<T>(n, 2, 0.3);
  const popalign::ot::PointCloud<T> geom(x, y, 1.0 / 60.0);
  popalign::ot::SinkhornOptions opt;
  opt.reg = 0.01;
  opt.tol = 0;
  opt.max_iter = 20;
  opt.eps_scaling = false;
  opt.compute_cost = false;
  opt.storage = stored ? popalign::ot::KernelStorage::stored : popalign::ot::KernelStorage::online;
  opt.execution.threads = threads;
  Index iterations = 0;
  for (auto _ : state) {
    const auto r = popalign::ot::sinkhorn(geom, Vector<double>(), Vector<double>(), opt);
    iterations += r.iterations;
    benchmark::DoNotOptimize(r.f.data());
  }
  state.counters["iterations/s"] =
      benchmark::Counter(static_cast<double>(iterations), benchmark::Counter::kIsRate);
  state.counters["pairs/s"] = benchmark::Counter(
      2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(iterations),
      benchmark::Counter::kIsRate);
}

void args(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2})
    for (int stored : {0, 1}) b->Args({4000, stored, threads});
  b->ArgNames({"n", "stored", "threads"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

BENCHMARK_TEMPLATE(BM_SinkhornIterations, float)->Apply(args);
BENCHMARK_TEMPLATE(BM_SinkhornIterations, double)->Apply(args);

}  // namespace

// ---- The levers of the stored-kernel iteration at n = m = 10^4 (docs/ot.md, "Speed of the
// stored path"). Each benchmark isolates one: the fused pass over a 400 MB float kernel row by
// row (r = 1) or in blocks of kRowBlock rows; the same pass over a half-precision copy (200 MB,
// F16C conversion; fewer bytes, rejected for accuracy); and the kernel build into fresh memory
// with the generic Eigen exp vs the vectorised exp and huge-page advice.
namespace levers {

constexpr Index kN = 10000;

const RowMatrix<float>& kernel() {
  static const RowMatrix<float> k = [] {
    RowMatrix<float> out(kN, kN);
    popalign::Rng rng(7);
    for (Index i = 0; i < out.size(); ++i)
      out.data()[i] = static_cast<float>(std::exp(-10.0 * rng.uniform()));
    return out;
  }();
  return k;
}

template <class Row>
void fused_pass(Index block, Row&& row_ptr, benchmark::State& state, int threads) {
  const Vector<double> w = Vector<double>::Constant(kN, 1e-4);
  std::vector<double> acc(static_cast<std::size_t>(32 * kN));
  Vector<double> rows(kN);
  for (auto _ : state) {
    popalign::parallel_for(32, threads, 1, [&](Index gb, Index ge) {
      for (Index grp = gb; grp < ge; ++grp) {
        double* a = acc.data() + grp * kN;
        std::fill(a, a + kN, 0.0);
        const Index i0 = grp * (kN / 32), i1 = i0 + kN / 32;
        for (Index i = i0; i < i1; i += block) {
          const Index r = std::min(block, i1 - i);
          double alpha[popalign::ot::detail::kRowBlock];
          row_ptr(i, r, w.data(), rows.data() + i, alpha, a);
        }
      }
    });
    benchmark::DoNotOptimize(acc.data());
  }
  state.counters["GB/s (K)"] =
      benchmark::Counter(static_cast<double>(kN) * kN * static_cast<double>(state.range(1)),
                         benchmark::Counter::kIsIterationInvariantRate);
}

void BM_StoredPassFloat(benchmark::State& state) {
  namespace d = popalign::ot::detail;
  const RowMatrix<float>& k = kernel();
  fused_pass(
      state.range(0),
      [&](Index i, Index r, const double* w, double* sums, double* alpha, double* acc) {
        d::dot_rows(k.data() + i * kN, r, kN, w, sums);
        for (Index q = 0; q < r; ++q) alpha[q] = 1e-4 / sums[q];
        d::axpy_rows(alpha, k.data() + i * kN, r, kN, acc);
      },
      state, static_cast<int>(state.range(2)));
}
BENCHMARK(BM_StoredPassFloat)
    ->Args({1, 4, 2})
    ->Args({popalign::ot::detail::kRowBlock, 4, 2})
    ->ArgNames({"rows_per_block", "bytes", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

#if defined(__F16C__) && defined(__AVX2__) && defined(__FMA__)
// Half precision: the same blocked pass reading 2 bytes per entry.
template <int R>
void half_rows(const std::uint16_t* k, const double* w, double* sums, const double* alpha_in,
               double* alpha, double* acc, bool second) {
  if (!second) {
    __m256d s0[R], s1[R];
    for (int q = 0; q < R; ++q) s0[q] = s1[q] = _mm256_setzero_pd();
    for (Index j = 0; j < kN; j += 8) {
      const __m256d w0 = _mm256_loadu_pd(w + j), w1 = _mm256_loadu_pd(w + j + 4);
      for (int q = 0; q < R; ++q) {
        const __m256 kv =
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + q * kN + j)));
        s0[q] = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(kv)), w0, s0[q]);
        s1[q] = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(kv, 1)), w1, s1[q]);
      }
    }
    for (int q = 0; q < R; ++q) {
      alignas(32) double t[4];
      _mm256_store_pd(t, _mm256_add_pd(s0[q], s1[q]));
      sums[q] = (t[0] + t[1]) + (t[2] + t[3]);
    }
    return;
  }
  (void)alpha_in;
  for (Index j = 0; j < kN; j += 8) {
    __m256d a0 = _mm256_loadu_pd(acc + j), a1 = _mm256_loadu_pd(acc + j + 4);
    for (int q = 0; q < R; ++q) {
      const __m256 kv =
          _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(k + q * kN + j)));
      const __m256d al = _mm256_set1_pd(alpha[q]);
      a0 = _mm256_fmadd_pd(al, _mm256_cvtps_pd(_mm256_castps256_ps128(kv)), a0);
      a1 = _mm256_fmadd_pd(al, _mm256_cvtps_pd(_mm256_extractf128_ps(kv, 1)), a1);
    }
    _mm256_storeu_pd(acc + j, a0);
    _mm256_storeu_pd(acc + j + 4, a1);
  }
}

void BM_StoredPassHalf(benchmark::State& state) {
  static const std::vector<std::uint16_t> k16 = [] {
    const RowMatrix<float>& k = kernel();
    std::vector<std::uint16_t> out(static_cast<std::size_t>(k.size()));
    for (Index i = 0; i < k.size(); i += 8)
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out.data() + i),
                       _mm256_cvtps_ph(_mm256_loadu_ps(k.data() + i), 0));
    return out;
  }();
  fused_pass(
      state.range(0),
      [&](Index i, Index r, const double* w, double* sums, double* alpha, double* acc) {
        const std::uint16_t* k = k16.data() + i * kN;
        if (r == 8) {
          half_rows<8>(k, w, sums, nullptr, alpha, acc, false);
          for (Index q = 0; q < r; ++q) alpha[q] = 1e-4 / sums[q];
          half_rows<8>(k, w, sums, nullptr, alpha, acc, true);
        } else {
          for (Index q = 0; q < r; ++q) {
            half_rows<1>(k + q * kN, w, sums + q, nullptr, alpha + q, acc, false);
            alpha[q] = 1e-4 / sums[q];
            half_rows<1>(k + q * kN, w, sums + q, nullptr, alpha + q, acc, true);
          }
        }
      },
      state, static_cast<int>(state.range(2)));
}
BENCHMARK(BM_StoredPassHalf)
    ->Args({1, 2, 2})
    ->Args({8, 2, 2})
    ->ArgNames({"rows_per_block", "bytes", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
#endif

// Kernel build into freshly allocated memory (as a solve does): the generic path (Eigen's
// double exp, 4 KiB pages) against kernel_row (vectorised exp) with huge-page advice.
void BM_KernelBuild(benchmark::State& state) {
  const bool fast = state.range(0) != 0;
  const int threads = static_cast<int>(state.range(1));
  const Index n = 5000;  // 100 MB of float kernel per build
  const RowMatrix<float> x = cloud<float>(n, 1, 0.0), y = cloud<float>(n, 2, 0.3);
  const popalign::ot::PointCloud<float> geom(x, y, 1.0 / 60.0);
  const Vector<double> f = Vector<double>::Zero(n), g = Vector<double>::Zero(n);
  const double eps = 0.01;
  for (auto _ : state) {
    RowMatrix<float> K(n, n);
    if (fast)
      popalign::ot::detail::advise_huge_pages(K.data(), static_cast<std::size_t>(K.size()) * 4);
    popalign::parallel_for(n, threads, 8, [&](Index b, Index e) {
      Eigen::ArrayXd c(n);
      for (Index i = b; i < e; ++i) {
        geom.cost_row(i, c.data());
        if (fast) {
          popalign::ot::detail::kernel_row(c.data(), f[i], g.data(), eps, -87.0, n,
                                           K.data() + i * n);
        } else {
          c = (f[i] + g.array() - c) / eps;
          K.row(i) = (c < -87.0).select(0.0, c.exp()).cast<float>().transpose();
        }
      }
    });
    benchmark::DoNotOptimize(K.data());
  }
  state.counters["entries/s"] =
      benchmark::Counter(static_cast<double>(n) * n, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_KernelBuild)
    ->Args({0, 2})
    ->Args({1, 2})
    ->ArgNames({"fast", "threads"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace levers
