#pragma once
// Compression of a weighted point cloud into few weighted atoms, with its Wasserstein error.
//
//   mu = sum_i w_i delta(x_i)  (n points)   ->   nu = sum_a W_a delta(c_a)  (k <= max_atoms)
//
// Algorithm (greedy bisection, the "kd-tree quantiser"): start with one cell holding every
// point; repeatedly take the cell with the largest within-cell sum of squares
// SSE = sum_{i in cell} w_i ||x_i - c||^2 (c = the cell's weighted mean), and cut it in two by
// the hyperplane x_t = c_t through its mean, orthogonal to its coordinate t of largest variance;
// stop at max_atoms cells, or when the error target is met, or when no cell can be cut (all its
// points coincide). Each cell becomes one atom: c_a = the weighted mean of its points, W_a = their
// total weight. The cost is O(n d) per level of the tree, O(n d log k) in all, memory O(n + k d)
// (one permutation of the row indices and per-cell sums); the result does not depend on threads.
//
// Its error: moving every point to the mean of its cell is a coupling of mu and nu, so
//
//   W2(mu, nu)^2  <=  sum_a SSE_a / sum_i w_i   (= Atoms::w2^2, reported)
//
// with equality when the cells are the Voronoi cells of the atoms (every point's nearest atom is
// its own; e.g. well separated clusters); otherwise the exact W2 is smaller (tests compare with
// POT's ot.emd2). W1(mu, nu) <= W2(mu, nu) too. Cutting at the mean of the widest coordinate
// lowers the SSE most among axis-parallel cuts for a symmetric cell and is what bisecting
// k-means approximates without its nearest-centre searches (O(n k) per Lloyd iteration, which at
// n = 10^6, k = 10^4 is 5 10^10 flops against the bisection's ~10^8).
//
// Used by align() above AlignOptions::compress_above points (docs/align.md, "Alignment at
// 10^6 x 10^6"), where the reference and the pool become atoms so that the density ratio and the
// transport cost O(k^2) instead of O(n m).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <Eigen/Core>

#include <popalign/core/error.hpp>
#include <popalign/core/types.hpp>

namespace popalign::align {

/// Options of compress_points(); validate() throws InvalidArgument naming the bad field.
struct CompressOptions {
  Index max_atoms = 8192;  ///< at most this many atoms (>= 1)
  double target_w2 = 0.0;  ///< stop early once the W2 bound is <= this (0 = use max_atoms)

  void validate() const {
    check_argument(max_atoms >= 1, "max_atoms", "must be >= 1");
    check_argument(std::isfinite(target_w2) && target_w2 >= 0, "target_w2",
                   "must be finite and >= 0 (0 = no target)");
  }
};

/// Weighted atoms of a point cloud and the assignment of every point to its atom.
struct Atoms {
  RowMatrix<double> centres;   ///< k x d, the weighted mean of each cell
  Vector<double> mass;         ///< k, total weight of each cell (> 0)
  std::vector<Index> atom_of;  ///< n, the atom (cell) of every input row
  /// W2 bound sqrt(sum_i w_i ||x_i - c_{atom(i)}||^2 / sum_i w_i) >= W2(mu, nu).
  double w2 = 0.0;
  /// Largest distance of a point to its atom (0 for an exact compression).
  double max_radius = 0.0;

