#pragma once
// Delimited text tables (CSV, TSV, ...): one reader, one writer.
//
// Reader: RFC 4180 with the variations found in real files. The delimiter is given or sniffed
// from the header line (the most frequent of tab, comma, semicolon, pipe outside quotes; tab wins
// ties, then comma). Fields may be quoted with '"' and contain the delimiter, quotes written
// twice ("") and line breaks. A UTF-8 byte-order mark is dropped; LF, CRLF and lone-CR line ends
// are accepted; blank lines are skipped. Every row must have as many fields as the header.
// Errors are `CsvError` (a ParseError) whose message reads `file:line: column c: what`, with
// the physical line number (1-based, counting the header and any line breaks inside quotes).
//
// Writer: numbers are printed in the shortest form that reads back to the same value
// (fmt "{}"), so output bytes depend only on the values; fields are quoted only when needed.
// Every writer goes through io::OutputFile (popalign/io/output.hpp): a regular file is written
// to a temporary file beside it and renamed, so a reader never sees half a file; symlinks are
// followed to their target; FIFOs and devices (/dev/stdout) are written directly.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/error.hpp>
#include <popalign/core/types.hpp>
#include <popalign/io/limits.hpp>
#include <popalign/io/output.hpp>

namespace popalign::io {

/// A malformed cell or row. column() is the 1-based character column (0 = unknown);
/// column_name() is the header name of the field (empty when unknown).
class CsvError : public ParseError {
 public:
  CsvError(std::string file, std::size_t line, std::size_t column, std::string column_name,
           const std::string& message);
  std::size_t column() const noexcept { return column_; }
  const std::string& column_name() const noexcept { return column_name_; }

 private:
  std::size_t column_;
  std::string column_name_;
};

struct CsvOptions {
  /// Field delimiter; '\0' sniffs it from the first line.
  char delimiter = '\0';
  /// Quote character.
  char quote = '"';
  /// The first non-blank line names the columns. Without a header, columns are "1", "2", ...
  bool header = true;
  /// Remove spaces and tabs around unquoted fields (never inside quotes). Tabs are kept when
  /// tab is the delimiter.
  bool trim = true;

  /// Throws InvalidArgument naming the field (delimiter and quote must differ and must not be
  /// a line break).
  void validate() const;
};

/// A table of strings. rows[i][j] is the field of column j in data row i; lines[i] is the
/// physical line (1-based) on which row i starts.
struct Table {
  std::string source;  ///< file name (or "<string>"), used in error messages
  char delimiter = ',';
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::size_t> lines;

  std::size_t num_rows() const noexcept { return rows.size(); }
  std::size_t num_columns() const noexcept { return columns.size(); }
  /// Index of the column named `name` (exact match), or std::nullopt.
  std::optional<std::size_t> find_column(std::string_view name) const;
  /// Index of the column named `name`; throws CsvError naming the file and the missing column
  /// (and listing the available ones).
  std::size_t require_column(std::string_view name) const;
};

/// Reads a whole file. Throws IoError if it cannot be opened, CsvError if it is malformed.
Table read_table(const std::filesystem::path& path, const CsvOptions& options = {});
/// Parses text already in memory; `source` names it in error messages.
Table parse_table(std::string_view text, const CsvOptions& options = {},
                  std::string source = "<string>");

/// Streaming access for large files: `on_header(columns, delimiter)` is called once (with
/// "1", "2", ... when options.header is false), then `on_row(fields, line)` for each data row
/// with its physical line. Only the current row is held; the same checks and errors as
/// read_table apply. `fields` is reused between calls.
using HeaderCallback = std::function<void(const std::vector<std::string>& columns, char delimiter)>;
using RowCallback = std::function<void(const std::vector<std::string>& fields, std::size_t line)>;
void for_each_row(const std::filesystem::path& path, const CsvOptions& options,
                  const HeaderCallback& on_header, const RowCallback& on_row);
void for_each_row_in(std::string_view text, const CsvOptions& options, const std::string& source,
                     const HeaderCallback& on_header, const RowCallback& on_row);

/// Sniffs the delimiter of a header line (see the file comment).
char sniff_delimiter(std::string_view first_line);

/// The cell texts that every popalign reader takes for "no value" (a missing score, an
/// unanswered item): the empty cell, `NA`, `na`, `N/A`, `NaN`, `nan`, `null`, `NULL`. Matched
/// exactly (case-sensitive), after the reader's trimming (CsvOptions::trim). This is the one
/// list: the numeric-table reader (NumericTableOptions::missing_tokens defaults to it), the
/// response readers and the reference loaders of psychometrics all use it. Numbers never count
/// as missing here; a numeric missing code (BIG5's 0) is an option of the reader that knows
/// the scale (psychometrics::ReadResponsesOptions::missing_code).
inline constexpr std::string_view kMissingTokens[] = {"",    "NA",  "na",   "N/A",
                                                      "NaN", "nan", "null", "NULL"};
/// True when `cell` is one of kMissingTokens.
bool is_missing_token(std::string_view cell) noexcept;
/// kMissingTokens as strings (the default of NumericTableOptions::missing_tokens).
std::vector<std::string> default_missing_tokens();

/// Parses a number the way every popalign reader does: surrounding spaces ignored, a leading
/// '+' allowed, decimal or exponent notation; returns std::nullopt for anything else (including
/// "nan", "inf", hex and trailing garbage). NaN and infinities are never returned.
std::optional<double> parse_number(std::string_view text);

struct NumericTableOptions {
  CsvOptions csv{};
  /// Column holding row ids. Empty: use the column "id" if there is one, else row numbers
  /// "1", "2", ... (the data row's index, 1-based).
  std::string id_column{};
  /// When true, cells equal to one of `missing_tokens` become NaN instead of an error.
  bool allow_missing = false;
  /// Default: kMissingTokens (the one list every popalign reader uses).
  std::vector<std::string> missing_tokens = default_missing_tokens();
  /// A repeated id (in the id column) is a CsvError naming both lines. Off by default: some
  /// tables (long-format answers) repeat ids on purpose.
  bool unique_ids = false;

