// CSV/TSV reader and writer (see include/popalign/io/csv.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>
#include <unordered_map>

#include <popalign/io/csv.hpp>

namespace popalign::io {

CsvError::CsvError(std::string file, std::size_t line, std::size_t column, std::string column_name,
                   const std::string& message)
    : ParseError(std::move(file), line,
                 (column > 0 ? fmt::format("column {}: ", column) : std::string()) + message),
      column_(column),
      column_name_(std::move(column_name)) {}

void CsvOptions::validate() const {
  check_argument(quote != delimiter || delimiter == '\0', "quote",
                 "must differ from the delimiter");
  check_argument(delimiter != '\n' && delimiter != '\r', "delimiter", "must not be a line break");
  check_argument(quote != '\n' && quote != '\r' && quote != '\0', "quote",
                 "must be a printable character");
}

std::optional<std::size_t> Table::find_column(std::string_view name) const {
  for (std::size_t j = 0; j < columns.size(); ++j)
    if (columns[j] == name) return j;
  return std::nullopt;
}

std::size_t Table::require_column(std::string_view name) const {
  if (auto j = find_column(name)) return *j;
  std::string avail;
  for (std::size_t j = 0; j < columns.size() && j < 60; ++j) avail += (j ? ", " : "") + columns[j];
  if (columns.size() > 60) avail += ", ...";
  throw CsvError(source, 1, 0, std::string(name),
                 fmt::format("missing column '{}' (columns: {})", name, avail));
}

std::string read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  require_not_directory(path);
  const bool default_limit = max_bytes == 0;
  if (default_limit) max_bytes = max_file_bytes();
  const auto too_large = [&](std::uint64_t size) {
    return IoError(path.string(),
                   default_limit
                       ? fmt::format("is {:.3g} GB, more than half of this machine's memory "
                                     "({:.3g} GB): it would not fit once read",
                                     static_cast<double>(size) / 1e9,
                                     static_cast<double>(physical_memory()) / 1e9)
                       : fmt::format("is {} bytes or more; a file of this kind may have at most "
                                     "{} bytes",
                                     size, max_bytes));
  };
  std::error_code ec;
  if (path_kind(path) == PathKind::regular) {
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (!ec && size > max_bytes) throw too_large(size);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string(), "cannot open file for reading");
  // In blocks, so that a pipe or a file that grows while read is bounded too.
  std::string out;
  std::string block(std::size_t{1} << 20, '\0');
  while (in) {
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    if (out.size() + got > max_bytes) throw too_large(out.size() + got);
    out.append(block.data(), got);
  }
  if (in.bad()) throw IoError(path.string(), "read error");
  return out;
}

void check_unique_ids(const std::string& source, const std::vector<std::string>& ids,
                      const std::vector<std::size_t>& lines, const std::string& column) {
  const bool have_lines = lines.size() == ids.size();
  const auto where = [&](std::size_t i) {
    return have_lines ? fmt::format("line {}", lines[i]) : fmt::format("row {}", i + 1);
  };
  std::unordered_map<std::string_view, std::size_t> first;
  first.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const auto [it, fresh] = first.emplace(ids[i], i);
    if (fresh) continue;
    const std::string message = fmt::format(
        "duplicate id '{}' in {} (first on {}); ids must be unique so that results "
        "map back to rows",
        printable(ids[i]), column.empty() ? "the ids" : "column '" + column + "'",
        where(it->second));
    if (have_lines) throw CsvError(source, lines[i], 0, column, message);
    throw CsvError(source, 0, 0, column, "row " + std::to_string(i + 1) + ": " + message);
  }
}

