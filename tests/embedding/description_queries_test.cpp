// LLM-written group descriptions as training pairs (description_queries.hpp), against test
// doubles of the LLM backend (FunctionBackend). The real-server test is in
// openai_embedder_test.cpp (fixture llm_server).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <popalign/embedding/description_queries.hpp>
#include <popalign/llm/cache.hpp>

#include "persona_fixture.hpp"

using namespace popalign;
using namespace popalign::embedding;
namespace fs = std::filesystem;

namespace {

const std::vector<io::PersonaRecord> kPersonas = {
    fixture::persona("nurse", {"I am a nurse.", "I have two kids.", "I like hiking."}),
    fixture::persona("baker", {"I love to bake cookies.", "Knitting is my passion."}),
    fixture::persona("odd", {"I can move objects with my mind.", "I was born in a lighthouse."}),
};

std::string json_answer(const std::vector<std::string>& ds) {
  return nlohmann::json{{"descriptions", ds}}.dump();
}

// Which persona a request is about: the first fact of its user message.
std::string persona_of(const llm::Request& r) {
  for (const io::PersonaRecord& p : kPersonas)
    if (r.messages.at(1).content.find(p.facts.front()) != std::string::npos) return p.id;
  return "";
}

// A test double that answers like a capable model, except: the "odd" persona always gets
// nonsense, and the baker gets nonsense on the first attempt (seed 0) only.
llm::Outcome scripted(const llm::Request& r) {
  const std::string who = persona_of(r);
  llm::Response resp;
  if (who == "nurse")
    resp.text = json_answer({"someone who works in healthcare", "a parent of young children",
                             "someone who enjoys the outdoors"});
  else if (who == "baker" && r.seed.value_or(0) >= 1)
    resp.text = "Sure! " + json_answer({"someone who loves baking", "a crafter who knits",
                                        "someone who loves baking"});
  else
    resp.text = "#### 42 ####\n!!!";
  return resp;
}

}  // namespace

TEST(DescriptionQueries, OptionsNameTheBadField) {
  auto field = [](auto mutate) {
    DescriptionQueryOptions o;
    mutate(o);
    try {
      o.validate();
    } catch (const InvalidArgument& e) {
      return e.argument();
    }
    return std::string("<valid>");
  };
  EXPECT_EQ(field([](auto&) {}), "<valid>");
  EXPECT_EQ(field([](auto& o) { o.per_persona = 0; }), "per_persona");
  EXPECT_EQ(field([](auto& o) { o.per_persona = 11; }), "per_persona");
  EXPECT_EQ(field([](auto& o) { o.temperature = -1; }), "temperature");
  EXPECT_EQ(field([](auto& o) { o.max_tokens = 4; }), "max_tokens");
  EXPECT_EQ(field([](auto& o) { o.max_attempts = 0; }), "max_attempts");
  EXPECT_EQ(field([](auto& o) { o.max_words = 1; }), "max_words");
  EXPECT_EQ(field([](auto& o) { o.max_characters = 3; }), "max_characters");
}

TEST(DescriptionQueries, RequestCarriesTheFactsTheSchemaAndTheAttemptSeed) {
  DescriptionQueryOptions o;
  o.per_persona = 4;
  o.seed = 10;
  o.model = "m";
  const llm::Request r0 = description_request(kPersonas[0], o, 0);
  const llm::Request r1 = description_request(kPersonas[0], o, 1);
  ASSERT_EQ(r0.messages.size(), 2u);
  EXPECT_EQ(r0.messages[0].role, "system");
  EXPECT_EQ(r0.messages[0].content, description_system_prompt());
  for (const std::string& f : kPersonas[0].facts)
    EXPECT_NE(r0.messages[1].content.find("- " + f + "\n"), std::string::npos) << f;
  EXPECT_NE(r0.messages[1].content.find("Write 4 short descriptions"), std::string::npos);
  EXPECT_EQ(r0.seed, 10u);
  EXPECT_EQ(r1.seed, 11u);
  EXPECT_EQ(r0.model, "m");
  EXPECT_EQ(description_request(kPersonas[0], o, 0), r0);  // deterministic
  const auto schema = nlohmann::json::parse(r0.json_schema);
  EXPECT_EQ(schema["properties"]["descriptions"]["minItems"], 4);
  EXPECT_EQ(schema["properties"]["descriptions"]["maxItems"], 4);
  EXPECT_EQ(schema["properties"]["descriptions"]["items"]["maxLength"], o.max_characters);
  o.json_schema = false;
  EXPECT_TRUE(description_request(kPersonas[0], o, 0).json_schema.empty());
}

