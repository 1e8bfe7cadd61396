// `popalign retrieve`: the k personas that best fit a query (a group description such as
// "someone who works in healthcare"), with scores. See docs/retrieval.md.
//
//   popalign retrieve --personas P.jsonl --query TEXT [--query TEXT ...] [--k 10]
//       [--embedder glove|openai] [--head FILE]
//       [--scoring auto|fused|max-fact|whole|max-sim|max-sim-profile]
//       [--feedback M] [--feedback-weight B]
//       [--word-vectors FILE] [--components FILE] [--save-components FILE]
//       [--base-url URL --model NAME --api-key-env VAR] [--threads N] --out hits.jsonl
//
// --scoring auto (the default): fused (z-score fusion of max-fact and max-sim-profile, the best
// scoring for group descriptions in docs/retrieval.md) with GloVe and no head; max-fact with
// --head or --embedder openai. The word-level scorings (max-sim, max-sim-profile) need token
// vectors, which only GloVe without a head has; fused works with every embedder (without token
// vectors it fuses max-fact with the whole-profile cosine, retrieval.hpp).
// --feedback M / --feedback-weight B: pseudo-relevance feedback of `fused` (the best facts of
// the M best personas are added to the query with weight B; retrieval.hpp). Defaults 3 and 0.25
// (chosen on the dev split, docs/retrieval.md); --feedback 0 gives the plain fusion.
//
// Output: one line per hit {"query","rank","id","score","persona"}, queries in the order given.
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <popalign/core/error.hpp>
#include <popalign/embedding/projection_head.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/jsonl.hpp>
#include <popalign/io/output.hpp>
#include <popalign/io/persona_record.hpp>
#if defined(POPALIGN_HAS_OPENAI_EMBEDDER)
#include <popalign/embedding/openai_embedder.hpp>
#endif

#include "cli/command.hpp"

namespace {

namespace emb = popalign::embedding;

popalign::Execution with_threads(int threads) {
  popalign::Execution e;
  e.threads = threads;
  return e;
}

struct Opts {
  std::string personas;
  std::vector<std::string> queries;
  long k = 10;
  std::string embedder = "glove";
  std::string head;
  std::string scoring = "auto";
  long feedback = 3;
  double feedback_weight = 0.25;
  std::string word_vectors;
  std::string components;
  std::string save_components;
  std::string base_url = "http://127.0.0.1:8080/v1";
  std::string model;
  std::string api_key_env = "OPENAI_API_KEY";
  int threads = 0;
  std::string out;
};

std::vector<std::string> all_facts(const std::vector<popalign::io::PersonaRecord>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps) out.insert(out.end(), p.facts.begin(), p.facts.end());
  return out;
}

