// Scoring (see include/popalign/psychometrics/scoring.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>

#include <popalign/psychometrics/scoring.hpp>
#include <popalign/psychometrics/scoring_core.hpp>

namespace popalign::psychometrics {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

double parse_answer_cell(std::string_view cell, const std::optional<double>& missing_code,
                         const std::string& source, std::size_t line, const std::string& column) {
  if (auto x = io::parse_number(cell)) return missing_code && *x == *missing_code ? kNaN : *x;
  if (io::is_missing_token(cell)) return kNaN;
  throw io::CsvError(source, line, 0, column,
                     fmt::format("column '{}': answer '{}' is not a number", column, cell));
}

std::string Responses::where(Index row) const {
  const auto r = static_cast<std::size_t>(row);
  if (r < lines.size() && !source.empty()) return fmt::format("{}:{}", source, lines[r]);
  if (r < ids.size()) return fmt::format("row {} (id '{}')", row + 1, ids[r]);
  return fmt::format("row {}", row + 1);
}

Responses Responses::select_rows(const std::vector<Index>& rows) const {
  Responses out;
  out.source = source;
  out.columns = columns;
  out.values.resize(static_cast<Index>(rows.size()), values.cols());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const Index i = rows[k];
    if (i < 0 || i >= values.rows())
      throw InvalidArgument("rows", fmt::format("index {} is outside 0..{}", i, values.rows() - 1));
    out.values.row(static_cast<Index>(k)) = values.row(i);
    if (!ids.empty()) out.ids.push_back(ids[static_cast<std::size_t>(i)]);
    if (!lines.empty()) out.lines.push_back(lines[static_cast<std::size_t>(i)]);
  }
  return out;
}

void Responses::validate() const {
  check_argument(static_cast<Index>(columns.size()) == values.cols(), "columns",
                 fmt::format("has {} names for {} columns", columns.size(), values.cols()));
  check_argument(ids.empty() || static_cast<Index>(ids.size()) == values.rows(), "ids",
                 fmt::format("has {} entries for {} rows", ids.size(), values.rows()));
  check_argument(lines.empty() || static_cast<Index>(lines.size()) == values.rows(), "lines",
                 fmt::format("has {} entries for {} rows", lines.size(), values.rows()));
}

void ReadResponsesOptions::validate() const {
  csv.validate();
  check_argument(!answers_field.empty(), "answers_field", "must not be empty");
  check_argument(!missing_code || std::isfinite(*missing_code), "missing_code",
                 "must be a finite number");
}

namespace {

/// Builds Responses row by row from a delimited file (shared by the Table and streaming paths).
class ResponseBuilder {
 public:
  ResponseBuilder(std::string source, const std::vector<std::string>& header,
                  const Instrument& instrument, const ReadResponsesOptions& options)
      : options_(options) {
    out_.source = std::move(source);
    header_ = header;
    auto find = [&](std::string_view name) -> std::optional<std::size_t> {
      for (std::size_t j = 0; j < header.size(); ++j)
        if (header[j] == name) return j;
      return std::nullopt;
    };
    if (options.id_column.empty()) {
      id_col_ = find("id");
    } else {
      id_col_ = find(options.id_column);
      if (!id_col_)
        throw io::CsvError(out_.source, 1, 0, options.id_column,
                           fmt::format("missing id column '{}'", options.id_column));
    }
    std::vector<bool> covered(instrument.num_items(), false);
    for (std::size_t j = 0; j < header.size(); ++j) {
      if (id_col_ && j == *id_col_) continue;
      if (auto k = instrument.find_item(header[j])) {
        cols_.push_back(j);
        out_.columns.push_back(header[j]);
        covered[*k] = true;
      }
    }
    if (cols_.empty())
      throw ParseError(out_.source, 1,
                       fmt::format("no column matches an item of instrument '{}' (first item: "
                                   "'{}')",
                                   instrument.id, instrument.items.front().id));
    if (options.require_all_items)
      for (std::size_t k = 0; k < covered.size(); ++k)
        if (!covered[k])
          throw ParseError(out_.source, 1,
                           fmt::format("no column for item '{}' of instrument '{}'",
                                       instrument.items[k].id, instrument.id));
  }

