// Administering instruments to personas through an LlmBackend; the resumable file driver.
#include <popalign/administer/administer.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <popalign/core/error.hpp>
#include <popalign/core/random.hpp>
#include <popalign/io/jsonl.hpp>
#include <popalign/io/persona_record.hpp>

namespace popalign::administer {

using psychometrics::Instrument;
using psychometrics::Item;
using psychometrics::Scale;

std::string_view to_string(AdministerMode mode) noexcept {
  switch (mode) {
    case AdministerMode::generate:
      return "generate";
    case AdministerMode::logprobs:
      return "logprobs";
    case AdministerMode::batch:
      return "batch";
  }
  return "unknown";
}

AdministerMode administer_mode_from_string(std::string_view name) {
  if (name == "generate") return AdministerMode::generate;
  if (name == "logprobs") return AdministerMode::logprobs;
  if (name == "batch") return AdministerMode::batch;
  throw InvalidArgument("mode",
                        "must be generate, logprobs or batch (got '" + std::string(name) + "')");
}

void AdministerOptions::validate() const {
  check_argument(max_retries >= 0, "max_retries", "must be >= 0");
  check_argument(max_tokens >= 0, "max_tokens", "must be >= 0 (0 = the mode's default)");
  check_argument(top_logprobs >= 1 && top_logprobs <= 20, "top_logprobs", "must be in 1..20");
  check_argument(logprob_positions >= 1, "logprob_positions", "must be >= 1");
  check_argument(personas_per_round >= 1, "personas_per_round", "must be >= 1");
  check_argument(parallel_chunks >= 1, "parallel_chunks", "must be >= 1");
  if (temperature)
    check_argument(std::isfinite(*temperature) && *temperature >= 0 && *temperature <= 2,
                   "temperature", "must be in [0, 2]");
  execution.validate();
  (void)resolved_template();
}

PromptTemplate AdministerOptions::resolved_template() const {
  PromptTemplate t =
      prompt ? *prompt
             : builtin_template(mode == AdministerMode::batch ? "likert-json-v1" : "likert-v1");
  t.validate();
  if (mode == AdministerMode::batch)
    check_argument(t.format == PromptFormat::batch, "prompt",
                   "mode batch needs a batch template ('" + t.id + "' is single-item)");
  else
    check_argument(t.format == PromptFormat::single, "prompt",
                   "mode " + std::string(to_string(mode)) + " needs a single-item template ('" +
                       t.id + "' is a batch template)");
  return t;
}

int AdministerOptions::resolved_max_tokens(std::size_t items) const {
  if (max_tokens > 0) return max_tokens;
  switch (mode) {
    case AdministerMode::generate:
      return 16;
    case AdministerMode::logprobs:
      return 3;
    case AdministerMode::batch:
      return 32 + 12 * static_cast<int>(items);
  }
  return 16;
}

double AdministerOptions::resolved_temperature() const {
  if (temperature) return *temperature;
  return mode == AdministerMode::generate ? 1.0 : 0.0;
}

std::size_t PersonaResponses::answered() const noexcept {
  return static_cast<std::size_t>(std::count_if(
      items.begin(), items.end(), [](const ItemResponse& r) { return r.value.has_value(); }));
}

bool PersonaResponses::failed() const noexcept {
  return std::any_of(items.begin(), items.end(),
                     [](const ItemResponse& r) { return !r.error.empty(); });
}

bool PersonaResponses::cancelled() const noexcept {
  return std::any_of(items.begin(), items.end(), [](const ItemResponse& r) { return r.cancelled; });
}

namespace {

std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t s = a ^ (b + 0x9E3779B97F4A7C15ULL + (a << 6) + (a >> 2));
  return splitmix64(s);
}

}  // namespace

