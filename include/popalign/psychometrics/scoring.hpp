#pragma once
// Scoring item responses into trait (and facet) scores.
//
// 1. Reading (read_responses): the columns of a CSV/TSV file, or the "answers" objects of the
//    JSONL written by `popalign administer`, are matched to instrument items by item id or any
//    alias. Cells equal to the missing code (0 in BIG5), JSON null and the missing tokens of
//    io::kMissingTokens (empty, NA, na, N/A, NaN, nan, null, NULL) become missing (NaN). Text that
//    is not a number is an error naming file, line and column.
// 2. Range check: an answer outside [scale.min, scale.max] is an error naming the row (file:line
//    or row number and id) and the column. Fractional answers inside the range are accepted
//    (expected scores computed from option log-probabilities are fractional).
// 3. Keying: reverse-keyed items become min + max - x.
// 4. A trait (facet) score is the mean of the row's answered keyed items of that trait (facet),
//    provided at least `min_answered` of its items are answered; otherwise it is NaN and counted
//    in DimensionReport::insufficient. Means, not sums, so that scores stay on the response scale
//    and rows with a few missing items remain comparable.
// 5. Cronbach's alpha per trait and facet, on the rows that answered all its items.
// Steps 2-5 are the header-only scoring core (scoring_core.hpp: score_items<T> on any Eigen
// matrix, float or double); this file is the compiled part that reads files and names the
// file, line and column of a bad answer.
#include <fmt/format.h>

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/types.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/jsonl.hpp>
#include <popalign/psychometrics/instrument.hpp>
#include <popalign/psychometrics/scoring_core.hpp>

namespace popalign::psychometrics {

/// Item responses as read from a file: one row per respondent, one column per item column of
/// the source (named as in the source). NaN = not answered.
struct Responses {
  std::string source;                ///< file name, for messages
  std::vector<std::string> ids;      ///< one per row
  std::vector<std::size_t> lines;    ///< physical line of each row in `source`, or empty
  std::vector<std::string> columns;  ///< one per column of values
  RowMatrix<double> values;
  /// JSONL: lines skipped as malformed (OnMalformed::skip), and whether an unterminated,
  /// unparseable last line (a killed writer's) was ignored.
  std::vector<io::MalformedLine> malformed{};
  bool truncated_tail = false;

  Index rows() const noexcept { return values.rows(); }
  /// "file:line" when lines are known, else "row i+1 (id 'x')": for messages.
  std::string where(Index row) const;
  /// Rows `rows` in that order.
  Responses select_rows(const std::vector<Index>& rows) const;
  /// Throws InvalidArgument when sizes disagree.
  void validate() const;
};

struct ReadResponsesOptions {
  io::CsvOptions csv{};
  /// CSV: the id column (empty: "id" if present, else row numbers "1", "2", ...).
  /// JSONL: the member holding the id (empty: "id").
  std::string id_column{};
  /// A value that means "not answered" (BIG5 and IPIP-FFM use 0). Unset: none.
  std::optional<double> missing_code{};
  /// JSONL: the member holding the answers object.
  std::string answers_field = "answers";
  /// JSONL: what to do with malformed lines.
  io::OnMalformed on_malformed = io::OnMalformed::fail;
  /// Require a column for every item of the instrument (else absent items are all-missing).
  bool require_all_items = false;
  void validate() const;
};

/// Reads responses for `instrument` from a CSV/TSV file or a JSONL file (".jsonl", ".ndjson",
/// or a first non-blank character '{'). Only columns that match an item are kept. Throws
/// ParseError naming the file when no column matches any item.
Responses read_responses(const std::filesystem::path& path, const Instrument& instrument,
                         const ReadResponsesOptions& options = {});
/// From a table of strings already read.
Responses responses_from_table(const io::Table& table, const Instrument& instrument,
                               const ReadResponsesOptions& options = {});
/// From JSONL records shaped {"id": ..., "answers": {item: number | null, ...}, ...}.
Responses responses_from_jsonl(const std::vector<io::JsonlRecord>& records,
                               const Instrument& instrument,
                               const ReadResponsesOptions& options = {});

/// One answer cell of a CSV/TSV response file, as every reader of this layer (read_responses,
/// the reference loaders) reads it: a number (NaN when it equals `missing_code`), NaN for a
/// missing token (io::kMissingTokens); anything else throws io::CsvError naming the source, the
/// line and the column.
double parse_answer_cell(std::string_view cell, const std::optional<double>& missing_code,
                         const std::string& source, std::size_t line, const std::string& column);

/// Scores responses (columns matched to items by id or alias; unmatched columns ignored) with
/// the scoring core (score_items). Throws OutOfScaleAnswer (an InvalidArgument("responses"))
/// naming the row (file:line, or row number and id) and the column for an out-of-range answer.
ScoreResult score(const Instrument& instrument, const Responses& responses,
                  const ScoringOptions& options = {});

/// Keyed item matrix: column k is items[k] of the instrument (NaN when missing or absent),
/// reverse-keyed items already reversed. Same range check as score().
RowMatrix<double> keyed_item_matrix(const Instrument& instrument, const Responses& responses);

}  // namespace popalign::psychometrics