  void add(const std::vector<std::string>& row, std::size_t line) {
    out_.ids.push_back(id_col_ ? row[*id_col_] : std::to_string(out_.ids.size() + 1));
    out_.lines.push_back(line);
    for (std::size_t c = 0; c < cols_.size(); ++c)
      flat_.push_back(parse_answer_cell(row[cols_[c]], options_.missing_code, out_.source, line,
                                        header_[cols_[c]]));
  }

  Responses finish() {
    out_.values = Eigen::Map<const RowMatrix<double>>(
        flat_.data(), static_cast<Index>(out_.ids.size()), static_cast<Index>(cols_.size()));
    std::vector<double>().swap(flat_);
    return std::move(out_);
  }

 private:
  const ReadResponsesOptions& options_;
  Responses out_;
  std::vector<std::string> header_;
  std::optional<std::size_t> id_col_;
  std::vector<std::size_t> cols_;
  std::vector<double> flat_;
};

}  // namespace

Responses responses_from_table(const io::Table& table, const Instrument& instrument,
                               const ReadResponsesOptions& options) {
  options.validate();
  ResponseBuilder b(table.source, table.columns, instrument, options);
  for (std::size_t i = 0; i < table.num_rows(); ++i) b.add(table.rows[i], table.lines[i]);
  return b.finish();
}

namespace {

/// Builds Responses from JSONL records one at a time (nothing but the numbers is kept). Every
/// instrument item gets a column while reading; items no record answered are dropped at the end.
class JsonlResponseBuilder {
 public:
  JsonlResponseBuilder(std::string source, const Instrument& instrument,
                       const ReadResponsesOptions& options)
      : instrument_(instrument),
        options_(options),
        id_key_(options.id_column.empty() ? "id" : options.id_column),
        seen_(instrument.num_items(), false),
        set_(instrument.num_items(), false) {
    out_.source = std::move(source);
  }

  void add(const io::JsonlRecord& rec) {
    if (first_line_ == 0) first_line_ = rec.line;
    const io::JsonValue& answers = rec.field(options_.answers_field);
    if (!answers.is_object())
      throw ParseError(
          rec.source, rec.line,
          fmt::format("field '{}' is {}, not an object of item answers", options_.answers_field,
                      io::JsonValue::kind_name(answers.kind())));
    out_.ids.push_back(rec.id_field(id_key_));
    out_.lines.push_back(rec.line);
    const std::size_t base = flat_.size();
    flat_.resize(base + instrument_.num_items(), kNaN);
    std::fill(set_.begin(), set_.end(), false);
    for (const auto& [key, v] : answers.as_object()) {
      auto it = key_item_.find(key);
      if (it == key_item_.end()) {
        auto k = instrument_.find_item(key);
        if (!k) continue;
        it = key_item_.emplace(key, *k).first;
      }
      const std::size_t k = it->second;
      seen_[k] = true;
      if (set_[k])
        throw ParseError(
            rec.source, rec.line,
            fmt::format("item '{}' is answered twice (key '{}')", instrument_.items[k].id, key));
      set_[k] = true;
      double x = kNaN;
      if (v.is_number()) {
        x = v.as_number();
      } else if (v.is_string()) {
        auto p = io::parse_number(v.as_string());
        if (!p && !io::is_missing_token(v.as_string()))
          throw ParseError(
              rec.source, rec.line,
              fmt::format("answer to '{}' is \"{}\", not a number", key, v.as_string()));
        if (p) x = *p;
      } else if (!v.is_null()) {
        throw ParseError(rec.source, rec.line,
                         fmt::format("answer to '{}' is {}, not a number or null", key,
                                     io::JsonValue::kind_name(v.kind())));
      }
      if (options_.missing_code && x == *options_.missing_code) x = kNaN;
      flat_[base + k] = x;
    }
  }

