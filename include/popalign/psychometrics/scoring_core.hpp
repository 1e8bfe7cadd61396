#pragma once
// The scoring core: a matrix of item responses -> trait (and facet) scores, with a report per
// score column. Header-only, templated on the scalar (float or double) and on the matrix type:
// any Eigen dense expression binds as `const Eigen::MatrixBase<Derived>&` (a Matrix, a Map of
// the caller's memory, a Block, a Ref), row- or column-major, without a copy. The file readers
// of scoring.hpp are compiled and feed this core; their score() is this core plus the file's
// names and line numbers for messages, so there is one implementation.
//
// Input: X (n respondents x c columns), NaN = not answered, and item_of_column[j], the index of
// the instrument item that column j holds (-1: not an item, ignored). match_columns() builds it
// from column names (item id or alias); items_in_order() is the map of a matrix whose columns
// are the instrument's items in order.
// 1. Range: every answered cell of an item column must lie in [scale.min, scale.max]; fractional
//    answers are accepted (expected scores from option log-probabilities are fractional). The
//    first violation in row-major order is an OutOfScaleAnswer (an InvalidArgument).
// 2. Keying: reverse-keyed items become min + max - x.
// 3. A trait (facet) score is the mean of the row's answered keyed items of that trait (facet),
//    provided at least need = max(1, ceil(min_answered * items)) of its items are answered
//    (items of the instrument, present in X or not); otherwise it is NaN and counted in
//    DimensionReport::insufficient. Means, not sums, keep scores on the response scale and rows
//    with a few missing items comparable.
// 4. Report per score column: mean and sample sd (n - 1) over scored rows, Cronbach's alpha
//    (reliability.hpp) on the rows that answered all its present items.
// Arithmetic is in double (sums, means, the report) whatever T is; scores are stored as T, so
// float input gives the double scores rounded once. The order of operations is the one of the
// compiled scorer this core replaced: `popalign score` output is byte-identical.
// Bodies: scoring_core_impl.hpp.
#include <fmt/format.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include <popalign/core/error.hpp>
#include <popalign/core/types.hpp>
#include <popalign/psychometrics/instrument.hpp>

namespace popalign::psychometrics {

struct ScoringOptions {
  /// Minimum share (0..1] of a trait's (facet's) items that must be answered for a score.
  double min_answered = 0.5;
  /// Which score columns to produce: traits (first), then facets.
  bool traits = true;
  bool facets = false;
  /// Column names: codes ("E", "N1") or readable names ("Extraversion", "Anxiety").
  bool use_names = false;
  /// Throws InvalidArgument naming min_answered, or traits when both kinds are off.
  void validate() const;
};

/// Per score column: how it was computed and how reliable it is.
struct DimensionReport {
  std::string code;
  std::string name;
  bool is_facet = false;
  std::size_t items = 0;          ///< items of the instrument in this dimension
  std::size_t items_present = 0;  ///< of those, items with a column in the responses
  std::size_t scored = 0;         ///< rows with a score
  std::size_t insufficient = 0;   ///< rows set to NaN (fewer than min_answered answered)
  double mean = 0;                ///< mean score over scored rows (NaN if none)
  double sd = 0;                  ///< sample sd over scored rows
  double alpha = 0;               ///< Cronbach's alpha on complete rows (NaN if undefined)
  std::size_t alpha_rows = 0;     ///< rows used for alpha
};

/// Scores and report. `ScoreResult` (below) is the double one that the compiled readers return.
template <class T>
struct BasicScoreResult {
  static_assert(Real<T>,
                "popalign scoring: scores are float or double; score a matrix of float or double "
                "answers (NaN = not answered), e.g. answers.template cast<double>()");
  TraitTable<T> scores;                     ///< ids, score columns, values (NaN: no score)
  std::vector<DimensionReport> dimensions;  ///< one per score column
  std::size_t rows = 0;
  std::size_t rows_with_missing = 0;      ///< rows with at least one unanswered matched item
  std::size_t missing_answers = 0;        ///< unanswered (row, item) cells
  std::size_t rows_with_nan_score = 0;    ///< rows with at least one NaN score
  std::vector<std::string> absent_items;  ///< instrument items without a column

