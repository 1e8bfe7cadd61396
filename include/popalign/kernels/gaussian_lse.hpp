#pragma once
// The fused Gaussian log-sum-exp kernel: popalign's one hot primitive.
//
//   out[i] = log sum_j exp(h[j] - c * ||x_i - y_j||^2)        for every row i of x
//
// Kernel density estimates (h = log weights, c = 1/(2 bw^2)), both Sinkhorn half-steps
// (h = log b + g/eps, c = scale/eps) and the kernel metrics (MMD, Sinkhorn divergence) are
// this one computation, so it is written once and made fast here.
//
// Algorithm (see docs/kernels.md for the derivation and the measured accuracy):
//  * Both clouds are shifted by an origin o (squared distances are translation invariant) so
//    that the cancellation in the expansion below is as small as the data's spread allows. By
//    default o is the common mean of x and y. With LseOptions::local_origin (f32) the rows of x
//    are split into groups of 32..64 spatially close rows (kd-tree leaves, outputs stay in input
//    order) and each group uses its own mean, for x and for y: the columns y_j - o and
//    gh_j below are then re-formed per (group, column tile) while the tile is in L1, O(m d) per
//    group against O(64 m d) pair work.
//  * ||x_i - y_j||^2 = ||x_i||^2 + ||y_j||^2 - 2 x_i.y_j, so the exponent is
//        e_ij = [h_j - hmax - c||y_j||^2]  +  (2c x_i) . y_j   +  [hmax - c||x_i||^2]
//           =            gh_j               +     rank-d product  +      row_i
//    The per-column term gh_j and the per-row term row_i are computed in double; gh_j is
//    rounded to T once, the rank-d product is evaluated in T with FMAs, row_i is added back in
//    double after the logarithm. Nothing of size n x m is stored.
//  * Columns are processed in tiles of `tile_cols` (y transposed into a T buffer that stays in
//    L1), rows in groups of 64 (f32) / 256 (f64) and register blocks of 4; each tile is swept twice
//    while it is in cache: first the exponents and their per-row maximum, then exp(e - max) with
//    Eigen's vectorised exp (AVX2: 8 floats / 4 doubles per instruction). The per-row maximum and
//    sum are carried across tiles as a streaming ("online") log-sum-exp: when a tile raises the
//    maximum the running sum is rescaled, so there is a single pass over y and no
//    overflow/underflow.
//  * Within a tile each SIMD lane accumulates in T (at most tile_cols / lanes terms, each in
//    [0, 1]); tile sums are accumulated per row in double.
//  * Rows are split over threads; every row is computed by the same instruction sequence in the
//    same column order whatever the thread count or row chunking, so the output bytes do not
//    depend on the number of threads.
//
// Accuracy (T = float): the exponent carries an absolute error of about
// 1e-7 * c * R^2 (R = distance of the points from the origin; with local_origin the radius of
// the row's group plus |x_i - y_j| for the terms that matter), i.e. ~1e-7 / eps relative to the
// cost scale in Sinkhorn; the sum itself is accurate to ~1e-7 relative. T = double is accurate to
// ~1e-15 * c * R^2. Terms more than ~87 (float) / ~708 (double) below the row maximum are flushed
// to (at most) the smallest normal number, i.e. they contribute < 1e-37 relative.
#include <Eigen/Core>
#include <algorithm>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif
#include <atomic>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/execution.hpp>
#include <popalign/core/types.hpp>

namespace popalign::kernels {

struct LseOptions {
  Execution execution{};  ///< threads (0 = all cores), progress, cancel
  /// tile_rows: rows per parallel work unit and cancellation check, rounded up to whole
  /// 64-row origin groups (0 = one group); it does not change the results.
  /// tile_cols: columns per cache tile (0 = automatic: the y tile fits in L1).
  Index tile_rows = 0, tile_cols = 0;
  /// Re-centre each group of <= 64 spatially close rows of x (f32 only) on the group's mean
  /// instead of the common mean of x and y: the f32 exponent error then scales with the local
  /// radius instead of the distance from the data mean (KDE with outlying queries). Off by
  /// default: when the relevant y_j are far from the x rows (OT between separated clouds) a
  /// local origin can be worse than the common mean.
  bool local_origin = false;

