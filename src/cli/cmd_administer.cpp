// `popalign administer`: administer a questionnaire to personas through an OpenAI-compatible
// server, with a persistent cache, resume and a dry run. See docs/administer.md.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include <popalign/administer/administer.hpp>
#include <popalign/administer/prompts.hpp>
#include <popalign/core/error.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/llm/batch_api.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/llm/fleet.hpp>
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
  std::vector<std::string> base_url;
  std::string endpoints;
  double progress_every = -1;  // seconds; < 0 = 2 on a terminal, off otherwise
  std::string model;
  std::string mode = "generate";
  std::string prompt_template;
  std::size_t concurrency = 8;
  std::string cache;
  std::size_t cache_commit_rows = 1;
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
  std::optional<std::size_t> personas_per_round;  // default 16, 1000 with --batch-api
  bool batch_api = false;
  std::string batch_state;
  std::size_t batch_max_requests = 50'000;
  std::size_t batch_max_bytes = 200u << 20;
  double batch_poll = 5.0;
  std::string batch_retry = "batch";
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

/// Prints progress every `every` seconds on its own thread: personas done, requests per
/// second and ETA overall, and for a fleet each endpoint's rate, share, slots in use, state and
/// ETA for its share of the remaining work.
class ProgressPrinter {
 public:
  ProgressPrinter(double every, const std::atomic<double>& fraction, const llm::UsageMeter& meter,
                  const llm::FleetBackend* fleet)
      : every_(every), fraction_(fraction), meter_(meter), fleet_(fleet) {
    if (every_ > 0) thread_ = std::thread([this] { loop(); });
  }
  ~ProgressPrinter() { stop(); }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    const double f0 = fraction_.load();
    std::uint64_t last_requests = 0;
    std::vector<std::uint64_t> last_sent;
    auto last_t = t0;
    std::unique_lock lock(mutex_);
    while (!cv_.wait_for(lock, std::chrono::duration<double>(every_), [&] { return stopped_; })) {
      const auto now = clock::now();
      const double dt = std::chrono::duration<double>(now - last_t).count();
      const double elapsed = std::chrono::duration<double>(now - t0).count();
      last_t = now;
      const double f = fraction_.load();
      const std::uint64_t requests = meter_.report().total.requests;
      const double rate = dt > 0 ? static_cast<double>(requests - last_requests) / dt : 0.0;
      last_requests = requests;
      // ETA from the personas' fraction done since the start of this run.
      const double eta = f > f0 && elapsed > 0 ? (1.0 - f) * elapsed / (f - f0) : -1.0;
      std::string line = fmt::format(
          "popalign administer: {:5.1f}% of personas, {} requests, "
          "{:.0f} req/s, ETA {}",
          100.0 * f, requests, rate, format_eta(eta));
      if (fleet_) {
        const auto stats = fleet_->stats();
        last_sent.resize(stats.size(), 0);
        std::uint64_t total_sent = 0;
        for (const auto& s : stats) total_sent += s.sent;
        for (std::size_t i = 0; i < stats.size(); ++i) {
          const auto& s = stats[i];
          const double r = dt > 0 ? static_cast<double>(s.sent - last_sent[i]) / dt : 0.0;
          last_sent[i] = s.sent;
          const double share =
              total_sent ? static_cast<double>(s.sent) / static_cast<double>(total_sent) : 0.0;
          // This endpoint's share of the remaining requests at its current rate.
          const double remaining =
              f > f0 ? static_cast<double>(requests) * (1.0 - f) / (f - f0) : -1.0;
          const double ep_eta = remaining >= 0 && r > 0 ? remaining * share / r : -1.0;
          line += fmt::format(
              "\n  {}: {:.0f} req/s, {:.0f}% of requests, {}/{} in flight, "
              "{} failed, {}, ETA {}",
              s.url, r, 100.0 * share, s.in_flight, s.max_in_flight, s.failed,
              s.healthy ? "up" : "taken out", format_eta(ep_eta));
        }
      }
      std::cerr << line << "\n" << std::flush;
    }
  }
  static std::string format_eta(double s) {
    if (s < 0) return "?";
    const auto t = static_cast<long long>(s + 0.5);
    return fmt::format("{}:{:02}:{:02}", t / 3600, (t / 60) % 60, t % 60);
  }

  double every_;
  const std::atomic<double>& fraction_;
  const llm::UsageMeter& meter_;
  const llm::FleetBackend* fleet_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::thread thread_;
};

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
  options.personas_per_round = o.personas_per_round.value_or(o.batch_api ? 1000 : 16);
  // One request per complete() call on `concurrency` threads: every answer goes into the cache
  // the moment it arrives, so a kill loses at most the calls still in flight.
  options.chunk_size = 1;
  options.parallel_chunks = static_cast<int>(o.concurrency);
  if (o.batch_api) {  // a round's requests go out as provider batches at once
    options.chunk_size = 0;
    options.parallel_chunks = 1;
  }
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

  if (o.base_url.empty() && o.endpoints.empty())
    throw popalign::InvalidArgument("--base-url", "is required (or --endpoints FILE)");
  popalign::cli::LlmHttpFlags flags;
  if (o.base_url.size() == 1) flags.base_url = o.base_url.front();
  flags.base_urls = o.base_url;
  flags.endpoints_file = o.endpoints;
  flags.model = o.model;
  flags.api_key_env = o.api_key_env;
  flags.cache = o.cache;
  flags.cache_commit_rows = o.cache_commit_rows;
  flags.timeout_seconds = o.timeout;
  flags.concurrency = o.concurrency;
  flags.attempts = o.http_attempts;
  flags.seed = o.seed;
  popalign::cli::LlmStack stack;
  std::shared_ptr<llm::LlmBackend> backend;
  std::shared_ptr<llm::BatchApiBackend> batch_api;
  if (o.batch_api) {
    // cache -> Batch API; requests a batch did not answer go online (retry -> HTTP / fleet)
    // with --batch-retry online, else into a new batch.
    popalign::cli::LlmHttpFlags online_flags = flags;
    online_flags.cache.clear();
    stack = popalign::cli::make_llm_stack(online_flags, cancel);
    llm::BatchApiOptions bo;
    bo.http.base_url = o.base_url.empty() ? std::string() : o.base_url.front();
    if (bo.http.base_url.empty())
      throw popalign::InvalidArgument("--base-url", "--batch-api needs --base-url (the provider)");
    bo.http.model = o.model;
    bo.http.api_key_env = o.api_key_env;
    bo.http.total_timeout =
        std::chrono::milliseconds(static_cast<long long>(std::max(o.timeout, 60.0) * 1000));
    bo.state_file = o.batch_state.empty() ? o.out + ".batches.json" : o.batch_state;
    bo.max_requests_per_batch = o.batch_max_requests;
    bo.max_bytes_per_batch = o.batch_max_bytes;
    bo.poll_initial = std::chrono::duration<double>(o.batch_poll);
    bo.poll_max = std::chrono::duration<double>(std::max(60.0, o.batch_poll));
    if (o.batch_retry == "online") bo.online = stack.backend;
    bo.cancel = cancel;
    bo.log = [](const std::string& m) { std::cerr << "popalign administer: " << m << "\n"; };
    popalign::cli::validate_as_flags([&] { bo.validate(); },
                                     {{"max_requests_per_batch", "--batch-max-requests"},
                                      {"max_bytes_per_batch", "--batch-max-bytes"},
                                      {"poll_initial", "--batch-poll-seconds"}});
    batch_api = std::make_shared<llm::BatchApiBackend>(bo);
    backend = batch_api;
    if (!o.cache.empty()) {
      llm::CacheOptions cache;
      cache.path = o.cache;
      cache.commit_rows = o.cache_commit_rows;
      backend = std::make_shared<llm::CachedBackend>(backend, cache);
    }
    stack.fleet.reset();  // progress and summary describe the batches, not the fallback
  } else {
    stack = popalign::cli::make_llm_stack(flags, cancel);
    backend = stack.backend;
  }
  // A fleet takes as many requests at once as its endpoints' capacities add up to.
  if (stack.fleet)
    options.parallel_chunks = static_cast<int>(std::min<std::size_t>(stack.in_flight, 4096));
  llm::MeterOptions meter_options;
  if (o.prompt_price || o.completion_price)
    meter_options.default_price =
        llm::Price{o.prompt_price.value_or(0), o.completion_price.value_or(0)};
  auto meter = std::make_shared<llm::UsageMeter>(backend, meter_options);

  const bool tty = popalign::cli::stderr_is_terminal();
  const double every = o.progress_every >= 0 ? o.progress_every : (tty ? 2.0 : 0.0);
  std::atomic<double> fraction{0.0};
  options.execution.progress = [&fraction](std::string_view, double f) {
    fraction = f;
    return false;
  };
  ProgressPrinter printer(every, fraction, *meter, stack.fleet.get());

  // SIGINT / SIGTERM: stop cleanly (finished personas are written; rerun to resume).
  adm::AdministerFileReport report;
  try {
    const popalign::cli::CancelOnSignal on_signal(cancel);
    report = adm::administer_file(*meter, instrument, options, fo);
  } catch (...) {
    printer.stop();
    std::cerr << "popalign administer: usage so far: " << meter->report().summary() << "\n";
    if (stack.fleet)
      std::cerr << "popalign administer: by endpoint:\n"
                << llm::fleet_summary(stack.fleet->stats(), o.prompt_price.value_or(0),
                                      o.completion_price.value_or(0));
    throw;
  }
  printer.stop();
  std::cerr << fmt::format(
      "popalign administer: {} personas ({} skipped lines), {} already done, {} written to {}; "
      "{} calls ({} from cache), {} missing answers\n",
      report.personas, report.malformed, report.already_done, report.written, o.out, report.calls,
      report.cached_calls, report.missing_answers);
  std::cerr << "popalign administer: usage: " << meter->report().summary() << "\n";
  if (batch_api) {
    const llm::BatchApiStats b = batch_api->stats();
    std::cerr << fmt::format(
        "popalign administer: Batch API: {} batches created ({} resumed from the state file, {} "
        "failed or expired), {} requests answered by batches, {} error lines, {} retried "
        "online, {} in a new batch\n",
        b.batches_created, b.batches_resumed, b.batches_failed, b.answered, b.errors,
        b.retried_online, b.retried_in_batch);
  }
  if (stack.fleet)
    std::cerr << "popalign administer: by endpoint (" << stack.retry->retries()
              << " requests retried after a backoff, " << stack.fleet->reroutes()
              << " re-sent to another endpoint):\n"
              << llm::fleet_summary(stack.fleet->stats(), o.prompt_price.value_or(0),
                                    o.completion_price.value_or(0));
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
                     "OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1; repeat it for a "
                     "fleet (each server takes up to --concurrency requests)")
          ->take_all()
          ->allow_extra_args(false);
      sub.add_option("--endpoints", o->endpoints,
                     "Endpoints file of a fleet (JSON or CSV: url, model, api_key_env, "
                     "max_in_flight, weight), see docs/llm.md");
      sub.add_option("--progress-every", o->progress_every,
                     "Seconds between progress lines (rate and ETA, per endpoint for a fleet); "
                     "0 = off (default: 2 on a terminal, off otherwise)");
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
      sub.add_option("--cache-commit-rows", o->cache_commit_rows,
                     "Answers per cache transaction (default 1: each stored on arrival, so a "
                     "killed run repeats no finished call; more: fewer commits, a kill -9 loses "
                     "up to that many or 1 s of answers)")
          ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
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
      sub.add_flag("--batch-api", o->batch_api,
                   "Send the calls through the provider's Batch API (files + batches; half "
                   "price, answers within 24 h); resumable from --batch-state");
      sub.add_option("--batch-state", o->batch_state,
                     "Batch API state file (batch ids of this run; default OUT.batches.json)");
      sub.add_option("--batch-max-requests", o->batch_max_requests,
                     "Requests per batch at most (the provider's limit)")
          ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
      sub.add_option("--batch-max-bytes", o->batch_max_bytes,
                     "Input file bytes per batch at most (the provider's limit)");
      sub.add_option("--batch-poll-seconds", o->batch_poll,
                     "First wait between polls of a batch (then x1.5, at most 60 s)")
          ->check(CLI::NonNegativeNumber);
      sub.add_option("--batch-retry", o->batch_retry,
                     "Requests a batch did not answer (failed, expired, error lines): batch (a "
                     "new batch) or online")
          ->check(CLI::IsMember({"batch", "online"}));
      return popalign::cli::Action([o] { return run(*o); });
    }};

}  // namespace
