// The header-only scoring core (scoring_core.hpp) over float and double: hand-computed values,
// agreement with the compiled file-reading score() (bit-identical for double), any Eigen matrix
// type, and the errors.
#include <popalign/psychometrics/scoring_core.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <popalign/psychometrics/scoring.hpp>

namespace popalign::psychometrics {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kData = POPALIGN_DATA_DIR;

Instrument tiny() {
  // Two traits: X (x1 +, x2 -, x3 +), Y (y1 +, y2 -). Facets X1 = {x1, x2}, X2 = {x3},
  // Y1 = {y1, y2}. Scale 1..5.
  return parse_instrument(R"({"id": "tiny", "scale": {"min": 1, "max": 5},
    "items": [
      {"id": "x1", "trait": "X", "facet": "X1", "key": 1, "columns": ["alt_x1"]},
      {"id": "x2", "trait": "X", "facet": "X1", "key": -1},
      {"id": "x3", "trait": "X", "facet": "X2", "key": 1},
      {"id": "y1", "trait": "Y", "facet": "Y1", "key": 1},
      {"id": "y2", "trait": "Y", "facet": "Y1", "key": -1}]})",
                          "tiny.json", "tiny");
}

/// Rows of the hand example, items in instrument order (x1 x2 x3 y1 y2).
template <class T>
RowMatrix<T> hand_example() {
  RowMatrix<T> v(3, 5);
  v << 5, 1, 5, 4, 2,  //
      1, 5, 1, 1, 5,   //
      2, 4, 3, 3, 3;
  return v;
}

/// NaN-aware bitwise equality of two score matrices.
template <class A, class B>
void expect_same_scores(const A& a, const B& b) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  for (Index i = 0; i < a.rows(); ++i)
    for (Index j = 0; j < a.cols(); ++j) {
      if (std::isnan(a(i, j)))
        EXPECT_TRUE(std::isnan(b(i, j))) << i << "," << j;
      else
        EXPECT_EQ(a(i, j), b(i, j)) << i << "," << j;
    }
}

void expect_same_reports(const std::vector<DimensionReport>& a,
                         const std::vector<DimensionReport>& b) {
  ASSERT_EQ(a.size(), b.size());
  auto same = [](double x, double y) { return (std::isnan(x) && std::isnan(y)) || x == y; };
  for (std::size_t c = 0; c < a.size(); ++c) {
    EXPECT_EQ(a[c].code, b[c].code);
    EXPECT_EQ(a[c].name, b[c].name);
    EXPECT_EQ(a[c].is_facet, b[c].is_facet);
    EXPECT_EQ(a[c].items, b[c].items);
    EXPECT_EQ(a[c].items_present, b[c].items_present);
    EXPECT_EQ(a[c].scored, b[c].scored);
    EXPECT_EQ(a[c].insufficient, b[c].insufficient);
    EXPECT_TRUE(same(a[c].mean, b[c].mean)) << a[c].code;
    EXPECT_TRUE(same(a[c].sd, b[c].sd)) << a[c].code;
    EXPECT_TRUE(same(a[c].alpha, b[c].alpha)) << a[c].code;
    EXPECT_EQ(a[c].alpha_rows, b[c].alpha_rows);
  }
}

template <class T>
class ScoringCore : public ::testing::Test {};
using Scalars = ::testing::Types<float, double>;
TYPED_TEST_SUITE(ScoringCore, Scalars);