std::vector<std::size_t> presented_order(const Instrument& instrument, std::string_view persona_id,
                                         const AdministerOptions& options) {
  std::vector<std::size_t> order(instrument.items.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (options.shuffle_items) {
    Rng rng(mix(mix(options.seed, hash_string("item-order")), hash_string(persona_id)));
    rng.shuffle(order);
  }
  return order;
}

std::uint64_t call_seed(std::uint64_t seed, std::string_view persona_id, std::string_view item_key,
                        int attempt) noexcept {
  std::uint64_t h = mix(seed, hash_string(persona_id));
  h = mix(h, hash_string(item_key));
  h = mix(h, static_cast<std::uint64_t>(attempt));
  return h & 0x7FFFFFFFULL;
}

namespace {

/// One call to make: persona p (index in the group), the instrument items it asks (presented
/// order), the attempt number.
struct Task {
  std::size_t persona;
  std::vector<std::size_t> items;
  int attempt;
};

std::string describe_failure(const llm::Failure& f) {
  std::string s(llm::to_string(f.kind));
  if (f.http_status) s += " (HTTP " + std::to_string(f.http_status) + ")";
  if (!f.message.empty()) s += ": " + f.message;
  return s;
}

std::string trim_copy(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

bool is_option_token(const std::string& token, const Scale& scale) {
  const std::string t = trim_copy(token);
  if (t.size() != 1 || t[0] < '0' || t[0] > '9') return false;
  const int d = t[0] - '0';
  return d >= scale.min && d <= scale.max;
}

/// The alternatives at the first of the first `positions` tokens that offers an option.
std::vector<TokenChoice> option_alternatives(const llm::Response& r, const Scale& scale,
                                             int positions) {
  const std::size_t n = std::min(r.logprobs.size(), static_cast<std::size_t>(positions));
  for (std::size_t pos = 0; pos < n; ++pos) {
    const llm::TokenLogprob& tl = r.logprobs[pos];
    std::vector<TokenChoice> alts;
    bool any = false;
    bool sampled_listed = false;
    for (const llm::TopLogprob& t : tl.top) {
      alts.push_back({t.token, t.logprob});
      any = any || is_option_token(t.token, scale);
      sampled_listed = sampled_listed || t.token == tl.token;
    }
    if (!sampled_listed) {
      alts.push_back({tl.token, tl.logprob});
      any = any || is_option_token(tl.token, scale);
    }
    if (any) return alts;
  }
  return {};
}

void add_usage(llm::Usage& to, const llm::Usage& from) {
  to.prompt_tokens += from.prompt_tokens;
  to.completion_tokens += from.completion_tokens;
}

}  // namespace

std::vector<PersonaResponses> administer(llm::LlmBackend& backend, const Instrument& instrument,
                                         std::span<const io::PersonaRecord> personas,
                                         const AdministerOptions& options) {
  options.validate();
  instrument.validate();
  check_argument(!instrument.items.empty(), "instrument", "has no items");
  check_parse_scale(instrument.scale);
  if (options.mode == AdministerMode::logprobs)
    check_argument(instrument.scale.min >= 0 && instrument.scale.max <= 9, "mode",
                   "logprobs mode needs single-digit options (scale within 0..9)");
  const PromptTemplate tmpl = options.resolved_template();
  const Scale& scale = instrument.scale;
  const ParseOptions parse_options{.reversed = options.reverse_scale};
  const double temperature = options.resolved_temperature();

  std::vector<PersonaResponses> out(personas.size());
  for (std::size_t p = 0; p < personas.size(); ++p) {
    check_argument(!personas[p].id.empty(), "personas",
                   "persona " + std::to_string(p) + " has an empty id");
    PersonaResponses& r = out[p];
    r.persona_id = personas[p].id;
    const std::vector<std::size_t> order = presented_order(instrument, r.persona_id, options);
    r.items.resize(instrument.items.size());
    for (std::size_t i = 0; i < instrument.items.size(); ++i)
      r.items[i].item_id = instrument.items[i].id;
    for (std::size_t k = 0; k < order.size(); ++k) {
      r.items[order[k]].position = static_cast<int>(k);
      r.order.push_back(instrument.items[order[k]].id);
    }
  }

  llm::BatchOptions batch_options;
  batch_options.chunk_size = options.chunk_size;
  batch_options.parallel_chunks = options.parallel_chunks;
  batch_options.execution.cancel = options.execution.cancel;
  batch_options.execution.threads = options.execution.threads;

  for (std::size_t g0 = 0; g0 < personas.size(); g0 += options.personas_per_round) {
    const std::size_t g1 = std::min(personas.size(), g0 + options.personas_per_round);
    std::vector<Task> pending;
    for (std::size_t p = g0; p < g1; ++p) {
      const std::vector<std::size_t> order =
          presented_order(instrument, out[p].persona_id, options);
      if (options.mode == AdministerMode::batch) {
        pending.push_back({p, order, 0});
      } else {
        for (std::size_t idx : order) pending.push_back({p, {idx}, 0});
      }
    }
    while (!pending.empty()) {
      std::vector<llm::Request> requests;
      requests.reserve(pending.size());
      for (const Task& t : pending) {
        const io::PersonaRecord& persona = personas[t.persona];
        llm::Request req;
        RenderedPrompt prompt;
        std::string item_key;
        if (options.mode == AdministerMode::batch) {
          std::vector<const Item*> items;
          for (std::size_t idx : t.items) {
            items.push_back(&instrument.items[idx]);
            if (!item_key.empty()) item_key += ",";
            item_key += instrument.items[idx].id;
          }
          prompt = render_batch_prompt(tmpl, persona.text, items, scale, options.reverse_scale);
          req.json_schema = batch_answer_schema(items, scale);
        } else {
          const Item& item = instrument.items[t.items.front()];
          item_key = item.id;
          prompt = render_item_prompt(tmpl, persona.text, item, scale, options.reverse_scale);
          if (options.mode == AdministerMode::logprobs) {
            req.logprobs = true;
            req.top_logprobs = options.top_logprobs;
          }
        }
        if (!prompt.system.empty()) req.messages.push_back({"system", std::move(prompt.system)});
        req.messages.push_back({"user", std::move(prompt.user)});
        req.model = options.model;
        req.temperature = temperature;
        req.max_tokens = options.resolved_max_tokens(t.items.size());
        req.seed = call_seed(options.seed, persona.id, item_key, t.attempt);
        requests.push_back(std::move(req));
      }

      std::vector<llm::Outcome> outcomes = llm::complete_batch(backend, requests, batch_options);
      if (outcomes.size() != requests.size())
        throw BackendError("backend '" + backend.name() + "' returned " +
                           std::to_string(outcomes.size()) + " outcomes for " +
                           std::to_string(requests.size()) + " requests");

      std::vector<Task> next;
      for (std::size_t k = 0; k < pending.size(); ++k) {
        const Task& t = pending[k];
        PersonaResponses& r = out[t.persona];
        ++r.calls;
        const bool may_retry = t.attempt < options.max_retries;
        for (std::size_t idx : t.items) ++r.items[idx].attempts;
        if (!outcomes[k].ok()) {
          const llm::Failure& f = outcomes[k].error();
          for (std::size_t idx : t.items) {
            r.items[idx].error = describe_failure(f);
            r.items[idx].cancelled = f.kind == llm::ErrorKind::cancelled;
          }
          continue;
        }
        const llm::Response& resp = outcomes[k].value();
        if (resp.from_cache)
          ++r.cached_calls;
        else
          add_usage(r.usage, resp.usage);

        if (options.mode == AdministerMode::generate) {
          ItemResponse& ir = r.items[t.items.front()];
          ir.raw = resp.text;
          const ParsedAnswer a = parse_likert_answer(resp.text, scale, parse_options);
          ir.status = a.status;
          if (a.ok()) {
            ir.value = static_cast<double>(*a.value);
          } else if (may_retry) {
            next.push_back({t.persona, t.items, t.attempt + 1});
          }
        } else if (options.mode == AdministerMode::logprobs) {
          ItemResponse& ir = r.items[t.items.front()];
          ir.raw = resp.text;
          const std::vector<TokenChoice> alts =
              option_alternatives(resp, scale, options.logprob_positions);
          const ExpectedScore es = expected_score(alts, scale, parse_options);
          ir.option_mass = es.option_mass;
          ir.probabilities = es.probabilities;
          if (es.value) {
            ir.value = *es.value;
            ir.status = ParseStatus::ok;
          } else {
            ir.status = ParseStatus::no_answer;
            ir.probabilities.clear();
            if (may_retry) next.push_back({t.persona, t.items, t.attempt + 1});
          }
        } else {
          r.raw_calls.push_back(resp.text);
          std::vector<std::string> ids;
          for (std::size_t idx : t.items) ids.push_back(instrument.items[idx].id);
          const auto parsed = parse_json_answers(resp.text, ids, scale, parse_options);
          std::vector<std::size_t> missing;
          for (std::size_t idx : t.items) {
            ItemResponse& ir = r.items[idx];
            const ParsedAnswer& a = parsed.at(ir.item_id);
            ir.status = a.status;
            if (a.ok())
              ir.value = static_cast<double>(*a.value);
            else
              missing.push_back(idx);
          }
          if (!missing.empty() && may_retry)
            next.push_back({t.persona, std::move(missing), t.attempt + 1});
        }
      }
      pending = std::move(next);
    }
    if (options.execution.report("administer",
                                 static_cast<double>(g1) / static_cast<double>(personas.size()))) {
      // Stop: the personas not started are reported as cancelled.
      for (std::size_t p = g1; p < personas.size(); ++p)
        for (ItemResponse& ir : out[p].items) {
          ir.error = "cancelled";
          ir.cancelled = true;
        }
      break;
    }
  }
  return out;
}

PersonaResponses administer_one(llm::LlmBackend& backend, const Instrument& instrument,
                                const io::PersonaRecord& persona,
                                const AdministerOptions& options) {
  return administer(backend, instrument, std::span<const io::PersonaRecord>(&persona, 1), options)
      .front();
}

// ---- Files --------------------------------------------------------------------------------

void AdministerFileOptions::validate() const {
  check_argument(!personas.empty(), "personas", "a personas file is required");
  check_argument(!out.empty(), "out", "an output file is required");
  check_argument(!id_field.empty(), "id_field", "must not be empty");
  check_argument(!text_field.empty(), "text_field", "must not be empty");
  check_argument(id_field != text_field, "text_field", "must differ from id_field");
  std::error_code ec;
  check_argument(!std::filesystem::equivalent(personas, out, ec), "out",
                 "must not be the personas file");
  read_options().validate();
}

io::PersonaReadOptions AdministerFileOptions::read_options() const {
  io::PersonaReadOptions ro;
  ro.id_field = id_field;
  ro.text_field = text_field;
  // A "facts" member is the text when the text field is missing, unless the id or the text
  // itself is the member named "facts" (--text-field facts): then there is no separate one.
  if (id_field == ro.facts_field || text_field == ro.facts_field) ro.facts_field.clear();
  ro.on_bad_line = on_bad_line;
  ro.unique_ids = true;
  ro.keep_fields = keep_fields;
  ro.log = log;
  return ro;
}

namespace {

io::JsonValue seed_json(std::uint64_t seed) {
  if (seed <= (std::uint64_t{1} << 53)) return io::JsonValue(static_cast<double>(seed));
  return io::JsonValue(std::to_string(seed));
}

/// The run settings every output line carries, in output order.
std::vector<std::pair<std::string, io::JsonValue>> settings_of(const Instrument& instrument,
                                                               const AdministerOptions& options,
                                                               std::string_view model) {
  return {{"instrument", io::JsonValue(instrument.id)},
          {"template", io::JsonValue(options.resolved_template().id)},
          {"mode", io::JsonValue(to_string(options.mode))},
          {"model", io::JsonValue(model)},
          {"seed", seed_json(options.seed)},
          {"reverse_scale", io::JsonValue(options.reverse_scale)}};
}

std::size_t check_existing(const Instrument& instrument, const io::PersonaFile& pf,
                           const AdministerOptions& options, const AdministerFileOptions& fo,
                           std::string_view model) {
  std::error_code ec;
  if (!std::filesystem::exists(fo.out, ec)) return 0;
  const std::string file = fo.out.string();
  io::JsonlReadOptions ro;
  ro.on_malformed = io::OnMalformed::fail;
  ro.require_object = true;
  io::JsonlReadResult rr;
  try {
    rr = io::read_jsonl(fo.out, ro);
  } catch (const ParseError& e) {
    throw InvalidArgument("out", std::string("cannot resume from the existing output: ") +
                                     e.what() + " (use another --out or remove the file)");
  }
  const auto settings = settings_of(instrument, options, model);
  if (rr.records.size() > pf.personas.size())
    throw InvalidArgument(
        "out", file + " has " + std::to_string(rr.records.size()) + " lines but there are only " +
                   std::to_string(pf.personas.size()) + " personas: it belongs to another run");
  for (std::size_t k = 0; k < rr.records.size(); ++k) {
    const io::JsonlRecord& rec = rr.records[k];
    const io::JsonValue* idv = rec.value.find("id");
    const std::string where = file + ":" + std::to_string(rec.line);
    if (!idv || !idv->is_string() || idv->as_string() != pf.personas[k].id)
      throw InvalidArgument(
          "out", where + ": expected persona '" + pf.personas[k].id + "' (personas line " +
                     std::to_string(pf.personas[k].line) + ") but found " +
                     (idv ? idv->dump() : std::string("no id")) +
                     ": the output belongs to another personas file (use another --out)");
    for (const auto& [key, value] : settings) {
      const io::JsonValue* v = rec.value.find(key);
      if (!v || !(*v == value))
        throw InvalidArgument("out", where + ": written with " + key + " = " +
                                         (v ? v->dump() : std::string("(none)")) +
                                         " but this run has " + key + " = " + value.dump() +
                                         " (use another --out, or the same settings)");
    }
    if (!rec.value.find("answers"))
      throw InvalidArgument("out", where + ": no \"answers\": not an administer output line");
  }
  return rr.records.size();
}

}  // namespace

std::size_t completed_personas(const Instrument& instrument, const io::PersonaFile& personas,
                               const AdministerOptions& options,
                               const AdministerFileOptions& file_options, std::string_view model) {
  return check_existing(instrument, personas, options, file_options, model);
}

std::string response_line(const PersonaResponses& responses, const Instrument& instrument,
                          const AdministerOptions& options, std::string_view model,
                          const io::JsonValue& fields) {
  io::JsonValue line = io::JsonValue::object();
  line.set("id", io::JsonValue(responses.persona_id));
  for (auto& [key, value] : settings_of(instrument, options, model)) line.set(key, value);
  io::JsonValue order = io::JsonValue::array();
  for (const std::string& id : responses.order) order.push_back(io::JsonValue(id));
  line.set("order", std::move(order));

  io::JsonValue answers = io::JsonValue::object();
  io::JsonValue raw = io::JsonValue::object();
  io::JsonValue missing = io::JsonValue::object();
  io::JsonValue attempts = io::JsonValue::object();
  io::JsonValue mass = io::JsonValue::object();
  io::JsonValue probs = io::JsonValue::object();
  for (const ItemResponse& ir : responses.items) {
    answers.set(ir.item_id, ir.value ? io::JsonValue(*ir.value) : io::JsonValue());
    if (options.mode != AdministerMode::batch) raw.set(ir.item_id, io::JsonValue(ir.raw));
    if (!ir.value)
      missing.set(ir.item_id, io::JsonValue(ir.error.empty() ? std::string(to_string(ir.status))
                                                             : "error: " + ir.error));
    if (ir.attempts > 1) attempts.set(ir.item_id, io::JsonValue(ir.attempts));
    if (options.mode == AdministerMode::logprobs) {
      mass.set(ir.item_id, io::JsonValue(ir.option_mass));
      io::JsonValue p = io::JsonValue::array();
      for (double x : ir.probabilities) p.push_back(io::JsonValue(x));
      probs.set(ir.item_id, std::move(p));
    }
  }
  line.set("answers", std::move(answers));
  if (options.mode == AdministerMode::batch) {
    io::JsonValue calls = io::JsonValue::array();
    for (const std::string& t : responses.raw_calls) calls.push_back(io::JsonValue(t));
    line.set("raw_calls", std::move(calls));
  } else {
    line.set("raw", std::move(raw));
  }
  if (missing.size()) line.set("missing", std::move(missing));
  if (attempts.size()) line.set("attempts", std::move(attempts));
  if (options.mode == AdministerMode::logprobs) {
    line.set("option_mass", std::move(mass));
    line.set("probabilities", std::move(probs));
  }
  if (fields.is_object() && fields.size()) line.set("persona_fields", fields);
  return line.dump();
}

AdministerFileReport administer_file(llm::LlmBackend& backend, const Instrument& instrument,
                                     const AdministerOptions& options,
                                     const AdministerFileOptions& file_options) {
  options.validate();
  file_options.validate();
  instrument.validate();
  const std::string model = options.model.empty() ? backend.default_model() : options.model;
  const io::PersonaFile pf = io::read_personas(file_options.personas, file_options.read_options());

  AdministerFileReport report;
  report.personas = pf.personas.size();
  report.malformed = pf.malformed;

  const std::string out_file = file_options.out.string();
  std::error_code ec;
  if (std::filesystem::exists(file_options.out, ec)) {
    const std::size_t removed = io::repair_jsonl_tail(file_options.out);
    if (removed && file_options.log)
      file_options.log(out_file + ": removed an incomplete last line (" + std::to_string(removed) +
                       " bytes) left by an interrupted run");
  }
  const std::size_t done = check_existing(instrument, pf, options, file_options, model);
  report.already_done = done;
  if (done && file_options.log)
    file_options.log(out_file + ": resuming after " + std::to_string(done) + " of " +
                     std::to_string(pf.personas.size()) + " personas");

  io::JsonlWriteOptions wo;
  wo.append = true;
  wo.fsync = file_options.fsync;
  io::JsonlWriter writer(file_options.out, wo);

  AdministerOptions inner = options;
  inner.execution.progress = nullptr;  // progress is reported here, per round of personas
  const std::size_t total = pf.personas.size();
  for (std::size_t g0 = done; g0 < total; g0 += options.personas_per_round) {
    if (options.execution.cancel.cancelled())
      throw Cancelled("administer: " + std::to_string(g0) + " of " + std::to_string(total) +
                      " personas written to " + out_file + "; rerun to resume");
    const std::size_t g1 = std::min(total, g0 + options.personas_per_round);
    std::span<const io::PersonaRecord> group(pf.personas.data() + g0, g1 - g0);
    const std::vector<PersonaResponses> results = administer(backend, instrument, group, inner);
    for (std::size_t k = 0; k < results.size(); ++k) {
      const PersonaResponses& r = results[k];
      report.calls += r.calls;
      report.cached_calls += r.cached_calls;
      add_usage(report.usage, r.usage);
      if (r.cancelled())
        throw Cancelled("administer: " + std::to_string(g0 + k) + " of " + std::to_string(total) +
                        " personas written to " + out_file + "; rerun to resume");
      if (r.failed() && file_options.on_failure == OnCallFailure::stop) {
        std::string first;
        for (const ItemResponse& ir : r.items)
          if (!ir.error.empty()) {
            first = "item " + ir.item_id + ": " + ir.error;
            break;
          }
        throw BackendError("administer: a call for persona '" + r.persona_id + "' failed (" +
                           first + "); " + std::to_string(g0 + k) + " of " + std::to_string(total) +
                           " personas written to " + out_file + "; rerun to resume");
      }
      writer.write_raw(response_line(r, instrument, options, model, pf.personas[g0 + k].fields));
      ++report.written;
      report.missing_answers += r.items.size() - r.answered();
    }
    if (options.execution.report("administer",
                                 static_cast<double>(g1) / static_cast<double>(total)))
      throw Cancelled("administer: " + std::to_string(g1) + " of " + std::to_string(total) +
                      " personas written to " + out_file + "; rerun to resume");
  }
  writer.close();
  return report;
}

// ---- Dry run ------------------------------------------------------------------------------

std::int64_t estimate_tokens(std::string_view text) noexcept {
  return static_cast<std::int64_t>((text.size() + 3) / 4);
}

AdministerEstimate estimate_administration(const Instrument& instrument,
                                           std::span<const io::PersonaRecord> personas,
                                           const AdministerOptions& options,
                                           std::optional<double> prompt_price_per_million,
                                           std::optional<double> completion_price_per_million) {
  options.validate();
  instrument.validate();
  check_parse_scale(instrument.scale);
  if (prompt_price_per_million)
    check_argument(*prompt_price_per_million >= 0, "prompt_price", "must be >= 0");
  if (completion_price_per_million)
    check_argument(*completion_price_per_million >= 0, "completion_price", "must be >= 0");
  const PromptTemplate tmpl = options.resolved_template();
  AdministerEstimate est;
  est.personas = personas.size();
  bool first = true;
  auto account = [&](RenderedPrompt&& prompt, std::size_t items) {
    ++est.calls;
    const int messages = prompt.system.empty() ? 1 : 2;
    est.prompt_tokens +=
        estimate_tokens(prompt.system) + estimate_tokens(prompt.user) + 4 * messages;
    est.max_completion_tokens += options.resolved_max_tokens(items);
    if (first) {
      est.example = std::move(prompt);
      first = false;
    }
  };
  for (const io::PersonaRecord& persona : personas) {
    const std::vector<std::size_t> order = presented_order(instrument, persona.id, options);
    if (options.mode == AdministerMode::batch) {
      std::vector<const Item*> items;
      for (std::size_t idx : order) items.push_back(&instrument.items[idx]);
      account(
          render_batch_prompt(tmpl, persona.text, items, instrument.scale, options.reverse_scale),
          items.size());
    } else {
      for (std::size_t idx : order)
        account(render_item_prompt(tmpl, persona.text, instrument.items[idx], instrument.scale,
                                   options.reverse_scale),
                1);
    }
  }
  if (prompt_price_per_million || completion_price_per_million) {
    est.cost = static_cast<double>(est.prompt_tokens) * prompt_price_per_million.value_or(0) / 1e6 +
               static_cast<double>(est.max_completion_tokens) *
                   completion_price_per_million.value_or(0) / 1e6;
  }
  return est;
}

}  // namespace popalign::administer
