// 03: retrieve the personas that fit a group description, offline.
//
// GloVe word vectors + SIF sentence embeddings (common component fitted on the pool), each
// persona scored as `popalign retrieve` does by default: the fused score (standardised best-fact
// cosine + standardised word-level MaxSim over the profile; docs/retrieval.md), exact top-k.
//
// Checked by ctest (examples/run_example.cmake): exit status 0 and the output matches
// ctest-expect: spc[0-9]+  .*works in healthcare\.
// ctest-expect: spc[0-9]+  .*served in our military
#include <fmt/core.h>

#include <popalign/embedding.hpp>

int main() {
  namespace emb = popalign::embedding;
  const std::string data = POPALIGN_DATA_DIR;
  const auto personas =
      popalign::io::read_personas(data + "/personas/synthetic_persona_chat_valid_test.jsonl")
          .personas;

  std::vector<std::string> facts;
  for (const auto& p : personas) facts.insert(facts.end(), p.facts.begin(), p.facts.end());
  auto embedder = emb::make_sif_embedder(data + "/models/glove6b_100d_top40k.w2v.bin", "", facts);

  const emb::PersonaRetriever retriever(embedder, personas,
                                        emb::RetrieverOptions{emb::ProfileScoring::fused});
  const std::vector<std::string> queries = {"someone who works in healthcare",
                                            "someone who served in the military"};
  const auto hits = retriever.search(queries, 5);
  for (std::size_t q = 0; q < queries.size(); ++q) {
    fmt::print("{}\n", queries[q]);
    for (const auto& h : hits[q]) {
      const auto& p = retriever.personas()[static_cast<std::size_t>(h.index)];
      fmt::print("  {:.3f}  {}  {}\n", h.score, p.id, p.facts_text());
    }
  }
  return hits[0].size() == 5 ? 0 : 1;
}
