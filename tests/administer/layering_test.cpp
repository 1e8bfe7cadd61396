// A program linked with popalign::psychometrics alone (see tests/administer/layering.cmake):
// it loads a shipped instrument and scores responses, so scoring needs neither the llm layer
// nor the administer layer. If psychometrics called into llm again, this target would fail to
// link (popalign_test_layering links nothing else), and layering.psychometrics_without_llm
// would fail too.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <popalign/core/error.hpp>
#include <popalign/psychometrics/instrument.hpp>
#include <popalign/psychometrics/scoring.hpp>

namespace ps = popalign::psychometrics;

namespace {

TEST(Layering, PsychometricsAloneScoresResponses) {
  const ps::Instrument inst = ps::instrument_by_name("mini_ipip", POPALIGN_DATA_DIR);
  ASSERT_EQ(inst.items.size(), 20u);
  const int lo = inst.scale.min, hi = inst.scale.max;

  // Row 0 answers every item at the trait's top (keyed items max, reverse-keyed min); row 1
  // answers keyed items 2 and reverse-keyed items min + max - 2, i.e. 2 once reversed.
  ps::Responses r;
  r.source = "layering_test";
  r.ids = {"top", "two"};
  r.values.resize(2, static_cast<popalign::Index>(inst.items.size()));
  for (std::size_t k = 0; k < inst.items.size(); ++k) {
    const ps::Item& item = inst.items[k];
    r.columns.push_back(item.id);
    const auto c = static_cast<popalign::Index>(k);
    r.values(0, c) = item.key > 0 ? hi : lo;
    r.values(1, c) = item.key > 0 ? 2 : lo + hi - 2;
  }

  const ps::ScoreResult s = ps::score(inst, r);
  ASSERT_EQ(s.rows, 2u);
  ASSERT_EQ(s.scores.traits.size(), inst.traits.size());
  for (std::size_t t = 0; t < inst.traits.size(); ++t) {
    SCOPED_TRACE(s.scores.traits[t]);
    const auto c = static_cast<popalign::Index>(t);
    EXPECT_DOUBLE_EQ(s.scores.values(0, c), hi);
    EXPECT_DOUBLE_EQ(s.scores.values(1, c), 2.0);
  }
  // Negative control: a value outside the scale is rejected.
  r.values(0, 0) = hi + 1;
  EXPECT_THROW(ps::score(inst, r), popalign::InvalidArgument);
}

}  // namespace
