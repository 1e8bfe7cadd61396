// Reference data loaders and cleaning (see include/popalign/psychometrics/reference.hpp).
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <unordered_set>

#include <popalign/io/csv.hpp>
#include <popalign/io/data_dir.hpp>
#include <popalign/psychometrics/reference.hpp>

namespace popalign::psychometrics {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<std::string> big5_items() {
  std::vector<std::string> out;
  for (const char* t : {"E", "N", "A", "C", "O"})
    for (int k = 1; k <= 10; ++k) out.push_back(fmt::format("{}{}", t, k));
  return out;
}

std::vector<std::string> ffm_items() {
  std::vector<std::string> out;
  for (const char* t : {"EXT", "EST", "AGR", "CSN", "OPN"})
    for (int k = 1; k <= 10; ++k) out.push_back(fmt::format("{}{}", t, k));
  return out;
}

struct Layout {
  std::vector<std::size_t> item_cols;
  std::optional<std::size_t> id_col, country_col, age_col;
  std::optional<double> missing_code;
  std::vector<std::string> unknown_countries;  // codes meaning "unknown" -> ""
};

/// Fills ReferenceData row by row (the layout is resolved from the header first).
class ReferenceBuilder {
 public:
  ReferenceBuilder(std::string source, std::vector<std::string> header, Layout layout)
      : header_(std::move(header)), L_(std::move(layout)) {
    d_.responses.source = std::move(source);
    for (auto j : L_.item_cols) d_.responses.columns.push_back(header_[j]);
  }

  void add(const std::vector<std::string>& row, std::size_t line) {
    Responses& r = d_.responses;
    r.ids.push_back(L_.id_col ? row[*L_.id_col] : std::to_string(r.ids.size() + 1));
    r.lines.push_back(line);
    for (std::size_t c = 0; c < L_.item_cols.size(); ++c)
      flat_.push_back(parse_answer_cell(row[L_.item_cols[c]], L_.missing_code, r.source, line,
                                        header_[L_.item_cols[c]]));
    std::string country = L_.country_col ? row[*L_.country_col] : std::string();
    for (const auto& u : L_.unknown_countries)
      if (country == u) country.clear();
    d_.country.push_back(std::move(country));
    double age = kNaN;
    if (L_.age_col)
      if (auto a = io::parse_number(row[*L_.age_col])) age = *a;
    d_.age.push_back(age);
  }

  ReferenceData finish() {
    d_.responses.values =
        Eigen::Map<const RowMatrix<double>>(flat_.data(), static_cast<Index>(d_.country.size()),
                                            static_cast<Index>(L_.item_cols.size()));
    std::vector<double>().swap(flat_);
    return std::move(d_);
  }

 private:
  std::vector<std::string> header_;
  Layout L_;
  ReferenceData d_;
  std::vector<double> flat_;
};

/// Streams `path`; `layout_of(header)` resolves the columns.
template <class LayoutOf>
ReferenceData load_streaming(const std::filesystem::path& path, const io::CsvOptions& options,
                             LayoutOf&& layout_of) {
  std::optional<ReferenceBuilder> b;
  io::for_each_row(
      path, options,
      [&](const std::vector<std::string>& header, char) {
        b.emplace(path.string(), header, layout_of(header, path.string()));
      },
      [&](const std::vector<std::string>& fields, std::size_t line) { b->add(fields, line); });
  return b->finish();
}

std::optional<std::size_t> find_col(const std::vector<std::string>& header, std::string_view n) {
  for (std::size_t j = 0; j < header.size(); ++j)
    if (header[j] == n) return j;
  return std::nullopt;
}

std::size_t require_col(const std::vector<std::string>& header, const std::string& name,
                        const std::string& source) {
  if (auto j = find_col(header, name)) return *j;
  std::string avail;
  for (std::size_t j = 0; j < header.size() && j < 60; ++j) avail += (j ? ", " : "") + header[j];
  if (header.size() > 60) avail += ", ...";
  throw io::CsvError(source, 1, 0, name,
                     fmt::format("missing column '{}' (columns: {})", name, avail));
}

}  // namespace

ReferenceData ReferenceData::select_rows(const std::vector<Index>& rows) const {
  ReferenceData out;
  out.responses = responses.select_rows(rows);
  for (Index i : rows) {
    out.country.push_back(country[static_cast<std::size_t>(i)]);
    out.age.push_back(age[static_cast<std::size_t>(i)]);
  }
  return out;
}

void ReferenceData::validate() const {
  responses.validate();
  check_argument(static_cast<Index>(country.size()) == rows(), "country",
                 fmt::format("has {} entries for {} rows", country.size(), rows()));
  check_argument(static_cast<Index>(age.size()) == rows(), "age",
                 fmt::format("has {} entries for {} rows", age.size(), rows()));
}

ReferenceData load_big5(const std::filesystem::path& path) {
  // Tab-separated as shipped; the delimiter is sniffed so that CSV copies load too.
  return load_streaming(path, {}, [](const std::vector<std::string>& h, const std::string& src) {
    Layout L;
    for (const auto& nm : big5_items()) L.item_cols.push_back(require_col(h, nm, src));
    L.country_col = require_col(h, "country", src);
    L.age_col = require_col(h, "age", src);
    L.missing_code = 0.0;
    return L;
  });
}

ReferenceData load_big5() { return load_big5(io::data_dir() / "big5" / "data.csv"); }