TEST(DescriptionQueries, EveryCandidateIsCheckedAndTheReasonNamed) {
  DescriptionQueryOptions o;
  o.per_persona = 3;
  o.max_words = 8;
  const std::string answer = json_answer({
      "Someone who works in healthcare.",                       // accepted (final period dropped)
      "i am a NURSE",                                           // copies a fact (same tokens)
      "someone who works in healthcare",                        // duplicate
      "nurse",                                                  // too short
      "someone who works long shifts in a busy city hospital",  // too long (> 8 words)
      "Once upon a time. There was a cat",                      // several sentences
      "#### 1234 #### ++",                                      // not prose
      "  ",                                                     // empty
      "\"a parent of young children\"",                         // accepted (quotes stripped)
      "someone in their 30s",             // accepted: digits are allowed below 20%
      "someone who likes hiking trails",  // beyond per_persona
  });
  const ParsedDescriptions p = parse_descriptions("Here you go: " + answer, kPersonas[0], o);
  EXPECT_TRUE(p.json);
  EXPECT_FALSE(p.truncated);
  EXPECT_EQ(p.accepted,
            (std::vector<std::string>{"Someone who works in healthcare",
                                      "a parent of young children", "someone in their 30s"}));
  std::vector<std::string> reasons;
  for (const auto& r : p.rejected) reasons.push_back(r.reason);
  EXPECT_EQ(reasons, (std::vector<std::string>{"copies a fact", "duplicate", "too short",
                                               "too long", "several sentences", "not prose",
                                               "empty", "beyond per_persona"}));
}

TEST(DescriptionQueries, PlainListsAreReadLineByLine) {
  DescriptionQueryOptions o;
  o.per_persona = 5;
  const ParsedDescriptions p = parse_descriptions(
      "1. someone who works in healthcare\n2) a parent of young children\n- **a hiker**\n"
      "\xE2\x80\xA2 someone who loves mountains\n(5) _a busy professional_\n",
      kPersonas[0], o);
  EXPECT_FALSE(p.json);
  EXPECT_EQ(p.accepted, (std::vector<std::string>{
                            "someone who works in healthcare", "a parent of young children",
                            "a hiker", "someone who loves mountains", "a busy professional"}));
  // JSON inside a Markdown code fence, as chat models often answer.
  const ParsedDescriptions fenced = parse_descriptions(
      "```json\n{\"descriptions\": [\"a dog owner\", \"a tea drinker\"]}\n```", kPersonas[0], o);
  EXPECT_TRUE(fenced.json);
  EXPECT_EQ(fenced.accepted, (std::vector<std::string>{"a dog owner", "a tea drinker"}));
  // A JSON array of strings at top level is JSON too.
  EXPECT_TRUE(parse_descriptions("[\"a dog owner\", \"a tea drinker\"]", kPersonas[0], o).json);
  // An object cut short: its complete strings are kept, the unterminated one is not.
  const ParsedDescriptions cut = parse_descriptions(
      "{\"descriptions\": [\"someone who works in healthcare\", \"a parent of yo", kPersonas[0], o);
  EXPECT_TRUE(cut.json);
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.accepted, (std::vector<std::string>{"someone who works in healthcare"}));
  EXPECT_TRUE(cut.rejected.empty());
  // Nothing complete: read as a line, which holds JSON punctuation: not prose.
  const ParsedDescriptions broken =
      parse_descriptions("{\"descriptions\": [\"a dog own", kPersonas[0], o);
  EXPECT_FALSE(broken.json);
  EXPECT_TRUE(broken.accepted.empty());
  ASSERT_EQ(broken.rejected.size(), 1u);
  EXPECT_EQ(broken.rejected[0].reason, "not prose");
}

