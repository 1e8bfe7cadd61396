#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/embedding/word_vectors.hpp>

#include "persona_fixture.hpp"

using namespace popalign;
using namespace popalign::embedding;

namespace {
const std::string kDir = std::string(POPALIGN_TEST_DATA_DIR) + "/embedding/";

template <class F>
ParseError parse_error_of(F&& f) {
  try {
    f();
  } catch (const ParseError& e) {
    return e;
  }
  ADD_FAILURE() << "expected ParseError";
  return ParseError("", 0, "");
}

// Embedding = counts of a few marker words (enough to test ranking logic).
struct Markers {
  RowMatrix<float> embed(const std::vector<std::string>& t) const {
    const std::vector<std::string> words = {"nurse", "dog", "cat", "piano", "army"};
    RowMatrix<float> m = RowMatrix<float>::Zero(static_cast<Index>(t.size()), 5);
    for (std::size_t i = 0; i < t.size(); ++i)
      for (const auto& tok : tokenize(t[i]))
        for (std::size_t w = 0; w < words.size(); ++w)
          if (tok == words[w]) m(static_cast<Index>(i), static_cast<Index>(w)) += 1;
    return m;
  }
  Index dimension() const { return 5; }
  bool normalized() const { return false; }
};
}  // namespace

// Retrieval reads personas with io::read_personas (io/persona_record.hpp, tested in
// tests/io/persona_record_test.cpp); here: what retrieval relies on in that record.
TEST(Retrieval, ReadsBothPersonaForms) {
  const auto ps = io::read_personas(kDir + "personas_small.jsonl").personas;
  ASSERT_EQ(ps.size(), 4u);
  EXPECT_EQ(ps[0].id, "p1");
  EXPECT_EQ(ps[0].facts.size(), 3u);
  EXPECT_EQ(ps[1].facts.size(), 3u);  // a "persona" string is split into sentences
  EXPECT_EQ(ps[1].facts[1], "My cat is named Tom!");
  EXPECT_EQ(ps[2].id, "3");  // numeric id as text
  EXPECT_EQ(ps[3].facts.size(), 1u);
  EXPECT_EQ(ps[0].facts_text(), "I am a nurse at the city hospital. I love my dog. I hate winter.");
}

TEST(Retrieval, BadPersonaLinesReportFileAndLine) {
  auto e1 = parse_error_of([] { io::read_personas(kDir + "personas_bad_json.jsonl"); });
  EXPECT_EQ(e1.line(), 3u);
  EXPECT_NE(std::string(e1.what()).find("personas_bad_json.jsonl:3"), std::string::npos)
      << e1.what();
  auto e2 = parse_error_of([] { io::read_personas(kDir + "personas_bad_facts.jsonl"); });
  EXPECT_EQ(e2.line(), 3u);  // the blank line 2 still counts
  EXPECT_NE(std::string(e2.what()).find("\"facts\" must be an array of strings"), std::string::npos)
      << e2.what();
  auto e3 = parse_error_of([] { io::read_personas(kDir + "personas_no_id.jsonl"); });
  EXPECT_EQ(e3.line(), 2u);
  EXPECT_NE(std::string(e3.what()).find("no string or number field \"id\""), std::string::npos)
      << e3.what();
  EXPECT_THROW(io::read_personas(kDir + "nope.jsonl"), IoError);
}

// Two personas with one id would be two hits no caller can tell apart (issue 16): an error.
TEST(Retrieval, DuplicatePersonaIdsAreAnError) {
  const std::string p =
      (std::filesystem::temp_directory_path() / "popalign_emb_dup_ids.jsonl").string();
  {
    std::ofstream f(p);
    f << R"({"id": "a", "facts": ["I am a nurse."]})"
      << "\n"
      << R"({"id": "b", "facts": ["I play piano."]})"
      << "\n"
      << R"({"id": "a", "facts": ["I have a dog."]})"
      << "\n";
  }
  auto e = parse_error_of([&] { io::read_personas(p); });
  EXPECT_EQ(e.line(), 3u);
  EXPECT_NE(std::string(e.what()).find("duplicate id 'a' (first on line 1)"), std::string::npos)
      << e.what();
  std::remove(p.c_str());
}

TEST(Retrieval, PairsReadWriteAndErrors) {
  auto e1 = parse_error_of([] { read_pairs(kDir + "pairs_empty_positive.jsonl"); });
  EXPECT_EQ(e1.line(), 2u);
  auto e2 = parse_error_of([] { read_pairs(kDir + "pairs_missing.jsonl"); });
  EXPECT_EQ(e2.line(), 3u);
  EXPECT_NE(std::string(e2.what()).find("positive"), std::string::npos) << e2.what();
  const auto ps = io::read_personas(kDir + "personas_small.jsonl").personas;
  const auto pairs = make_profile_pairs(ps);
  ASSERT_EQ(pairs.size(), 3u + 3u + 2u);  // p4 has one fact: no pair
  EXPECT_EQ(pairs[0].query, "I am a nurse at the city hospital.");
  EXPECT_EQ(pairs[0].positive, "I love my dog. I hate winter.");
  EXPECT_EQ(pairs[7].query, "I have two kids.");
  EXPECT_EQ(pairs[7].positive, "I work as a doctor.");
  const std::string p =
      (std::filesystem::temp_directory_path() / "popalign_emb_pairs.jsonl").string();
  write_pairs(pairs, p);
  write_pairs(pairs, p);  // truncates, never appends
  const auto back = read_pairs(p);
  ASSERT_EQ(back.size(), pairs.size());
  EXPECT_EQ(back[3].query, pairs[3].query);
  EXPECT_EQ(back[3].positive, pairs[3].positive);
  std::remove(p.c_str());
}

TEST(Retrieval, MaxFactAndWholeScoring) {
  std::vector<io::PersonaRecord> ps = {
      fixture::persona("a", {"I am a nurse.", "I love my cat."}),
      fixture::persona("b", {"I play piano.", "I have a dog.", "I have a dog."}),
      fixture::persona("c", {"army army", "nurse"}),
  };
  auto e = make_embedder(Markers{});
  const PersonaRetriever maxf(e, ps, RetrieverOptions{ProfileScoring::max_fact, {}});
  const auto hits = maxf.search({"nurse", "dog", "piano army"}, 2);
  ASSERT_EQ(hits.size(), 3u);
  // "nurse": a and c both have a pure "nurse" fact (score 1): tie -> lower index first.
  EXPECT_EQ(hits[0][0].index, 0);
  EXPECT_EQ(hits[0][1].index, 2);
  EXPECT_FLOAT_EQ(hits[0][0].score, 1.0f);
  EXPECT_EQ(hits[1][0].index, 1);
  const PersonaRetriever whole(e, ps, RetrieverOptions{ProfileScoring::whole, {}});
  const auto wh = whole.search({"nurse"}, 3);
  // Whole-profile vectors: a = (1,0,1,0,0)/sqrt2 -> 0.707; c = (1,0,0,0,2)/sqrt5 -> 0.447.
  EXPECT_EQ(wh[0][0].index, 0);
  EXPECT_NEAR(wh[0][0].score, 0.7071f, 1e-4f);
  EXPECT_EQ(wh[0][1].index, 2);
  EXPECT_EQ(maxf.search({"x"}, 10)[0].size(), 3u);  // k larger than the pool
  EXPECT_THROW(maxf.search({"x"}, 0), InvalidArgument);
}