int run(const Opts& o) {
  popalign::check_argument(o.k >= 1, "--k", "must be >= 1");
  popalign::check_argument(!o.queries.empty(), "--query", "give at least one query");
  for (const auto& q : o.queries)
    popalign::check_argument(!q.empty(), "--query", "must not be empty");
  std::string scoring = o.scoring;
  if (scoring == "auto") scoring = o.embedder == "glove" && o.head.empty() ? "fused" : "max-fact";
  const bool max_sim = scoring == "max-sim" || scoring == "max-sim-profile";
  popalign::check_argument(
      scoring == "max-fact" || scoring == "whole" || scoring == "fused" || max_sim, "--scoring",
      "must be auto, fused, max-fact, whole, max-sim or max-sim-profile, not '" + o.scoring + "'");
  // Checked here too (the retriever would refuse them) so that the error names the flag.
  popalign::check_argument(!max_sim || o.embedder == "glove", "--scoring",
                           scoring + " scoring needs token vectors (--embedder glove)");
  popalign::check_argument(!max_sim || o.head.empty(), "--head",
                           "a projection head has no token vectors: it cannot be combined with "
                           "--scoring " +
                               scoring);
  // A persona file as every stage reads it (io/persona_record.hpp): a bad line or a repeated id
  // is an error naming the file and line; an unterminated last line that does not parse (a
  // killed writer) is skipped and reported here.
  popalign::check_argument(o.threads >= 0, "--threads", "must be >= 0 (0 = all cores)");
  popalign::io::PersonaReadOptions read_options;
  read_options.log = [](const std::string& m) { popalign::cli::warn(m); };
  const auto personas = popalign::io::read_personas(o.personas, read_options).personas;
  if (personas.empty()) throw popalign::IoError(o.personas, "no personas in the file");
  if (personas.size() < 3 && o.embedder == "glove" && o.components.empty())
    popalign::cli::warn(fmt::format(
        "{} has only {} persona{}: the SIF common component is fitted on them and removes most "
        "of what they share with the query, so the scores may all be 0; give --components "
        "fitted on a larger pool",
        o.personas, personas.size(), personas.size() == 1 ? "" : "s"));

  std::shared_ptr<const emb::Embedder> embedder;
  if (o.embedder == "glove") {
    const std::string wv =
        o.word_vectors.empty() ? emb::default_word_vectors_path() : o.word_vectors;
    // The SIF common component is fitted on the pool being searched unless a file is given.
    auto sif = emb::make_sif_embedder(
        wv, o.components, o.components.empty() ? all_facts(personas) : std::vector<std::string>{},
        emb::SifOptions{.threads = o.threads});
    if (!o.save_components.empty()) sif->save_common_components(o.save_components);
    embedder = sif;
  } else if (o.embedder == "openai") {
#if defined(POPALIGN_HAS_OPENAI_EMBEDDER)
    emb::OpenAiEmbedderOptions eo;
    eo.client.base_url = o.base_url;
    eo.client.api_key_env = o.api_key_env;
    eo.model = o.model;
    popalign::check_argument(!o.model.empty(), "--model", "is required with --embedder openai");
    embedder = std::make_shared<emb::CachingEmbedder>(std::make_shared<emb::OpenAiEmbedder>(eo));
#else
    throw popalign::InvalidArgument("--embedder", "this build has no OpenAI embedder (llm layer)");
#endif
  } else {
    throw popalign::InvalidArgument("--embedder",
                                    "must be glove or openai, not '" + o.embedder + "'");
  }
  if (!o.head.empty()) {
    emb::ProjectionHead head = emb::ProjectionHead::load(o.head);
    try {
      embedder = std::make_shared<emb::ProjectedEmbedder>(embedder, std::move(head));
    } catch (const popalign::InvalidArgument& e) {
      throw popalign::cli::as_flag(e, "--head", o.head);
    }
  }

  emb::RetrieverOptions ro{emb::parse_profile_scoring(scoring), with_threads(o.threads)};
  popalign::check_argument(o.feedback >= 0, "--feedback", "must be >= 0 (0 = no feedback)");
  popalign::check_argument(std::isfinite(o.feedback_weight) && o.feedback_weight >= 0,
                           "--feedback-weight", "must be finite and >= 0");
  ro.feedback_personas = static_cast<popalign::Index>(o.feedback);
  ro.feedback_weight = o.feedback_weight;
  const emb::PersonaRetriever retriever(embedder, personas, ro);
  const auto hits = retriever.search(o.queries, o.k);

  // One io::OutputFile: atomic for a regular file, written through a symlink, streamed to a
  // FIFO or /dev/stdout.
  popalign::io::OutputFile out(o.out);
  std::size_t written = 0;
  for (std::size_t q = 0; q < hits.size(); ++q) {
    for (std::size_t r = 0; r < hits[q].size(); ++r) {
      const auto& p = personas[static_cast<std::size_t>(hits[q][r].index)];
      popalign::io::JsonValue v = popalign::io::JsonValue::object();
      v.set("query", o.queries[q]);
      v.set("rank", static_cast<long long>(r + 1));
      v.set("id", p.id);
      v.set("score", static_cast<double>(hits[q][r].score));
      v.set("persona", p.facts_text());
      out.write(v.dump() + "\n");
      ++written;
    }
  }
  out.commit();
  fmt::print(stderr, "retrieve: {} personas, {} quer{}, {} hits -> {} ({})\n", personas.size(),
             o.queries.size(), o.queries.size() == 1 ? "y" : "ies", written, o.out,
             embedder->name());
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "retrieve", "Retrieve the personas that best fit a query (embedding search)",
    [](CLI::App& sub) {
      auto o = std::make_shared<Opts>();
      sub.add_option("--personas", o->personas,
                     "JSONL personas: {\"id\",\"persona\"} or {\"id\",\"facts\":[...]}")
          ->required();
      sub.add_option("--query", o->queries, "query text (repeat for several)")->required();
      sub.add_option("--k", o->k, "personas per query")->capture_default_str();
      sub.add_option("--embedder", o->embedder, "glove (offline SIF) or openai")
          ->capture_default_str();
      sub.add_option("--head", o->head, "projection head trained by `popalign train-embedder`");
      sub.add_option(
             "--scoring", o->scoring,
             "auto (fused with GloVe and no head, else max-fact), fused (z-score fusion of "
             "max-fact and max-sim-profile; without token vectors, of max-fact and whole), "
             "max-fact (best single fact), whole (all facts as one text), max-sim (word-level "
             "late interaction, best fact; GloVe only) or max-sim-profile (word-level, facts "
             "pooled; GloVe only)")
          ->capture_default_str();
      sub.add_option("--feedback", o->feedback,
                     "fused: pseudo-relevance feedback from the best facts of this many top "
                     "personas (0 = off)")
          ->capture_default_str();
      sub.add_option("--feedback-weight", o->feedback_weight,
                     "fused: weight of the fed-back facts relative to the query")
          ->capture_default_str();
      sub.add_option("--word-vectors", o->word_vectors,
                     "word2vec file (default: data/models/glove6b_100d_top40k.w2v.bin)");
      sub.add_option("--components", o->components,
                     "SIF common components to load (default: fit on the persona pool)");
      sub.add_option("--save-components", o->save_components,
                     "save the SIF common components used");
      sub.add_option("--base-url", o->base_url, "OpenAI-compatible server (--embedder openai)")
          ->capture_default_str();
      sub.add_option("--model", o->model, "embedding model (--embedder openai)");
      sub.add_option("--api-key-env", o->api_key_env, "environment variable holding the API key")
          ->capture_default_str();
      sub.add_option("--threads", o->threads, "threads (0 = all cores)")->capture_default_str();
      sub.add_option("--out", o->out, "output JSONL")->required();
      return popalign::cli::Action([o] { return run(*o); });
    }};

}  // namespace
