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
// density is not tiny). The neighbours are found by a nanoflann radius search and summed by the
// same fused kernel (kernels::gaussian_lse on the gathered rows): the truncation changes which
// terms are summed, not how.
//
// When it pays: low d (<= ~6) and queries in dense regions, where a ball of radius r holds a
// small fraction of the sample. In higher d, or with wide kernels, most points are within r and
// the exact Kde (one tiled pass) is faster.
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
  Execution execution{};       ///< threads over queries (0 = all cores)

  void validate() const {
    check_argument(std::isfinite(tolerance) && tolerance > 0 && tolerance < 1, "tolerance",
                   "must be in (0, 1)");
    check_argument(leaf_size >= 1, "leaf_size", "must be >= 1");
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
    const double r2 = options_.radius_squared();
    const double log_tol_k0 = std::log(options_.tolerance) + kde_->log_normalizer();
    TreeKdeResult res;
    res.log_density.resize(m);
    res.log_error_bound.resize(m);
    std::vector<double> rel(static_cast<std::size_t>(m)), count(static_cast<std::size_t>(m));
    parallel_for(m, options_.execution.resolved_threads(), 16, [&](Index begin, Index end) {
      std::vector<std::pair<std::uint32_t, T>> found;
      RowMatrix<T> gathered;
      Vector<double> h;
      Vector<double> one(1);
      kernels::LseOptions lse;
      lse.execution.threads = 1;  // parallel over queries already
      for (Index i = begin; i < end; ++i) {
        found.clear();
        index_->radiusSearch(zq.row(i).data(), static_cast<T>(r2), found,
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
        double ld = -std::numeric_limits<double>::infinity();
        if (k > 0) {
          kernels::gaussian_lse<T>(zq.row(i), gathered, h, 0.5, one, lse);
          ld = one[0] + kde_->log_normalizer();
        }
        const double w_out = std::max(0.0, 1.0 - w_in);
        const double lb =
            w_out > 0 ? std::log(w_out) + log_tol_k0 : -std::numeric_limits<double>::infinity();
        res.log_density[i] = ld;
        res.log_error_bound[i] = lb;
        rel[static_cast<std::size_t>(i)] =
            std::isfinite(ld) ? std::exp(lb - ld)
                              : (std::isfinite(lb) ? std::numeric_limits<double>::infinity() : 0.0);
        count[static_cast<std::size_t>(i)] = static_cast<double>(k);
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