  void validate() const {
    execution.validate();
    check_argument(tile_rows >= 0, "tile_rows", "must be >= 0 (0 = automatic)");
    check_argument(tile_cols >= 0, "tile_cols", "must be >= 0 (0 = automatic)");
  }
};

namespace detail {

namespace ei = Eigen::internal;

/// Number of rows handled together by the micro-kernel (shares each loaded y vector).
inline constexpr int kLseRowBlock = 4;

/// Rows per origin group: the rows of one group (consecutive in the spatial order) share the
/// origin (their mean) to which they and the y columns are re-centred. A multiple of
/// kLseRowBlock; fixed so that the output bytes depend on neither tile_rows nor threads.
inline constexpr Index kLseGroupRows = 64;

template <class T>
using Packet = typename ei::packet_traits<T>::type;

template <class T>
constexpr int packet_size() {
  return ei::packet_traits<T>::size;
}

/// exp(x) for x <= 0 (shifted exponents). Arguments below -86 (float) / -700 (double), and
/// -inf, give a tiny non-negative number (< 1e-37 / 1e-304) instead of an exact 0.
/// Generic version: Eigen's vectorised exp.
template <class P>
inline P exp_nonpositive(const P& x) {
  return ei::pexp(x);
}

#if defined(__AVX2__) && defined(__FMA__)
/// AVX2/FMA float version (about half the instructions of the generic one): round-to-nearest
/// n = x / ln 2 by the 1.5 * 2^23 trick, r = x - n ln 2 in two FMAs (Cody-Waite), Cephes'
/// degree-5 minimax polynomial (max error ~1.5 ulp on [-ln2/2, ln2/2]), 2^n added to the
/// exponent field by an integer add.
inline __m256 exp_nonpositive(const __m256& x_in) {
  const __m256 x = _mm256_max_ps(x_in, _mm256_set1_ps(-86.0f));
  const __m256 magic = _mm256_set1_ps(12582912.0f);  // 1.5 * 2^23
  const __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic);
  const __m256 n = _mm256_sub_ps(t, magic);
  __m256 r = _mm256_fmadd_ps(n, _mm256_set1_ps(-0.693359375f), x);
  r = _mm256_fmadd_ps(n, _mm256_set1_ps(2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500E-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
  const __m256 r2 = _mm256_mul_ps(r, r);
  p = _mm256_fmadd_ps(p, r2, r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  const __m256i scale = _mm256_slli_epi32(_mm256_castps_si256(t), 23);
  return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), scale));
}

/// AVX2/FMA double version: same reduction with 1.5 * 2^52, Cody-Waite ln 2 in two parts and a
/// degree-13 Taylor polynomial (truncation < 2e-16 on [-ln2/2, ln2/2]).
inline __m256d exp_nonpositive(const __m256d& x_in) {
  const __m256d x = _mm256_max_pd(x_in, _mm256_set1_pd(-700.0));
  const __m256d magic = _mm256_set1_pd(6755399441055744.0);  // 1.5 * 2^52
  const __m256d t = _mm256_fmadd_pd(x, _mm256_set1_pd(1.4426950408889634074), magic);
  const __m256d n = _mm256_sub_pd(t, magic);
  __m256d r = _mm256_fmadd_pd(n, _mm256_set1_pd(-6.93145751953125E-1), x);
  r = _mm256_fmadd_pd(n, _mm256_set1_pd(-1.42860682030941723212E-6), r);
  __m256d p = _mm256_set1_pd(1.0 / 6227020800.0);  // 1/13!
  constexpr double inv_fact[] = {1.0 / 479001600.0,
                                 1.0 / 39916800.0,
                                 1.0 / 3628800.0,
                                 1.0 / 362880.0,
                                 1.0 / 40320.0,
                                 1.0 / 5040.0,
                                 1.0 / 720.0,
                                 1.0 / 120.0,
                                 1.0 / 24.0,
                                 1.0 / 6.0,
                                 0.5,
                                 1.0,
                                 1.0};
  for (double cf : inv_fact) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(cf));
  const __m256i scale = _mm256_slli_epi64(_mm256_castpd_si256(t), 52);
  return _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(p), scale));
}
#endif