TYPED_TEST(ScoringCore, HandComputedScoresAndReport) {
  using T = TypeParam;
  const BasicScoreResult<T> r =
      score_items(tiny(), hand_example<T>(), ScoringOptions{.facets = true});
  EXPECT_EQ(r.scores.traits, (std::vector<std::string>{"X", "Y", "X1", "X2", "Y1"}));
  EXPECT_EQ(r.scores.ids, (std::vector<std::string>{"1", "2", "3"}));
  // Keyed (6 - x for x2, y2): row 1: 5 5 5 | 4 4; row 2: 1 1 1 | 1 1; row 3: 2 2 3 | 3 3.
  const T x3 = static_cast<T>(7.0 / 3);
  RowMatrix<T> expected(3, 5);
  expected << 5, 4, 5, 5, 4,  //
      1, 1, 1, 1, 1,          //
      x3, 3, 2, 3, 3;
  expect_same_scores(r.scores.values, expected);
  ASSERT_EQ(r.dimensions.size(), 5u);
  const DimensionReport& X = r.dimensions[0];
  EXPECT_EQ(X.items, 3u);
  EXPECT_EQ(X.scored, 3u);
  EXPECT_FALSE(X.is_facet);
  // X scores 5, 1, 7/3: mean 25/9, squared deviations (400 + 256 + 16) / 81, sd sqrt(336) / 9.
  EXPECT_NEAR(X.mean, 25.0 / 9, 1e-15);
  EXPECT_NEAR(X.sd, std::sqrt(336.0) / 9, 1e-14);
  // Keyed columns (5,1,2), (5,1,2), (5,1,3): variances 13/3, 13/3, 4; total (15,3,7) has
  // variance 112/3; alpha = 3/2 (1 - (38/3) / (112/3)) = 111/112.
  EXPECT_NEAR(X.alpha, 111.0 / 112, 1e-14);
  EXPECT_EQ(X.alpha_rows, 3u);
  // Y keyed (4,4), (1,1), (3,3): identical items, alpha 1; scores 4, 1, 3, mean 8/3, var 7/3.
  EXPECT_NEAR(r.dimensions[1].alpha, 1.0, 1e-14);
  EXPECT_NEAR(r.dimensions[1].mean, 8.0 / 3, 1e-15);
  EXPECT_NEAR(r.dimensions[1].sd, std::sqrt(7.0 / 3), 1e-14);
  // A facet with one item has no alpha.
  EXPECT_TRUE(r.dimensions[3].is_facet);
  EXPECT_TRUE(std::isnan(r.dimensions[3].alpha));
  EXPECT_EQ(r.rows_with_missing, 0u);
  EXPECT_EQ(r.rows_with_nan_score, 0u);
  EXPECT_TRUE(r.absent_items.empty());
  EXPECT_EQ(fmt::format("{}", r), r.summary());
  EXPECT_THAT(r.summary(), HasSubstr("3 rows; 0 rows with unanswered items"));
}

TYPED_TEST(ScoringCore, NegativeControlAKeyFlipChangesTheScores) {
  // The same data with x2 keyed +1: X of row 1 is (5 + 1 + 5) / 3, not 5. Shows that the
  // hand-computed expectations above depend on the keying.
  using T = TypeParam;
  Instrument ins = tiny();
  ins.items[1].key = 1;
  const BasicScoreResult<T> r = score_items(ins, hand_example<T>());
  EXPECT_EQ(r.scores.values(0, 0), static_cast<T>(11.0 / 3));
  EXPECT_NE(r.scores.values(0, 0), static_cast<T>(5));
}

TYPED_TEST(ScoringCore, ReversalIsMinPlusMaxMinusX) {
  using T = TypeParam;
  Instrument ins = tiny();
  ins.scale.min = 0;
  ins.scale.max = 6;
  RowMatrix<T> v(1, 5);
  v << 0, 2, 6, 1.5, 0.5;
  const RowMatrix<T> K = keyed_items(ins, v);
  EXPECT_EQ(K(0, 0), T(0));
  EXPECT_EQ(K(0, 1), T(4));  // 0 + 6 - 2
  EXPECT_EQ(K(0, 2), T(6));
  EXPECT_EQ(K(0, 3), T(1.5));
  EXPECT_EQ(K(0, 4), T(5.5));  // 0 + 6 - 0.5
}

TYPED_TEST(ScoringCore, MissingItemRule) {
  using T = TypeParam;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  RowMatrix<T> v(4, 5);
  v << 5, nan, nan, 4, nan,     // X 1 of 3 answered, Y 1 of 2
      5, 1, nan, nan, nan,      // X 2 of 3, Y 0 of 2
      nan, nan, nan, nan, nan,  //
      2, 4, 3, 3, 3;
  // min_answered 0.5: X needs ceil(1.5) = 2 items, Y needs 1.
  BasicScoreResult<T> r = score_items(tiny(), v, ScoringOptions{.min_answered = 0.5});
  EXPECT_TRUE(std::isnan(r.scores.values(0, 0)));
  EXPECT_EQ(r.scores.values(0, 1), T(4));
  EXPECT_EQ(r.scores.values(1, 0), T(5));  // mean of the answered keyed items (5 + 5) / 2
  EXPECT_TRUE(std::isnan(r.scores.values(1, 1)));
  EXPECT_TRUE(std::isnan(r.scores.values(2, 0)));
  EXPECT_EQ(r.dimensions[0].insufficient, 2u);  // rows 1 and 3
  EXPECT_EQ(r.dimensions[0].scored, 2u);
  EXPECT_EQ(r.dimensions[1].insufficient, 2u);  // rows 2 and 3
  EXPECT_EQ(r.rows_with_missing, 3u);
  EXPECT_EQ(r.missing_answers, 3u + 3u + 5u);
  EXPECT_EQ(r.rows_with_nan_score, 3u);
  // Alpha only on the complete row 4 (fewer than 2 rows: undefined).
  EXPECT_EQ(r.dimensions[0].alpha_rows, 1u);
  EXPECT_TRUE(std::isnan(r.dimensions[0].alpha));
  // 2/3 of 3 items is exactly 2 items (the 1e-9 tolerance absorbs 2/3 * 3 > 2 in floating point).
  r = score_items(tiny(), v, ScoringOptions{.min_answered = 2.0 / 3});
  EXPECT_EQ(r.scores.values(1, 0), T(5));
  r = score_items(tiny(), v, ScoringOptions{.min_answered = 0.3});  // ceil(0.9) = 1
  EXPECT_EQ(r.scores.values(0, 0), T(5));
  r = score_items(tiny(), v, ScoringOptions{.min_answered = 1});
  EXPECT_TRUE(std::isnan(r.scores.values(1, 0)));
  EXPECT_EQ(r.scores.values(3, 0), static_cast<T>(7.0 / 3));
}

