// Tests of include/popalign/administer/respondent.hpp (the GRM test double).
#include <popalign/administer/respondent.hpp>

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include <popalign/administer/prompts.hpp>

namespace adm = popalign::administer;
namespace ps = popalign::psychometrics;
namespace llm = popalign::llm;

namespace {

const ps::Instrument& ipip50() {
  static const ps::Instrument inst = ps::instrument_by_name("ipip50", POPALIGN_DATA_DIR);
  return inst;
}

llm::Request item_request(const std::string& persona, std::size_t item, bool reversed,
                          std::uint64_t seed) {
  const adm::RenderedPrompt p = adm::render_item_prompt(
      adm::builtin_template("likert-v1"), persona, ipip50().items[item], ipip50().scale, reversed);
  llm::Request r;
  r.messages = {{"system", p.system}, {"user", p.user}};
  r.seed = seed;
  return r;
}

TEST(GradedResponseRespondent, CategoryProbabilitiesFollowTheTrait) {
  adm::GradedResponseRespondent grm(ipip50(),
                                    adm::GradedResponseRespondent::random_items(ipip50(), 1));
  const std::vector<double> low(5, -2.0), high(5, 2.0);
  grm.add_persona("low", "Low persona.", low);
  grm.add_persona("high", "High persona.", high);
  for (std::size_t i = 0; i < ipip50().items.size(); ++i) {
    const auto pl = grm.category_probabilities("low", i);
    const auto ph = grm.category_probabilities("high", i);
    double sl = 0, sh = 0, el = 0, eh = 0;
    for (std::size_t k = 0; k < 5; ++k) {
      EXPECT_GE(pl[k], 0.0);
      sl += pl[k];
      sh += ph[k];
      el += static_cast<double>(k) * pl[k];
      eh += static_cast<double>(k) * ph[k];
    }
    EXPECT_NEAR(sl, 1.0, 1e-12);
    EXPECT_NEAR(sh, 1.0, 1e-12);
    // Keyed items rise with the trait, reverse-keyed items fall.
    if (ipip50().items[i].key > 0)
      EXPECT_GT(eh, el + 1.0) << ipip50().items[i].id;
    else
      EXPECT_LT(eh, el - 1.0) << ipip50().items[i].id;
  }
}

TEST(GradedResponseRespondent, AnswersDeterministicallyInPresentedNumbers) {
  adm::GradedResponseRespondent grm(ipip50(),
                                    adm::GradedResponseRespondent::random_items(ipip50(), 2),
                                    {.style = adm::AnswerStyle::digit});
  grm.add_persona("a", "Persona A is very outgoing.", std::vector<double>(5, 3.0));
  // E1 "I am the life of the party." is keyed +1: theta 3 answers the top categories.
  const auto fwd = llm::complete_one(grm, item_request("Persona A is very outgoing.", 0, false, 1));
  const auto rev = llm::complete_one(grm, item_request("Persona A is very outgoing.", 0, true, 1));
  ASSERT_TRUE(fwd.ok() && rev.ok());
  const int f = std::stoi(fwd.value().text), r = std::stoi(rev.value().text);
  EXPECT_EQ(f, 6 - r);
  EXPECT_GE(f, 4);
  EXPECT_EQ(
      llm::complete_one(grm, item_request("Persona A is very outgoing.", 0, false, 1)).value().text,
      fwd.value().text);
  EXPECT_EQ(grm.calls(), 3u);
  EXPECT_EQ(grm.calls_for("a"), 3u);

  auto lp = item_request("Persona A is very outgoing.", 0, false, 1);
  lp.logprobs = true;
  lp.top_logprobs = 3;
  const auto out = llm::complete_one(grm, lp);
  ASSERT_EQ(out.value().logprobs.size(), 1u);
  EXPECT_EQ(out.value().logprobs[0].top.size(), 3u);
  double mass = 0;
  for (const auto& t : out.value().logprobs[0].top) mass += std::exp(t.logprob);
  EXPECT_LE(mass, 1.0 + 1e-12);
}

TEST(GradedResponseRespondent, UnknownPersonaAndBadParameters) {
  adm::GradedResponseRespondent grm(ipip50(),
                                    adm::GradedResponseRespondent::random_items(ipip50(), 3));
  const auto out = llm::complete_one(grm, item_request("Nobody.", 0, false, 1));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().kind, llm::ErrorKind::bad_request);
  EXPECT_THROW(grm.add_persona("x", "X.", {1.0}), popalign::InvalidArgument);
  auto items = adm::GradedResponseRespondent::random_items(ipip50(), 3);
  items[4].thresholds = {1, 0, 2, 3};
  EXPECT_THROW(adm::GradedResponseRespondent(ipip50(), items), popalign::InvalidArgument);
  items.pop_back();
  EXPECT_THROW(adm::GradedResponseRespondent(ipip50(), items), popalign::InvalidArgument);
  EXPECT_THROW(
      adm::GradedResponseRespondent(
          ipip50(), adm::GradedResponseRespondent::random_items(ipip50(), 3), {.nonsense_rate = 2}),
      popalign::InvalidArgument);
}

}  // namespace
