// `popalign mine`: seed persona mining, posts -> grounded narrative personas with LLM quality
// control (post quality, persona writing, critique), PII redaction and dedup; resumable, with a
// funnel record and a dry run. See docs/persona.md.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/core.h>

#include <popalign/core/error.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/llm/usage_meter.hpp>
#include <popalign/persona/mining.hpp>
#include <popalign/persona/post_readers.hpp>

#include "cli/command.hpp"
#include "cli/llm_backend.hpp"

namespace {

namespace pe = popalign::persona;
namespace llm = popalign::llm;

struct Opts {
  std::string posts;
  std::string format = "auto";
  std::string base_url;
  std::string endpoints;  // a fleet (llm::read_endpoints_file)
  std::string model;
  std::string judge_model;
  std::size_t concurrency = 8;
  std::string cache;
  std::uint64_t seed = 0;
  std::size_t max_authors = 0;
  bool dry_run = false;
  std::string out;
  std::string funnel;
  std::string work_dir;
  std::string api_key_env = "OPENAI_API_KEY";
  int http_attempts = 5;
  double timeout = 120.0;
  std::optional<double> prompt_price;
  std::optional<double> completion_price;
  std::string on_bad_line = "skip";
  int min_tokens = 30;
  std::size_t min_posts = 6;
  std::size_t context_tokens = 8192;
  int max_words = 150;
  int max_tokens = 400;
  double chars_per_token = 4.0;
  int min_overall = 9;
  int min_other = 8;
  int max_attempts = 2;
  std::string quality_template = "post-quality-v1";
  std::string writer_template = "persona-writer-v1";
  std::string critique_template = "critique-v1";
  bool no_redact = false;
  bool no_dedup = false;
  double dedup_cosine = 0.95;
  std::string word_vectors;
  std::size_t round_size = 0;
  bool fsync = false;
};

pe::MiningOptions mining_options(const Opts& o) {
  pe::MiningOptions m;
  m.prefilter.min_tokens = o.min_tokens;
  m.quality.model = o.model;
  m.quality.seed = o.seed;
  m.quality.max_attempts = o.max_attempts;
  m.quality.prompt = pe::resolve_prompt(o.quality_template);
  m.writer.model = o.model;
  m.writer.seed = o.seed;
  m.writer.max_attempts = o.max_attempts;
  m.writer.min_posts = o.min_posts;
  m.writer.context_tokens = o.context_tokens;
  m.writer.max_words = o.max_words;
  m.writer.max_tokens = o.max_tokens;
  m.writer.chars_per_token = o.chars_per_token;
  m.writer.prompt = pe::resolve_prompt(o.writer_template);
  m.critique.model = o.judge_model.empty() ? o.model : o.judge_model;
  m.critique.seed = o.seed;
  m.critique.max_attempts = o.max_attempts;
  m.critique.min_overall = o.min_overall;
  m.critique.min_other = o.min_other;
  m.critique.prompt = pe::resolve_prompt(o.critique_template);
  m.redact = !o.no_redact;
  m.deduplicate = !o.no_dedup;
  m.dedup.max_cosine = o.dedup_cosine;
  // One request per complete() call on `concurrency` threads: every answer goes into the cache
  // the moment it arrives, so a kill loses at most the calls in flight.
  for (llm::BatchOptions* b : {&m.quality.batch, &m.writer.batch, &m.critique.batch}) {
    b->chunk_size = 1;
    b->parallel_chunks = static_cast<int>(o.concurrency);
  }
  m.round_size = o.round_size ? o.round_size : 4 * o.concurrency;
  m.fsync = o.fsync;
  m.work_dir = std::filesystem::path(o.work_dir.empty() ? o.out + ".work" : o.work_dir);
  popalign::cli::validate_as_flags([&] { m.validate(); },
                                   {{"prefilter.min_tokens", "--min-tokens"},
                                    {"writer.min_posts", "--min-posts"},
                                    {"writer.context_tokens", "--context-tokens"},
                                    {"writer.max_words", "--max-words"},
                                    {"writer.max_tokens", "--max-tokens"},
                                    {"writer.chars_per_token", "--chars-per-token"},
                                    {"critique.min_overall", "--min-overall"},
                                    {"critique.min_other", "--min-other"},
                                    {"quality.max_attempts", "--max-attempts"},
                                    {"writer.max_attempts", "--max-attempts"},
                                    {"critique.max_attempts", "--max-attempts"},
                                    {"quality.prompt", "--quality-template"},
                                    {"writer.prompt", "--writer-template"},
                                    {"critique.prompt", "--critique-template"},
                                    {"dedup.max_cosine", "--dedup-cosine"},
                                    {"quality.parallel_chunks", "--concurrency"},
                                    {"round_size", "--round-size"}});
  return m;
}

void print_estimate(const Opts& o, const pe::MiningEstimate& est) {
  fmt::print("dry run: nothing is sent.\n");
  fmt::print("{}", est.funnel.table());
  std::size_t calls = 0, prompt = 0, completion = 0;
  for (const pe::StepEstimate& s : est.steps) {
    const bool bound = s.step != "quality";
    fmt::print("{:<9} calls {:>9} (already done {}), prompt tokens ~{}, completion tokens <= {}\n",
               s.step, (bound ? "<= " : "") + std::to_string(s.calls), s.done, s.prompt_tokens,
               s.max_completion_tokens);
    calls += s.calls;
    prompt += s.prompt_tokens;
    completion += s.max_completion_tokens;
  }
  fmt::print(
      "total: at most {} calls, ~{} prompt + <= {} completion tokens (first asks; an unusable "
      "answer is asked up to {} times). personas and critique assume every post passes the "
      "quality step; tokens are about 4 characters each.\n",
      calls, prompt, completion, o.max_attempts);
  if (o.prompt_price || o.completion_price)
    fmt::print("estimated cost: at most {:.6f}\n",
               (static_cast<double>(prompt) * o.prompt_price.value_or(0) +
                static_cast<double>(completion) * o.completion_price.value_or(0)) /
                   1e6);
}

int run(const Opts& o) {
  pe::PostReadOptions ro;
  ro.format = pe::post_format_from_string(o.format);
  ro.max_authors = o.max_authors;
  ro.on_bad_line =
      o.on_bad_line == "fail" ? popalign::io::OnBadLine::fail : popalign::io::OnBadLine::skip;
  std::size_t problems_logged = 0;
  ro.log = [&](const std::string& m) {
    if (++problems_logged <= 20) std::cerr << "popalign mine: " << m << "\n";
  };
  popalign::cli::validate_as_flags([&] { ro.validate(); });
  pe::MiningOptions options = mining_options(o);
  if (!o.dry_run && o.base_url.empty() && o.endpoints.empty())
    throw popalign::InvalidArgument("--base-url", "is required (or --endpoints FILE)");

  const pe::PostCorpus corpus = pe::read_posts(o.posts, ro);
  if (problems_logged > 20)
    std::cerr << fmt::format("popalign mine: ... {} problems in all (see the funnel record)\n",
                             problems_logged);
  std::cerr << fmt::format("popalign mine: {} posts by {} authors from {} file(s) ({} skipped)\n",
                           corpus.posts.size(), corpus.authors, corpus.files, corpus.malformed);

  if (o.dry_run) {
    print_estimate(o, pe::estimate_mining(corpus, options, o.model));
    return 0;
  }

  popalign::CancellationToken cancel;
  options.cancel = cancel;
  popalign::cli::LlmHttpFlags flags;
  flags.base_url = o.base_url;
  if (!o.endpoints.empty()) {  // a fleet: --base-url (if given) and the file's endpoints
    if (!o.base_url.empty()) flags.base_urls = {o.base_url};
    flags.endpoints_file = o.endpoints;
  }
  flags.model = o.model;
  flags.api_key_env = o.api_key_env;
  flags.cache = o.cache;
  flags.timeout_seconds = o.timeout;
  flags.concurrency = o.concurrency;
  flags.attempts = o.http_attempts;
  flags.seed = o.seed;
  const std::shared_ptr<llm::LlmBackend> backend = popalign::cli::make_llm_backend(flags, cancel);
  llm::MeterOptions meter_options;
  if (o.prompt_price || o.completion_price)
    meter_options.default_price =
        llm::Price{o.prompt_price.value_or(0), o.completion_price.value_or(0)};
  auto meter = std::make_shared<llm::UsageMeter>(backend, meter_options);

  std::shared_ptr<const popalign::embedding::Embedder> embedder;
  // The shipped vectors come with their common component (the dedup bar was calibrated with
  // it); other vectors get none.
  if (options.deduplicate)
    embedder = popalign::embedding::make_sif_embedder(
        o.word_vectors.empty() ? popalign::embedding::default_word_vectors_path() : o.word_vectors,
        o.word_vectors.empty() ? popalign::embedding::default_common_component_path() : "", {});

  const bool tty = popalign::cli::stderr_is_terminal();
  options.progress = [tty](std::string_view step, std::size_t done, std::size_t total) {
    if (tty) {
      const std::size_t width = 30;
      const std::size_t fill = total ? done * width / total : width;
      std::cerr << fmt::format("\rpopalign mine: {:<8} [{}{}] {}/{}", step, std::string(fill, '#'),
                               std::string(width - fill, '.'), done, total)
                << (done == total ? "\n" : "") << std::flush;
    } else if (done == total) {
      std::cerr << fmt::format("popalign mine: {} {}/{}\n", step, done, total);
    }
    return false;
  };
  options.log = [](const std::string& m) { std::cerr << "popalign mine: " << m << "\n"; };

  pe::MiningResult result;
  try {
    const popalign::cli::CancelOnSignal on_signal(cancel);
    result = pe::mine_personas(*meter, embedder.get(), corpus, options);
  } catch (...) {
    if (tty) std::cerr << "\n";
    std::cerr << "popalign mine: usage so far: " << meter->report().summary() << "\n";
    throw;
  }
  if (result.status == "cancelled") {
    if (tty) std::cerr << "\n";
    std::cerr << "popalign mine: interrupted; finished work is kept in " << options.work_dir
              << " and the cache: run the same command again to resume\n";
    std::cerr << "popalign mine: usage: " << meter->report().summary() << "\n";
    return 130;
  }
  popalign::io::write_personas(o.out, result.personas);
  if (!o.funnel.empty()) pe::write_funnel(o.funnel, result.funnel);
  fmt::print("{}", result.funnel.table());
  for (const pe::MiningStepCalls& c : result.calls)
    std::cerr << fmt::format(
        "popalign mine: {}: {} units ({} from {}), {} calls ({} from cache, {} failed, {} "
        "re-asked)\n",
        c.step, c.units, c.resumed, options.work_dir.string(), c.calls.calls, c.calls.cached_calls,
        c.calls.failed_calls, c.calls.reasks);
  for (std::size_t i = 0; i < result.messages.size() && i < 10; ++i)
    std::cerr << "popalign mine: " << result.messages[i] << "\n";
  std::cerr << fmt::format("popalign mine: {} personas written to {}{}\n", result.personas.size(),
                           o.out, o.funnel.empty() ? "" : ", funnel to " + o.funnel);
  std::cerr << "popalign mine: usage: " << meter->report().summary() << "\n";
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "mine", "Mine grounded narrative personas from posts with LLM quality control (resumable)",
    [](CLI::App& sub) {
      auto o = std::make_shared<Opts>();
      sub.add_option("--posts", o->posts, "Posts: a file or a directory of files")->required();
      sub.add_option("--format", o->format, "auto | jsonl | blog-csv | blog-xml")
          ->check(CLI::IsMember({"auto", "automatic", "jsonl", "blog-csv", "blog-xml"}));
      sub.add_option("--base-url", o->base_url,
                     "OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1");
      sub.add_option("--endpoints", o->endpoints,
                     "Endpoints file of a fleet (JSON or CSV, see docs/llm.md)");
      sub.add_option("--model", o->model, "Model writing quality tags and personas")->required();
      sub.add_option("--judge-model", o->judge_model, "Model of the critique (default: --model)");
      sub.add_option("--concurrency", o->concurrency, "Requests in flight")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1024}));
      sub.add_option("--cache", o->cache,
                     "SQLite cache of answers: a rerun or resume pays nothing for finished calls");
      sub.add_option("--seed", o->seed, "Request seed (re-asks use seed + 1, ...)");
      sub.add_option("--max-authors", o->max_authors, "Only the first N authors (0 = all)");
      sub.add_flag("--dry-run", o->dry_run,
                   "Print the calls and estimated tokens per step; send nothing");
      sub.add_option("--out", o->out, "Output personas JSONL")->required();
      sub.add_option("--funnel", o->funnel, "Write the funnel record (JSON) here");
      sub.add_option("--work-dir", o->work_dir, "Per-step files for resume (default: <out>.work)");
      sub.add_option("--api-key-env", o->api_key_env,
                     "Environment variable holding the API key (never logged or cached)");
      sub.add_option("--http-attempts", o->http_attempts,
                     "Tries per HTTP request on transient errors (429, 5xx, timeouts)")
          ->check(CLI::Range(1, 100));
      sub.add_option("--timeout", o->timeout, "Total timeout per request, seconds")
          ->check(CLI::PositiveNumber);
      sub.add_option("--prompt-price", o->prompt_price, "Price per 1M prompt tokens");
      sub.add_option("--completion-price", o->completion_price, "Price per 1M completion tokens");
      sub.add_option("--on-bad-line", o->on_bad_line,
                     "Malformed input: skip (reported, in the funnel) or fail")
          ->check(CLI::IsMember({"skip", "fail"}));
      sub.add_option("--min-tokens", o->min_tokens, "Pre-filter: fewest tokens per post");
      sub.add_option("--min-posts", o->min_posts, "Fewest kept posts per author and window");
      sub.add_option("--context-tokens", o->context_tokens,
                     "The writer's and judge's context window (posts are split into windows)");
      sub.add_option("--chars-per-token", o->chars_per_token,
                     "Bytes per token in the context budget (4 for English with BPE models)");
      sub.add_option("--max-words", o->max_words, "Longest persona, words");
      sub.add_option("--max-tokens", o->max_tokens,
                     "The writer's completion limit, tokens (part of the context budget)");
      sub.add_option("--min-overall", o->min_overall, "Critique: keep overall >= this");
      sub.add_option("--min-other", o->min_other, "Critique: and every other score >= this");
      sub.add_option("--max-attempts", o->max_attempts,
                     "Asks per unit while the answer is unusable (seed + 1 each time)");
      sub.add_option("--quality-template", o->quality_template,
                     "Prompt of step 3: a built-in id or a JSON file {id, system, user}");
      sub.add_option("--writer-template", o->writer_template, "Prompt of step 4");
      sub.add_option("--critique-template", o->critique_template, "Prompt of step 5");
      sub.add_flag("--no-redact", o->no_redact, "Keep PII in the persona texts");
      sub.add_flag("--no-dedup", o->no_dedup, "Keep near-duplicate personas");
      sub.add_option("--dedup-cosine", o->dedup_cosine,
                     "Cosine (SIF GloVe embedding) at or above which personas are duplicates");
      sub.add_option("--word-vectors", o->word_vectors,
                     "Word vectors of the dedup embedder (default: the shipped GloVe)");
      sub.add_option("--round-size", o->round_size,
                     "Units asked before they are written to the work files (default 4 x "
                     "--concurrency)");
      sub.add_flag("--fsync", o->fsync, "fsync the work files after every line");
      return popalign::cli::Action([o] { return run(*o); });
    }};

}  // namespace
