#pragma once
// Value types shared by every layer: row-major trait matrices, weight vectors and id lists.
#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <popalign/core/error.hpp>

namespace popalign {

using Index = Eigen::Index;

/// Row-major dense matrix: one row per persona / person, one column per trait.
template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// Column vector (weights, potentials, per-row results).
template <class T>
using Vector = Eigen::Matrix<T, Eigen::Dynamic, 1>;

/// Read-only views accepted by compiled functions and by templates that do not need the
/// expression type. Any row-major block or map binds without copying.
template <class T>
using MatrixView = Eigen::Ref<const RowMatrix<T>>;
template <class T>
using VectorView = Eigen::Ref<const Vector<T>>;

/// The one weight check of the numeric layers (density, ot, sampling, metrics, align). `w` must
/// have `expected` entries (any number > 0 when expected < 0), every entry finite and >= 0, and,
/// unless `allow_zero_total`, a positive sum. Throws InvalidArgument naming `name` with one of
///   "has 3 entries for 4 <unit>", "is empty", "entry 2 is negative or not finite",
///   "all entries are zero".
/// Returns the sum, accumulated in double in index order.
template <class Derived>
double check_weights(const Eigen::DenseBase<Derived>& w, const char* name, Index expected = -1,
                     const char* unit = "rows", bool allow_zero_total = false) {
  if (expected >= 0)
    check_argument(w.size() == expected, name,
                   "has " + std::to_string(w.size()) + " entries for " + std::to_string(expected) +
                       " " + unit);
  else
    check_argument(w.size() > 0, name, "is empty");
  double total = 0.0;
  for (Index i = 0; i < w.size(); ++i) {
    const double v = static_cast<double>(w.derived().coeff(i));
    check_argument(std::isfinite(v) && v >= 0.0, name,
                   "entry " + std::to_string(i) + " is negative or not finite");
    total += v;
  }
  check_argument(allow_zero_total || total > 0.0, name, "all entries are zero");
  return total;
}

/// A table of trait scores: ids[i] names row i of values; traits[k] names column k.
/// weights is empty (uniform) or has one non-negative entry per row.
template <class T = double>
struct TraitTable {
  std::vector<std::string> ids;
  std::vector<std::string> traits;
  RowMatrix<T> values;
  Vector<T> weights;

  Index rows() const noexcept { return values.rows(); }
  Index cols() const noexcept { return values.cols(); }

  /// Throws InvalidArgument naming the inconsistent member.
  void validate() const {
    check_argument(ids.empty() || static_cast<Index>(ids.size()) == values.rows(), "ids",
                   "has " + std::to_string(ids.size()) + " entries for " +
                       std::to_string(values.rows()) + " rows");
    check_argument(static_cast<Index>(traits.size()) == values.cols(), "traits",
                   "has " + std::to_string(traits.size()) + " names for " +
                       std::to_string(values.cols()) + " columns");
    if (weights.size() > 0)
      check_weights(weights, "weights", values.rows(), "rows", /*allow_zero_total=*/true);
  }
};

namespace detail {
template <class T>
struct is_supported_scalar
    : std::bool_constant<std::is_same_v<T, float> || std::is_same_v<T, double>> {};
}  // namespace detail

/// Scalars the numeric templates are instantiated and tested for.
template <class T>
concept Real = detail::is_supported_scalar<T>::value;

}  // namespace popalign