template <class T>
inline Index auto_tile_cols(Index d, int lanes) {
  // y tile (d rows) + exponent buffer (kLseRowBlock rows) + gh (1 row) within ~24 KiB.
  const Index bytes = 24 * 1024;
  // (Sized for T = float; with local_origin, which is f32 only, the tile is rebuilt in L1.)
  Index t = bytes / (static_cast<Index>(sizeof(T)) * (d + kLseRowBlock + 1));
  t = std::clamp<Index>(t, 64, 1024);
  return (t / lanes) * lanes;
}

/// The per-row micro-kernel over one column tile for kLseRowBlock rows.
/// u: kLseRowBlock x d (2c (x_i - o)), row-major. Updates running max mx[r] and sum s[r].
template <class T>
inline void lse_tile(const T* u, Index d, const T* yt, Index ld, const T* gh, Index j0, Index width,
                     T* buf, T* mx, double* s) {
  using P = Packet<T>;
  constexpr int L = packet_size<T>();
  constexpr int R = kLseRowBlock;
  const T neg_inf = -std::numeric_limits<T>::infinity();
  P pm[R];
  for (int r = 0; r < R; ++r) pm[r] = ei::pset1<P>(neg_inf);
  // Sweep 1: exponents and their maxima.
  for (Index jv = 0; jv < width; jv += L) {
    const P g = ei::ploadu<P>(gh + j0 + jv);
    P a0 = g, a1 = g, a2 = g, a3 = g;
    const T* yk = yt + j0 + jv;
    for (Index k = 0; k < d; ++k, yk += ld) {
      const P yv = ei::ploadu<P>(yk);
      a0 = ei::pmadd(ei::pset1<P>(u[0 * d + k]), yv, a0);
      a1 = ei::pmadd(ei::pset1<P>(u[1 * d + k]), yv, a1);
      a2 = ei::pmadd(ei::pset1<P>(u[2 * d + k]), yv, a2);
      a3 = ei::pmadd(ei::pset1<P>(u[3 * d + k]), yv, a3);
    }
    ei::pstoreu(buf + 0 * width + jv, a0);
    ei::pstoreu(buf + 1 * width + jv, a1);
    ei::pstoreu(buf + 2 * width + jv, a2);
    ei::pstoreu(buf + 3 * width + jv, a3);
    pm[0] = ei::pmax(pm[0], a0);
    pm[1] = ei::pmax(pm[1], a1);
    pm[2] = ei::pmax(pm[2], a2);
    pm[3] = ei::pmax(pm[3], a3);
  }
  // Streaming max update; rows whose tile is all -inf keep their state.
  T shift[R];
  bool active[R];
  for (int r = 0; r < R; ++r) {
    const T tmax = ei::predux_max(pm[r]);
    active[r] = tmax > neg_inf;
    if (!active[r]) {
      shift[r] = 0;
      continue;
    }
    if (tmax > mx[r]) {
      if (mx[r] > neg_inf) s[r] *= std::exp(static_cast<double>(mx[r]) - static_cast<double>(tmax));
      mx[r] = tmax;
    }
    shift[r] = mx[r];
  }
  // Sweep 2: shifted exponentials, accumulated per lane in T.
  const P sh0 = ei::pset1<P>(shift[0]), sh1 = ei::pset1<P>(shift[1]);
  const P sh2 = ei::pset1<P>(shift[2]), sh3 = ei::pset1<P>(shift[3]);
  P s0 = ei::pset1<P>(T(0)), s1 = s0, s2 = s0, s3 = s0;
  for (Index jv = 0; jv < width; jv += L) {
    s0 = ei::padd(s0, exp_nonpositive(ei::psub(ei::ploadu<P>(buf + 0 * width + jv), sh0)));
    s1 = ei::padd(s1, exp_nonpositive(ei::psub(ei::ploadu<P>(buf + 1 * width + jv), sh1)));
    s2 = ei::padd(s2, exp_nonpositive(ei::psub(ei::ploadu<P>(buf + 2 * width + jv), sh2)));
    s3 = ei::padd(s3, exp_nonpositive(ei::psub(ei::ploadu<P>(buf + 3 * width + jv), sh3)));
  }
  if (active[0]) s[0] += static_cast<double>(ei::predux(s0));
  if (active[1]) s[1] += static_cast<double>(ei::predux(s1));
  if (active[2]) s[2] += static_cast<double>(ei::predux(s2));
  if (active[3]) s[3] += static_cast<double>(ei::predux(s3));
}

