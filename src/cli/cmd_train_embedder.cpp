// `popalign train-embedder`: trains a projection head with InfoNCE (in-batch + mined hard
// negatives, semantic filtering of likely false negatives, AdamW). See docs/embedding.md.
//
//   popalign train-embedder (--pairs PAIRS.jsonl | --profiles PERSONAS.jsonl) --out head.bin
//       [--epochs 8] [--batch 64] [--lr 0.002] [--temperature 0.05] [--hard-negatives 4]
//       [--filter-threshold 0.8] [--no-filter] [--weight-decay 1e-4] [--decay-to-identity]
//       [--symmetric] [--kind linear|mlp] [--hidden N] [--seed S]
//       [--embedder glove|openai] [--word-vectors FILE] [--components FILE]
//       [--save-components FILE] [--base-url URL --model NAME --api-key-env VAR] [--threads N]
//       [--save-pairs FILE] [LLM description queries, below]
//
// `popalign make-pairs --profiles PERSONAS.jsonl --out pairs.jsonl` writes the inverse-cloze
// pairs {"query": one fact, "positive": the rest of its profile} that --profiles trains on.
//
// LLM description queries (both commands, with --profiles; the paper's route):
//   --descriptions N --llm-url URL --llm-model NAME [--llm-api-key-env VAR] [--llm-cache FILE]
//   [--llm-seed S] [--llm-temperature T] [--llm-max-tokens N] [--llm-timeout SECONDS]
//   [--llm-concurrency N] [--llm-attempts N]
//   [--no-cloze]
// asks the LLM for N short descriptions of groups each persona belongs to and adds the pairs
// (description, persona text); --no-cloze keeps only those. With --llm-cache a rerun (after a
// crash or Ctrl-C) pays nothing for finished calls. See embedding/description_queries.hpp.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>

#include <popalign/core/error.hpp>
#include <popalign/embedding/contrastive.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/persona_record.hpp>
#if defined(POPALIGN_HAS_OPENAI_EMBEDDER)
#include <popalign/embedding/description_queries.hpp>
#include <popalign/embedding/openai_embedder.hpp>
#endif

#include "cli/checks.hpp"
#include "cli/command.hpp"
#if defined(POPALIGN_HAS_OPENAI_EMBEDDER)
#include "cli/llm_backend.hpp"
#endif