TEST(DescriptionQueries, PairsFromATestDoubleWithReAsksAndNonsense) {
  std::atomic<int> calls{0};
  llm::FunctionBackend backend(
      [&](const llm::Request& r) {
        ++calls;
        return scripted(r);
      },
      "test double");
  DescriptionQueryOptions o;
  o.per_persona = 3;
  o.max_attempts = 2;
  const DescriptionPairs d = generate_description_pairs(backend, kPersonas, o);
  // nurse: 1 call; baker: nonsense, then a good answer; odd: nonsense twice.
  EXPECT_EQ(calls.load(), 5);
  EXPECT_EQ(d.report.calls, 5u);
  EXPECT_EQ(d.report.failed_calls, 0u);
  EXPECT_EQ(d.report.status, "ok");
  EXPECT_EQ(d.report.personas, 3u);
  EXPECT_EQ(d.report.personas_without_pairs, 1u);
  ASSERT_EQ(d.pairs.size(), 5u);  // 3 for the nurse, 2 for the baker (one duplicate dropped)
  EXPECT_EQ(d.report.accepted, 5u);
  EXPECT_EQ(d.pairs[0].query, "someone who works in healthcare");
  EXPECT_EQ(d.pairs[0].positive, kPersonas[0].facts_text());
  EXPECT_EQ(d.pairs[3].query, "someone who loves baking");
  EXPECT_EQ(d.pairs[4].query, "a crafter who knits");
  EXPECT_EQ(d.pairs[4].positive, kPersonas[1].facts_text());
  bool named = false;
  for (const std::string& m : d.report.messages)
    named = named || (m.find("persona odd (attempt 2)") != std::string::npos);
  EXPECT_TRUE(named) << "the report names the persona and attempt of a rejected answer";

  // Same inputs, same pairs.
  const DescriptionPairs again = generate_description_pairs(backend, kPersonas, o);
  ASSERT_EQ(again.pairs.size(), d.pairs.size());
  for (std::size_t i = 0; i < d.pairs.size(); ++i) {
    EXPECT_EQ(again.pairs[i].query, d.pairs[i].query);
    EXPECT_EQ(again.pairs[i].positive, d.pairs[i].positive);
  }
}

TEST(DescriptionQueries, FailedCallsAreReportedAndTheOthersKept) {
  llm::FunctionBackend backend(
      [](const llm::Request& r) -> llm::Outcome {
        if (persona_of(r) == "baker")
          return llm::Failure{llm::ErrorKind::server, 500, "internal error", std::nullopt};
        return scripted(r);
      },
      "test double");
  const DescriptionPairs d = generate_description_pairs(backend, kPersonas, {});
  EXPECT_EQ(d.report.failed_calls, 1u);  // failed calls are not re-asked (RetryBackend's job)
  EXPECT_EQ(d.pairs.size(), 3u);
  bool named = false;
  for (const std::string& m : d.report.messages)
    named = named || (m.find("persona baker: call failed (server, HTTP 500)") != std::string::npos);
  EXPECT_TRUE(named);
}

TEST(DescriptionQueries, AnUnusableBackendIsABackendError) {
  llm::FunctionBackend backend(
      [](const llm::Request&) -> llm::Outcome {
        return llm::Failure{llm::ErrorKind::transport, 0, "connection refused", std::nullopt};
      },
      "test double");
  try {
    (void)generate_description_pairs(backend, kPersonas, {});
    FAIL() << "expected BackendError";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("persona nurse: call failed (transport)"),
              std::string::npos)
        << e.what();
  }
  // No personas: nothing to ask, no error.
  EXPECT_TRUE(generate_description_pairs(backend, {}, {}).pairs.empty());
}

TEST(DescriptionQueries, CancelledRunSaysSo) {
  llm::FunctionBackend backend(scripted, "test double");
  DescriptionQueryOptions o;
  CancellationToken cancel;
  cancel.cancel();
  o.batch.execution.cancel = cancel;
  const DescriptionPairs d = generate_description_pairs(backend, kPersonas, o);
  EXPECT_EQ(d.report.status, "cancelled");
  EXPECT_TRUE(d.pairs.empty());
}

TEST(DescriptionQueries, ARerunThroughTheCacheCallsNothingAndGivesTheSamePairs) {
  const fs::path db =
      fs::temp_directory_path() / ("popalign_desc_cache_" + std::to_string(::getpid()) + ".sqlite");
  fs::remove(db);
  std::atomic<int> calls{0};
  auto inner = std::make_shared<llm::FunctionBackend>(
      [&](const llm::Request& r) {
        ++calls;
        return scripted(r);
      },
      "test double", "model-a");
  DescriptionPairs first, second;
  llm::CacheOptions cache;
  cache.path = db.string();
  {
    llm::CachedBackend cached(inner, cache);
    first = generate_description_pairs(cached, kPersonas, {});
  }
  const int after_first = calls.load();
  {
    llm::CachedBackend cached(inner, cache);
    second = generate_description_pairs(cached, kPersonas, {});
  }
  EXPECT_EQ(after_first, 5);
  EXPECT_EQ(calls.load(), after_first) << "every answer came from the cache";
  EXPECT_EQ(second.report.cached_calls, second.report.calls);
  ASSERT_EQ(second.pairs.size(), first.pairs.size());
  for (std::size_t i = 0; i < first.pairs.size(); ++i)
    EXPECT_EQ(second.pairs[i].query, first.pairs[i].query);
  fs::remove(db);
  fs::remove(db.string() + "-wal");
  fs::remove(db.string() + "-shm");
}
