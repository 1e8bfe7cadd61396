#pragma once
// Bodies of the scoring core (declarations and the algorithm: scoring_core.hpp). Included at the
// bottom of scoring_core.hpp; do not include it directly.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <popalign/psychometrics/reliability.hpp>
#include <popalign/psychometrics/scoring_core.hpp>

namespace popalign::psychometrics {

inline void ScoringOptions::validate() const {
  check_argument(min_answered > 0 && min_answered <= 1, "min_answered",
                 fmt::format("must be in (0, 1], got {}", min_answered));
  check_argument(traits || facets, "traits", "at least one of traits and facets must be on");
}

inline std::vector<Index> match_columns(const Instrument& instrument,
                                        const std::vector<std::string>& column_names) {
  std::vector<Index> item_of(column_names.size(), -1);
  std::vector<Index> col_of_item(instrument.num_items(), -1);
  for (std::size_t j = 0; j < column_names.size(); ++j) {
    auto k = instrument.find_item(column_names[j]);
    if (!k) continue;
    if (col_of_item[*k] >= 0)
      throw InvalidArgument("responses",
                            fmt::format("columns '{}' and '{}' both hold item '{}'",
                                        column_names[static_cast<std::size_t>(col_of_item[*k])],
                                        column_names[j], instrument.items[*k].id));
    col_of_item[*k] = static_cast<Index>(j);
    item_of[j] = static_cast<Index>(*k);
  }
  return item_of;
}

inline std::vector<Index> items_in_order(const Instrument& instrument) {
  std::vector<Index> out(instrument.num_items());
  for (std::size_t k = 0; k < out.size(); ++k) out[k] = static_cast<Index>(k);
  return out;
}

namespace detail {

/// Checks a column -> item map against the matrix and the instrument.
inline void check_item_map(const Instrument& instrument, Index columns,
                           const std::vector<Index>& item_of_column) {
  check_argument(
      static_cast<Index>(item_of_column.size()) == columns, "item_of_column",
      fmt::format("has {} entries for {} response columns", item_of_column.size(), columns));
  const Index m = static_cast<Index>(instrument.num_items());
  std::vector<bool> used(instrument.num_items(), false);
  for (std::size_t j = 0; j < item_of_column.size(); ++j) {
    const Index k = item_of_column[j];
    check_argument(k >= -1 && k < m, "item_of_column",
                   fmt::format("entry {} is {}, not an item index in -1..{}", j, k, m - 1));
    if (k < 0) continue;
    check_argument(!used[static_cast<std::size_t>(k)], "item_of_column",
                   fmt::format("item {} ('{}') is held by two columns", k,
                               instrument.items[static_cast<std::size_t>(k)].id));
    used[static_cast<std::size_t>(k)] = true;
  }
}

template <class Derived>
constexpr void check_response_scalar() {
  static_assert(Real<typename Derived::Scalar>,
                "popalign scoring: the response matrix must hold float or double values "
                "(NaN = not answered); convert integer codes with .template cast<double>()");
}

}  // namespace detail

template <class Derived>
std::optional<ResponseCell> first_out_of_scale(const Instrument& instrument,
                                               const Eigen::MatrixBase<Derived>& responses,
                                               const std::vector<Index>& item_of_column) {
  detail::check_response_scalar<Derived>();
  detail::check_item_map(instrument, responses.cols(), item_of_column);
  const Scale& s = instrument.scale;
  for (Index i = 0; i < responses.rows(); ++i)
    for (std::size_t j = 0; j < item_of_column.size(); ++j) {
      if (item_of_column[j] < 0) continue;
      const double x = static_cast<double>(responses(i, static_cast<Index>(j)));
      if (!std::isnan(x) && !s.contains(x)) return ResponseCell{i, static_cast<Index>(j)};
    }
  return std::nullopt;
}

template <class Derived>
RowMatrix<typename Derived::Scalar> keyed_items(const Instrument& instrument,
                                                const Eigen::MatrixBase<Derived>& responses,
                                                const std::vector<Index>& item_of_column) {
  detail::check_response_scalar<Derived>();
  using T = typename Derived::Scalar;
  if (auto c = first_out_of_scale(instrument, responses, item_of_column)) {
    const double x = static_cast<double>(responses(c->row, c->column));
    throw OutOfScaleAnswer(
        fmt::format("row {}, column {}: answer {} is outside the scale {}..{} of instrument '{}'",
                    c->row + 1, c->column + 1, x == 0 ? 0.0 : x, instrument.scale.min,
                    instrument.scale.max, instrument.id),
        c->row, c->column, x);
  }
  const Index n = responses.rows();
  RowMatrix<T> K = RowMatrix<T>::Constant(n, static_cast<Index>(instrument.num_items()),
                                          std::numeric_limits<T>::quiet_NaN());
  const Scale& s = instrument.scale;
  for (Index i = 0; i < n; ++i)
    for (std::size_t j = 0; j < item_of_column.size(); ++j) {
      const Index k = item_of_column[j];
      if (k < 0) continue;
      const T x = responses(i, static_cast<Index>(j));
      if (std::isnan(x)) continue;
      const auto& item = instrument.items[static_cast<std::size_t>(k)];
      K(i, k) = item.key < 0 ? static_cast<T>(s.reverse(static_cast<double>(x))) : x;
    }
  return K;
}

template <class Derived>
RowMatrix<typename Derived::Scalar> keyed_items(const Instrument& instrument,
                                                const Eigen::MatrixBase<Derived>& responses) {
  return keyed_items(instrument, responses, items_in_order(instrument));
}

template <class Derived>
BasicScoreResult<typename Derived::Scalar> score_items(const Instrument& instrument,
                                                       const Eigen::MatrixBase<Derived>& responses,
                                                       const std::vector<Index>& item_of_column,
                                                       const ScoringOptions& options) {
  detail::check_response_scalar<Derived>();
  using T = typename Derived::Scalar;
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  options.validate();
  const RowMatrix<T> K = keyed_items(instrument, responses, item_of_column);
  const Index n = K.rows();
  std::vector<bool> present(instrument.num_items(), false);
  for (Index k : item_of_column)
    if (k >= 0) present[static_cast<std::size_t>(k)] = true;

  BasicScoreResult<T> r;
  r.rows = static_cast<std::size_t>(n);
  for (std::size_t k = 0; k < present.size(); ++k)
    if (!present[k]) r.absent_items.push_back(instrument.items[k].id);
  for (Index i = 0; i < n; ++i) {
    std::size_t miss = 0;
    for (std::size_t k = 0; k < present.size(); ++k)
      if (present[k] && std::isnan(K(i, static_cast<Index>(k)))) ++miss;
    r.missing_answers += miss;
    if (miss) ++r.rows_with_missing;
  }

  struct Dim {
    const Dimension* d;
    bool facet;
    std::vector<std::size_t> items;
  };
  std::vector<Dim> dims;
  if (options.traits)
    for (const auto& t : instrument.traits)
      dims.push_back({&t, false, instrument.items_of_trait(t.code)});
  if (options.facets)
    for (const auto& f : instrument.facets)
      dims.push_back({&f, true, instrument.items_of_facet(f.code)});
  check_argument(!dims.empty(), "facets",
                 fmt::format("instrument '{}' has no facets", instrument.id));

  for (Index i = 0; i < n; ++i) r.scores.ids.push_back(std::to_string(i + 1));
  r.scores.values.resize(n, static_cast<Index>(dims.size()));
  std::vector<double> v_col(static_cast<std::size_t>(n));  // this column's scores, in double
  for (std::size_t c = 0; c < dims.size(); ++c) {
    const Dim& dim = dims[c];
    DimensionReport rep;
    rep.code = dim.d->code;
    rep.name = dim.d->name;
    rep.is_facet = dim.facet;
    rep.items = dim.items.size();
    for (auto k : dim.items)
      if (present[k]) ++rep.items_present;
    r.scores.traits.push_back(options.use_names ? rep.name : rep.code);
    // A score needs ceil(min_answered * items) answered items (at least one).
    const double need_d = std::ceil(options.min_answered * static_cast<double>(rep.items) - 1e-9);
    const std::size_t need = std::max<std::size_t>(1, static_cast<std::size_t>(need_d));
    double sum_s = 0;
    for (Index i = 0; i < n; ++i) {
      double s = 0;
      std::size_t answered = 0;
      for (auto k : dim.items) {
        const double x = static_cast<double>(K(i, static_cast<Index>(k)));
        if (!std::isnan(x)) {
          s += x;
          ++answered;
        }
      }
      double v = kNaN;
      if (answered >= need) {
        v = s / static_cast<double>(answered);
        ++rep.scored;
        sum_s += v;
      } else {
        ++rep.insufficient;
      }
      v_col[static_cast<std::size_t>(i)] = v;
      r.scores.values(i, static_cast<Index>(c)) = static_cast<T>(v);
    }
    if (rep.scored > 0) {
      const double m = static_cast<double>(rep.scored);
      rep.mean = sum_s / m;
      double ss = 0;
      for (const double v : v_col)
        if (!std::isnan(v)) ss += (v - rep.mean) * (v - rep.mean);
      rep.sd = rep.scored > 1 ? std::sqrt(ss / (m - 1)) : kNaN;
    } else {
      rep.mean = rep.sd = kNaN;
    }
    // Alpha on the rows that answered every item of the dimension (absent items excluded).
    std::vector<Index> cols;
    for (auto k : dim.items)
      if (present[k]) cols.push_back(static_cast<Index>(k));
    RowMatrix<T> sub(n, static_cast<Index>(cols.size()));
    for (std::size_t j = 0; j < cols.size(); ++j) sub.col(static_cast<Index>(j)) = K.col(cols[j]);
    const AlphaResult a = cronbach_alpha<T>(sub);
    rep.alpha = a.alpha;
    rep.alpha_rows = a.rows;
    r.dimensions.push_back(std::move(rep));
  }
  for (Index i = 0; i < n; ++i)
    if (r.scores.values.row(i).array().isNaN().any()) ++r.rows_with_nan_score;
  return r;
}

template <class Derived>
BasicScoreResult<typename Derived::Scalar> score_items(const Instrument& instrument,
                                                       const Eigen::MatrixBase<Derived>& responses,
                                                       const ScoringOptions& options) {
  return score_items(instrument, responses, items_in_order(instrument), options);
}

template <class T>
std::string BasicScoreResult<T>::summary() const {
  std::string out = fmt::format(
      "{} rows; {} rows with unanswered items ({} answers missing); {} rows with a NaN score\n",
      rows, rows_with_missing, missing_answers, rows_with_nan_score);
  if (!absent_items.empty()) {
    out += fmt::format("{} instrument items have no column:", absent_items.size());
    for (std::size_t k = 0; k < absent_items.size() && k < 20; ++k) out += " " + absent_items[k];
    if (absent_items.size() > 20) out += " ...";
    out += "\n";
  }
  out += fmt::format("{:<8} {:<24} {:>5} {:>7} {:>7} {:>7} {:>8} {:>12}\n", "score", "name",
                     "items", "mean", "sd", "alpha", "alpha_n", "insufficient");
  for (const auto& d : dimensions) {
    out += fmt::format("{:<8} {:<24} {:>5} {:>7.3f} {:>7.3f} {:>7.3f} {:>8} {:>12}\n", d.code,
                       d.name.substr(0, 24),
                       d.items_present == d.items ? std::to_string(d.items)
                                                  : fmt::format("{}/{}", d.items_present, d.items),
                       d.mean, d.sd, d.alpha, d.alpha_rows, d.insufficient);
  }
  return out;
}

}  // namespace popalign::psychometrics