char sniff_delimiter(std::string_view line) {
  const char candidates[] = {'\t', ',', ';', '|'};
  std::size_t counts[4] = {0, 0, 0, 0};
  bool in_quotes = false;
  for (char c : line) {
    if (c == '"') in_quotes = !in_quotes;
    if (in_quotes) continue;
    if (c == '\n' || c == '\r') break;
    for (int k = 0; k < 4; ++k)
      if (c == candidates[k]) ++counts[k];
  }
  int best = 1;  // comma when no candidate occurs
  std::size_t best_count = 0;
  for (int k = 0; k < 4; ++k)
    if (counts[k] > best_count) {
      best = k;
      best_count = counts[k];
    }
  return candidates[best];
}

namespace {

bool is_space(char c, char delimiter) { return (c == ' ' || c == '\t') && c != delimiter; }

std::string_view trim_view(std::string_view s, char delimiter) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b], delimiter)) ++b;
  while (e > b && is_space(s[e - 1], delimiter)) --e;
  return s.substr(b, e - b);
}

/// RFC 4180 state machine over the whole text; calls on_row(fields, line) per record.
template <class OnRow>
void parse_records(std::string_view text, char delim, char quote, bool trim,
                   const std::string& source, const std::vector<std::string>* header,
                   OnRow&& on_row) {
  std::size_t pos = 0;
  const std::size_t n = text.size();
  std::size_t line = 1;
  std::vector<std::string> fields;
  while (pos < n) {
    // Blank line?
    if (text[pos] == '\n') {
      ++pos;
      ++line;
      continue;
    }
    if (text[pos] == '\r') {
      ++pos;
      if (pos < n && text[pos] == '\n') ++pos;
      ++line;
      continue;
    }
    const std::size_t record_line = line;
    const std::size_t record_start = pos;
    std::size_t line_start = pos;
    fields.clear();
    bool end_of_record = false;
    while (!end_of_record) {
      std::string field;
      // Skip leading spaces before a possible opening quote.
      std::size_t p = pos;
      if (trim)
        while (p < n && is_space(text[p], delim)) ++p;
      const auto col_of = [&](std::size_t at) { return at - line_start + 1; };
      const auto col_name = [&]() -> std::string {
        if (header && fields.size() < header->size()) return (*header)[fields.size()];
        return {};
      };
      if (p < n && text[p] == quote) {
        const std::size_t open_line = line, open_col = col_of(p);
        pos = p + 1;
        bool closed = false;
        while (pos < n) {
          char c = text[pos];
          if (c == quote) {
            if (pos + 1 < n && text[pos + 1] == quote) {
              field += quote;
              pos += 2;
              continue;
            }
            ++pos;
            closed = true;
            break;
          }
          if (c == '\n' || (c == '\r' && !(pos + 1 < n && text[pos + 1] == '\n'))) {
            ++line;
            line_start = pos + 1;
          } else if (c == '\r') {
            // CRLF inside quotes: keep both, count the line at the '\n'.
          }
          field += c;
          ++pos;
          if (pos - record_start > kMaxLineBytes) break;  // reported below, after the field
        }
        if (!closed && pos - record_start > kMaxLineBytes)
          throw CsvError(source, record_line, 0, col_name(),
                         fmt::format("a record longer than {} MiB (the limit of one CSV/TSV "
                                     "row); is this a text table?",
                                     kMaxLineBytes >> 20));
        if (!closed)
          throw CsvError(source, open_line, open_col, col_name(),
                         "unterminated quoted field (the quote opened here is never closed)");
        // After the closing quote: spaces, then delimiter or end of line.
        if (trim)
          while (pos < n && is_space(text[pos], delim)) ++pos;
        if (pos < n && text[pos] != delim && text[pos] != '\n' && text[pos] != '\r')
          throw CsvError(source, line, col_of(pos), col_name(),
                         fmt::format("unexpected character '{}' after a closing quote",
                                     printable(text.substr(pos, 1))));
      } else {
        std::size_t e = pos;
        while (e < n && text[e] != delim && text[e] != '\n' && text[e] != '\r') {
          if (text[e] == quote)
            throw CsvError(source, line, col_of(e), col_name(),
                           "quote character inside an unquoted field (quote the whole field "
                           "and double the quote)");
          ++e;
        }
        std::string_view raw = text.substr(pos, e - pos);
        field = std::string(trim ? trim_view(raw, delim) : raw);
        pos = e;
      }
      fields.push_back(std::move(field));
      // The limits of io/limits.hpp, checked per field: a record's memory stays bounded.
      if (fields.size() > kMaxColumns)
        throw CsvError(source, record_line, 0, {},
                       fmt::format("more than {} fields in one row (the limit of a CSV/TSV row)",
                                   kMaxColumns));
      if (pos - record_start > kMaxLineBytes)
        throw CsvError(source, record_line, 0, {},
                       fmt::format("a record longer than {} MiB (the limit of one CSV/TSV row); "
                                   "is this a text table?",
                                   kMaxLineBytes >> 20));
      if (pos >= n) {
        end_of_record = true;
      } else if (text[pos] == delim) {
        ++pos;  // a delimiter at the very end of the text is followed by one empty field
      } else {
        if (text[pos] == '\r') ++pos;
        if (pos < n && text[pos] == '\n') ++pos;
        ++line;
        end_of_record = true;
      }
    }
    on_row(fields, record_line);
  }
}

}  // namespace