  /// Multi-line report: one line per dimension with items, mean, sd, alpha, insufficient rows.
  std::string summary() const;
};
using ScoreResult = BasicScoreResult<double>;

/// An answer outside the instrument's scale. what() names the cell: the compiled readers'
/// score() says `file:line: column 'E1': answer 0 is outside the scale 1..5 of instrument
/// 'ipip50_bfm'`; the core, which knows no names, says `row 3, column 2: ...`. row() and column()
/// are 0-based indices into the response matrix; value() is the answer.
class OutOfScaleAnswer : public InvalidArgument {
 public:
  OutOfScaleAnswer(std::string message, Index row, Index column, double value)
      : InvalidArgument("responses", message),
        message_(std::move(message)),
        row_(row),
        column_(column),
        value_(value) {}
  /// The message without the "invalid argument 'responses': " prefix.
  const std::string& message() const noexcept { return message_; }
  Index row() const noexcept { return row_; }
  Index column() const noexcept { return column_; }
  double value() const noexcept { return value_; }

 private:
  std::string message_;
  Index row_, column_;
  double value_;
};

/// A cell of the response matrix (0-based).
struct ResponseCell {
  Index row = 0;
  Index column = 0;
};

/// Item index of each named column (-1 when the name is no item id or alias). Throws
/// InvalidArgument("responses") naming both columns when two hold the same item.
std::vector<Index> match_columns(const Instrument& instrument,
                                 const std::vector<std::string>& column_names);

/// The map of a matrix whose column k is item k of the instrument: 0, 1, ..., items - 1.
std::vector<Index> items_in_order(const Instrument& instrument);

// Template parameter of the functions below:
//   Derived  any Eigen dense matrix expression (Eigen::MatrixBase<Derived>) whose Scalar is
//            float or double (NaN = not answered); other scalars stop at a static_assert that
//            says so. It is read in place, element by element: never copied, never bound to auto.

/// The first answered cell of an item column outside [scale.min, scale.max], in row-major order,
/// or nothing. Throws InvalidArgument("item_of_column") for a map of the wrong size, an index
/// outside -1..items-1 or an item held by two columns.
template <class Derived>
std::optional<ResponseCell> first_out_of_scale(const Instrument& instrument,
                                               const Eigen::MatrixBase<Derived>& responses,
                                               const std::vector<Index>& item_of_column);

/// Keyed item matrix (n x items): column k is item k, NaN when unanswered or absent, reverse
/// keyed items already reversed (min + max - x). Throws OutOfScaleAnswer for an answer outside
/// the scale and InvalidArgument("item_of_column") for a bad map.
template <class Derived>
RowMatrix<typename Derived::Scalar> keyed_items(const Instrument& instrument,
                                                const Eigen::MatrixBase<Derived>& responses,
                                                const std::vector<Index>& item_of_column);
/// Same, for a matrix whose columns are the instrument's items in order.
template <class Derived>
RowMatrix<typename Derived::Scalar> keyed_items(const Instrument& instrument,
                                                const Eigen::MatrixBase<Derived>& responses);

/// Scores (see the file comment). Score columns: traits in instrument order, then facets; named
/// by code or by name (options.use_names). ids are the row numbers "1".."n". Throws
/// InvalidArgument: options (validate()), "facets" when facets are the only columns asked for
/// and the instrument has none, the errors of keyed_items.
template <class Derived>
BasicScoreResult<typename Derived::Scalar> score_items(const Instrument& instrument,
                                                       const Eigen::MatrixBase<Derived>& responses,
                                                       const std::vector<Index>& item_of_column,
                                                       const ScoringOptions& options = {});
/// Same, for a matrix whose columns are the instrument's items in order.
template <class Derived>
BasicScoreResult<typename Derived::Scalar> score_items(const Instrument& instrument,
                                                       const Eigen::MatrixBase<Derived>& responses,
                                                       const ScoringOptions& options = {});

}  // namespace popalign::psychometrics

/// fmt::print("{}", result) prints BasicScoreResult::summary().
template <class T>
struct fmt::formatter<popalign::psychometrics::BasicScoreResult<T>>
    : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const popalign::psychometrics::BasicScoreResult<T>& r, FormatContext& ctx) const {
    const std::string s = r.summary();
    return fmt::formatter<std::string_view>::format(std::string_view(s), ctx);
  }
};

#include <popalign/psychometrics/scoring_core_impl.hpp>
