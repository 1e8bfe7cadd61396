// Tertile levels and the MBTI rule (see include/popalign/exporters/levels.hpp).
#include <popalign/exporters/levels.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include <popalign/core/error.hpp>
#include <popalign/io/csv.hpp>

namespace popalign::exporters {

const char* big_five_name(BigFive trait) noexcept {
  switch (trait) {
    case BigFive::openness:
      return "openness";
    case BigFive::conscientiousness:
      return "conscientiousness";
    case BigFive::extraversion:
      return "extraversion";
    case BigFive::agreeableness:
      return "agreeableness";
    case BigFive::neuroticism:
      return "neuroticism";
  }
  return "";
}

std::optional<BigFive> big_five_of(std::string_view column) noexcept {
  std::string s;
  for (char c : column) s.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (s == "o" || s == "openness" || s == "openness to experience") return BigFive::openness;
  if (s == "c" || s == "conscientiousness") return BigFive::conscientiousness;
  if (s == "e" || s == "extraversion" || s == "extroversion") return BigFive::extraversion;
  if (s == "a" || s == "agreeableness") return BigFive::agreeableness;
  if (s == "n" || s == "neuroticism") return BigFive::neuroticism;
  return std::nullopt;
}

const char* level_name(Level level) noexcept {
  switch (level) {
    case Level::low:
      return "low";
    case Level::medium:
      return "medium";
    case Level::high:
      return "high";
  }
  return "";
}

double quantile(std::span<const double> values, double p) {
  check_argument(p >= 0.0 && p <= 1.0, "p", "must be in [0, 1]");
  std::vector<double> x;
  x.reserve(values.size());
  for (double v : values)
    if (std::isfinite(v)) x.push_back(v);
  if (x.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(x.begin(), x.end());
  const double h = static_cast<double>(x.size() - 1) * p;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  const std::size_t hi = std::min(lo + 1, x.size() - 1);
  return x[lo] + (h - static_cast<double>(lo)) * (x[hi] - x[lo]);
}

Level level_of(double value, const TraitCuts& cuts) noexcept {
  if (value < cuts.lower_tertile) return Level::low;
  if (value > cuts.upper_tertile) return Level::high;
  return Level::medium;
}

ReferenceLevels::ReferenceLevels(std::vector<std::string> columns, std::span<const double> values,
                                 std::size_t rows, std::string source)
    : source_(std::move(source)), rows_(rows) {
  check_argument(values.size() == rows * columns.size(), "reference",
                 "values must hold rows x columns numbers");
  check_argument(!columns.empty(), "reference", source_ + ": has no trait column");
  std::vector<double> col(rows);
  for (std::size_t j = 0; j < columns.size(); ++j) {
    for (std::size_t i = 0; i < rows; ++i) col[i] = values[i * columns.size() + j];
    TraitCuts t;
    t.name = columns[j];
    t.big_five = big_five_of(t.name);
    t.count = static_cast<std::size_t>(
        std::count_if(col.begin(), col.end(), [](double v) { return std::isfinite(v); }));
    check_argument(t.count >= 3, "reference",
                   source_ + ": trait '" + t.name + "' has " + std::to_string(t.count) +
                       " finite values; tertiles need at least 3");
    t.lower_tertile = quantile(col, 1.0 / 3.0);
    t.upper_tertile = quantile(col, 2.0 / 3.0);
    t.median = quantile(col, 0.5);
    check_argument(t.upper_tertile > t.lower_tertile, "reference",
                   source_ + ": trait '" + t.name +
                       "' has equal tertiles (a constant trait cannot be split in three)");
    traits_.push_back(std::move(t));
  }
}

ReferenceLevels ReferenceLevels::load(const std::string& path) {
  const io::Table table = io::read_table(path);
  std::vector<std::string> exclude{"id", "weight", "count"};
  const std::vector<std::string> columns = io::numeric_columns(table, exclude, true);
  if (columns.empty())
    throw ParseError(path, 1, "no numeric trait column (expected id + one column per trait)");
  io::NumericTableOptions o;
  o.allow_missing = true;
  const io::NumericTable t = io::to_numeric_table(table, columns, o);
  return ReferenceLevels(
      t.columns,
      std::span<const double>(t.values.data(), static_cast<std::size_t>(t.values.size())),
      static_cast<std::size_t>(t.values.rows()), path);
}

const TraitCuts* ReferenceLevels::find(BigFive trait) const noexcept {
  for (const auto& t : traits_)
    if (t.big_five == trait) return &t;
  return nullptr;
}

const TraitCuts* ReferenceLevels::find(std::string_view name) const noexcept {
  if (const auto b = big_five_of(name)) return find(*b);
  for (const auto& t : traits_)
    if (t.name == name) return &t;
  return nullptr;
}

std::string mbti_from_big_five(const std::array<double, kBigFiveCount>& s,
                               const std::array<double, kBigFiveCount>& m) {
  auto at = [](const std::array<double, kBigFiveCount>& a, BigFive t) {
    return a[static_cast<std::size_t>(t)];
  };
  for (BigFive t : {BigFive::extraversion, BigFive::openness, BigFive::agreeableness,
                    BigFive::conscientiousness}) {
    check_argument(std::isfinite(at(s, t)), big_five_name(t), "MBTI needs a finite score");
    check_argument(std::isfinite(at(m, t)), big_five_name(t), "MBTI needs a finite median");
  }
  std::string out;
  out.push_back(at(s, BigFive::extraversion) > at(m, BigFive::extraversion) ? 'E' : 'I');
  out.push_back(at(s, BigFive::openness) > at(m, BigFive::openness) ? 'N' : 'S');
  out.push_back(at(s, BigFive::agreeableness) > at(m, BigFive::agreeableness) ? 'F' : 'T');
  out.push_back(at(s, BigFive::conscientiousness) > at(m, BigFive::conscientiousness) ? 'J' : 'P');
  return out;
}

}  // namespace popalign::exporters