TYPED_TEST(ScoringCore, ColumnMapAndAbsentItems) {
  // Columns: y2, (not an item), x1. x2, x3, y1 are absent; absent items still count in `need`.
  using T = TypeParam;
  RowMatrix<T> v(2, 3);
  v << 2, 99, 5,  //
      5, -7, 1;
  const std::vector<Index> map = match_columns(tiny(), {"y2", "note", "alt_x1"});
  EXPECT_EQ(map, (std::vector<Index>{4, -1, 0}));
  const BasicScoreResult<T> r =
      score_items(tiny(), v, map, ScoringOptions{.min_answered = 0.3, .use_names = true});
  EXPECT_EQ(r.absent_items, (std::vector<std::string>{"x2", "x3", "y1"}));
  EXPECT_EQ(r.scores.values(0, 0), T(5));  // X from x1 alone (1 of 3 >= ceil(0.9))
  EXPECT_EQ(r.scores.values(0, 1), T(4));  // Y from y2 reversed
  EXPECT_EQ(r.scores.values(1, 1), T(1));
  EXPECT_EQ(r.dimensions[0].items_present, 1u);
  EXPECT_THAT(r.summary(), HasSubstr("1/3"));
  // Out-of-scale values in a column that is not an item are ignored (99, -7 above).
}

TYPED_TEST(ScoringCore, AnyEigenMatrixType) {
  using T = TypeParam;
  const RowMatrix<T> v = hand_example<T>();
  const BasicScoreResult<T> ref = score_items(tiny(), v);
  // Column-major copy, a Map over the caller's memory, a Block of a wider matrix, an expression.
  const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> colmajor = v;
  expect_same_scores(score_items(tiny(), colmajor).scores.values, ref.scores.values);
  std::vector<T> flat(v.data(), v.data() + v.size());
  const Eigen::Map<const RowMatrix<T>> map(flat.data(), 3, 5);
  expect_same_scores(score_items(tiny(), map).scores.values, ref.scores.values);
  RowMatrix<T> wide = RowMatrix<T>::Constant(5, 7, T(-1));
  wide.block(1, 2, 3, 5) = v;
  expect_same_scores(score_items(tiny(), wide.block(1, 2, 3, 5)).scores.values, ref.scores.values);
  expect_same_scores(score_items(tiny(), v.array().matrix()).scores.values, ref.scores.values);
  expect_same_reports(score_items(tiny(), map).dimensions, ref.dimensions);
}

TYPED_TEST(ScoringCore, Errors) {
  using T = TypeParam;
  RowMatrix<T> v = hand_example<T>();
  v(2, 3) = T(6);
  try {
    score_items(tiny(), v);
    FAIL();
  } catch (const OutOfScaleAnswer& e) {
    EXPECT_EQ(e.argument(), "responses");
    EXPECT_EQ(e.row(), 2);
    EXPECT_EQ(e.column(), 3);
    EXPECT_EQ(e.value(), 6.0);
    EXPECT_EQ(e.message(),
              "row 3, column 4: answer 6 is outside the scale 1..5 of instrument 'tiny'");
  }
  EXPECT_TRUE(first_out_of_scale(tiny(), v, items_in_order(tiny())).has_value());
  v(2, 3) = T(0.5);
  EXPECT_EQ(first_out_of_scale(tiny(), v, items_in_order(tiny()))->column, 3);
  v(2, 3) = T(3);
  EXPECT_FALSE(first_out_of_scale(tiny(), v, items_in_order(tiny())).has_value());
  auto expect_bad_map = [&](const std::vector<Index>& map, const std::string& what) {
    try {
      score_items(tiny(), v, map);
      FAIL() << what;
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.argument(), "item_of_column");
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  expect_bad_map({0, 1, 2}, "has 3 entries for 5 response columns");
  expect_bad_map({0, 1, 2, 3, 5}, "entry 4 is 5, not an item index in -1..4");
  expect_bad_map({0, 1, 2, 3, 3}, "item 3 ('y1') is held by two columns");
  EXPECT_THROW(match_columns(tiny(), {"x1", "alt_x1"}), InvalidArgument);
  try {
    score_items(tiny(), v, ScoringOptions{.min_answered = 0});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "min_answered");
  }
  EXPECT_THROW(score_items(tiny(), v, ScoringOptions{.traits = false}), InvalidArgument);
  Instrument flat = tiny();
  flat.facets.clear();
  for (auto& item : flat.items) item.facet.clear();
  try {
    score_items(flat, v, ScoringOptions{.traits = false, .facets = true});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "facets");
  }
}