/// Rows grouped for per-group recentring: group g is rows perm[start[g]] ... perm[start[g+1]-1].
struct RowGroups {
  std::vector<Index> perm, start;
};

/// Consecutive groups of `leaf` rows in input order.
inline RowGroups consecutive_groups(Index n, Index leaf) {
  RowGroups g;
  g.perm.resize(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) g.perm[static_cast<std::size_t>(i)] = i;
  for (Index b = 0; b < n; b += leaf) g.start.push_back(b);
  g.start.push_back(n);
  return g;
}

/// Spatially compact groups of at most `leaf` rows of x, for per-group recentring: the leaves of
/// a kd-tree that splits each node on its coordinate of largest extent at the middle of that
/// extent (so separated clusters end up in separate groups), moved to the nearest position
/// leaving at least leaf / 4 rows on each side when the middle is too unbalanced (so groups
/// have >= leaf / 4 rows and the per-group column work stays bounded). Partitioning has no
/// randomness: the groups depend only on x. Cost O(n d log(n / leaf)).
template <class T>
RowGroups spatial_groups(const MatrixView<T>& x, Index leaf) {
  const Index n = x.rows(), d = x.cols();
  RowGroups g = consecutive_groups(n, n > 0 ? n : 1);
  g.start.clear();
  std::vector<std::pair<Index, Index>> stack{{0, n}};
  std::vector<std::pair<Index, Index>> leaves;
  while (!stack.empty()) {
    const auto [b, e] = stack.back();
    stack.pop_back();
    if (e - b <= leaf) {
      leaves.push_back({b, e});
      continue;
    }
    Index axis = 0;
    T widest = -1, split = 0;
    const Index stride = std::max<Index>(1, (e - b) / 256);  // extent from <= ~256 rows
    for (Index k = 0; k < d; ++k) {
      T lo = x(g.perm[static_cast<std::size_t>(b)], k), hi = lo;
      for (Index i = b + stride; i < e; i += stride) {
        const T v = x(g.perm[static_cast<std::size_t>(i)], k);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      if (hi - lo > widest) {
        widest = hi - lo;
        axis = k;
        split = lo + (hi - lo) / 2;
      }
    }
    auto first = g.perm.begin() + b, last = g.perm.begin() + e;
    const auto less = [&](Index i, Index j) {
      const T xi = x(i, axis), xj = x(j, axis);
      return xi < xj || (xi == xj && i < j);
    };
    Index mid =
        b + (std::partition(first, last, [&](Index i) { return x(i, axis) < split; }) - first);
    const Index min_side = std::max<Index>(1, leaf / 2);
    if (!(widest > 0) || mid - b < min_side || e - mid < min_side) {
      mid = !(widest > 0) ? b + (e - b) / 2 : std::clamp(mid, b + min_side, e - min_side);
      std::nth_element(first, g.perm.begin() + mid, last, less);
    }
    stack.push_back({mid, e});
    stack.push_back({b, mid});
  }
  // Leaves in left-to-right order (the stack pops left children first).
  for (const auto& [b, e] : leaves) g.start.push_back(b);
  g.start.push_back(n);
  return g;
}

template <Real T>
void check_lse_arguments(const MatrixView<T>& x, const MatrixView<T>& y,
                         const VectorView<double>& h, double c, Index out_size) {
  check_argument(
      y.cols() == x.cols(), "y",
      "has " + std::to_string(y.cols()) + " columns but x has " + std::to_string(x.cols()));
  check_argument(h.size() == y.rows(), "h",
                 "has " + std::to_string(h.size()) + " entries for " + std::to_string(y.rows()) +
                     " rows of y");
  check_argument(out_size == x.rows(), "out",
                 "has " + std::to_string(out_size) + " entries for " + std::to_string(x.rows()) +
                     " rows of x");
  check_argument(std::isfinite(c) && c > 0, "c", "must be finite and > 0");
  for (Index j = 0; j < h.size(); ++j)
    check_argument(!std::isnan(h[j]) && h[j] < std::numeric_limits<double>::infinity(), "h",
                   "entry " + std::to_string(j) + " is NaN or +inf");
  check_argument(x.allFinite(), "x", "contains NaN or infinite values");
  check_argument(y.allFinite(), "y", "contains NaN or infinite values");
}

}  // namespace detail

