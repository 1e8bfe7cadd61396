// build_group over real HTTP against the test model server (ctest fixture llm_server:
// node-llama-cpp with the tiny stories260K model, context 512 tokens). The model writes
// nonsense, so this checks the plumbing of every LLM step of group construction: the revise and
// judge requests with their JSON schemas are accepted, answers come back and are kept or
// dropped with a recorded reason, the kept personas are administered and scored, nothing fails.
// Short templates (overrides, as a user would give) keep prompts inside the model's context.
#include <gtest/gtest.h>

#include <cstdlib>

#include <popalign/core/random.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>
#include <popalign/persona/groups.hpp>
#include <popalign/psychometrics/instrument.hpp>

namespace ps = popalign::persona;
namespace llm = popalign::llm;

namespace {

std::string server_url() {
  const char* u = std::getenv("POPALIGN_TEST_LLM_URL");
  return u ? u : "";
}

TEST(GroupsRealServer, EveryStageOverHttp) {
  if (server_url().empty()) GTEST_SKIP() << "POPALIGN_TEST_LLM_URL not set";
  llm::OpenAiOptions http;
  http.base_url = server_url();
  http.model = "stories260K";
  http.max_in_flight = 1;
  llm::RetryOptions retry;
  retry.max_attempts = 3;
  auto backend =
      std::make_shared<llm::RetryBackend>(std::make_shared<llm::OpenAiBackend>(http), retry);
  const auto instrument = popalign::psychometrics::instrument_by_name("mini_ipip20");
  const char* texts[] = {
      "Tom has a dog and likes to walk in the park.", "Sue bakes bread and sings in a choir.",
      "Ben fixes old cars in his garage.", "Amy walks her dog every morning before work.",
      "Max reads books about the sea."};
  std::vector<popalign::io::PersonaRecord> pool;
  popalign::Rng rng(3);
  for (int i = 0; i < 5; ++i) {
    popalign::io::PersonaRecord p;
    p.id = "p" + std::to_string(i);
    p.text = texts[i];
    p.facts = popalign::io::split_sentences(p.text);
    p.fields = popalign::io::JsonValue::object();
    popalign::io::JsonValue t = popalign::io::JsonValue::object();
    for (const char* k : {"O", "C", "E", "A", "N"}) t.set(k, 3.0 + 0.5 * rng.normal());
    p.fields.set("traits", std::move(t));
    pool.push_back(std::move(p));
  }
  ps::GroupReference ref;
  ref.traits.traits = {"O", "C", "E", "A", "N"};
  ref.traits.values.resize(40, 5);
  for (popalign::Index i = 0; i < 40; ++i)
    for (popalign::Index k = 0; k < 5; ++k) ref.traits.values(i, k) = 3.0 + 0.7 * rng.normal();
  auto wv = std::make_shared<const popalign::embedding::WordVectors>(
      popalign::embedding::load_word_vectors(popalign::embedding::default_word_vectors_path()));
  auto sif = std::make_shared<popalign::embedding::SifEmbedder>(wv);
  ps::GroupOptions o;
  o.revise_prompt = {"tiny-revise-v1", "", "Group: {group}\nPersona: {persona}\nJSON:"};
  o.judge_prompt = {"tiny-judge-v1", "", "Group: {group}\nA: {original}\nB: {revised}\nJSON:"};
  o.revise_max_tokens = 64;
  o.judge_max_tokens = 32;
  o.max_revised_words = 60;
  o.administer.mode = popalign::administer::AdministerMode::logprobs;
  o.administer.max_retries = 0;
  o.min_reference_rows = 100;
  ps::GroupSpec spec{.name = "dog-owners", .query = "people with a dog", .n = 2, .depth = 4};
  const ps::GroupResult r =
      ps::build_group(pool, sif, {backend.get(), nullptr, nullptr}, instrument, ref, spec, o);
  EXPECT_EQ(r.status, "ok");
  ASSERT_EQ(r.revisions.size(), 4u);
  EXPECT_EQ(r.revise_calls.failed_calls, 0u);
  EXPECT_EQ(r.judge_calls.failed_calls, 0u);
  EXPECT_GE(r.revise_calls.calls, 4u);
  for (const auto& x : r.revisions) EXPECT_TRUE(x.kept || !x.drop_reason.empty()) << x.persona_id;
  // The 40-person reference is below min_reference_rows: warned.
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings[0].find("only 40 people"), std::string::npos);
  if (r.kept() > 0) {
    EXPECT_GT(r.administer_calls, 0u);
    EXPECT_FALSE(r.personas.empty());
  }
  EXPECT_FALSE(ps::group_report_json(r).dump().empty());
}

}  // namespace
