// `popalign administer`: administer a questionnaire to personas through an OpenAI-compatible
// server, with a persistent cache, resume and a dry run. See docs/administer.md.
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <fmt/core.h>

#include <popalign/administer/administer.hpp>
#include <popalign/administer/prompts.hpp>
#include <popalign/core/error.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/llm/usage_meter.hpp>
#include <popalign/psychometrics/instrument.hpp>

#include "cli/command.hpp"
#include "cli/llm_backend.hpp"

namespace {

namespace adm = popalign::administer;
namespace ps = popalign::psychometrics;
namespace llm = popalign::llm;

struct Opts {
  std::string personas;
  std::string instrument;
  std::string base_url;
  std::string model;
  std::string mode = "generate";
  std::string prompt_template;
  std::size_t concurrency = 8;
  std::string cache;
  std::uint64_t seed = 0;
  std::string api_key_env = "OPENAI_API_KEY";
  int max_retries = 2;
  int http_attempts = 5;
  std::string on_bad_line = "fail";
  std::string on_failure = "stop";
  bool dry_run = false;
  std::string out;
  bool reverse_scale = false;
  bool no_shuffle = false;
  std::optional<double> temperature;
  int max_tokens = 0;
  int top_logprobs = 20;
  std::string id_field = "id";
  std::string text_field = "persona";
  std::optional<double> prompt_price;
  std::optional<double> completion_price;
  double timeout = 120.0;
  std::size_t personas_per_round = 16;
  bool fsync = false;
};

void print_estimate(const Opts& o, const adm::AdministerEstimate& est, std::size_t done,
                    std::size_t total, const adm::AdministerOptions& options) {
  const int asks = 1 + options.max_retries;
  fmt::print("dry run: nothing is sent.\n");
  fmt::print("personas to administer: {} ({} of {} already in {})\n", est.personas, done, total,
             o.out);
  fmt::print("mode {}, template {}, model {}\n", adm::to_string(options.mode),
             options.resolved_template().id, o.model);
  fmt::print("calls: {} (first attempts; unparseable answers are asked up to {} more time{})\n",
             est.calls, options.max_retries, options.max_retries == 1 ? "" : "s");
  fmt::print("estimated prompt tokens: {} (about 4 characters per token, +4 per message)\n",
             est.prompt_tokens);
  fmt::print("completion tokens: at most {} (calls x max_tokens)\n", est.max_completion_tokens);
  if (est.cost)
    fmt::print(
        "estimated cost: at most {:.6f} (prompt {} + completion {} per 1M tokens; with "
        "every re-ask up to {:.6f})\n",
        *est.cost, o.prompt_price.value_or(0), o.completion_price.value_or(0), *est.cost * asks);
  else
    fmt::print("estimated cost: give --prompt-price and --completion-price (per 1M tokens)\n");
  if (est.calls) {
    fmt::print("example call:\n--- system ---\n{}\n--- user ---\n{}\n---\n", est.example.system,
               est.example.user);
  }
}

int run(const Opts& o) {
  adm::AdministerOptions options;
  options.mode = adm::administer_mode_from_string(o.mode);
  if (!o.prompt_template.empty()) options.prompt = adm::resolve_prompt_template(o.prompt_template);
  options.model = o.model;
  options.seed = o.seed;
  options.shuffle_items = !o.no_shuffle;
  options.reverse_scale = o.reverse_scale;
  options.max_retries = o.max_retries;
  options.temperature = o.temperature;
  options.max_tokens = o.max_tokens;
  options.top_logprobs = o.top_logprobs;
  options.personas_per_round = o.personas_per_round;
  // One request per complete() call on `concurrency` threads: every answer goes into the cache
  // the moment it arrives, so a kill loses at most the calls still in flight.
  options.chunk_size = 1;
  options.parallel_chunks = static_cast<int>(o.concurrency);
  popalign::CancellationToken cancel;
  options.execution.cancel = cancel;
  popalign::cli::validate_as_flags([&] { options.validate(); },
                                   {{"parallel_chunks", "--concurrency"}});

  adm::AdministerFileOptions fo;
  fo.personas = o.personas;
  fo.out = o.out;
  fo.id_field = o.id_field;
  fo.text_field = o.text_field;
  if (o.on_bad_line == "skip")
    fo.on_bad_line = popalign::io::OnBadLine::skip;
  else if (o.on_bad_line == "fail")
    fo.on_bad_line = popalign::io::OnBadLine::fail;
  else
    throw popalign::InvalidArgument("--on-bad-line", "must be skip or fail");
  if (o.on_failure == "stop")
    fo.on_failure = adm::OnCallFailure::stop;
  else if (o.on_failure == "missing")
    fo.on_failure = adm::OnCallFailure::record_missing;
  else
    throw popalign::InvalidArgument("--on-failure", "must be stop or missing");
  fo.fsync = o.fsync;
  fo.log = [](const std::string& m) { std::cerr << "popalign administer: " << m << "\n"; };
  popalign::cli::validate_as_flags([&] { fo.validate(); });

  const ps::Instrument instrument = ps::resolve_instrument(o.instrument);

  if (o.dry_run) {
    const popalign::io::PersonaFile pf =
        popalign::io::read_personas(fo.personas, fo.read_options());
    const std::size_t done = adm::completed_personas(instrument, pf, options, fo, o.model);
    std::span<const popalign::io::PersonaRecord> rest(pf.personas.data() + done,
                                                      pf.personas.size() - done);
    const adm::AdministerEstimate est =
        adm::estimate_administration(instrument, rest, options, o.prompt_price, o.completion_price);
    print_estimate(o, est, done, pf.personas.size(), options);
    return 0;
  }

  if (o.base_url.empty()) throw popalign::InvalidArgument("--base-url", "is required");
  popalign::cli::LlmHttpFlags flags;
  flags.base_url = o.base_url;
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

  const bool tty = popalign::cli::stderr_is_terminal();
  if (tty) {
    options.execution.progress = [](std::string_view, double f) {
      std::cerr << fmt::format("\rpopalign administer: {:5.1f}%", 100.0 * f) << std::flush;
      return false;
    };
  }

  // SIGINT / SIGTERM: stop cleanly (finished personas are written; rerun to resume).
  adm::AdministerFileReport report;
  try {
    const popalign::cli::CancelOnSignal on_signal(cancel);
    report = adm::administer_file(*meter, instrument, options, fo);
  } catch (...) {
    if (tty) std::cerr << "\n";
    std::cerr << "popalign administer: usage so far: " << meter->report().summary() << "\n";
    throw;
  }
  if (tty) std::cerr << "\n";
  std::cerr << fmt::format(
      "popalign administer: {} personas ({} skipped lines), {} already done, {} written to {}; "
      "{} calls ({} from cache), {} missing answers\n",
      report.personas, report.malformed, report.already_done, report.written, o.out, report.calls,
      report.cached_calls, report.missing_answers);
  std::cerr << "popalign administer: usage: " << meter->report().summary() << "\n";
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "administer", "Administer a questionnaire to personas through an LLM (resumable)",
    [](CLI::App& sub) {
      auto o = std::make_shared<Opts>();
      sub.add_option("--personas", o->personas,
                     "Personas JSONL: one object per line with \"id\" and \"persona\"")
          ->required();
      sub.add_option("--instrument", o->instrument,
                     "Instrument JSON file, or a shipped name (ipip50, mini_ipip, neo120, ...)")
          ->required();
      sub.add_option("--base-url", o->base_url,
                     "OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1");
      sub.add_option("--model", o->model, "Model name sent with every request")->required();
      sub.add_option("--mode", o->mode, "generate | logprobs | batch")
          ->check(CLI::IsMember({"generate", "logprobs", "batch"}));
      sub.add_option("--template", o->prompt_template,
                     "Prompt template: likert-v1, likert-label-v1, likert-json-v1 or a JSON file "
                     "(default: likert-v1, batch: likert-json-v1)");
      sub.add_option("--concurrency", o->concurrency, "Requests in flight")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1024}));
      sub.add_option("--cache", o->cache,
                     "SQLite cache of answers: a rerun or resume pays nothing for finished calls");
      sub.add_option("--seed", o->seed, "Seed for item order and request seeds");
      sub.add_option("--api-key-env", o->api_key_env,
                     "Environment variable holding the API key (never logged or cached)");
      sub.add_option("--max-retries", o->max_retries,
                     "Times an unparseable or missing answer is asked again")
          ->check(CLI::Range(0, 100));
      sub.add_option("--http-attempts", o->http_attempts,
                     "Tries per HTTP request on transient errors (429, 5xx, timeouts)")
          ->check(CLI::Range(1, 100));
      sub.add_option("--on-bad-line", o->on_bad_line,
                     "Malformed persona lines: skip (reported with line numbers) or fail")
          ->check(CLI::IsMember({"skip", "fail"}));
      sub.add_option("--on-failure", o->on_failure,
                     "A failed call: stop (rerun to resume) or missing (write nulls)")
          ->check(CLI::IsMember({"stop", "missing"}));
      sub.add_flag("--dry-run", o->dry_run,
                   "Print the calls and estimated tokens and cost; send nothing");
      sub.add_option("--out", o->out, "Output JSONL (resumed when it exists)")->required();
      sub.add_flag("--reverse-scale", o->reverse_scale,
                   "Present the scale reversed (answers are mapped back), to measure order bias");
      sub.add_flag("--no-shuffle", o->no_shuffle, "Keep the instrument's item order");
      sub.add_option("--temperature", o->temperature,
                     "Sampling temperature (default 1 for generate, 0 otherwise)");
      sub.add_option("--max-tokens", o->max_tokens, "Completion token limit (0 = mode default)");
      sub.add_option("--top-logprobs", o->top_logprobs, "Alternatives per token (logprobs mode)")
          ->check(CLI::Range(1, 20));
      sub.add_option("--id-field", o->id_field, "Persona id field");
      sub.add_option("--text-field", o->text_field,
                     "Persona text field (a string or an array of strings; when a line has none, "
                     "its \"facts\" array is the text)");
      sub.add_option("--prompt-price", o->prompt_price, "Price per 1M prompt tokens");
      sub.add_option("--completion-price", o->completion_price, "Price per 1M completion tokens");
      sub.add_option("--timeout", o->timeout, "Total timeout per request, seconds")
          ->check(CLI::PositiveNumber);
      sub.add_option("--personas-per-round", o->personas_per_round,
                     "Personas administered together (and written at once)")
          ->check(CLI::Range(std::size_t{1}, std::size_t{100000}));
      sub.add_flag("--fsync", o->fsync, "fsync the output after every line");
      return popalign::cli::Action([o] { return run(*o); });
    }};

}  // namespace