  Index size() const noexcept { return centres.rows(); }
};

namespace detail {

/// A cell: rows perm[begin, end) with their weighted mean and SSE.
struct Cell {
  Index begin = 0, end = 0;
  double mass = 0, sse = 0;
  Eigen::RowVectorXd mean;
  int axis = -1;  ///< coordinate of largest variance (-1: cannot be cut)
};

template <Real T>
Cell make_cell(MatrixView<T> x, const Vector<double>& w, const std::vector<Index>& perm,
               Index begin, Index end) {
  const Index d = x.cols();
  Cell c;
  c.begin = begin;
  c.end = end;
  c.mean = Eigen::RowVectorXd::Zero(d);
  auto wt = [&](Index i) { return w.size() == 0 ? 1.0 : w[i]; };
  for (Index p = begin; p < end; ++p) {
    const Index i = perm[static_cast<std::size_t>(p)];
    const double wi = wt(i);
    c.mass += wi;
    c.mean += wi * x.row(i).template cast<double>();
  }
  if (c.mass > 0) c.mean /= c.mass;
  Eigen::RowVectorXd var = Eigen::RowVectorXd::Zero(d);
  Eigen::RowVectorXd lo = Eigen::RowVectorXd::Constant(d, std::numeric_limits<double>::infinity());
  Eigen::RowVectorXd hi = -lo;
  for (Index p = begin; p < end; ++p) {
    const Index i = perm[static_cast<std::size_t>(p)];
    const Eigen::RowVectorXd xi = x.row(i).template cast<double>();
    var += wt(i) * (xi - c.mean).array().square().matrix();
    lo = lo.cwiseMin(xi);
    hi = hi.cwiseMax(xi);
  }
  // Coordinates on which every point of the cell is equal cannot be cut (their variance is
  // rounding noise); a cell of coincident points is final and its SSE is exactly 0.
  for (Index k = 0; k < d; ++k)
    if (!(hi[k] > lo[k])) var[k] = 0;
  c.sse = var.sum();
  Index t = 0;
  const double vmax = var.maxCoeff(&t);
  c.axis = (end - begin >= 2 && vmax > 0) ? static_cast<int>(t) : -1;
  return c;
}

}  // namespace detail

/// Compresses the rows of x (n x d, finite; weights: empty = uniform, else n entries >= 0 with a
/// positive sum) into at most options.max_atoms weighted atoms by greedy bisection of the cell
/// with the largest sum of squares (see the file comment). Zero-weight rows are assigned to their
/// cell but do not move its mean. Deterministic. Throws InvalidArgument naming `x`, `weights` or
/// the option.
template <Real T>
Atoms compress_points(MatrixView<T> x, const Vector<double>& weights = {},
                      const CompressOptions& options = {}) {
  options.validate();
  const Index n = x.rows(), d = x.cols();
  check_argument(n >= 1 && d >= 1, "x", "is empty");
  check_argument(x.allFinite(), "x", "contains NaN or infinite values");
  check_argument(weights.size() == 0 || weights.size() == n, "weights",
                 fmt::format("has {} entries for {} points", weights.size(), n));
  if (weights.size() > 0) {
    check_argument((weights.array() >= 0).all() && weights.allFinite(), "weights",
                   "must be finite and >= 0");
    check_argument(weights.sum() > 0, "weights", "sum to 0");
  }
  std::vector<Index> perm(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) perm[static_cast<std::size_t>(i)] = i;

  // Max-heap of cells by SSE; ties broken by the cell's first position (deterministic).
  std::vector<detail::Cell> cells;
  auto less = [&](std::size_t a, std::size_t b) {
    if (cells[a].sse != cells[b].sse) return cells[a].sse < cells[b].sse;
    return cells[a].begin > cells[b].begin;
  };
  std::priority_queue<std::size_t, std::vector<std::size_t>, decltype(less)> heap(less);
  std::vector<std::size_t> done;  // cells that are final (cut no further)
  cells.push_back(detail::make_cell<T>(x, weights, perm, 0, n));
  heap.push(0);
  double total_sse = cells[0].sse;
  const double total_mass = cells[0].mass;
  const double target_sse = options.target_w2 * options.target_w2 * total_mass;
  Index count = 1;
  while (!heap.empty() && count < options.max_atoms && total_sse > target_sse) {
    const std::size_t ci = heap.top();
    heap.pop();
    const detail::Cell c = cells[ci];
    if (c.axis < 0 || c.sse <= 0) {
      done.push_back(ci);
      continue;
    }
    const double cut = c.mean[c.axis];
    auto first = perm.begin() + c.begin, last = perm.begin() + c.end;
    auto mid = std::stable_partition(
        first, last, [&](Index i) { return static_cast<double>(x(i, c.axis)) < cut; });
    if (mid == first || mid == last) {  // all on one side (rounding): cut at the median
      mid = first + (last - first) / 2;
      std::nth_element(first, mid, last, [&](Index a, Index b) {
        const double xa = static_cast<double>(x(a, c.axis));
        const double xb = static_cast<double>(x(b, c.axis));
        return xa < xb || (xa == xb && a < b);
      });
    }
    const Index split = c.begin + static_cast<Index>(mid - first);
    cells.push_back(detail::make_cell<T>(x, weights, perm, c.begin, split));
    cells.push_back(detail::make_cell<T>(x, weights, perm, split, c.end));
    total_sse += cells[cells.size() - 2].sse + cells.back().sse - c.sse;
    heap.push(cells.size() - 2);
    heap.push(cells.size() - 1);
    ++count;
  }
  while (!heap.empty()) {
    done.push_back(heap.top());
    heap.pop();
  }
  // Atoms in the order of their rows in perm (deterministic, spatially coherent).
  std::sort(done.begin(), done.end(),
            [&](std::size_t a, std::size_t b) { return cells[a].begin < cells[b].begin; });
  Atoms out;
  out.atom_of.assign(static_cast<std::size_t>(n), 0);
  std::vector<std::size_t> kept;
  for (std::size_t ci : done)
    if (cells[ci].mass > 0) kept.push_back(ci);
  const Index k = static_cast<Index>(kept.size());
  out.centres.resize(k, d);
  out.mass.resize(k);
  double sse = 0, r2max = 0;
  for (Index a = 0; a < k; ++a) {
    const detail::Cell& c = cells[kept[static_cast<std::size_t>(a)]];
    out.centres.row(a) = c.mean;
    out.mass[a] = c.mass;
    sse += c.sse;
  }
  // Rows of zero-mass cells (all weights 0) go to the nearest kept atom of the preceding cell.
  Index a = 0;
  for (std::size_t ci : done) {
    const detail::Cell& c = cells[ci];
    const Index atom = c.mass > 0 ? a : std::max<Index>(0, a - 1);
    for (Index p = c.begin; p < c.end; ++p) {
      const Index i = perm[static_cast<std::size_t>(p)];
      out.atom_of[static_cast<std::size_t>(i)] = atom;
      if (weights.size() > 0 && !(weights[i] > 0)) continue;
      r2max =
          std::max(r2max, (x.row(i).template cast<double>() - out.centres.row(atom)).squaredNorm());
    }
    if (c.mass > 0) ++a;
  }
  out.w2 = std::sqrt(std::max(0.0, sse) / total_mass);
  out.max_radius = std::sqrt(r2max);
  return out;
}

/// The weighted mean of the rows of x in each atom, and their count (rows with keep[i] only;
/// keep empty = all rows). Atoms without a kept row get a zero count and the atom's centre.
/// Used to re-centre atoms on a subset (e.g. the transport's candidates).
template <Real T>
std::pair<RowMatrix<double>, Vector<double>> subset_centres(MatrixView<T> x, const Atoms& atoms,
                                                            const std::vector<char>& keep) {
  const Index k = atoms.size(), d = x.cols();
  RowMatrix<double> sum = RowMatrix<double>::Zero(k, d);
  Vector<double> cnt = Vector<double>::Zero(k);
  for (Index i = 0; i < x.rows(); ++i) {
    if (!keep.empty() && !keep[static_cast<std::size_t>(i)]) continue;
    const Index a = atoms.atom_of[static_cast<std::size_t>(i)];
    sum.row(a) += x.row(i).template cast<double>();
    cnt[a] += 1.0;
  }
  for (Index a = 0; a < k; ++a)
    sum.row(a) = cnt[a] > 0 ? Eigen::RowVectorXd(sum.row(a) / cnt[a])
                            : Eigen::RowVectorXd(atoms.centres.row(a));
  return {std::move(sum), std::move(cnt)};
}

/// How align() treats large inputs (AlignOptions::scaling).
enum class Scaling {
  automatic,  ///< compress when the pool or the reference has more than compress_above rows
  subsample,  ///< seeded subsamples (KDE: kde_max_points, transport: ot_max_reference and
              ///< max_candidates); exact below those caps
  compress,   ///< every person counts: pool and reference compressed into weighted atoms
};

constexpr std::string_view to_string(Scaling s) noexcept {
  switch (s) {
    case Scaling::automatic:
      return "auto";
    case Scaling::subsample:
      return "subsample";
    case Scaling::compress:
      return "compress";
  }
  return "unknown";
}

/// "auto", "subsample", "compress"; std::nullopt otherwise.
inline std::optional<Scaling> parse_scaling(std::string_view s) noexcept {
  if (s == "auto" || s == "automatic") return Scaling::automatic;
  if (s == "subsample") return Scaling::subsample;
  if (s == "compress") return Scaling::compress;
  return std::nullopt;
}

/// What align() reports about its compression (Diagnostics::compression). Distances are in the
/// reference's standard units (population sd per trait); each w2 is the coupling bound of
/// Atoms::w2 (an upper bound of the exact W2 between the people and their atoms).
struct CompressionReport {
  bool used = false;
  Index pool_atoms = 0, reference_atoms = 0;
  Index candidate_atoms = 0;  ///< pool atoms holding at least one transport candidate
  double pool_w2 = std::numeric_limits<double>::quiet_NaN();
  double reference_w2 = std::numeric_limits<double>::quiet_NaN();
  double candidate_w2 = std::numeric_limits<double>::quiet_NaN();  ///< candidates vs their atoms
  /// Density ratio: mean and largest |log r_atoms(atom of x) - log r_exact(x)| over `probes`
  /// seeded pool people, where r_exact is the ratio of the two KDEs over all people with the
  /// same kernel (NaN when the density ratio was not computed).
  double log_ratio_error = std::numeric_limits<double>::quiet_NaN();
  double log_ratio_error_max = std::numeric_limits<double>::quiet_NaN();
  Index probes = 0;

  /// One line for Diagnostics::summary(); empty when not used.
  std::string line() const {
    if (!used) return {};
    std::string s = fmt::format(
        "compression: pool {} atoms (W2 <= {:.3f} sd), reference {} atoms (W2 <= {:.3f} sd)",
        pool_atoms, pool_w2, reference_atoms, reference_w2);
    if (candidate_atoms > 0)
      s += fmt::format(", candidates on {} atoms (W2 <= {:.3f} sd)", candidate_atoms, candidate_w2);
    if (probes > 0)
      s += fmt::format("; log density ratio error {:.3f} mean, {:.3f} max over {} people",
                       log_ratio_error, log_ratio_error_max, probes);
    return s + "\n";
  }
};

}  // namespace popalign::align