/// out[i] = log sum_j exp(h[j] - c * ||x_i - y_j||^2)  for every row i of x.
/// x: n x d, y: m x d (row-major, T = float or double), h: m log-weights in double
/// (-inf allowed: zero weight), c > 0. Rows whose every h is -inf (or m == 0) give -inf.
/// Throws InvalidArgument naming x, y, h, c or out; Cancelled if the token is cancelled.
template <Real T>
void gaussian_lse(MatrixView<T> x, MatrixView<T> y, VectorView<double> h, double c,
                  Eigen::Ref<Vector<double>> out, const LseOptions& options = {}) {
  namespace dt = detail;
  options.validate();
  dt::check_lse_arguments<T>(x, y, h, c, out.size());
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  const Index n = x.rows(), m = y.rows(), d = x.cols();
  if (n == 0) return;
  const double hmax = m == 0 ? kNegInf : h.maxCoeff();
  if (!(hmax > kNegInf)) {
    out.setConstant(kNegInf);
    return;
  }
  constexpr int L = dt::packet_size<T>();
  constexpr int R = dt::kLseRowBlock;

  // Column data in double, transposed once per call (O(m d)): yd (d x ld, zero padding) and
  // hd = h - hmax (-inf padding). The T copies relative to each row tile's origin are made per
  // (row tile, column tile) from these, so they stay in L1.
  const Index tile_cols = options.tile_cols > 0 ? ((options.tile_cols + L - 1) / L) * L
                                                : dt::auto_tile_cols<float>(d, L);
  const Index ld = ((m + L - 1) / L) * L;
  std::vector<T, Eigen::aligned_allocator<T>> yd(static_cast<std::size_t>(d * ld), T(0));
  std::vector<double> hd(static_cast<std::size_t>(ld), kNegInf);
  for (Index j = 0; j < m; ++j) {
    for (Index k = 0; k < d; ++k) yd[static_cast<std::size_t>(k * ld + j)] = y(j, k);
    hd[static_cast<std::size_t>(j)] = h[j] - hmax;
  }

  // Small problems run on one thread: a parallel region costs more than it saves there.
  const int threads =
      static_cast<double>(n) * static_cast<double>(m) * static_cast<double>(d + 8) < 1e6
          ? 1
          : options.execution.resolved_threads();
  // Rows go in fixed groups of G = kLseGroupRows consecutive entries of a spatially compact
  // order (outputs stay in input order); each group has its own origin. With very few columns
  // the ordering would cost more than the whole evaluation, so it is skipped there.
  // f32: groups of <= 64 rows in a spatial order (the accuracy fix). f64 is already accurate to
  // ~1e-15 c R^2, so it keeps the input order in groups of 256 rows (less column work per row).
  constexpr bool kFloat = std::is_same_v<T, float>;
  constexpr Index G = kFloat ? dt::kLseGroupRows : 4 * dt::kLseGroupRows;
  const dt::RowGroups groups = kFloat && options.local_origin && n > G && m >= G
                                   ? dt::spatial_groups<T>(x, G)
                                   : dt::consecutive_groups(n, G);
  // Without local_origin every group uses the common mean of x and y (in double).
  std::vector<double> common_origin(static_cast<std::size_t>(d), 0.0);
  if (!(kFloat && options.local_origin)) {
    for (Index i = 0; i < n; ++i)
      for (Index k = 0; k < d; ++k) common_origin[static_cast<std::size_t>(k)] += x(i, k);
    for (Index j = 0; j < m; ++j)
      for (Index k = 0; k < d; ++k) common_origin[static_cast<std::size_t>(k)] += y(j, k);
    for (auto& v : common_origin) v /= static_cast<double>(n + m);
  }
  // Common origin: the column tiles are the same for every group, prepared once (O(m d)).
  const bool local = kFloat && options.local_origin;
  std::vector<T, Eigen::aligned_allocator<T>> yt_common, gh_common;
  if (!local) {
    yt_common.assign(static_cast<std::size_t>(d * ld), T(0));
    gh_common.assign(static_cast<std::size_t>(ld), -std::numeric_limits<T>::infinity());
    for (Index j = 0; j < m; ++j) {
      double norm2 = 0;
      for (Index k = 0; k < d; ++k) {
        const T v = yd[static_cast<std::size_t>(k * ld + j)] -
                    static_cast<T>(common_origin[static_cast<std::size_t>(k)]);
        yt_common[static_cast<std::size_t>(k * ld + j)] = v;
        norm2 += static_cast<double>(v) * static_cast<double>(v);
      }
      gh_common[static_cast<std::size_t>(j)] =
          static_cast<T>(hd[static_cast<std::size_t>(j)] - c * norm2);
    }
  }
  const std::vector<Index>& perm = groups.perm;
  const Index n_tiles = static_cast<Index>(groups.start.size()) - 1;
  const Index grain = options.tile_rows > 0 ? (options.tile_rows + G - 1) / G : Index{1};
  std::atomic<bool> cancelled{false};
  const CancellationToken& token = options.execution.cancel;

  auto body = [&](Index t_begin, Index t_end) {
    std::vector<T, Eigen::aligned_allocator<T>> buf(static_cast<std::size_t>(R * tile_cols));
    std::vector<T, Eigen::aligned_allocator<T>> yt(static_cast<std::size_t>(d * tile_cols));
    std::vector<T, Eigen::aligned_allocator<T>> gh(static_cast<std::size_t>(tile_cols));
    std::vector<double> norm(static_cast<std::size_t>(tile_cols));
    std::vector<T> u(static_cast<std::size_t>(G * d));
    std::vector<double> rowoff(static_cast<std::size_t>(G));
    std::vector<T> mx(static_cast<std::size_t>(G));
    std::vector<double> s(static_cast<std::size_t>(G));
    std::vector<double> origin(static_cast<std::size_t>(d));
    for (Index t = t_begin; t < t_end; ++t) {
      if (token.cancelled()) {
        cancelled.store(true, std::memory_order_relaxed);
        return;
      }
      const Index r0 = groups.start[static_cast<std::size_t>(t)];
      const Index rows = groups.start[static_cast<std::size_t>(t) + 1] - r0;
      const Index rows_padded = ((rows + R - 1) / R) * R;
      const Index* idx = perm.data() + r0;
      // The tile's origin: the mean of its rows, in double.
      std::fill(origin.begin(), origin.end(), 0.0);
      for (Index r = 0; r < rows && kFloat && options.local_origin; ++r)
        for (Index k = 0; k < d; ++k)
          origin[static_cast<std::size_t>(k)] += static_cast<double>(x(idx[r], k));
      // Rounded to T: y_j - o is then formed in T with an error relative to |y_j - o| itself.
      for (Index k = 0; k < d; ++k)
        origin[static_cast<std::size_t>(k)] = static_cast<double>(
            static_cast<T>(kFloat && options.local_origin
                               ? origin[static_cast<std::size_t>(k)] / static_cast<double>(rows)
                               : common_origin[static_cast<std::size_t>(k)]));
      for (Index r = 0; r < rows_padded; ++r) {
        double norm2 = 0;
        for (Index k = 0; k < d; ++k) {
          const double v =
              r < rows ? static_cast<double>(x(idx[r], k)) - origin[static_cast<std::size_t>(k)]
                       : 0.0;
          u[static_cast<std::size_t>(r * d + k)] = static_cast<T>(2.0 * c * v);
          norm2 += v * v;
        }
        rowoff[static_cast<std::size_t>(r)] = hmax - c * norm2;
        mx[static_cast<std::size_t>(r)] = -std::numeric_limits<T>::infinity();
        s[static_cast<std::size_t>(r)] = 0.0;
      }
      for (Index j0 = 0; j0 < ld; j0 += tile_cols) {
        const Index width = std::min(tile_cols, ld - j0);
        // Column tile relative to this row tile's origin: y_j - o and
        // gh_j = h_j - hmax - c ||y_j - o||^2 in double, rounded to T once.
        if (!local) {
          for (Index r = 0; r < rows_padded; r += R)
            dt::lse_tile<T>(u.data() + r * d, d, yt_common.data(), ld, gh_common.data(), j0, width,
                            buf.data(), mx.data() + r, s.data() + r);
          continue;
        }
        // y_j - o is formed in T (o is a T value: the error is relative to |y_j - o|); its
        // squared norm and gh_j are accumulated in double from the stored T values, because h_j
        // and c ||y_j - o||^2 can be large and cancel (Sinkhorn potentials at small eps).
        std::fill(norm.begin(), norm.begin() + width, 0.0);
        for (Index k = 0; k < d; ++k) {
          const T ok = static_cast<T>(origin[static_cast<std::size_t>(k)]);
          const T* src = yd.data() + k * ld + j0;
          T* dst = yt.data() + k * width;
          double* nr = norm.data();
          for (Index j = 0; j < width; ++j) {
            const T v = src[j] - ok;
            dst[j] = v;
            nr[j] += static_cast<double>(v) * static_cast<double>(v);
          }
        }
        const double* hsrc = hd.data() + j0;
        for (Index j = 0; j < width; ++j)
          gh[static_cast<std::size_t>(j)] =
              static_cast<T>(hsrc[j] - c * norm[static_cast<std::size_t>(j)]);
        for (Index r = 0; r < rows_padded; r += R) {
          dt::lse_tile<T>(u.data() + r * d, d, yt.data(), width, gh.data(), 0, width, buf.data(),
                          mx.data() + r, s.data() + r);
        }
      }
      for (Index r = 0; r < rows; ++r) {
        const auto ur = static_cast<std::size_t>(r);
        out[idx[r]] = mx[ur] > -std::numeric_limits<T>::infinity()
                          ? rowoff[ur] + static_cast<double>(mx[ur]) + std::log(s[ur])
                          : kNegInf;
      }
    }
  };

  // Row groups are fixed (group t = rows perm[t * G ...]) whatever the thread count or
  // tile_rows, so the output bytes do not depend on them. With a progress callback the groups go
  // in up to 16 sequential super-blocks (each one run in parallel) with a report between them.
  const Index blocks = options.execution.progress ? std::min<Index>(16, n_tiles) : 1;
  const Index block_tiles = (n_tiles + blocks - 1) / blocks;
  for (Index b0 = 0; b0 < n_tiles; b0 += block_tiles) {
    const Index b1 = std::min(n_tiles, b0 + block_tiles);
    parallel_for(b1 - b0, threads, grain,
                 [&](Index begin, Index end) { body(b0 + begin, b0 + end); });
    if (cancelled.load()) throw Cancelled("gaussian_lse");
    if (options.execution.progress)
      options.execution.checkpoint(
          "gaussian_lse",
          static_cast<double>(groups.start[static_cast<std::size_t>(b1)]) / static_cast<double>(n));
  }
}

/// Allocating overload: returns the n values.
template <Real T>
Vector<double> gaussian_lse(MatrixView<T> x, MatrixView<T> y, VectorView<double> h, double c,
                            const LseOptions& options = {}) {
  Vector<double> out(x.rows());
  gaussian_lse<T>(x, y, h, c, out, options);
  return out;
}

}  // namespace popalign::kernels