ReferenceData load_ipip_ffm(const std::filesystem::path& path) {
  // Tab-separated in the OSPP file; the delimiter is sniffed so that CSV copies load too.
  return load_streaming(path, {}, [](const std::vector<std::string>& h, const std::string& src) {
    Layout L;
    for (const auto& nm : ffm_items()) L.item_cols.push_back(require_col(h, nm, src));
    L.country_col = require_col(h, "country", src);
    L.missing_code = 0.0;
    L.unknown_countries = {"NONE"};
    return L;
  });
}

void ReferenceCsvOptions::validate() const {
  csv.validate();
  check_argument(!missing_code || std::isfinite(*missing_code), "missing_code",
                 "must be a finite number");
}

ReferenceData load_reference_csv(const std::filesystem::path& path,
                                 const ReferenceCsvOptions& options, const Instrument* instrument) {
  options.validate();
  check_argument(!options.item_columns.empty() || instrument != nullptr, "item_columns",
                 "give the item columns or an instrument to match them");
  return load_streaming(
      path, options.csv, [&](const std::vector<std::string>& h, const std::string& src) {
        Layout L;
        L.missing_code = options.missing_code;
        L.id_col = options.id_column.empty()
                       ? find_col(h, "id")
                       : std::optional(require_col(h, options.id_column, src));
        if (!options.country_column.empty())
          L.country_col = require_col(h, options.country_column, src);
        if (!options.age_column.empty()) L.age_col = require_col(h, options.age_column, src);
        if (!options.item_columns.empty()) {
          for (const auto& nm : options.item_columns)
            L.item_cols.push_back(require_col(h, nm, src));
        } else {
          for (std::size_t j = 0; j < h.size(); ++j) {
            if ((L.id_col && j == *L.id_col) || (L.country_col && j == *L.country_col) ||
                (L.age_col && j == *L.age_col))
              continue;
            if (instrument->find_item(h[j])) L.item_cols.push_back(j);
          }
          if (L.item_cols.empty())
            throw ParseError(
                src, 1,
                fmt::format("no column matches an item of instrument '{}'", instrument->id));
        }
        return L;
      });
}

void CleaningOptions::validate() const {
  check_argument(std::isfinite(min_age) && std::isfinite(max_age) && min_age <= max_age, "min_age",
                 "min_age and max_age must be finite with min_age <= max_age");
  check_argument(min_answered >= 0 && min_answered <= 1, "min_answered",
                 fmt::format("must be in [0, 1], got {}", min_answered));
}

std::string CleaningReport::summary() const {
  return fmt::format(
      "rows in: {}\n"
      "implausible age set missing: {}\n"
      "dropped, implausible age: {}\n"
      "dropped, answer outside the scale: {}\n"
      "dropped, too many unanswered items: {}\n"
      "dropped, duplicate answers: {}\n"
      "rows out: {}\n",
      rows_in, ages_set_missing, dropped_age, dropped_out_of_range, dropped_incomplete,
      dropped_duplicate, rows_out);
}

CleaningReport clean_reference(ReferenceData& data, const Instrument& instrument,
                               const CleaningOptions& options) {
  options.validate();
  data.validate();
  const Responses& r = data.responses;
  std::vector<Index> item_cols;
  for (std::size_t j = 0; j < r.columns.size(); ++j)
    if (instrument.find_item(r.columns[j])) item_cols.push_back(static_cast<Index>(j));
  check_argument(
      !item_cols.empty(), "instrument",
      fmt::format("no column of the reference data matches an item of '{}'", instrument.id));
  CleaningReport rep;
  const Index n = data.rows();
  rep.rows_in = static_cast<std::size_t>(n);
  const std::size_t k = item_cols.size();
  const double need = options.min_answered * static_cast<double>(k) - 1e-9;
  std::vector<Index> keep;
  keep.reserve(static_cast<std::size_t>(n));
  std::unordered_set<std::string> seen;
  std::string key;
  for (Index i = 0; i < n; ++i) {
    double& age = data.age[static_cast<std::size_t>(i)];
    if (!std::isnan(age) && (age < options.min_age || age > options.max_age)) {
      if (options.age_rule == AgeRule::drop_row) {
        ++rep.dropped_age;
        continue;
      }
      age = kNaN;
      ++rep.ages_set_missing;
    }
    std::size_t answered = 0;
    bool out_of_range = false;
    for (Index j : item_cols) {
      const double x = r.values(i, j);
      if (std::isnan(x)) continue;
      ++answered;
      if (!instrument.scale.contains(x)) out_of_range = true;
    }
    if (out_of_range && options.drop_out_of_range) {
      ++rep.dropped_out_of_range;
      continue;
    }
    if (static_cast<double>(answered) < need) {
      ++rep.dropped_incomplete;
      continue;
    }
    if (options.drop_duplicate_answers) {
      key.clear();
      for (Index j : item_cols) {
        double x = r.values(i, j);
        if (std::isnan(x)) x = -1e300;  // one bit pattern for every missing answer
        char buf[sizeof(double)];
        std::memcpy(buf, &x, sizeof(double));
        key.append(buf, sizeof(double));
      }
      if (!seen.insert(key).second) {
        ++rep.dropped_duplicate;
        continue;
      }
    }
    keep.push_back(i);
  }
  if (static_cast<Index>(keep.size()) != n) data = data.select_rows(keep);
  rep.rows_out = keep.size();
  return rep;
}

}  // namespace popalign::psychometrics