void for_each_row_in(std::string_view text, const CsvOptions& options, const std::string& source,
                     const HeaderCallback& on_header, const RowCallback& on_row) {
  options.validate();
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF)
    text.remove_prefix(3);
  char delimiter = options.delimiter;
  if (delimiter == '\0') {
    std::size_t b = 0;
    while (b < text.size() && (text[b] == '\n' || text[b] == '\r')) ++b;
    delimiter = sniff_delimiter(text.substr(b, std::min<std::size_t>(text.size() - b, 1 << 16)));
  }
  bool have_header = false;
  std::size_t expected = 0;
  std::vector<std::string> columns;
  parse_records(
      text, delimiter, options.quote, options.trim, source, options.header ? &columns : nullptr,
      [&](std::vector<std::string>& fields, std::size_t line) {
        if (!have_header) {
          have_header = true;
          expected = fields.size();
          if (options.header) {
            columns = fields;
            // Linear in the number of columns (a hash of the names seen so far).
            std::unordered_map<std::string_view, std::size_t> seen;
            seen.reserve(columns.size());
            for (std::size_t j = 0; j < columns.size(); ++j) {
              const auto [it, fresh] = seen.emplace(columns[j], j);
              if (!fresh)
                throw CsvError(source, line, 0, columns[j],
                               fmt::format("duplicate column name '{}' (columns {} and {})",
                                           printable(columns[j]), it->second + 1, j + 1));
            }
            on_header(columns, delimiter);
            return;
          }
          for (std::size_t j = 0; j < expected; ++j) columns.push_back(std::to_string(j + 1));
          on_header(columns, delimiter);
        }
        if (fields.size() != expected)
          throw CsvError(source, line, 0, {},
                         fmt::format("expected {} fields (as in the {}), found {}", expected,
                                     options.header ? "header" : "first row", fields.size()));
        on_row(fields, line);
      });
  if (!have_header) {
    if (options.header) throw ParseError(source, "empty file: no header row");
    on_header(columns, delimiter);
  }
}

void for_each_row(const std::filesystem::path& path, const CsvOptions& options,
                  const HeaderCallback& on_header, const RowCallback& on_row) {
  const std::string text = read_file(path);
  for_each_row_in(text, options, path.string(), on_header, on_row);
}

Table parse_table(std::string_view text, const CsvOptions& options, std::string source) {
  Table t;
  t.source = std::move(source);
  for_each_row_in(
      text, options, t.source,
      [&](const std::vector<std::string>& columns, char delimiter) {
        t.columns = columns;
        t.delimiter = delimiter;
      },
      [&](const std::vector<std::string>& fields, std::size_t line) {
        t.rows.push_back(fields);
        t.lines.push_back(line);
      });
  return t;
}

