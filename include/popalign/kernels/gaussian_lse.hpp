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
//  * LseOptions::distance = direct (KDE): -e_ij = (hmax - h_j) + c sum_k (x_ik - y_jk)^2 in T,
//    2d operations per pair but no cancellation (the exponent error is relative to the term's
//    own exponent). gaussian_lse_mixed<T> takes x, y in double and rounds only the differences
//    from the (group) origin to T, scaled by sqrt(c) in double. LseOptions::recompute_below
//    evaluates rows whose largest exponent is below -recompute_below again in double.
//  * Rows are split over threads; every row is computed by the same instruction sequence in the
//    same column order whatever the thread count or row chunking, so the output bytes do not
//    depend on the number of threads.
//
// Accuracy (T = float): the exponent carries an absolute error of about
// 1e-7 * c * R^2 (R = distance of the points from the origin; with local_origin the radius of
// the row's group plus |x_i - y_j| for the terms that matter), i.e. ~1e-7 / eps relative to the
// cost scale in Sinkhorn; the sum itself is accurate to ~1e-7 relative. T = double is accurate to
// ~1e-15 * c * R^2. With the direct distance on double inputs and local origins, the f32
// exponent error is ~(d + 3) u c (r + |x_i - y_j|)^2 (u = 6e-8, r = group radius) for the terms
// that matter; KDE at 1e5 x 1e5, d = 5: 7.3e-7 max relative with recompute_below = 4.
// Terms more than ~87 (float) / ~708 (double) below the row maximum are flushed
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

