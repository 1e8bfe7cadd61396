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
    check_argument(weights.size() == 0 || weights.size() == values.rows(), "weights",
                   "has " + std::to_string(weights.size()) + " entries for " +
                       std::to_string(values.rows()) + " rows");
    for (Index i = 0; i < weights.size(); ++i)
      check_argument(std::isfinite(static_cast<double>(weights[i])) && weights[i] >= 0, "weights",
                     "entry " + std::to_string(i) + " is negative or not finite");
  }
};

namespace detail {
template <class T>
struct is_supported_scalar : std::bool_constant<std::is_same_v<T, float> || std::is_same_v<T, double>> {};
}  // namespace detail

/// Scalars the numeric templates are instantiated and tested for.
template <class T>
concept Real = detail::is_supported_scalar<T>::value;

}  // namespace popalign
