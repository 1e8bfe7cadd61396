// OpenAiEmbedder against the test LLM server (fixture llm_server: node-llama-cpp serving
// data/models/stories260K.gguf, whose /v1/embeddings returns real 64-d model embeddings).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <popalign/embedding/index.hpp>
#include <popalign/embedding/openai_embedder.hpp>
#include <popalign/embedding/retrieval.hpp>

#include "persona_fixture.hpp"

using namespace popalign;
using namespace popalign::embedding;

namespace {
OpenAiEmbedderOptions options() {
  const char* url = std::getenv("POPALIGN_TEST_LLM_URL");
  OpenAiEmbedderOptions o;
  o.client.base_url = url ? url : "";
  o.client.api_key_env = "";
  o.client.model = "stories260K";
  return o;
}
}  // namespace

TEST(OpenAiEmbedder, EmbedsThroughTheServer) {
  ASSERT_NE(std::getenv("POPALIGN_TEST_LLM_URL"), nullptr)
      << "run through ctest (fixture llm_server sets POPALIGN_TEST_LLM_URL)";
  auto e = std::make_shared<OpenAiEmbedder>(options());
  EXPECT_EQ(e->dimension(), 64);
  EXPECT_TRUE(e->normalized());
  const RowMatrix<float> m = e->embed({"a cat", "a dog", "Once upon a time"});
  ASSERT_EQ(m.rows(), 3);
  ASSERT_EQ(m.cols(), 64);
  for (Index i = 0; i < 3; ++i) EXPECT_NEAR(m.row(i).norm(), 1.0f, 1e-4f);
  EXPECT_LT(m.row(0).dot(m.row(2)), 0.99999f);  // different texts, different vectors
  // Deterministic server: the same text gives the same vector.
  const RowMatrix<float> again = e->embed({"a cat"});
  EXPECT_TRUE(again.row(0).isApprox(m.row(0), 1e-5f));
  EXPECT_EQ(e->embed({}).rows(), 0);
  EXPECT_NE(e->name().find("openai:"), std::string::npos);
}

TEST(OpenAiEmbedder, CachesAndRetrievesPersonas) {
  auto inner = std::make_shared<OpenAiEmbedder>(options());
  auto cached = std::make_shared<CachingEmbedder>(inner);
  const std::vector<io::PersonaRecord> ps = {
      fixture::persona("a", {"Once upon a time there was a cat."}),
      fixture::persona("b", {"The dog ran to the park."}),
      fixture::persona("c", {"Lily liked to play with her ball."})};
  const PersonaRetriever r(cached, ps);
  const auto hits = r.search({"Once upon a time there was a cat."}, 3);
  ASSERT_EQ(hits[0].size(), 3u);
  EXPECT_EQ(hits[0][0].index, 0);  // the identical text ranks first
  EXPECT_NEAR(hits[0][0].score, 1.0f, 1e-4f);
  EXPECT_GE(cached->hits(), 0u);
  const auto before = cached->misses();
  (void)cached->embed({"The dog ran to the park."});
  EXPECT_EQ(cached->misses(), before);  // cached during indexing
}

// Every scoring that makes sense for an embedder without token vectors, over real HTTP:
// max-fact, whole and fused (max-fact fused with the whole-profile cosine); the word-level ones
// are refused naming the capability.
TEST(OpenAiEmbedder, EveryScoringWithoutTokenVectors) {
  auto e = std::make_shared<CachingEmbedder>(std::make_shared<OpenAiEmbedder>(options()));
  EXPECT_EQ(e->token_vectors(), nullptr);
  const std::vector<io::PersonaRecord> ps = {
      fixture::persona("a", {"Once upon a time there was a cat.", "The cat liked milk."}),
      fixture::persona("b", {"The dog ran to the park.", "He played with a ball."}),
      fixture::persona("c", {"Lily liked to play with her ball."})};
  const std::vector<std::string> queries = {"Once upon a time there was a cat.",
                                            "The dog ran to the park. He played with a ball."};
  for (auto sc : {ProfileScoring::max_fact, ProfileScoring::whole, ProfileScoring::fused}) {
    const PersonaRetriever r(e, ps, RetrieverOptions{sc, {}});
    const auto hits = r.search(queries, 3);
    ASSERT_EQ(hits[0].size(), 3u);
    EXPECT_EQ(hits[0][0].index, 0) << to_string(sc);  // holds the query sentence
    EXPECT_EQ(hits[1][0].index, 1) << to_string(sc);  // its whole text is the query
  }
  RetrieverOptions plain{ProfileScoring::fused, {}};
  plain.feedback_personas = 0;
  const RowMatrix<float> f = PersonaRetriever(e, ps, plain).score_all(queries);
  const RowMatrix<float> m =
      PersonaRetriever(e, ps, RetrieverOptions{ProfileScoring::max_fact, {}}).score_all(queries);
  const RowMatrix<float> w =
      PersonaRetriever(e, ps, RetrieverOptions{ProfileScoring::whole, {}}).score_all(queries);
  for (Index q = 0; q < f.rows(); ++q) {  // z(max-fact) + z(whole), by hand
    const auto z = [&](const RowMatrix<float>& s, Index j) {
      const Eigen::RowVectorXd x = s.row(q).cast<double>();
      const double sd = std::sqrt((x.array() - x.mean()).square().mean());
      return (x(j) - x.mean()) / sd;
    };
    for (Index j = 0; j < f.cols(); ++j) EXPECT_NEAR(f(q, j), z(m, j) + z(w, j), 1e-4);
  }
  for (auto sc : {ProfileScoring::max_sim, ProfileScoring::max_sim_profile})
    EXPECT_THROW(PersonaRetriever(e, ps, RetrieverOptions{sc, {}}), InvalidArgument);
}

TEST(OpenAiEmbedder, UnreachableServerIsABackendError) {
  OpenAiEmbedderOptions o = options();
  o.client.base_url = "http://127.0.0.1:9/v1";  // discard port: nothing listens
  o.client.connect_timeout = std::chrono::milliseconds(2000);
  OpenAiEmbedder e(o);
  EXPECT_THROW(e.embed({"x"}), BackendError);
}