namespace {

namespace emb = popalign::embedding;

// Where pairs come from when --profiles is given: inverse cloze and/or LLM descriptions.
struct PairSourceOpts {
  long descriptions = 0;
  bool no_cloze = false;
  std::string llm_url;
  std::string llm_model;
  std::string llm_api_key_env = "OPENAI_API_KEY";
  std::string llm_cache;
  std::uint64_t llm_seed = 0;
  double llm_temperature = 0.7;
  long llm_max_tokens = 256;
  double llm_timeout = 120.0;
  long llm_concurrency = 4;
  long llm_attempts = 5;
};

void add_pair_source_options(CLI::App& sub, PairSourceOpts& o) {
  sub.add_option("--descriptions", o.descriptions,
                 "ask an LLM for N group descriptions per persona and train on them too "
                 "(needs --profiles, --llm-url, --llm-model)")
      ->capture_default_str();
  sub.add_flag("--no-cloze", o.no_cloze,
               "with --descriptions: no inverse-cloze pairs, only the descriptions");
  sub.add_option("--llm-url", o.llm_url,
                 "OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1");
  sub.add_option("--llm-model", o.llm_model, "chat model that writes the descriptions");
  sub.add_option("--llm-api-key-env", o.llm_api_key_env,
                 "environment variable holding the API key (never logged or cached)")
      ->capture_default_str();
  sub.add_option("--llm-cache", o.llm_cache,
                 "SQLite cache of answers: a rerun or resume pays nothing for finished calls");
  sub.add_option("--llm-seed", o.llm_seed, "request seed (attempt a uses seed + a)")
      ->capture_default_str();
  sub.add_option("--llm-temperature", o.llm_temperature)->capture_default_str();
  sub.add_option("--llm-max-tokens", o.llm_max_tokens, "answer length limit per call")
      ->capture_default_str();
  sub.add_option("--llm-timeout", o.llm_timeout, "seconds per call")->capture_default_str();
  sub.add_option("--llm-concurrency", o.llm_concurrency, "calls in flight")->capture_default_str();
  sub.add_option("--llm-attempts", o.llm_attempts,
                 "HTTP attempts per call (429/5xx/timeouts are retried with back-off)")
      ->capture_default_str();
}

// The pairs of --profiles: inverse cloze (unless --no-cloze) then LLM descriptions.
std::vector<emb::TrainingPair> profile_pairs(const std::string& path, const PairSourceOpts& o) {
  popalign::check_argument(o.descriptions >= 0 && o.descriptions <= 10, "--descriptions",
                           "must be in 0..10");
  popalign::check_argument(!o.no_cloze || o.descriptions > 0, "--no-cloze",
                           "needs --descriptions N (otherwise there are no pairs)");
  popalign::io::PersonaReadOptions read_options;  // errors name the file and line
  read_options.log = [](const std::string& m) { popalign::cli::warn(m); };
  const std::vector<popalign::io::PersonaRecord> personas =
      popalign::io::read_personas(path, read_options).personas;
  std::vector<emb::TrainingPair> pairs;
  if (!o.no_cloze) pairs = emb::make_profile_pairs(personas);
  if (o.descriptions == 0) return pairs;
#if defined(POPALIGN_HAS_OPENAI_EMBEDDER)
  popalign::check_argument(!o.llm_url.empty(), "--llm-url", "is required with --descriptions");
  popalign::check_argument(!o.llm_model.empty(), "--llm-model", "is required with --descriptions");
  popalign::check_argument(o.llm_concurrency >= 1, "--llm-concurrency", "must be >= 1");
  popalign::check_argument(o.llm_attempts >= 1, "--llm-attempts", "must be >= 1");
  popalign::check_argument(o.llm_timeout > 0, "--llm-timeout", "must be > 0");
  popalign::CancellationToken cancel;
  popalign::cli::LlmHttpFlags flags;
  flags.base_url = o.llm_url;
  flags.model = o.llm_model;
  flags.api_key_env = o.llm_api_key_env;
  flags.cache = o.llm_cache;
  flags.timeout_seconds = o.llm_timeout;
  flags.concurrency = static_cast<std::size_t>(o.llm_concurrency);
  flags.attempts = static_cast<int>(o.llm_attempts);
  flags.seed = o.llm_seed;
  flags.timeout_flag = "--llm-timeout";
  flags.concurrency_flag = "--llm-concurrency";
  flags.attempts_flag = "--llm-attempts";
  const auto backend = popalign::cli::make_llm_backend(flags, cancel);
  emb::DescriptionQueryOptions dq;
  dq.per_persona = static_cast<int>(o.descriptions);
  dq.seed = o.llm_seed;
  dq.temperature = o.llm_temperature;
  dq.max_tokens = static_cast<int>(o.llm_max_tokens);
  // One request per complete() call on `concurrency` threads: every answer reaches the cache
  // as it arrives, so an interrupted run loses at most the calls in flight.
  dq.batch.chunk_size = 1;
  dq.batch.parallel_chunks = static_cast<int>(o.llm_concurrency);
  dq.batch.execution.cancel = cancel;
  const bool tty = popalign::cli::stderr_is_terminal();
  if (tty)
    dq.batch.execution.progress = [](std::string_view, double f) {
      std::cerr << fmt::format("\rdescriptions {:5.1f}%", 100.0 * f) << std::flush;
      return false;
    };
  popalign::cli::validate_as_flags(
      [&] { dq.validate(); },
      {{"per_persona", "--descriptions"}, {"parallel_chunks", "--llm-concurrency"}}, "--llm-");
  emb::DescriptionPairs d;
  {
    // SIGINT / SIGTERM: stop the calls cleanly (answers so far are in --llm-cache).
    const popalign::cli::CancelOnSignal on_signal(cancel);
    d = emb::generate_description_pairs(*backend, personas, dq);
  }
  if (tty) std::cerr << "\n";
  const auto& r = d.report;
  for (const std::string& m : r.messages) fmt::print(stderr, "descriptions: {}\n", m);
  fmt::print(stderr,
             "descriptions: {} personas, {} calls ({} from cache, {} failed), {} accepted, {} "
             "rejected, {} personas without a description\n",
             r.personas, r.calls, r.cached_calls, r.failed_calls, r.accepted, r.rejected,
             r.personas_without_pairs);
  if (r.status != "ok")
    throw popalign::Cancelled("description queries (finished calls are in --llm-cache)");
  if (d.pairs.empty() && pairs.empty())
    throw popalign::BackendError(
        "the LLM gave no usable description for any persona (see the "
        "rejected answers above); no pairs to train on");
  pairs.insert(pairs.end(), d.pairs.begin(), d.pairs.end());
  return pairs;
#else
  throw popalign::InvalidArgument("--descriptions", "this build has no llm layer");
#endif
}

constexpr long kMaxEpochs = 10'000;
constexpr long kMaxHardNegatives = 1'000;

struct Opts {
  std::string pairs;
  std::string profiles;
  std::string out;
  long epochs = 8;
  long batch = 64;
  double lr = 2e-3;
  double temperature = 0.05;
  long hard_negatives = 4;
  double filter_threshold = 0.8;
  bool no_filter = false;
  double weight_decay = 1e-4;
  bool decay_to_identity = false;
  bool symmetric = false;
  std::string kind = "linear";
  long hidden = 0;
  std::uint64_t seed = 0;
  std::string embedder = "glove";
  std::string word_vectors;
  std::string components;
  std::string save_components;
  std::string base_url = "http://127.0.0.1:8080/v1";
  std::string model;
  std::string api_key_env = "OPENAI_API_KEY";
  int threads = 0;
  std::string save_pairs;
  PairSourceOpts source;
};

int run(const Opts& o) {
  popalign::check_argument(o.pairs.empty() != o.profiles.empty(), "--pairs",
                           "give exactly one of --pairs or --profiles");
  popalign::check_argument(o.source.descriptions == 0 || !o.profiles.empty(), "--descriptions",
                           "needs --profiles (the personas to describe)");
  popalign::check_argument(o.kind == "linear" || o.kind == "mlp", "--kind",
                           "must be linear or mlp, not '" + o.kind + "'");
  // Bounds of the work and memory one argument can ask for (docs/cli.md), checked before the
  // arithmetic below (4 * --hard-negatives would overflow).
  popalign::check_argument(o.epochs <= kMaxEpochs, "--epochs",
                           fmt::format("must be <= {} (got {})", kMaxEpochs, o.epochs));
  popalign::check_argument(
      o.hard_negatives <= kMaxHardNegatives, "--hard-negatives",
      fmt::format("must be <= {} (got {})", kMaxHardNegatives, o.hard_negatives));
  emb::ContrastiveOptions co;
  co.kind = o.kind == "mlp" ? emb::HeadKind::mlp : emb::HeadKind::linear;
  co.hidden = o.hidden;
  co.epochs = o.epochs;
  co.batch_size = o.batch;
  co.learning_rate = o.lr;
  co.temperature = o.temperature;
  co.hard_negatives = o.hard_negatives;
  co.mining_candidates = std::max<long>(32, 4 * o.hard_negatives + 1);
  co.filter_negatives = !o.no_filter;
  co.filter_threshold = o.filter_threshold;
  co.weight_decay = o.weight_decay;
  co.decay_to_identity = o.decay_to_identity;
  co.symmetric = o.symmetric;
  co.seed = o.seed;
  co.execution.threads = o.threads;
  if (popalign::cli::stderr_is_terminal())
    co.execution.progress = [](std::string_view stage, double f) {
      fmt::print(stderr, "\r{} {:5.1f}%", stage, 100.0 * f);
      if (f >= 1.0) fmt::print(stderr, "\n");
      return false;
    };
  // Name the command-line flag, not the C++ field (mining_candidates derives from
  // --hard-negatives).
  popalign::cli::validate_as_flags([&] { co.validate(); },
                                   {{"batch_size", "--batch"},
                                    {"learning_rate", "--lr"},
                                    {"mining_candidates", "--hard-negatives"}});

  std::vector<emb::TrainingPair> pairs;
  if (!o.pairs.empty()) {
    pairs = emb::read_pairs(o.pairs);
    if (pairs.size() < 2) throw popalign::IoError(o.pairs, "needs at least 2 pairs");
  } else {
    pairs = profile_pairs(o.profiles, o.source);
    if (pairs.size() < 2)
      throw popalign::IoError(o.profiles, "needs profiles with at least 2 facts");
  }
  if (!o.save_pairs.empty()) emb::write_pairs(pairs, o.save_pairs);

  std::shared_ptr<const emb::Embedder> base;
  if (o.embedder == "glove") {
    std::vector<std::string> corpus;
    if (o.components.empty())
      for (const auto& p : pairs) corpus.push_back(p.query);  // every fact once per profile
    auto sif = emb::make_sif_embedder(
        o.word_vectors.empty() ? emb::default_word_vectors_path() : o.word_vectors, o.components,
        corpus, emb::SifOptions{.threads = o.threads});
    if (!o.save_components.empty()) sif->save_common_components(o.save_components);
    base = sif;
  } else if (o.embedder == "openai") {
#if defined(POPALIGN_HAS_OPENAI_EMBEDDER)
    popalign::check_argument(!o.model.empty(), "--model", "is required with --embedder openai");
    emb::OpenAiEmbedderOptions eo;
    eo.client.base_url = o.base_url;
    eo.client.api_key_env = o.api_key_env;
    eo.model = o.model;
    base = std::make_shared<emb::OpenAiEmbedder>(eo);
#else
    throw popalign::InvalidArgument("--embedder", "this build has no OpenAI embedder (llm layer)");
#endif
  } else {
    throw popalign::InvalidArgument("--embedder",
                                    "must be glove or openai, not '" + o.embedder + "'");
  }

  if (co.kind == emb::HeadKind::mlp && o.hidden > 0) {
    // Two hidden x d float matrices, each with its gradient and two AdamW moments.
    const double d = static_cast<double>(base->dimension());
    popalign::cli::check_memory("--hidden", o.hidden,
                                16.0 * 2.0 * d * static_cast<double>(o.hidden), "");
  }
  const emb::ContrastiveResult r = emb::train_projection_head(*base, pairs, co);
  if (r.status != "ok") throw popalign::Cancelled("train-embedder");
  r.head.save(o.out);
  fmt::print(stderr,
             "train-embedder: {} pairs, {} steps, loss {:.4f} -> {:.4f}, hard negatives used {}, "
             "dropped by the filter {} in-batch + {} mined -> {}\n",
             pairs.size(), r.steps, r.epoch_loss.front(), r.epoch_loss.back(), r.mined,
             r.dropped_in_batch, r.dropped_mined, o.out);
  return 0;
}

popalign::cli::CommandRegistrar train_registrar{
    "train-embedder", "Train a projection head contrastively (InfoNCE, filtered hard negatives)",
    [](CLI::App& sub) {
      auto o = std::make_shared<Opts>();
      sub.add_option("--pairs", o->pairs, "JSONL {\"query\",\"positive\"} pairs");
      sub.add_option("--profiles", o->profiles,
                     "persona JSONL: train on (fact, rest of profile) pairs instead");
      sub.add_option("--out", o->out, "head file to write")->required();
      sub.add_option("--epochs", o->epochs)->capture_default_str();
      sub.add_option("--batch", o->batch, "pairs per batch")->capture_default_str();
      sub.add_option("--lr", o->lr, "AdamW learning rate")->capture_default_str();
      sub.add_option("--temperature", o->temperature, "InfoNCE temperature")->capture_default_str();
      sub.add_option("--hard-negatives", o->hard_negatives, "mined negatives per query")
          ->capture_default_str();
      sub.add_option("--filter-threshold", o->filter_threshold,
                     "drop negatives whose cosine to the query or positive exceeds this")
          ->capture_default_str();
      sub.add_flag("--no-filter", o->no_filter, "keep every negative (no semantic filtering)");
      sub.add_option("--weight-decay", o->weight_decay, "AdamW decoupled weight decay")
          ->capture_default_str();
      sub.add_flag("--symmetric", o->symmetric,
                   "symmetric InfoNCE: also score each positive against the in-batch queries");
      sub.add_flag("--decay-to-identity", o->decay_to_identity,
                   "decay W toward the identity (the base geometry) instead of toward 0");
      sub.add_option("--kind", o->kind, "linear or mlp")->capture_default_str();
      sub.add_option("--hidden", o->hidden, "mlp hidden width (0 = input dimension)");
      sub.add_option("--seed", o->seed)->capture_default_str();
      sub.add_option("--embedder", o->embedder, "glove (offline SIF) or openai")
          ->capture_default_str();
      sub.add_option("--word-vectors", o->word_vectors, "word2vec file (default: shipped GloVe)");
      sub.add_option("--components", o->components,
                     "SIF common components to load (default: fit on the training queries)");
      sub.add_option("--save-components", o->save_components, "save the SIF components used");
      sub.add_option("--base-url", o->base_url)->capture_default_str();
      sub.add_option("--model", o->model, "embedding model (--embedder openai)");
      sub.add_option("--api-key-env", o->api_key_env)->capture_default_str();
      sub.add_option("--threads", o->threads, "threads (0 = all cores)")->capture_default_str();
      sub.add_option("--save-pairs", o->save_pairs, "also write the training pairs as JSONL");
      add_pair_source_options(sub, o->source);
      return popalign::cli::Action([o] { return run(*o); });
    }};

struct PairOpts {
  std::string profiles;
  std::string out;
  PairSourceOpts source;
};

popalign::cli::CommandRegistrar pairs_registrar{
    "make-pairs", "Make (fact, rest of profile) training pairs from persona profiles",
    [](CLI::App& sub) {
      auto o = std::make_shared<PairOpts>();
      sub.add_option("--profiles", o->profiles, "persona JSONL")->required();
      sub.add_option("--out", o->out, "pairs JSONL to write")->required();
      add_pair_source_options(sub, o->source);
      return popalign::cli::Action([o] {
        const auto pairs = profile_pairs(o->profiles, o->source);
        emb::write_pairs(pairs, o->out);
        fmt::print(stderr, "make-pairs: {} pairs -> {}\n", pairs.size(), o->out);
        return 0;
      });
    }};

}  // namespace