TEST(ScoringCoreVsCompiled, SameBitsForDoubleOnTheHandExample) {
  const Instrument ins = tiny();
  Responses resp;
  resp.columns = {"y2", "x3", "alt_x1", "x2", "y1"};  // permuted, one alias
  resp.ids = {"a", "b", "c"};
  const RowMatrix<double> v = hand_example<double>();
  resp.values.resize(3, 5);
  const std::vector<Index> perm{4, 2, 0, 1, 3};
  for (Index j = 0; j < 5; ++j) resp.values.col(j) = v.col(perm[static_cast<std::size_t>(j)]);
  for (const bool facets : {false, true}) {
    const ScoringOptions o{.min_answered = 0.6, .facets = facets};
    const ScoreResult compiled = score(ins, resp, o);
    const ScoreResult core = score_items(ins, v, o);
    expect_same_scores(core.scores.values, compiled.scores.values);
    expect_same_reports(core.dimensions, compiled.dimensions);
    EXPECT_EQ(compiled.scores.ids, resp.ids);
    EXPECT_EQ(core.summary(), compiled.summary());
  }
  expect_same_scores(keyed_items(ins, v), keyed_item_matrix(ins, resp));
}

TEST(ScoringCoreVsCompiled, Big5DoubleIdenticalFloatClose) {
  const Instrument ins = instrument_by_name("ipip50", kData);
  ReadResponsesOptions ro;
  ro.missing_code = 0;
  const Responses r = read_responses(kData / "big5" / "data.csv", ins, ro);
  for (const double min_answered : {0.5, 1.0}) {
    const ScoringOptions o{.min_answered = min_answered, .facets = false};
    const ScoreResult compiled = score(ins, r, o);
    const std::vector<Index> map = match_columns(ins, r.columns);
    const ScoreResult core = score_items(ins, r.values, map, o);
    expect_same_scores(core.scores.values, compiled.scores.values);
    expect_same_reports(core.dimensions, compiled.dimensions);
    // float: the answers (integers) are exact, so scores are the double scores rounded once and
    // the report (accumulated in double) is identical.
    const RowMatrix<float> vf = r.values.cast<float>();
    const BasicScoreResult<float> f = score_items(ins, vf, map, o);
    expect_same_scores(f.scores.values, compiled.scores.values.cast<float>().eval());
    expect_same_reports(f.dimensions, compiled.dimensions);
  }
}

TEST(ScoringCoreVsCompiled, FractionalAnswersFloatWithinFloatPrecision) {
  // Expected scores from log-probabilities are fractional: float and double agree to float
  // precision (relative 1e-6), not bit for bit.
  Instrument ins = instrument_by_name("mini_ipip", kData);
  const Index n = 40, m = static_cast<Index>(ins.num_items());
  RowMatrix<double> v(n, m);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < m; ++j)
      v(i, j) = 1 + std::fmod(0.37 * double(i + 1) * double(j + 3), 4.0);
  const ScoreResult d = score_items(ins, v);
  const BasicScoreResult<float> f = score_items(ins, v.cast<float>().eval());
  for (Index i = 0; i < n; ++i)
    for (Index c = 0; c < d.scores.cols(); ++c)
      EXPECT_NEAR(f.scores.values(i, c), d.scores.values(i, c), 1e-6 * 5);
  for (std::size_t c = 0; c < d.dimensions.size(); ++c)
    EXPECT_NEAR(f.dimensions[c].alpha, d.dimensions[c].alpha, 1e-5);
}

}  // namespace
}  // namespace popalign::psychometrics