/// Evaluation of ||x_i - y_j||^2 in the pair loop (precision T).
///  * expansion (default): ||x_i||^2 + ||y_j||^2 - 2 x_i.y_j with the norms folded into per-row
///    and per-column terms: d FMAs per pair (the fastest; Sinkhorn and the metrics use it). Its T
///    rounding error scales with the squared distance of the points from the origin.
///  * direct: sum_k (x_ik - y_jk)^2, 2 d operations per pair but no cancellation: the exponent's
///    error is a few units of roundoff times c ||x_i - y_j||^2 itself, i.e. small for exactly
///    the terms that dominate the sum. KDE uses it (f32 KDE agreeing with SciPy to 1e-6).
enum class LseDistance { expansion, direct };

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
  /// How the squared distance inside the exponent is evaluated (see LseDistance).
  LseDistance distance = LseDistance::expansion;
  /// T = float only; 0 = off. Rows whose largest exponent, max_j h_j - max h - c|x_i - y_j|^2,
  /// is below -recompute_below are evaluated again in double. In such rows every term that
  /// matters has an exponent of magnitude >= recompute_below, whose float rounding error is a
  /// few units of roundoff times that magnitude, and few terms share it (the nearest weighted
  /// neighbours are far: outlying KDE queries), so they carry the largest f32 errors. They are
  /// rare in KDE (0.8% of the queries at 4 for Scott's rule, d = 5, n = 1e5), so the double
  /// pass costs little. The set of recomputed rows depends only on the inputs.
  double recompute_below = 0.0;

  void validate() const {
    execution.validate();
    check_argument(tile_rows >= 0, "tile_rows", "must be >= 0 (0 = automatic)");
    check_argument(tile_cols >= 0, "tile_cols", "must be >= 0 (0 = automatic)");
    check_argument(distance == LseDistance::expansion || distance == LseDistance::direct,
                   "distance", "is not an LseDistance value");
    check_argument(std::isfinite(recompute_below) && recompute_below >= 0, "recompute_below",
                   "must be finite and >= 0 (0 = off)");
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

/// What lse_tile evaluates (see LseDistance).
///  * kExpansion: u is kLseRowBlock x d (2c (x_i - o)), row-major, gh_j = h_j - hmax
///    - c|y_j - o|^2, exponent e = gh_j + u_i . (y_j - o).
///  * kDirect: u = x_i - o, gh_j = hmax - h_j (negated), -e = gh_j + c sum_k (u_ik - y_jk)^2.
///  * kDirectScaled: as kDirect with u and y already multiplied by sqrt(c) (done in double
///    before the rounding to T, so it costs no accuracy): -e = gh_j + sum_k (u_ik - y_jk)^2,
///    one operation per pair less.
enum class TileMode { kExpansion, kDirect, kDirectScaled };

/// The per-row micro-kernel over one column tile for kLseRowBlock rows. Updates the running
/// maximum exponent mx[r] and the running sum s[r] (sum of exp(e - mx[r])).
template <class T, TileMode Mode = TileMode::kExpansion>
inline void lse_tile(const T* u, Index d, const T* yt, Index ld, const T* gh, Index j0, Index width,
                     T* buf, T* mx, double* s, T c = T(0)) {
  using P = Packet<T>;
  constexpr int L = packet_size<T>();
  constexpr int R = kLseRowBlock;
  constexpr bool kDirect = Mode != TileMode::kExpansion;
  const T neg_inf = -std::numeric_limits<T>::infinity();
  // Expansion: running maxima of e; direct: running minima of -e (the buffer holds -e).
  P pm[R];
  for (int r = 0; r < R; ++r) pm[r] = ei::pset1<P>(kDirect ? -neg_inf : neg_inf);
  // Sweep 1: exponents and their extrema.
  for (Index jv = 0; jv < width; jv += L) {
    const P g = ei::ploadu<P>(gh + j0 + jv);
    P a0, a1, a2, a3;
    const T* yk = yt + j0 + jv;
    if constexpr (kDirect) {
      // Squared distances accumulated from the coordinate differences: no cancellation.
      const P zero = ei::pset1<P>(T(0));
      if constexpr (Mode == TileMode::kDirectScaled)
        a0 = g, a1 = g, a2 = g, a3 = g;
      else
        a0 = zero, a1 = zero, a2 = zero, a3 = zero;
      for (Index k = 0; k < d; ++k, yk += ld) {
        const P yv = ei::ploadu<P>(yk);
        const P d0 = ei::psub(ei::pset1<P>(u[0 * d + k]), yv);
        const P d1 = ei::psub(ei::pset1<P>(u[1 * d + k]), yv);
        const P d2 = ei::psub(ei::pset1<P>(u[2 * d + k]), yv);
        const P d3 = ei::psub(ei::pset1<P>(u[3 * d + k]), yv);
        a0 = ei::pmadd(d0, d0, a0);
        a1 = ei::pmadd(d1, d1, a1);
        a2 = ei::pmadd(d2, d2, a2);
        a3 = ei::pmadd(d3, d3, a3);
      }
      if constexpr (Mode == TileMode::kDirect) {
        const P cv = ei::pset1<P>(c);
        a0 = ei::pmadd(cv, a0, g);
        a1 = ei::pmadd(cv, a1, g);
        a2 = ei::pmadd(cv, a2, g);
        a3 = ei::pmadd(cv, a3, g);
      }
      pm[0] = ei::pmin(pm[0], a0);
      pm[1] = ei::pmin(pm[1], a1);
      pm[2] = ei::pmin(pm[2], a2);
      pm[3] = ei::pmin(pm[3], a3);
    } else {
      a0 = g, a1 = g, a2 = g, a3 = g;
      for (Index k = 0; k < d; ++k, yk += ld) {
        const P yv = ei::ploadu<P>(yk);
        a0 = ei::pmadd(ei::pset1<P>(u[0 * d + k]), yv, a0);
        a1 = ei::pmadd(ei::pset1<P>(u[1 * d + k]), yv, a1);
        a2 = ei::pmadd(ei::pset1<P>(u[2 * d + k]), yv, a2);
        a3 = ei::pmadd(ei::pset1<P>(u[3 * d + k]), yv, a3);
      }
      pm[0] = ei::pmax(pm[0], a0);
      pm[1] = ei::pmax(pm[1], a1);
      pm[2] = ei::pmax(pm[2], a2);
      pm[3] = ei::pmax(pm[3], a3);
    }
    ei::pstoreu(buf + 0 * width + jv, a0);
    ei::pstoreu(buf + 1 * width + jv, a1);
    ei::pstoreu(buf + 2 * width + jv, a2);
    ei::pstoreu(buf + 3 * width + jv, a3);
  }
  // Streaming max update; rows whose tile is all -inf keep their state.
  T shift[R];
  bool active[R];
  for (int r = 0; r < R; ++r) {
    const T tmax = kDirect ? -ei::predux_min(pm[r]) : ei::predux_max(pm[r]);
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
  // Sweep 2: shifted exponentials, accumulated per lane in T. exp(e - shift) is
  // exp(buf - shift) (expansion) or exp(-shift - buf) (direct: buf = -e).
  const T sgn = kDirect ? T(-1) : T(1);
  const P sh0 = ei::pset1<P>(sgn * shift[0]), sh1 = ei::pset1<P>(sgn * shift[1]);
  const P sh2 = ei::pset1<P>(sgn * shift[2]), sh3 = ei::pset1<P>(sgn * shift[3]);
  P s0 = ei::pset1<P>(T(0)), s1 = s0, s2 = s0, s3 = s0;
  auto arg = [&](const T* p, const P& sh) {
    if constexpr (kDirect)
      return ei::psub(sh, ei::ploadu<P>(p));
    else
      return ei::psub(ei::ploadu<P>(p), sh);
  };
  for (Index jv = 0; jv < width; jv += L) {
    s0 = ei::padd(s0, exp_nonpositive(arg(buf + 0 * width + jv, sh0)));
    s1 = ei::padd(s1, exp_nonpositive(arg(buf + 1 * width + jv, sh1)));
    s2 = ei::padd(s2, exp_nonpositive(arg(buf + 2 * width + jv, sh2)));
    s3 = ei::padd(s3, exp_nonpositive(arg(buf + 3 * width + jv, sh3)));
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
    Index target = mid;
    if (!(widest > 0) || mid - b < min_side || e - mid < min_side)
      target = !(widest > 0) ? b + (e - b) / 2 : std::clamp(mid, b + min_side, e - min_side);
    // Left parts in whole row blocks of the micro-kernel (no padded rows), so only the last
    // group can have a partial block.
    const Index rounded = b + ((target - b + kLseRowBlock / 2) / kLseRowBlock) * kLseRowBlock;
    if (rounded > b && rounded < e) target = rounded;
    if (target != mid) {
      mid = target;
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

/// The kernel for x, y stored as In (= T, or double with T = float: gaussian_lse_mixed) and
/// pair arithmetic in T. Differences from the origins are formed in In and rounded to T once.
template <Real T, Real In>
void gaussian_lse_impl(MatrixView<In> x, MatrixView<In> y, VectorView<double> h, double c,
                       Eigen::Ref<Vector<double>> out, const LseOptions& options) {
  options.validate();
  check_lse_arguments<In>(x, y, h, c, out.size());
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  const Index n = x.rows(), m = y.rows(), d = x.cols();
  if (n == 0) return;
  const double hmax = m == 0 ? kNegInf : h.maxCoeff();
  if (!(hmax > kNegInf)) {
    out.setConstant(kNegInf);
    return;
  }
  constexpr int L = packet_size<T>();
  constexpr int R = kLseRowBlock;
  constexpr bool kFloat = std::is_same_v<T, float>;
  const bool direct = options.distance == LseDistance::direct;
  // The direct distance on T inputs needs no origin: x_ik - y_jk is formed from the inputs
  // themselves, and a shift in T would only add rounding.
  const bool zero_origin = direct && std::is_same_v<In, T>;
  const bool local = kFloat && options.local_origin && !zero_origin;
  // Mixed inputs: the differences from the origin are formed in double, so they can be scaled
  // by sqrt(c) there before the rounding to T (kDirectScaled).
  const bool scaled = direct && !zero_origin;
  const double sc = scaled ? std::sqrt(c) : 1.0;

  // Column data transposed once per call (O(m d)): yd (d x ld, In, zero padding) and
  // hd = h - hmax (-inf padding). The T copies relative to the origin are made once per call
  // (common origin) or per (row group, column tile) from these, so they stay in L1 (local).
  const Index tile_cols =
      options.tile_cols > 0 ? ((options.tile_cols + L - 1) / L) * L : auto_tile_cols<float>(d, L);
  const Index ld = ((m + L - 1) / L) * L;
  std::vector<In, Eigen::aligned_allocator<In>> yd(static_cast<std::size_t>(d * ld), In(0));
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
  // Rows go in fixed groups of G consecutive entries of a spatially compact order (outputs stay
  // in input order); each group has its own origin. With very few columns the ordering would
  // cost more than the whole evaluation, so it is skipped there.
  // f32: groups of <= 64 rows in a spatial order (the accuracy fix). f64 is already accurate to
  // ~1e-15 c R^2, so it keeps the input order in groups of 256 rows (less column work per row).
  constexpr Index G = kFloat ? kLseGroupRows : 4 * kLseGroupRows;
  const RowGroups groups =
      local && n > G && m >= G ? spatial_groups<In>(x, G) : consecutive_groups(n, G);
  // Without local_origin every group uses the common mean of x and y (in double), except the
  // direct distance on T inputs (zero origin).
  std::vector<double> common_origin(static_cast<std::size_t>(d), 0.0);
  if (!local && !zero_origin) {
    for (Index i = 0; i < n; ++i)
      for (Index k = 0; k < d; ++k) common_origin[static_cast<std::size_t>(k)] += x(i, k);
    for (Index j = 0; j < m; ++j)
      for (Index k = 0; k < d; ++k) common_origin[static_cast<std::size_t>(k)] += y(j, k);
    for (auto& v : common_origin) v /= static_cast<double>(n + m);
    // Rounded to In: y_j - o is then formed in In with an error relative to |y_j - o| itself.
    for (auto& v : common_origin) v = static_cast<double>(static_cast<In>(v));
  }
  // Common origin: the column tiles are the same for every group, prepared once (O(m d)).
  // Expansion: gh_j = h_j - hmax - c |y_j - o|^2 (double, rounded to T once); direct:
  // gh_j = hmax - h_j (the tile kernel works with -e).
  std::vector<T, Eigen::aligned_allocator<T>> yt_common, gh_common;
  if (!local) {
    yt_common.assign(static_cast<std::size_t>(d * ld), T(0));
    // Padding columns: weight zero, i.e. e = -inf (the direct kernel stores -e: +inf).
    gh_common.assign(static_cast<std::size_t>(ld),
                     (direct ? 1 : -1) * std::numeric_limits<T>::infinity());
    for (Index j = 0; j < m; ++j) {
      double norm2 = 0;
      for (Index k = 0; k < d; ++k) {
        const In diff = yd[static_cast<std::size_t>(k * ld + j)] -
                        static_cast<In>(common_origin[static_cast<std::size_t>(k)]);
        const T v = static_cast<T>(scaled ? sc * static_cast<double>(diff) : diff);
        yt_common[static_cast<std::size_t>(k * ld + j)] = v;
        norm2 += static_cast<double>(v) * static_cast<double>(v);
      }
      gh_common[static_cast<std::size_t>(j)] = static_cast<T>(
          direct ? -hd[static_cast<std::size_t>(j)] : hd[static_cast<std::size_t>(j)] - c * norm2);
    }
  }
  const std::vector<Index>& perm = groups.perm;
  const Index n_tiles = static_cast<Index>(groups.start.size()) - 1;
  // Parallel grain in work units (below); tile_rows only changes the scheduling.
  const Index grain_groups = options.tile_rows > 0 ? (options.tile_rows + G - 1) / G : Index{1};
  std::atomic<bool> cancelled{false};
  const CancellationToken& token = options.execution.cancel;
  const T c_t = static_cast<T>(c);
  const double threshold = options.recompute_below;
  const bool recompute = kFloat && threshold > 0;
  std::vector<char> redo(recompute ? static_cast<std::size_t>(n) : 0, 0);

  // Work units of S consecutive groups: with local origins each column tile is read from yd
  // (In, often beyond L2) once per unit and re-formed for each of its S groups from L1/L2.
  // Every row still sees the same instruction sequence in the same column order, so the output
  // bytes do not depend on S either.
  const Index S = local ? 4 : 1;
  const Index n_units = (n_tiles + S - 1) / S;
  const Index grain = (grain_groups + S - 1) / S;
  auto body = [&](Index u_begin, Index u_end) {
    std::vector<T, Eigen::aligned_allocator<T>> buf(static_cast<std::size_t>(R * tile_cols));
    std::vector<T, Eigen::aligned_allocator<T>> yt(static_cast<std::size_t>(d * tile_cols));
    std::vector<T, Eigen::aligned_allocator<T>> gh(static_cast<std::size_t>(tile_cols));
    std::vector<double> norm(static_cast<std::size_t>(tile_cols));
    std::vector<T> u(static_cast<std::size_t>(S * G * d));
    std::vector<double> rowoff(static_cast<std::size_t>(S * G));
    std::vector<T> mx(static_cast<std::size_t>(S * G));
    std::vector<double> s(static_cast<std::size_t>(S * G));
    std::vector<double> origins(static_cast<std::size_t>(S * d));
    // Rows r of the unit's group g live at index g * G + r of u, rowoff, mx, s.
    auto tile = [&](Index r, const T* ytp, Index ldp, const T* ghp, Index j0, Index width) {
      if (scaled)
        lse_tile<T, TileMode::kDirectScaled>(u.data() + r * d, d, ytp, ldp, ghp, j0, width,
                                             buf.data(), mx.data() + r, s.data() + r);
      else if (direct)
        lse_tile<T, TileMode::kDirect>(u.data() + r * d, d, ytp, ldp, ghp, j0, width, buf.data(),
                                       mx.data() + r, s.data() + r, c_t);
      else
        lse_tile<T, TileMode::kExpansion>(u.data() + r * d, d, ytp, ldp, ghp, j0, width, buf.data(),
                                          mx.data() + r, s.data() + r);
    };
    for (Index unit = u_begin; unit < u_end; ++unit) {
      if (token.cancelled()) {
        cancelled.store(true, std::memory_order_relaxed);
        return;
      }
      const Index t0 = unit * S, t1 = std::min(n_tiles, t0 + S);
      auto group_rows = [&](Index t) {
        return groups.start[static_cast<std::size_t>(t) + 1] -
               groups.start[static_cast<std::size_t>(t)];
      };
      for (Index t = t0; t < t1; ++t) {
        const Index g = t - t0;
        const Index rows = group_rows(t);
        const Index rows_padded = ((rows + R - 1) / R) * R;
        const Index* idx = perm.data() + groups.start[static_cast<std::size_t>(t)];
        double* origin = origins.data() + g * d;
        // The group's origin: the mean of its rows (local) or the common one, rounded to In.
        if (local) {
          std::fill(origin, origin + d, 0.0);
          for (Index r = 0; r < rows; ++r)
            for (Index k = 0; k < d; ++k) origin[k] += static_cast<double>(x(idx[r], k));
          for (Index k = 0; k < d; ++k)
            origin[k] = static_cast<double>(static_cast<In>(origin[k] / static_cast<double>(rows)));
        } else {
          std::copy(common_origin.begin(), common_origin.end(), origin);
        }
        for (Index r = 0; r < rows_padded; ++r) {
          const auto ur = static_cast<std::size_t>(g * G + r);
          double norm2 = 0;
          for (Index k = 0; k < d; ++k) {
            const double v = r < rows ? static_cast<double>(x(idx[r], k)) - origin[k] : 0.0;
            u[ur * static_cast<std::size_t>(d) + static_cast<std::size_t>(k)] =
                static_cast<T>(direct ? sc * v : 2.0 * c * v);
            norm2 += v * v;
          }
          rowoff[ur] = direct ? hmax : hmax - c * norm2;
          mx[ur] = -std::numeric_limits<T>::infinity();
          s[ur] = 0.0;
        }
      }
      for (Index j0 = 0; j0 < ld; j0 += tile_cols) {
        const Index width = std::min(tile_cols, ld - j0);
        for (Index t = t0; t < t1; ++t) {
          const Index g = t - t0;
          const Index rows_padded = ((group_rows(t) + R - 1) / R) * R;
          if (!local) {
            for (Index r = 0; r < rows_padded; r += R)
              tile(g * G + r, yt_common.data(), ld, gh_common.data(), j0, width);
            continue;
          }
          // Column tile relative to this group's origin: y_j - o formed in In (o is an In
          // value: the error is relative to |y_j - o|) and rounded to T; for the expansion its
          // squared norm and gh_j are accumulated in double from the stored T values, because
          // h_j and c ||y_j - o||^2 can be large and cancel (Sinkhorn potentials at small eps).
          const double* origin = origins.data() + g * d;
          if (!direct) std::fill(norm.begin(), norm.begin() + width, 0.0);
          for (Index k = 0; k < d; ++k) {
            const In ok = static_cast<In>(origin[k]);
            const In* src = yd.data() + k * ld + j0;
            T* dst = yt.data() + k * width;
            if (direct) {
              for (Index j = 0; j < width; ++j)
                dst[j] = static_cast<T>(sc * static_cast<double>(src[j] - ok));
              continue;
            }
            double* nr = norm.data();
            for (Index j = 0; j < width; ++j) {
              const T v = static_cast<T>(src[j] - ok);
              dst[j] = v;
              nr[j] += static_cast<double>(v) * static_cast<double>(v);
            }
          }
          const double* hsrc = hd.data() + j0;
          for (Index j = 0; j < width; ++j)
            gh[static_cast<std::size_t>(j)] =
                static_cast<T>(direct ? -hsrc[j] : hsrc[j] - c * norm[static_cast<std::size_t>(j)]);
          for (Index r = 0; r < rows_padded; r += R)
            tile(g * G + r, yt.data(), width, gh.data(), 0, width);
        }
      }
      for (Index t = t0; t < t1; ++t) {
        const Index g = t - t0;
        const Index rows = group_rows(t);
        const Index* idx = perm.data() + groups.start[static_cast<std::size_t>(t)];
        for (Index r = 0; r < rows; ++r) {
          const auto ur = static_cast<std::size_t>(g * G + r);
          const bool finite = mx[ur] > -std::numeric_limits<T>::infinity();
          out[idx[r]] =
              finite ? rowoff[ur] + static_cast<double>(mx[ur]) + std::log(s[ur]) : kNegInf;
          if (recompute && finite && rowoff[ur] - hmax + static_cast<double>(mx[ur]) < -threshold)
            redo[static_cast<std::size_t>(idx[r])] = 1;
        }
      }
    }
  };

  // Row groups are fixed (group t = rows perm[t * G ...]) whatever the thread count or
  // tile_rows, so the output bytes do not depend on them. With a progress callback the units go
  // in up to 16 sequential super-blocks (each one run in parallel) with a report between them.
  const Index blocks = options.execution.progress ? std::min<Index>(16, n_units) : 1;
  const Index block_units = (n_units + blocks - 1) / blocks;
  for (Index b0 = 0; b0 < n_units; b0 += block_units) {
    const Index b1 = std::min(n_units, b0 + block_units);
    parallel_for(b1 - b0, threads, grain,
                 [&](Index begin, Index end) { body(b0 + begin, b0 + end); });
    if (cancelled.load()) throw Cancelled("gaussian_lse");
    if (options.execution.progress)
      options.execution.checkpoint(
          "gaussian_lse",
          static_cast<double>(groups.start[static_cast<std::size_t>(std::min(n_tiles, b1 * S))]) /
              static_cast<double>(n));
  }
  if (!recompute) return;
  // Rows with only large-magnitude exponents: again in double (same inputs, as double).
  std::vector<Index> rows;
  for (Index i = 0; i < n; ++i)
    if (redo[static_cast<std::size_t>(i)]) rows.push_back(i);
  if (rows.empty()) return;
  RowMatrix<double> xs(static_cast<Index>(rows.size()), d);
  for (Index r = 0; r < xs.rows(); ++r)
    xs.row(r) = x.row(rows[static_cast<std::size_t>(r)]).template cast<double>();
  LseOptions again = options;
  again.execution.progress = {};
  again.recompute_below = 0.0;
  again.local_origin = false;
  again.distance = LseDistance::expansion;
  Vector<double> sub(xs.rows());
  if constexpr (std::is_same_v<In, double>) {
    gaussian_lse_impl<double, double>(xs, y, h, c, sub, again);
  } else {
    const RowMatrix<double> yy = y.template cast<double>();
    gaussian_lse_impl<double, double>(xs, yy, h, c, sub, again);
  }
  for (Index r = 0; r < xs.rows(); ++r) out[rows[static_cast<std::size_t>(r)]] = sub[r];
}

}  // namespace detail

/// out[i] = log sum_j exp(h[j] - c * ||x_i - y_j||^2)  for every row i of x.
/// x: n x d, y: m x d (row-major, T = float or double), h: m log-weights in double
/// (-inf allowed: zero weight), c > 0. Rows whose every h is -inf (or m == 0) give -inf.
/// Throws InvalidArgument naming x, y, h, c, out or an option; Cancelled if the token is
/// cancelled.
template <Real T>
void gaussian_lse(MatrixView<T> x, MatrixView<T> y, VectorView<double> h, double c,
                  Eigen::Ref<Vector<double>> out, const LseOptions& options = {}) {
  detail::gaussian_lse_impl<T, T>(x, y, h, c, out, options);
}

/// Allocating overload: returns the n values.
template <Real T>
Vector<double> gaussian_lse(MatrixView<T> x, MatrixView<T> y, VectorView<double> h, double c,
                            const LseOptions& options = {}) {
  Vector<double> out(x.rows());
  gaussian_lse<T>(x, y, h, c, out, options);
  return out;
}

/// Mixed precision: x and y given in double, pair arithmetic in T. Each coordinate is rounded
/// to T only after its origin (the row group's mean with local_origin, else the common mean of
/// x and y) has been subtracted in double, so T = float carries no error from the magnitude of
/// the inputs: with local_origin and LseDistance::direct the f32 exponent error is a few units
/// of roundoff times c (r + |x_i - y_j|)^2 with r the group radius (KDE on f64 data agrees
/// with the f64 evaluation to ~1e-7 relative; docs/kernels.md). T = double is gaussian_lse.
template <Real T>
void gaussian_lse_mixed(MatrixView<double> x, MatrixView<double> y, VectorView<double> h, double c,
                        Eigen::Ref<Vector<double>> out, const LseOptions& options = {}) {
  detail::gaussian_lse_impl<T, double>(x, y, h, c, out, options);
}

/// Allocating overload of gaussian_lse_mixed.
template <Real T>
Vector<double> gaussian_lse_mixed(MatrixView<double> x, MatrixView<double> y, VectorView<double> h,
                                  double c, const LseOptions& options = {}) {
  Vector<double> out(x.rows());
  gaussian_lse_mixed<T>(x, y, h, c, out, options);
  return out;
}

}  // namespace popalign::kernels