Table read_table(const std::filesystem::path& path, const CsvOptions& options) {
  const std::string text = read_file(path);
  return parse_table(text, options, path.string());
}

std::optional<double> parse_number(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  s = s.substr(b, e - b);
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  // Only digits, sign, '.', exponent: reject "nan", "inf", hex.
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
      return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

void NumericTableOptions::validate() const { csv.validate(); }

TraitTable<double> NumericTable::to_trait_table() const {
  TraitTable<double> t;
  t.ids = ids;
  t.traits = columns;
  t.values = values;
  return t;
}

bool is_missing_token(std::string_view cell) noexcept {
  return std::find(std::begin(kMissingTokens), std::end(kMissingTokens), cell) !=
         std::end(kMissingTokens);
}

std::vector<std::string> default_missing_tokens() {
  return {std::begin(kMissingTokens), std::end(kMissingTokens)};
}

namespace {
bool in_tokens(std::string_view cell, const std::vector<std::string>& tokens) {
  return std::find(tokens.begin(), tokens.end(), cell) != tokens.end();
}
}  // namespace

namespace {

/// Converts rows to numbers as they come (shared by the Table and the streaming paths).
class NumericBuilder {
 public:
  NumericBuilder(std::string source, const std::vector<std::string>& header,
                 const std::vector<std::string>& columns, const NumericTableOptions& options)
      : options_(options) {
    out_.source = std::move(source);
    auto find = [&](std::string_view name) -> std::optional<std::size_t> {
      for (std::size_t j = 0; j < header.size(); ++j)
        if (header[j] == name) return j;
      return std::nullopt;
    };
    auto require = [&](const std::string& name) {
      if (auto j = find(name)) return *j;
      std::string avail;
      for (std::size_t j = 0; j < header.size() && j < 60; ++j)
        avail += (j ? ", " : "") + header[j];
      if (header.size() > 60) avail += ", ...";
      throw CsvError(out_.source, 1, 0, name,
                     fmt::format("missing column '{}' (columns: {})", name, avail));
    };
    if (!options.id_column.empty())
      id_col_ = require(options.id_column);
    else
      id_col_ = find("id");
    if (columns.empty()) {
      for (std::size_t j = 0; j < header.size(); ++j)
        if (!id_col_ || j != *id_col_) {
          cols_.push_back(j);
          out_.columns.push_back(header[j]);
        }
    } else {
      for (const auto& c : columns) {
        cols_.push_back(require(c));
        out_.columns.push_back(c);
      }
    }
    header_ = header;
  }

  void add(const std::vector<std::string>& row, std::size_t line) {
    if (options_.unique_ids && id_col_) {
      const auto [it, fresh] = first_line_.emplace(row[*id_col_], line);
      if (!fresh)
        throw CsvError(out_.source, line, 0, header_[*id_col_],
                       fmt::format("duplicate id '{}' in column '{}' (first on line {}); ids "
                                   "must be unique so that results map back to rows",
                                   printable(row[*id_col_]), header_[*id_col_], it->second));
    }
    out_.ids.push_back(id_col_ ? row[*id_col_] : std::to_string(out_.ids.size() + 1));
    out_.lines.push_back(line);
    for (std::size_t k = 0; k < cols_.size(); ++k) {
      const std::string& cell = row[cols_[k]];
      if (auto v = parse_number(cell)) {
        flat_.push_back(*v);
        continue;
      }
      if (options_.allow_missing && in_tokens(cell, options_.missing_tokens)) {
        flat_.push_back(std::numeric_limits<double>::quiet_NaN());
        continue;
      }
      const std::string& name = header_[cols_[k]];
      std::string lower = cell;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string what;
      if (cell.empty())
        what = "empty cell";
      else if (is_missing_token(cell) || lower == "nan" || lower == "na" || lower == "null" ||
               lower == "-nan")
        what = fmt::format("missing value '{}' (NaN is not allowed here)", printable(cell));
      else if (lower == "inf" || lower == "-inf" || lower == "+inf" || lower == "infinity" ||
               lower == "-infinity")
        what = fmt::format("infinite value '{}'", printable(cell));
      else
        what = fmt::format("'{}' is not a number", printable(cell));
      throw CsvError(out_.source, line, 0, name, fmt::format("column '{}': {}", name, what));
    }
  }

  NumericTable finish() {
    const Index n = static_cast<Index>(out_.ids.size());
    const Index d = static_cast<Index>(cols_.size());
    out_.values = Eigen::Map<const RowMatrix<double>>(flat_.data(), n, d);
    flat_.clear();
    flat_.shrink_to_fit();
    return std::move(out_);
  }

 private:
  const NumericTableOptions& options_;
  NumericTable out_;
  std::vector<std::string> header_;
  std::optional<std::size_t> id_col_;
  std::vector<std::size_t> cols_;
  std::vector<double> flat_;
  std::unordered_map<std::string, std::size_t> first_line_;
};

}  // namespace

NumericTable to_numeric_table(const Table& table, const std::vector<std::string>& columns,
                              const NumericTableOptions& options) {
  options.validate();
  NumericBuilder b(table.source, table.columns, columns, options);
  for (std::size_t i = 0; i < table.num_rows(); ++i) b.add(table.rows[i], table.lines[i]);
  return b.finish();
}

NumericTable read_numeric_table(const std::filesystem::path& path,
                                const std::vector<std::string>& columns,
                                const NumericTableOptions& options) {
  options.validate();
  std::optional<NumericBuilder> b;
  for_each_row(
      path, options.csv,
      [&](const std::vector<std::string>& header, char) {
        b.emplace(path.string(), header, columns, options);
      },
      [&](const std::vector<std::string>& fields, std::size_t line) { b->add(fields, line); });
  return b->finish();
}

std::vector<std::string> numeric_columns(const Table& table,
                                         const std::vector<std::string>& exclude,
                                         bool allow_missing_tokens) {
  std::vector<std::string> out;
  for (std::size_t j = 0; j < table.num_columns(); ++j) {
    if (std::find(exclude.begin(), exclude.end(), table.columns[j]) != exclude.end()) continue;
    bool ok = table.num_rows() > 0;
    for (const auto& row : table.rows) {
      if (parse_number(row[j])) continue;
      if (allow_missing_tokens && is_missing_token(row[j])) continue;
      ok = false;
      break;
    }
    if (ok) out.push_back(table.columns[j]);
  }
  return out;
}

std::string format_number(double v, std::string_view nan_text) {
  if (std::isnan(v)) return std::string(nan_text);
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return "0";  // also -0
  return fmt::format("{}", v);
}

std::string format_number(float v, std::string_view nan_text) {
  if (std::isnan(v)) return std::string(nan_text);
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return "0";
  return fmt::format("{}", v);
}

void CsvWriteOptions::validate() const {
  check_argument(delimiter != '\n' && delimiter != '\r' && delimiter != '"' && delimiter != '\0',
                 "delimiter", "must be a printable character other than '\"'");
  check_argument(nan_text.find(delimiter) == std::string::npos, "nan_text",
                 "must not contain the delimiter");
}

std::string quote_field(std::string_view field, char delimiter) {
  bool need = field.find_first_of(std::string{delimiter, '"', '\n', '\r'}) != std::string::npos;
  if (!need && !field.empty() &&
      (field.front() == ' ' || field.back() == ' ' || field.front() == '\t' ||
       field.back() == '\t'))
    need = true;
  if (!need) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace {
void append_row(std::string& out, const std::vector<std::string>& fields, char delim) {
  for (std::size_t j = 0; j < fields.size(); ++j) {
    if (j) out += delim;
    out += quote_field(fields[j], delim);
  }
  out += '\n';
}
}  // namespace

struct CsvWriter::Impl {
  std::filesystem::path path;
  CsvWriteOptions options;
  std::optional<OutputFile> file;
  std::string buffer;
  int exceptions_at_open = 0;
};

CsvWriter::CsvWriter(const std::filesystem::path& path, CsvWriteOptions options)
    : impl_(new Impl{path, std::move(options), std::nullopt, {}, std::uncaught_exceptions()}) {
  try {
    impl_->options.validate();
    impl_->file.emplace(path);
  } catch (...) {
    delete impl_;
    throw;
  }
}

CsvWriter::~CsvWriter() {
  try {
    // Unwinding from an exception: the output is incomplete, keep the old file.
    if (std::uncaught_exceptions() > impl_->exceptions_at_open && impl_->file)
      impl_->file->discard();
    close();
  } catch (...) {
  }
  delete impl_;
}

void CsvWriter::write_row(const std::vector<std::string>& fields) {
  if (!impl_->file) throw IoError(impl_->path.string(), "writer is closed");
  impl_->buffer.clear();
  append_row(impl_->buffer, fields, impl_->options.delimiter);
  impl_->file->write(impl_->buffer);
}

void CsvWriter::write_row(std::string_view id, const std::vector<double>& values) {
  std::vector<std::string> fields;
  fields.reserve(values.size() + 1);
  fields.emplace_back(id);
  for (double v : values) fields.push_back(format_number(v, impl_->options.nan_text));
  write_row(fields);
}

void CsvWriter::close() {
  if (!impl_->file) return;
  try {
    impl_->file->commit();
  } catch (...) {
    impl_->file.reset();
    throw;
  }
  impl_->file.reset();
}

void write_table(const std::filesystem::path& path, const Table& table,
                 const CsvWriteOptions& options) {
  options.validate();
  std::string out;
  append_row(out, table.columns, options.delimiter);
  for (const auto& row : table.rows) append_row(out, row, options.delimiter);
  write_file_atomically(path, out);
}

void write_numeric_table(const std::filesystem::path& path, const std::vector<std::string>& ids,
                         const std::vector<std::string>& columns, MatrixView<double> values,
                         const CsvWriteOptions& options) {
  options.validate();
  check_argument(static_cast<Index>(columns.size()) == values.cols(), "columns",
                 fmt::format("has {} names for {} columns", columns.size(), values.cols()));
  check_argument(ids.empty() || static_cast<Index>(ids.size()) == values.rows(), "ids",
                 fmt::format("has {} entries for {} rows", ids.size(), values.rows()));
  std::string out;
  std::vector<std::string> fields;
  fields.push_back(options.id_column);
  fields.insert(fields.end(), columns.begin(), columns.end());
  append_row(out, fields, options.delimiter);
  for (Index i = 0; i < values.rows(); ++i) {
    fields.clear();
    fields.push_back(ids.empty() ? std::to_string(i + 1) : ids[static_cast<std::size_t>(i)]);
    for (Index j = 0; j < values.cols(); ++j)
      fields.push_back(format_number(values(i, j), options.nan_text));
    append_row(out, fields, options.delimiter);
  }
  write_file_atomically(path, out);
}

void write_trait_table(const std::filesystem::path& path, const TraitTable<double>& table,
                       const CsvWriteOptions& options) {
  table.validate();
  if (table.weights.size() == 0) {
    write_numeric_table(path, table.ids, table.traits, table.values, options);
    return;
  }
  RowMatrix<double> v(table.rows(), table.cols() + 1);
  v.leftCols(table.cols()) = table.values;
  v.col(table.cols()) = table.weights;
  std::vector<std::string> cols = table.traits;
  cols.push_back("weight");
  write_numeric_table(path, table.ids, cols, v, options);
}

}  // namespace popalign::io