  void validate() const;
};

/// Numeric columns of a table, with ids. values(i, j) is columns[j] of row i.
struct NumericTable {
  std::string source;
  std::vector<std::string> ids;
  std::vector<std::string> columns;
  RowMatrix<double> values;
  std::vector<std::size_t> lines;  ///< physical line of each row

  TraitTable<double> to_trait_table() const;
};

/// Reads `columns` (all of them must exist) as doubles. Empty `columns` means every column
/// except the id column. Errors (CsvError, naming file, line and column name): missing column,
/// empty cell, NaN or infinite cell, text that is not a number. Streams the file (only the
/// numbers are kept), so it suits files with millions of rows.
NumericTable read_numeric_table(const std::filesystem::path& path,
                                const std::vector<std::string>& columns,
                                const NumericTableOptions& options = {});
/// Same, from a table already read.
NumericTable to_numeric_table(const Table& table, const std::vector<std::string>& columns,
                              const NumericTableOptions& options = {});

/// Names of the columns whose every cell is a number (or one of kMissingTokens when
/// `allow_missing_tokens`), in table order, excluding `exclude`.
std::vector<std::string> numeric_columns(const Table& table,
                                         const std::vector<std::string>& exclude = {},
                                         bool allow_missing_tokens = false);

/// Shortest round-trip text of a value ("3", "0.1", "1e-07"); NaN is `nan_text`;
/// infinities "inf" / "-inf".
std::string format_number(double value, std::string_view nan_text = "NaN");
std::string format_number(float value, std::string_view nan_text = "NaN");

struct CsvWriteOptions {
  char delimiter = ',';
  /// Text written for NaN cells.
  std::string nan_text = "NaN";
  /// Name of the id column written first by the numeric writers.
  std::string id_column = "id";
  void validate() const;
};

/// Quotes a field if it contains the delimiter, a quote, a line break or leading/trailing space.
std::string quote_field(std::string_view field, char delimiter = ',');

/// Writes rows of strings, one call per row (streaming, for long outputs). Not thread-safe.
class CsvWriter {
 public:
  /// Opens an io::OutputFile at `path` (the target is replaced only by close()). Throws IoError
  /// if it cannot.
  explicit CsvWriter(const std::filesystem::path& path, CsvWriteOptions options = {});
  ~CsvWriter();
  CsvWriter(const CsvWriter&) = delete;
  CsvWriter& operator=(const CsvWriter&) = delete;

  void write_row(const std::vector<std::string>& fields);
  /// Writes `id` then the numbers, formatted with format_number.
  void write_row(std::string_view id, const std::vector<double>& values);
  /// Flushes, closes and puts the file in place; throws IoError on a write error. Called by the
  /// destructor (which swallows errors), so call it yourself to see them; a destructor run by an
  /// exception discards the file instead (the target keeps its old content).
  void close();

 private:
  struct Impl;
  Impl* impl_;
};

/// Writes a table of strings (header + rows) atomically.
void write_table(const std::filesystem::path& path, const Table& table,
                 const CsvWriteOptions& options = {});
/// Writes `id` + one column per name, atomically. ids may be empty (then row numbers 1..n).
void write_numeric_table(const std::filesystem::path& path, const std::vector<std::string>& ids,
                         const std::vector<std::string>& columns, MatrixView<double> values,
                         const CsvWriteOptions& options = {});
/// Writes a trait table (id + traits, plus a `weight` column when it has weights), atomically.
void write_trait_table(const std::filesystem::path& path, const TraitTable<double>& table,
                       const CsvWriteOptions& options = {});

/// Reads a whole file into a string. Throws IoError naming the file (also for a directory, and
/// for a file larger than `max_bytes`, checked before reading: by its size for a regular file,
/// while reading for a pipe). 0 = the default limit, half the physical memory (io/limits.hpp).
std::string read_file(const std::filesystem::path& path, std::uint64_t max_bytes = 0);

/// Throws CsvError naming `source`, the line of the repeat (lines[i], or row i+1 when `lines` is
/// empty) and `column` when an id occurs twice in `ids`: "duplicate id 'p3' in column 'id'
/// (first on line 5); ids must be unique so that results map back to rows". Linear time.
void check_unique_ids(const std::string& source, const std::vector<std::string>& ids,
                      const std::vector<std::size_t>& lines, const std::string& column);

}  // namespace popalign::io
