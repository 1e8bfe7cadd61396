#pragma once
// KD-tree truncated Gaussian KDE (optional; needs nanoflann, Debian `libnanoflann-dev`, and is
// the only popalign header that includes it: link your target to nanoflann::nanoflann or make
// <nanoflann.hpp> visible when you include this header).
//
// In the whitened space of a Kde (z = L^{-1} x, kernel exp(-||z - z_j||^2 / 2) times the peak
// value K0 = (2 pi)^{-d/2} / det L), a sample point farther than r from the query contributes
// at most w_j K0 exp(-r^2/2). Summing only the neighbours within r therefore under-estimates
// p(x) by at most
//
//     W_out(x) * K0 * exp(-r^2 / 2)  <=  tol * K0,     W_out = weight of the points beyond r,
//
// when r^2 = 2 log(1/tol). The bound is absolute (relative to the kernel peak K0); per query
// the result reports it, and its ratio to the estimate (a relative bound that is small where the
// density is not tiny). Queries are processed in spatially compact blocks (recursive median
// splits): one nanoflann radius search of radius r + (block radius) around the block centre
// finds every point within r of any of its queries, and the gathered points are summed by the
// same fused kernel (kernels::gaussian_lse): the truncation changes which terms are summed, not
// how. Points beyond r that the block search includes only make the sum more exact.
//
// When it pays: low d (<= ~6) and queries in dense regions, where a ball of radius r holds a
// small fraction of the sample. In higher d, or with wide kernels, most points are within r and
// the exact Kde (one tiled pass) is faster.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include <nanoflann.hpp>

#include <popalign/core/execution.hpp>
#include <popalign/density/kde.hpp>
#include <popalign/kernels/gaussian_lse.hpp>

namespace popalign::density {

struct TreeKdeOptions {
  /// Neglected terms are at most tol * K0 in total (K0 = kernel peak); r^2 = 2 log(1/tol).
  double tolerance = 1e-8;
  std::size_t leaf_size = 32;  ///< nanoflann leaf size
  /// Queries are evaluated in spatially compact blocks of at most this many (one radius search
  /// around the block and one fused-kernel call per block; the bound holds for every query).
  Index query_block = 64;
  Execution execution{};  ///< threads over queries (0 = all cores)

  void validate() const {
    check_argument(std::isfinite(tolerance) && tolerance > 0 && tolerance < 1, "tolerance",
                   "must be in (0, 1)");
    check_argument(leaf_size >= 1, "leaf_size", "must be >= 1");
    check_argument(query_block >= 1, "query_block", "must be >= 1");
    execution.validate();
  }
  /// Squared search radius in whitened units.
  double radius_squared() const { return 2.0 * std::log(1.0 / tolerance); }
};

struct TreeKdeResult {
  Vector<double> log_density;       ///< log of the truncated sum (a lower bound of log p)
  Vector<double> log_error_bound;   ///< log of W_out * tol * K0 (absolute bound of the deficit)
  double max_relative_error = 0.0;  ///< max over queries of bound / estimate
  double mean_neighbours = 0.0;     ///< mean number of sample points summed per query
};

namespace detail {

template <Real T>
struct WhitenedCloud {
  const RowMatrix<T>* z;
  std::size_t kdtree_get_point_count() const { return static_cast<std::size_t>(z->rows()); }
  T kdtree_get_pt(std::size_t i, std::size_t k) const {
    return (*z)(static_cast<Index>(i), static_cast<Index>(k));
  }
  template <class Box>
  bool kdtree_get_bbox(Box&) const {
    return false;
  }
};

/// Splits order[b, e) into blocks of at most `leaf` queries by recursive median splits along
/// the widest coordinate (ties by index: deterministic).
template <Real T>
void split_blocks(const RowMatrix<T>& z, std::vector<Index>& order, Index b, Index e, Index leaf,
                  std::vector<std::pair<Index, Index>>& out) {
  if (e - b <= leaf) {
    if (e > b) out.emplace_back(b, e);
    return;
  }
  Index axis = 0;
  double widest = -1.0;
  for (Index k = 0; k < z.cols(); ++k) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (Index t = b; t < e; ++t) {
      const double v = static_cast<double>(z(order[static_cast<std::size_t>(t)], k));
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (hi - lo > widest) {
      widest = hi - lo;
      axis = k;
    }
  }
  const Index mid = b + (e - b) / 2;
  std::nth_element(order.begin() + b, order.begin() + mid, order.begin() + e,
                   [&](Index p, Index q) {
                     return z(p, axis) < z(q, axis) || (z(p, axis) == z(q, axis) && p < q);
                   });
  split_blocks(z, order, b, mid, leaf, out);
  split_blocks(z, order, mid, e, leaf, out);
}

}  // namespace detail

/// A KD-tree over a Kde's whitened sample. Keeps a reference to `kde`: the Kde must outlive it.
/// log_density() is const and thread-safe.
template <Real T>
class TreeKde {
 public:
  explicit TreeKde(const Kde<T>& kde, TreeKdeOptions options = {})
      : kde_(&kde), options_(std::move(options)) {
    options_.validate();
    cloud_.z = &kde.whitened_data();
    index_ = std::make_unique<Tree>(static_cast<int>(kde.dim()), cloud_,
                                    nanoflann::KDTreeSingleIndexAdaptorParams(options_.leaf_size));
    index_->buildIndex();
  }
  // The tree refers to cloud_, a member: not copyable or movable.
  TreeKde(const TreeKde&) = delete;
  TreeKde& operator=(const TreeKde&) = delete;

