#pragma once
// Trait levels and MBTI types for the exporters, both read off a human reference sample.
//
// Levels: a trait value is "low", "medium" or "high" by the tertiles of the reference on that
// trait (not by fixed cut points, since "high" only means something relative to people):
//   t1 = Q(1/3), t2 = Q(2/3) of the reference's finite values, where Q(p) is the sample quantile
//   with linear interpolation between order statistics (Hyndman & Fan type 7, the default of
//   NumPy and R): h = (n - 1) p, Q = x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]);
//   level = low if x < t1, high if x > t2, medium otherwise (ties with a cut are medium).
//
// MBTI: McCrae & Costa (1989, "Reinterpreting the Myers-Briggs Type Indicator from the
// perspective of the five-factor model of personality", J. Personality 57(1)) found each MBTI
// index correlated with one Big Five factor: E-I with extraversion (|r| ~ .7), S-N with
// openness (~ .7), T-F with agreeableness (~ .4), J-P with conscientiousness (~ .5); neuroticism
// has no MBTI index. The rule here splits each of those four traits at the reference median:
//   E if extraversion > median else I;  N if openness > median else S;
//   F if agreeableness > median else T; J if conscientiousness > median else P.
// (A value equal to the median takes the second letter.) So a type is a median split of four
// traits, which is all the MBTI letters can carry; it is what OASIS prints in its prompt.
#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace popalign::exporters {

enum class BigFive { openness, conscientiousness, extraversion, agreeableness, neuroticism };
inline constexpr std::size_t kBigFiveCount = 5;

/// Lower-case name: "openness", ...
const char* big_five_name(BigFive trait) noexcept;

/// The Big Five trait a column names: the one-letter codes of `popalign score` (O, C, E, A, N),
/// the trait names of `popalign score --names` or of TinyTroupe (Openness, Conscientiousness,
/// Extraversion, Agreeableness, Neuroticism; case-insensitive; also "openness to experience",
/// "extroversion"); std::nullopt for anything else.
std::optional<BigFive> big_five_of(std::string_view column) noexcept;

enum class Level { low, medium, high };
/// "low", "medium", "high".
const char* level_name(Level level) noexcept;

/// Sample quantile (type 7, see the file comment) of the finite values; NaN when there are none.
/// p must be in [0, 1].
double quantile(std::span<const double> values, double p);

/// The cuts of one trait.
struct TraitCuts {
  std::string name;  ///< the reference column
  std::optional<BigFive> big_five;
  double lower_tertile = 0.0;  ///< Q(1/3)
  double upper_tertile = 0.0;  ///< Q(2/3)
  double median = 0.0;         ///< Q(1/2)
  std::size_t count = 0;       ///< finite reference values
};

/// The level of `value` between the cuts (see the file comment).
Level level_of(double value, const TraitCuts& cuts) noexcept;

/// Cuts of every trait of a human reference sample.
class ReferenceLevels {
 public:
  ReferenceLevels() = default;
  /// columns[j] names column j of `values` (row-major, rows x columns). InvalidArgument
  /// ("reference") when a column has fewer than 3 finite values, or the tertiles coincide
  /// (a constant trait).
  ReferenceLevels(std::vector<std::string> columns, std::span<const double> values,
                  std::size_t rows, std::string source = "<reference>");
  /// Reads a reference traits CSV (id + one numeric column per trait, e.g. the output of
  /// `popalign score`). Columns other than the id and `weight`/`count` are traits.
  static ReferenceLevels load(const std::string& path);

  const std::vector<TraitCuts>& traits() const noexcept { return traits_; }
  const std::string& source() const noexcept { return source_; }
  std::size_t rows() const noexcept { return rows_; }
  bool empty() const noexcept { return traits_.empty(); }
  /// The cuts for a persona's trait `name`: the reference column of the same Big Five trait
  /// when `name` is one, else the column with exactly that name; nullptr when there is none.
  const TraitCuts* find(std::string_view name) const noexcept;
  const TraitCuts* find(BigFive trait) const noexcept;

 private:
  std::vector<TraitCuts> traits_;
  std::string source_;
  std::size_t rows_ = 0;
};

/// The MBTI type (four letters, see the file comment) of Big Five scores given the reference
/// medians. scores[k] is the value of BigFive(k); neuroticism is not used.
std::string mbti_from_big_five(const std::array<double, kBigFiveCount>& scores,
                               const std::array<double, kBigFiveCount>& medians);

}  // namespace popalign::exporters