  Responses finish() {
    const std::size_t n = out_.ids.size();
    if (n > 0 && key_item_.empty())
      throw ParseError(
          out_.source, first_line_,
          fmt::format("no answer key matches an item of instrument '{}'", instrument_.id));
    std::vector<std::size_t> keep;
    for (std::size_t k = 0; k < seen_.size(); ++k) {
      if (options_.require_all_items && !seen_[k] && n > 0)
        throw ParseError(out_.source, 0,
                         fmt::format("no answers to item '{}' of instrument '{}'",
                                     instrument_.items[k].id, instrument_.id));
      if (seen_[k]) {
        keep.push_back(k);
        out_.columns.push_back(instrument_.items[k].id);
      }
    }
    const std::size_t m = instrument_.num_items();
    out_.values.resize(static_cast<Index>(n), static_cast<Index>(keep.size()));
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < keep.size(); ++c)
        out_.values(static_cast<Index>(i), static_cast<Index>(c)) = flat_[i * m + keep[c]];
    std::vector<double>().swap(flat_);
    return std::move(out_);
  }

 private:
  const Instrument& instrument_;
  const ReadResponsesOptions& options_;
  std::string id_key_;
  Responses out_;
  std::vector<bool> seen_, set_;
  std::map<std::string, std::size_t, std::less<>> key_item_;  // answer key -> item
  std::vector<double> flat_;
  std::size_t first_line_ = 0;
};

bool looks_like_jsonl(const std::filesystem::path& path) {
  const auto ext = path.extension().string();
  if (ext == ".jsonl" || ext == ".ndjson") return true;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string(), "cannot open file for reading");
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  std::size_t b = 0;
  if (head.size() >= 3 && head.compare(0, 3, "\xEF\xBB\xBF") == 0) b = 3;
  while (b < head.size() && std::isspace(static_cast<unsigned char>(head[b]))) ++b;
  return b < head.size() && head[b] == '{';
}

}  // namespace

Responses responses_from_jsonl(const std::vector<io::JsonlRecord>& records,
                               const Instrument& instrument, const ReadResponsesOptions& options) {
  options.validate();
  JsonlResponseBuilder b(records.empty() ? std::string() : records.front().source, instrument,
                         options);
  for (const auto& rec : records) b.add(rec);
  return b.finish();
}

Responses read_responses(const std::filesystem::path& path, const Instrument& instrument,
                         const ReadResponsesOptions& options) {
  options.validate();
  if (looks_like_jsonl(path)) {
    io::JsonlReadOptions jo;
    jo.on_malformed = options.on_malformed;
    io::JsonlReader reader(path, jo);
    JsonlResponseBuilder b(path.string(), instrument, options);
    io::JsonlRecord rec;
    while (reader.next(rec)) b.add(rec);
    Responses r = b.finish();
    r.malformed = reader.malformed();
    r.truncated_tail = reader.truncated_tail();
    return r;
  }
  std::optional<ResponseBuilder> b;
  io::for_each_row(
      path, options.csv,
      [&](const std::vector<std::string>& header, char) {
        b.emplace(path.string(), header, instrument, options);
      },
      [&](const std::vector<std::string>& fields, std::size_t line) { b->add(fields, line); });
  return b->finish();
}

namespace {

/// Throws OutOfScaleAnswer naming file:line (or row and id) and the column of the first answer
/// outside the scale, in the order the scoring core checks them.
void check_scale(const Instrument& instrument, const Responses& responses,
                 const std::vector<Index>& item_of) {
  const auto c = first_out_of_scale(instrument, responses.values, item_of);
  if (!c) return;
  const double x = responses.values(c->row, c->column);
  const Scale& s = instrument.scale;
  throw OutOfScaleAnswer(
      fmt::format("{}: column '{}': answer {} is outside the scale {}..{} of instrument '{}'",
                  responses.where(c->row), responses.columns[static_cast<std::size_t>(c->column)],
                  io::format_number(x), s.min, s.max, instrument.id),
      c->row, c->column, x);
}

}  // namespace

RowMatrix<double> keyed_item_matrix(const Instrument& instrument, const Responses& responses) {
  responses.validate();
  const auto item_of = match_columns(instrument, responses.columns);
  check_scale(instrument, responses, item_of);
  return keyed_items(instrument, responses.values, item_of);
}

ScoreResult score(const Instrument& instrument, const Responses& responses,
                  const ScoringOptions& options) {
  options.validate();
  responses.validate();
  const auto item_of = match_columns(instrument, responses.columns);
  check_scale(instrument, responses, item_of);
  ScoreResult r = score_items(instrument, responses.values, item_of, options);
  if (!responses.ids.empty()) r.scores.ids = responses.ids;
  return r;
}

}  // namespace popalign::psychometrics