  TreeKdeResult log_density(MatrixView<T> points) const {
    kde_->check_points(points);
    const RowMatrix<T> zq = kde_->whiten(points);
    const Index m = zq.rows(), d = zq.cols();
    const auto& zdata = kde_->whitened_data();
    const auto& lw = kde_->log_weights();
    const double r = std::sqrt(options_.radius_squared());
    const double log_tol_k0 = std::log(options_.tolerance) + kde_->log_normalizer();
    constexpr double kNegInf = -std::numeric_limits<double>::infinity();
    TreeKdeResult res;
    res.log_density.resize(m);
    res.log_error_bound.resize(m);
    std::vector<double> rel(static_cast<std::size_t>(m)), count(static_cast<std::size_t>(m));
    // Spatially compact blocks of queries (recursive median splits along the widest axis); one
    // radius search and one fused-kernel call per block.
    std::vector<Index> order(static_cast<std::size_t>(m));
    for (Index i = 0; i < m; ++i) order[static_cast<std::size_t>(i)] = i;
    std::vector<std::pair<Index, Index>> blocks;
    detail::split_blocks(zq, order, 0, m, options_.query_block, blocks);
    parallel_for(
        static_cast<Index>(blocks.size()), options_.execution.resolved_threads(), 1,
        [&](Index b0, Index b1) {
          std::vector<std::pair<std::uint32_t, T>> found;
          RowMatrix<T> gathered, qblock;
          Vector<double> h, out;
          std::vector<T> centre_t(static_cast<std::size_t>(d));
          kernels::LseOptions lse;
          lse.execution.threads = 1;  // parallel over blocks already
          for (Index b = b0; b < b1; ++b) {
            const auto [s, e] = blocks[static_cast<std::size_t>(b)];
            const Index q = e - s;
            qblock.resize(q, d);
            Eigen::RowVectorXd centre = Eigen::RowVectorXd::Zero(d);
            for (Index t = 0; t < q; ++t) {
              qblock.row(t) = zq.row(order[static_cast<std::size_t>(s + t)]);
              centre += qblock.row(t).template cast<double>();
            }
            centre /= static_cast<double>(q);
            double rad = 0.0;
            for (Index t = 0; t < q; ++t)
              rad = std::max(rad, (qblock.row(t).template cast<double>() - centre).norm());
            for (Index k = 0; k < d; ++k)
              centre_t[static_cast<std::size_t>(k)] = static_cast<T>(centre[k]);
            // Every sample point within r of any query of the block is within r + rad of the centre
            // (a 1e-6 relative margin covers the rounding of the search in T).
            const double search = (r + rad) * (1.0 + 1e-6);
            found.clear();
            index_->radiusSearch(centre_t.data(), static_cast<T>(search * search), found,
                                 nanoflann::SearchParams(32, 0.0f, false));
            const Index k = static_cast<Index>(found.size());
            gathered.resize(k, d);
            h.resize(k);
            double w_in = 0.0;
            for (Index j = 0; j < k; ++j) {
              const auto src = static_cast<Index>(found[static_cast<std::size_t>(j)].first);
              gathered.row(j) = zdata.row(src);
              h[j] = lw[src];
              w_in += std::exp(lw[src]);
            }
            out.resize(q);
            if (k > 0) {
              kernels::gaussian_lse<T>(qblock, gathered, h, 0.5, out, lse);
            } else {
              out.setConstant(kNegInf);
            }
            // The excluded points are farther than r from every query of the block.
            const double w_out = std::max(0.0, 1.0 - w_in);
            const double lb = w_out > 0 ? std::log(w_out) + log_tol_k0 : kNegInf;
            for (Index t = 0; t < q; ++t) {
              const Index i = order[static_cast<std::size_t>(s + t)];
              const double ld = std::isfinite(out[t]) ? out[t] + kde_->log_normalizer() : kNegInf;
              res.log_density[i] = ld;
              res.log_error_bound[i] = lb;
              rel[static_cast<std::size_t>(i)] =
                  std::isfinite(ld)
                      ? std::exp(lb - ld)
                      : (std::isfinite(lb) ? std::numeric_limits<double>::infinity() : 0.0);
              count[static_cast<std::size_t>(i)] = static_cast<double>(k);
            }
          }
        });
    for (Index i = 0; i < m; ++i) {
      res.max_relative_error = std::max(res.max_relative_error, rel[static_cast<std::size_t>(i)]);
      res.mean_neighbours += count[static_cast<std::size_t>(i)];
    }
    if (m > 0) res.mean_neighbours /= static_cast<double>(m);
    return res;
  }

  const TreeKdeOptions& options() const noexcept { return options_; }

 private:
  using Cloud = detail::WhitenedCloud<T>;
  using Tree = nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<T, Cloud>, Cloud,
                                                   -1, std::uint32_t>;
  const Kde<T>* kde_;
  TreeKdeOptions options_;
  Cloud cloud_;
  std::unique_ptr<Tree> index_;
};

}  // namespace popalign::density
