// The stages of a pipeline run (see include/popalign/pipeline/pipeline.hpp for the layout and
// include/popalign/pipeline/manifest.hpp for skip / resume).
#include "pipeline/stages.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include <popalign/administer/administer.hpp>
#include <popalign/administer/prompts.hpp>
#include <popalign/align/align.hpp>
#include <popalign/core/error.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/data_dir.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>
#include <popalign/persona/funnel.hpp>
#include <popalign/persona/groups.hpp>
#include <popalign/persona/mining.hpp>
#include <popalign/persona/prompts.hpp>
#include <popalign/psychometrics/reference.hpp>
#include <popalign/psychometrics/regions.hpp>
#include <popalign/psychometrics/scoring.hpp>
#include <popalign/report/run_report.hpp>

#include "pipeline/routing_backend.hpp"

namespace popalign::pipeline::detail {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

bool file_exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

/// Rows without a NaN.
std::vector<Index> finite_rows(const RowMatrix<double>& x) {
  std::vector<Index> rows;
  for (Index i = 0; i < x.rows(); ++i)
    if (x.row(i).allFinite()) rows.push_back(i);
  return rows;
}

RowMatrix<double> take_rows(const RowMatrix<double>& x, const std::vector<Index>& rows) {
  RowMatrix<double> out(static_cast<Index>(rows.size()), x.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = x.row(rows[i]);
  return out;
}

/// A trait CSV written by the score / reference stages: id, [country], traits.
struct TraitFile {
  std::vector<std::string> ids;
  std::vector<std::string> country;
  std::vector<std::string> traits;
  RowMatrix<double> values;
};

TraitFile read_trait_file(const fs::path& path, const std::vector<std::string>& traits) {
  const io::Table t = io::read_table(path);
  io::NumericTableOptions o;
  o.id_column = "id";
  o.allow_missing = true;
  const io::NumericTable n = io::to_numeric_table(t, traits, o);
  TraitFile f;
  f.ids = n.ids;
  f.traits = traits;
  f.values = n.values;
  if (const auto c = t.find_column("country"))
    for (const auto& row : t.rows) f.country.push_back(row[*c]);
  return f;
}

std::vector<std::string> trait_codes(const psychometrics::Instrument& ins) {
  std::vector<std::string> out;
  for (const auto& d : ins.traits) out.push_back(d.code);
  return out;
}

std::string placeholder_text(int words) {
  std::string s = "This person";
  for (int i = 2; i < words; ++i) s += " word";
  return s + ".";
}

// Fields of the run's own JSON summaries (mine/funnel.json, groups/*/report.json), read back for
// the report. A file edited by hand may hold anything: a missing or ill-typed field reads as
// empty / 0 instead of throwing nlohmann's exceptions.
std::size_t count_field(const ojson& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return 0;
  return io::json_integer<std::size_t>(*it).value_or(0);
}
std::string text_field(const ojson& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
}  // namespace

// ---- setup ----------------------------------------------------------------------------------

Runner::Runner(const PipelineConfig& config, const RunOptions& options)
    : config_(config), options_(options), manifest_(Manifest::load(config.run_dir)) {
  config_.validate();
}

void Runner::log(const std::string& m) const {
  if (options_.log) options_.log(m);
}

fs::path Runner::personas_file() const {
  return config_.posts.empty() ? config_.personas : at("mine/personas.jsonl");
}

fs::path Runner::reference_table_path() const {
  return config_.reference.path == "big5" ? io::data_dir() / "big5" / "data.csv"
                                          : fs::path(config_.reference.path);
}

const psychometrics::Instrument& Runner::instrument() {
  if (!instrument_) instrument_ = psychometrics::resolve_instrument(config_.administer.instrument);
  return *instrument_;
}

std::string Runner::instrument_hash() {
  const auto& ins = instrument();
  std::string s =
      ins.id + "\n" + std::to_string(ins.scale.min) + ".." + std::to_string(ins.scale.max) + "\n";
  for (const auto& it : ins.items)
    s += it.id + "\t" + it.trait + "\t" + std::to_string(it.key) + "\t" + it.text + "\n";
  return llm::sha256_hex(s);
}

const persona::PostCorpus& Runner::corpus() {
  if (!corpus_) {
    persona::PostReadOptions ro;
    ro.format = persona::post_format_from_string(config_.mining.format);
    ro.max_authors = config_.mining.max_authors;
    std::size_t logged = 0;
    ro.log = [&](const std::string& m) {
      if (++logged <= 20) log("read: " + m);
    };
    corpus_ = persona::read_posts(config_.posts, ro);
  }
  return *corpus_;
}

std::shared_ptr<llm::LlmBackend> Runner::backend(const std::string& role) {
  auto it = meters_.find(role);
  if (it != meters_.end()) return it->second;
  const Endpoint& e = role == "generator" ? config_.generator
                      : role == "judge"   ? config_.judge
                                          : config_.respondent;
  // An injected backend (RunOptions) replaces the HTTP client and its retries; the cache and the
  // meter stay in front of it.
  std::shared_ptr<llm::LlmBackend> b = role == "generator" ? options_.generator
                                       : role == "judge"   ? options_.judge
                                                           : options_.respondent;
  if (!b) {
    llm::OpenAiOptions http;
    http.base_url = e.base_url;
    http.model = e.model;
    http.api_key_env = e.api_key_env;
    http.max_in_flight = e.concurrency;
    http.total_timeout =
        std::chrono::milliseconds(static_cast<long long>(e.timeout_seconds * 1000));
    http.cancel = options_.cancel;
    b = std::make_shared<llm::OpenAiBackend>(http);
    llm::RetryOptions retry;
    retry.max_attempts = e.http_attempts;
    retry.seed = config_.seed;
    retry.cancel = options_.cancel;
    b = std::make_shared<llm::RetryBackend>(b, retry);
  }
  llm::CacheOptions cache;
  cache.path = at("llm-cache.sqlite").string();
  b = std::make_shared<llm::CachedBackend>(b, cache);
  llm::MeterOptions mo;
  mo.default_price = llm::Price{e.prompt_price, e.completion_price};
  auto meter = std::make_shared<llm::UsageMeter>(b, mo);
  meters_[role] = meter;
  return meter;
}

llm::ModelUsage Runner::usage() const {
  llm::ModelUsage u;
  for (const auto& [role, m] : meters_) {
    const llm::ModelUsage t = m->report().total;
    u.requests += t.requests;
    u.failures += t.failures;
    u.cache_hits += t.cache_hits;
    u.prompt_tokens += t.prompt_tokens;
    u.completion_tokens += t.completion_tokens;
    u.cost += t.cost;
  }
  return u;
}

// ---- progress ---------------------------------------------------------------------------------

void Runner::enter(const std::string& stage) {
  current_ = stage;
  position_ = 0;
  tick(stage, 0, 0);
}

double Runner::position_in_stage(const std::string& stage, double frac) {
  const double w = weight_.count(current_) ? weight_.at(current_) : 1.0;
  double pos = position_;
  if (stage == current_) {
    pos = frac * w;
  } else if (stage.rfind(current_ + ".", 0) == 0) {
    // A step of the stage ("mine.quality"): the planned steps before it, then its fraction. A
    // step without a plan entry ("group x.retrieve") keeps the position reached so far.
    double before = 0;
    for (const auto& s : plan_.stages) {
      if (s.name.rfind(current_ + ".", 0) != 0) continue;
      const double sw = static_cast<double>(s.calls) + 1.0;
      if (s.name == stage) {
        pos = before + frac * sw;
        break;
      }
      before += sw;
    }
  }
  position_ = std::clamp(std::max(pos, position_), 0.0, w);  // never backwards
  return position_;
}

bool Runner::tick(const std::string& stage, std::size_t done, std::size_t total) {
  if (options_.cancel.cancelled()) return true;
  if (!options_.progress) return false;
  Progress p;
  p.stage = stage;
  p.done = done;
  p.total = total;
  const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
  p.overall = std::clamp((weight_done_ + position_in_stage(stage, frac)) / weight_total_, 0.0, 1.0);
  p.cost_so_far = usage().cost;
  double rest = 0;
  bool after = false;
  for (const auto& s : plan_.stages) {
    const bool mine = s.name.rfind(current_, 0) == 0;
    if (mine) after = true;
    if (after && !s.done) rest += mine ? (1 - frac) * s.cost : s.cost;
  }
  p.cost_rest = rest;
  return options_.progress(p);
}

// ---- manifest bookkeeping
// ------------------------------------------------------------------------

bool Runner::is_done(const StageSpec& spec) const {
  if (!spec.inputs_ready) return false;
  const StageEntry* e = manifest_.find(spec.name);
  if (!e || e->status != "done" || e->key != stage_key(spec.name, spec.options, spec.inputs))
    return false;
  for (const auto& [path, hash] : e->outputs) {
    const fs::path p = config_.run_dir / path;
    if (!file_exists(p) || hash_path(p) != hash) return false;
  }
  return true;
}

StageRun Runner::begin(const StageSpec& spec, const std::vector<std::string>& folders) {
  StageRun r;
  r.entry.name = spec.name;
  r.entry.options = spec.options;
  r.entry.inputs = spec.inputs;
  r.entry.key = stage_key(spec.name, spec.options, spec.inputs);
  if (is_done(spec)) {
    r.skip = true;
    r.entry = *manifest_.find(spec.name);
    skipped(r);
    return r;
  }
  const StageEntry* prev = manifest_.find(spec.name);
  if (prev && prev->key == r.entry.key && prev->status == "running") {
    r.resumed = true;
    log(fmt::format("{}: resuming an interrupted run", spec.name));
  } else {
    // New inputs or options: what an earlier run left there no longer belongs to this stage.
    for (const auto& f : folders) {
      std::error_code ec;
      fs::remove_all(at(f), ec);
    }
  }
  for (const auto& f : folders) fs::create_directories(at(f));
  r.entry.status = "running";
  manifest_.put(r.entry);
  manifest_.save();
  r.start = std::chrono::steady_clock::now();
  r.usage_before = usage();
  enter(spec.name);
  return r;
}

void Runner::skipped(const StageRun& r) {
  StageOutcome o;
  o.name = r.entry.name;
  o.action = "skipped";
  result_.stages.push_back(o);
  auto it = r.entry.counts.find("__summary");
  (void)it;
  weight_done_ += weight_.count(r.entry.name) ? weight_.at(r.entry.name) : 1.0;
  log(fmt::format("{}: unchanged inputs and options: skipped", r.entry.name));
}

void Runner::finish(StageRun& r, const std::vector<std::string>& outputs, std::string summary) {
  r.entry.outputs.clear();
  for (const auto& o : outputs) r.entry.outputs[o] = hash_path(at(o));
  r.entry.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
  const llm::ModelUsage u = usage();
  r.entry.calls = u.requests - r.usage_before.requests;
  r.entry.cached_calls = u.cache_hits - r.usage_before.cache_hits;
  r.entry.failed_calls = u.failures - r.usage_before.failures;
  r.entry.prompt_tokens = u.prompt_tokens - r.usage_before.prompt_tokens;
  r.entry.completion_tokens = u.completion_tokens - r.usage_before.completion_tokens;
  r.entry.cost = u.cost - r.usage_before.cost;
  r.entry.status = "done";
  manifest_.put(r.entry);
  manifest_.save();
  StageOutcome o;
  o.name = r.entry.name;
  o.action = r.resumed ? "resumed" : "ran";
  o.seconds = r.entry.seconds;
  o.calls = r.entry.calls;
  o.cached_calls = r.entry.cached_calls;
  o.cost = r.entry.cost;
  o.summary = std::move(summary);
  result_.stages.push_back(o);
  tick(r.entry.name, 1, 1);
  weight_done_ += weight_.count(r.entry.name) ? weight_.at(r.entry.name) : 1.0;
  current_.clear();
  position_ = 0;
}

// ---- stage specs ------------------------------------------------------------------------------

StageSpec Runner::spec_mine() {
  const MiningSettings& m = config_.mining;
  StageSpec s;
  s.name = "mine";
  s.options = ojson{{"format", m.format},
                    {"max_authors", m.max_authors},
                    {"min_tokens", m.min_tokens},
                    {"min_posts", m.min_posts},
                    {"context_tokens", m.context_tokens},
                    {"max_words", m.max_words},
                    {"min_overall", m.min_overall},
                    {"min_other", m.min_other},
                    {"max_attempts", m.max_attempts},
                    {"redact", m.redact},
                    {"dedup", m.dedup},
                    {"dedup_cosine", m.dedup_cosine},
                    {"generator", config_.generator.model},
                    {"judge", config_.judge.model},
                    {"seed", config_.seed}}
                  .dump();
  s.inputs["posts"] = hash_path(config_.posts);
  return s;
}

StageSpec Runner::spec_administer() {
  const AdministerSettings& a = config_.administer;
  StageSpec s;
  s.name = "administer";
  s.options = ojson{{"instrument", instrument().id},
                    {"mode", a.mode},
                    {"template", a.prompt_template},
                    {"max_retries", a.max_retries},
                    {"personas_per_round", a.personas_per_round},
                    {"respondent", config_.respondent.model},
                    {"seed", config_.seed}}
                  .dump();
  s.inputs["instrument"] = instrument_hash();
  if (file_exists(personas_file()))
    s.inputs["personas"] = hash_path(personas_file());
  else
    s.inputs_ready = false;
  return s;
}

StageSpec Runner::spec_score() {
  StageSpec s;
  s.name = "score";
  s.options = ojson{{"min_answered", 0.5}}.dump();
  s.inputs["instrument"] = instrument_hash();
  if (file_exists(at("administer/answers.jsonl")) && is_done(spec_administer()))
    s.inputs["answers"] = hash_path(at("administer/answers.jsonl"));
  else
    s.inputs_ready = false;
  return s;
}

StageSpec Runner::spec_reference() {
  const ReferenceSettings& r = config_.reference;
  StageSpec s;
  s.name = "reference";
  ojson o{{"path", r.path == "big5" ? "big5" : "file"},
          {"country_column", r.country_column},
          {"clean", r.clean}};
  o["missing_code"] = r.missing_code ? ojson(*r.missing_code) : ojson(nullptr);
  s.options = o.dump();
  s.inputs["instrument"] = instrument_hash();
  s.inputs["reference"] =
      hash_path(r.path == "big5" ? io::data_dir() / "big5" / "data.csv" : fs::path(r.path));
  return s;
}

StageSpec Runner::spec_align() {
  const AlignSettings& a = config_.align;
  StageSpec s;
  s.name = "align";
  s.options = ojson{{"n", a.n},
                    {"method", a.method},
                    {"reg", a.reg},
                    {"candidate_factor", a.candidate_factor},
                    {"seed", config_.seed}}
                  .dump();
  for (const auto& [role, file] : {std::pair<std::string, std::string>{"pool", "score/traits.csv"},
                                   {"reference", "reference/traits.csv"}}) {
    if (file_exists(at(file)))
      s.inputs[role] = hash_path(at(file));
    else
      s.inputs_ready = false;
  }
  if (file_exists(personas_file()))
    s.inputs["personas"] = hash_path(personas_file());
  else
    s.inputs_ready = false;
  return s;
}

StageSpec Runner::spec_group(const GroupSettings& g) {
  const AdministerSettings& a = config_.administer;
  StageSpec s;
  s.name = "group " + g.name;
  s.options = ojson{{"query", g.query},
                    {"reference", g.reference},
                    {"n", g.n},
                    {"depth", g.depth},
                    {"reviser", config_.generator.model},
                    {"judge", config_.judge.model},
                    {"respondent", config_.respondent.model},
                    {"instrument", instrument().id},
                    {"mode", a.mode},
                    {"template", a.prompt_template},
                    {"max_retries", a.max_retries},
                    {"method", config_.align.method},
                    {"reg", config_.align.reg},
                    {"candidate_factor", config_.align.candidate_factor},
                    {"seed", config_.seed}}
                  .dump();
  s.inputs["instrument"] = instrument_hash();
  for (const auto& [role, file] :
       {std::pair<std::string, std::string>{"pool", "personas/global.jsonl"},
        {"reference", "reference/traits.csv"}}) {
    if (file_exists(at(file)))
      s.inputs[role] = hash_path(at(file));
    else
      s.inputs_ready = false;
  }
  if (g.reference.rfind("column:", 0) == 0)
    s.inputs["reference_columns"] = hash_path(reference_table_path());
  return s;
}

StageSpec Runner::spec_report() {
  StageSpec s;
  s.name = "report";
  ojson groups = ojson::array();
  for (const auto& g : config_.groups)
    groups.push_back(ojson{{"name", g.name}, {"query", g.query}, {"reference", g.reference}});
  s.options = ojson{{"groups", groups}}.dump();
  for (const auto& e : manifest_.stages()) {
    if (e.name == "report") continue;
    for (const auto& [path, hash] : e.outputs) s.inputs[path] = hash;
  }
  return s;
}

// ---- the plan ---------------------------------------------------------------------------------

RunPlan Runner::plan() {
  if (planned_) return plan_;
  RunPlan plan;
  const double eps = 1e-6;
  auto cost_of = [&](const Endpoint& e, std::int64_t p, std::int64_t q) {
    return (static_cast<double>(p) * e.prompt_price + static_cast<double>(q) * e.completion_price) /
               1e6 +
           0 * eps;
  };
  std::size_t persona_bound = 0;
  bool personas_known = false;
  if (!config_.posts.empty()) {
    const StageSpec spec = spec_mine();
    const bool done = is_done(spec);
    persona::MiningOptions mo;
    mo.prefilter.min_tokens = config_.mining.min_tokens;
    mo.quality.model = config_.generator.model;
    mo.quality.seed = config_.seed;
    mo.quality.max_attempts = config_.mining.max_attempts;
    mo.writer.model = config_.generator.model;
    mo.writer.seed = config_.seed;
    mo.writer.max_attempts = config_.mining.max_attempts;
    mo.writer.min_posts = config_.mining.min_posts;
    mo.writer.context_tokens = config_.mining.context_tokens;
    mo.writer.max_words = config_.mining.max_words;
    mo.critique.model = config_.judge.model;
    mo.critique.seed = config_.seed;
    mo.critique.max_attempts = config_.mining.max_attempts;
    mo.work_dir = at("mine/work");
    const persona::MiningEstimate est =
        persona::estimate_mining(corpus(), mo, config_.generator.model);
    for (const persona::StepEstimate& st : est.steps) {
      StagePlan p;
      p.name = "mine." + st.step;
      const Endpoint& e = st.step == "critique" ? config_.judge : config_.generator;
      p.model = e.model;
      p.calls = st.calls;
      p.upper_bound = st.step != "quality";
      p.prompt_tokens = static_cast<std::int64_t>(st.prompt_tokens);
      p.completion_tokens = static_cast<std::int64_t>(st.max_completion_tokens);
      p.cost = cost_of(e, p.prompt_tokens, p.completion_tokens);
      p.done = done;
      if (st.step == "personas") persona_bound = st.calls + st.done;
      plan.stages.push_back(p);
    }
  }
  // administer
  {
    const StageSpec spec = spec_administer();
    StagePlan p;
    p.name = "administer";
    p.model = config_.respondent.model;
    p.done = is_done(spec);
    administer::AdministerOptions ao;
    ao.mode = administer::administer_mode_from_string(config_.administer.mode);
    if (!config_.administer.prompt_template.empty())
      ao.prompt = administer::resolve_prompt_template(config_.administer.prompt_template);
    ao.model = config_.respondent.model;
    ao.seed = config_.seed;
    std::vector<io::PersonaRecord> personas;
    if (file_exists(personas_file()) && (config_.posts.empty() || is_done(spec_mine()))) {
      administer::AdministerFileOptions fo;
      personas = io::read_personas(personas_file(), fo.read_options()).personas;
      personas_known = true;
    } else {
      for (std::size_t i = 0; i < persona_bound; ++i) {
        io::PersonaRecord r;
        r.id = "p" + std::to_string(i);
        r.text = placeholder_text(config_.mining.max_words);
        personas.push_back(std::move(r));
      }
      p.upper_bound = true;
    }
    const administer::AdministerEstimate est =
        administer::estimate_administration(instrument(), personas, ao);
    p.calls = est.calls;
    p.prompt_tokens = est.prompt_tokens;
    p.completion_tokens = est.max_completion_tokens;
    p.cost = cost_of(config_.respondent, p.prompt_tokens, p.completion_tokens);
    plan.stages.push_back(p);
  }
  (void)personas_known;
  for (const StageSpec& spec : {spec_score(), spec_reference(), spec_align()}) {
    StagePlan p;
    p.name = spec.name;
    p.done = is_done(spec);
    plan.stages.push_back(p);
  }
  for (const GroupSettings& g : config_.groups) {
    const bool done = is_done(spec_group(g));
    const std::size_t depth = static_cast<std::size_t>(g.depth > 0 ? g.depth : 3 * g.n);
    std::vector<io::PersonaRecord> personas(depth);
    for (std::size_t i = 0; i < depth; ++i) {
      personas[i].id = "p" + std::to_string(i);
      personas[i].text = placeholder_text(config_.mining.max_words);
    }
    persona::GroupOptions go;
    // Revision: the persona and the group description in, at most revise_max_tokens out.
    StagePlan rv;
    rv.name = "group " + g.name + ".revise";
    rv.model = config_.generator.model;
    rv.calls = depth;
    rv.upper_bound = true;
    rv.prompt_tokens = static_cast<std::int64_t>(depth) *
                       administer::estimate_tokens(placeholder_text(config_.mining.max_words) +
                                                   g.query + std::string(900, 'x'));
    rv.completion_tokens = static_cast<std::int64_t>(depth) * go.revise_max_tokens;
    rv.cost = cost_of(config_.generator, rv.prompt_tokens, rv.completion_tokens);
    rv.done = done;
    StagePlan jd = rv;
    jd.name = "group " + g.name + ".judge";
    jd.model = config_.judge.model;
    jd.prompt_tokens = 2 * rv.prompt_tokens;
    jd.completion_tokens = static_cast<std::int64_t>(depth) * go.judge_max_tokens;
    jd.cost = cost_of(config_.judge, jd.prompt_tokens, jd.completion_tokens);
    administer::AdministerOptions ao;
    ao.mode = administer::administer_mode_from_string(config_.administer.mode);
    if (!config_.administer.prompt_template.empty())
      ao.prompt = administer::resolve_prompt_template(config_.administer.prompt_template);
    const administer::AdministerEstimate est =
        administer::estimate_administration(instrument(), personas, ao);
    StagePlan ad;
    ad.name = "group " + g.name + ".administer";
    ad.model = config_.respondent.model;
    ad.calls = est.calls;
    ad.upper_bound = true;
    ad.prompt_tokens = est.prompt_tokens;
    ad.completion_tokens = est.max_completion_tokens;
    ad.cost = cost_of(config_.respondent, ad.prompt_tokens, ad.completion_tokens);
    ad.done = done;
    plan.stages.push_back(rv);
    plan.stages.push_back(jd);
    plan.stages.push_back(ad);
  }
  {
    StagePlan p;
    p.name = "report";
    p.done = false;
    plan.stages.push_back(p);
  }
  plan_ = plan;
  planned_ = true;
  // Progress weights: a stage's planned calls + 1.
  weight_.clear();
  weight_total_ = 0;
  for (const auto& s : plan.stages) {
    const std::string stage = s.name.substr(0, s.name.find('.'));
    weight_[stage] += static_cast<double>(s.calls) + 1.0;
    weight_total_ += static_cast<double>(s.calls) + 1.0;
  }
  return plan;
}

// ---- the run ----------------------------------------------------------------------------------

RunResult Runner::run() {
  fs::create_directories(config_.run_dir);
  plan();
  result_.report = at("report.html");
  auto cancelled = [&] {
    result_.status = "cancelled";
    result_.cost = usage().cost;
    return result_;
  };
  if (!config_.posts.empty() && !stage_mine()) return cancelled();
  if (!stage_administer()) return cancelled();
  if (!stage_score()) return cancelled();
  if (!stage_reference()) return cancelled();
  if (!stage_align()) return cancelled();
  for (const GroupSettings& g : config_.groups)
    if (!stage_group(g)) return cancelled();
  if (!stage_report()) return cancelled();
  result_.persona_files.push_back(at("personas/global.jsonl"));
  for (const GroupSettings& g : config_.groups)
    result_.persona_files.push_back(at("personas/" + g.name + ".jsonl"));
  result_.cost = usage().cost;
  return result_;
}

bool Runner::stage_mine() {
  StageRun r = begin(spec_mine(), {"mine"});
  if (r.skip) return true;
  const MiningSettings& m = config_.mining;
  persona::MiningOptions mo;
  mo.prefilter.min_tokens = m.min_tokens;
  mo.quality.model = config_.generator.model;
  mo.quality.seed = config_.seed;
  mo.quality.max_attempts = m.max_attempts;
  mo.writer.model = config_.generator.model;
  mo.writer.seed = config_.seed;
  mo.writer.max_attempts = m.max_attempts;
  mo.writer.min_posts = m.min_posts;
  mo.writer.context_tokens = m.context_tokens;
  mo.writer.max_words = m.max_words;
  mo.critique.model = config_.judge.model;
  mo.critique.seed = config_.seed;
  mo.critique.max_attempts = m.max_attempts;
  mo.critique.min_overall = m.min_overall;
  mo.critique.min_other = m.min_other;
  mo.redact = m.redact;
  mo.deduplicate = m.dedup;
  mo.dedup.max_cosine = m.dedup_cosine;
  const std::size_t conc = std::max(config_.generator.concurrency, config_.judge.concurrency);
  for (llm::BatchOptions* b : {&mo.quality.batch, &mo.writer.batch, &mo.critique.batch}) {
    b->chunk_size = 1;
    b->parallel_chunks = static_cast<int>(conc);
  }
  mo.round_size = 4 * conc;
  mo.work_dir = at("mine/work");
  mo.cancel = options_.cancel;
  mo.progress = [this](std::string_view step, std::size_t done, std::size_t total) {
    return tick("mine." + std::string(step), done, total);
  };
  mo.log = [this](const std::string& msg) { log("mine: " + msg); };
  mo.validate();

  std::map<std::string, std::shared_ptr<llm::LlmBackend>> routes;
  routes[config_.judge.model] = backend("judge");
  routes[config_.generator.model] = backend("generator");
  RoutingBackend router(backend("generator"), routes);
  std::shared_ptr<const embedding::Embedder> embedder = options_.embedder;
  // With the shipped common component, as the dedup bar was calibrated.
  if (mo.deduplicate && !embedder)
    embedder = embedding::make_sif_embedder(embedding::default_word_vectors_path(),
                                            embedding::default_common_component_path(), {});
  const persona::MiningResult res = persona::mine_personas(router, embedder.get(), corpus(), mo);
  if (res.status == "cancelled") return false;
  io::write_personas(at("mine/personas.jsonl"), res.personas);
  persona::write_funnel(at("mine/funnel.json"), res.funnel);
  r.entry.counts["posts"] = static_cast<double>(corpus().posts.size());
  r.entry.counts["authors"] = static_cast<double>(corpus().authors);
  r.entry.counts["personas"] = static_cast<double>(res.personas.size());
  if (res.personas.empty())
    throw Error(fmt::format("mine: no persona was kept from {} posts (see {}): nothing to align",
                            corpus().posts.size(), at("mine/funnel.json").string()));
  finish(r, {"mine/personas.jsonl", "mine/funnel.json"},
         fmt::format("{} posts by {} authors -> {} personas", corpus().posts.size(),
                     corpus().authors, res.personas.size()));
  return true;
}

bool Runner::stage_administer() {
  StageRun r = begin(spec_administer(), {"administer"});
  if (r.skip) return true;
  const AdministerSettings& a = config_.administer;
  administer::AdministerOptions ao;
  ao.mode = administer::administer_mode_from_string(a.mode);
  if (!a.prompt_template.empty())
    ao.prompt = administer::resolve_prompt_template(a.prompt_template);
  ao.model = config_.respondent.model;
  ao.seed = config_.seed;
  ao.max_retries = a.max_retries;
  ao.personas_per_round = a.personas_per_round;
  ao.chunk_size = 1;
  ao.parallel_chunks = static_cast<int>(config_.respondent.concurrency);
  ao.execution.cancel = options_.cancel;
  ao.execution.progress = [this](std::string_view, double f) {
    return tick("administer", static_cast<std::size_t>(std::lround(f * 1000)), 1000);
  };
  administer::AdministerFileOptions fo;
  fo.personas = personas_file();
  fo.out = at("administer/answers.jsonl");
  fo.log = [this](const std::string& msg) { log("administer: " + msg); };
  administer::AdministerFileReport rep;
  try {
    rep = administer::administer_file(*backend("respondent"), instrument(), ao, fo);
  } catch (const Cancelled&) {
    return false;
  }
  r.entry.counts["personas"] = static_cast<double>(rep.personas);
  r.entry.counts["missing_answers"] = static_cast<double>(rep.missing_answers);
  if (rep.personas == 0) throw Error(fo.personas.string() + ": no persona to administer");
  finish(
      r, {"administer/answers.jsonl"},
      fmt::format("{} personas x {} items ({})", rep.personas, instrument().num_items(), a.mode));
  return true;
}

bool Runner::stage_score() {
  StageRun r = begin(spec_score(), {"score"});
  if (r.skip) return true;
  psychometrics::ReadResponsesOptions ro;
  const psychometrics::Responses resp =
      psychometrics::read_responses(at("administer/answers.jsonl"), instrument(), ro);
  psychometrics::ScoringOptions so;
  const psychometrics::ScoreResult sr = psychometrics::score(instrument(), resp, so);
  io::write_trait_table(at("score/traits.csv"), sr.scores);
  const std::size_t usable = finite_rows(sr.scores.values).size();
  r.entry.counts["rows"] = static_cast<double>(sr.rows);
  r.entry.counts["scored"] = static_cast<double>(usable);
  if (usable < sr.rows)
    log(
        fmt::format("score: {} of {} personas have a trait without a score (too many missing "
                    "answers) and are left out of the alignment",
                    sr.rows - usable, sr.rows));
  finish(r, {"score/traits.csv"},
         fmt::format("{} personas scored on {} traits, {} with every trait", sr.rows,
                     sr.scores.cols(), usable));
  return true;
}

bool Runner::stage_reference() {
  StageRun r = begin(spec_reference(), {"reference"});
  if (r.skip) return true;
  const ReferenceSettings& rs = config_.reference;
  psychometrics::ReferenceData ref;
  if (rs.path == "big5") {
    ref = psychometrics::load_big5();
  } else {
    psychometrics::ReferenceCsvOptions rc;
    rc.country_column = rs.country_column;
    rc.missing_code = rs.missing_code;
    ref = psychometrics::load_reference_csv(rs.path, rc, &instrument());
  }
  std::string cleaning;
  if (rs.clean) {
    const psychometrics::CleaningReport rep = psychometrics::clean_reference(ref, instrument());
    cleaning = fmt::format(", {} of {} rows kept by the cleaning rules", rep.rows_out, rep.rows_in);
  }
  psychometrics::ScoringOptions so;
  const psychometrics::ScoreResult sr = psychometrics::score(instrument(), ref.responses, so);
  io::Table t;
  t.columns = {"id", "country"};
  for (const auto& c : sr.scores.traits) t.columns.push_back(c);
  for (Index i = 0; i < sr.scores.rows(); ++i) {
    std::vector<std::string> row{
        sr.scores.ids[static_cast<std::size_t>(i)],
        ref.country.empty() ? "" : ref.country[static_cast<std::size_t>(i)]};
    for (Index k = 0; k < sr.scores.cols(); ++k)
      row.push_back(io::format_number(sr.scores.values(i, k)));
    t.rows.push_back(std::move(row));
  }
  io::write_table(at("reference/traits.csv"), t);
  r.entry.counts["people"] = static_cast<double>(sr.rows);
  finish(r, {"reference/traits.csv"}, fmt::format("{} people{}", sr.rows, cleaning));
  return true;
}

bool Runner::stage_align() {
  StageRun r = begin(spec_align(), {"align", "personas"});
  if (r.skip) return true;
  const std::vector<std::string> traits = trait_codes(instrument());
  const TraitFile pool_all = read_trait_file(at("score/traits.csv"), traits);
  const TraitFile ref_all = read_trait_file(at("reference/traits.csv"), traits);
  const std::vector<Index> prow = finite_rows(pool_all.values);
  const RowMatrix<double> pool = take_rows(pool_all.values, prow);
  const RowMatrix<double> ref = take_rows(ref_all.values, finite_rows(ref_all.values));
  const AlignSettings& a = config_.align;
  if (a.n > static_cast<long long>(pool.rows()))
    throw InvalidArgument(config_.where("align.n"),
                          fmt::format("asks for {} distinct personas but only {} personas have "
                                      "every trait scored (see {})",
                                      a.n, pool.rows(), at("score/traits.csv").string()));
  align::AlignOptions opt;
  opt.n = static_cast<Index>(a.n);
  opt.method = *align::parse_method(a.method);
  opt.seed = config_.seed;
  opt.reg = a.reg;
  opt.candidate_factor = a.candidate_factor;
  opt.execution.threads = 1;  // the same bytes on any machine
  opt.execution.cancel = options_.cancel;
  opt.execution.progress = [this](std::string_view, double f) {
    return tick("align", static_cast<std::size_t>(std::lround(f * 100)), 100);
  };
  align::AlignResult res;
  try {
    res = align::align<double>(pool, ref, opt);
  } catch (const Cancelled&) {
    return false;
  }
  for (const auto& w : res.diagnostics.warnings) log("align: warning: " + w);
  // selection.csv: id + traits; weights.csv: every pool persona with its importance weight.
  {
    io::CsvWriter w(at("align/selection.csv"));
    std::vector<std::string> header{"id"};
    header.insert(header.end(), traits.begin(), traits.end());
    w.write_row(header);
    for (Index i : res.indices) {
      std::vector<double> v(pool.row(i).data(), pool.row(i).data() + pool.cols());
      w.write_row(pool_all.ids[static_cast<std::size_t>(prow[static_cast<std::size_t>(i)])], v);
    }
    w.close();
  }
  {
    io::CsvWriter w(at("align/weights.csv"));
    w.write_row(std::vector<std::string>{"id", "importance", "selected"});
    std::vector<char> sel(static_cast<std::size_t>(pool.rows()), 0);
    for (Index i : res.indices) sel[static_cast<std::size_t>(i)] = 1;
    for (Index i = 0; i < pool.rows(); ++i)
      w.write_row(pool_all.ids[static_cast<std::size_t>(prow[static_cast<std::size_t>(i)])],
                  {res.importance_weights.size() ? res.importance_weights[i] : 0.0,
                   static_cast<double>(sel[static_cast<std::size_t>(i)])});
    w.close();
  }
  // personas/global.jsonl: the selected personas' records, in selection order.
  {
    administer::AdministerFileOptions fo;
    const io::PersonaFile pf = io::read_personas(personas_file(), fo.read_options());
    std::map<std::string, const io::PersonaRecord*> by_id;
    for (const auto& p : pf.personas) by_id[p.id] = &p;
    std::vector<io::PersonaRecord> out;
    for (Index i : res.indices) {
      const std::string& id =
          pool_all.ids[static_cast<std::size_t>(prow[static_cast<std::size_t>(i)])];
      auto it = by_id.find(id);
      if (it == by_id.end())
        throw Error("align: persona '" + id + "' is not in " + personas_file().string());
      io::PersonaRecord rec = *it->second;
      // The persona's trait scores, as group construction and the exporters read them.
      io::JsonValue t = io::JsonValue::object();
      for (std::size_t k = 0; k < traits.size(); ++k)
        t.set(traits[k], pool(i, static_cast<Index>(k)));
      if (!rec.fields.is_object()) rec.fields = io::JsonValue::object();
      rec.fields.set("traits", std::move(t));
      out.push_back(std::move(rec));
    }
    io::write_personas(at("personas/global.jsonl"), out);
  }
  r.entry.counts["pool"] = static_cast<double>(pool.rows());
  r.entry.counts["selected"] = static_cast<double>(res.indices.size());
  finish(r, {"align/selection.csv", "align/weights.csv", "personas/global.jsonl"},
         fmt::format("{} of {} personas selected; mean W1 {:.4f} -> {:.4f}", res.indices.size(),
                     pool.rows(), res.diagnostics.before.mean_w1, res.diagnostics.after.mean_w1));
  return true;
}

RowMatrix<double> Runner::group_reference(const GroupSettings& g, std::string* description) {
  const std::vector<std::string> traits = trait_codes(instrument());
  const TraitFile ref_all = read_trait_file(at("reference/traits.csv"), traits);
  psychometrics::ReferenceData rd;
  rd.responses.ids = ref_all.ids;
  rd.responses.values = RowMatrix<double>(static_cast<Index>(ref_all.ids.size()), 0);
  rd.country = ref_all.country;
  if (rd.country.empty()) rd.country.assign(ref_all.ids.size(), "");
  persona::ReferenceFilter filter;
  try {
    filter = persona::ReferenceFilter::parse(g.reference);
    filter.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(
        config_.where(fmt::format("groups[{}].reference", &g - config_.groups.data())), e.what());
  }
  std::optional<io::Table> table;
  if (filter.kind == persona::ReferenceFilter::Kind::column)
    table = io::read_table(reference_table_path());
  const std::vector<Index> rows = persona::group_reference_rows(
      rd, filter, psychometrics::RegionMap::load_default(), table ? &*table : nullptr, "");
  std::vector<Index> keep;
  for (Index i : rows)
    if (ref_all.values.row(i).allFinite()) keep.push_back(i);
  if (description)
    *description = fmt::format("{}, {} ({} people)",
                               config_.reference.path == "big5"
                                   ? std::string("BIG5")
                                   : fs::path(config_.reference.path).filename().string(),
                               filter.to_string(), keep.size());
  return take_rows(ref_all.values, keep);
}

bool Runner::stage_group(const GroupSettings& g) {
  StageRun r = begin(spec_group(g), {"groups/" + g.name});
  if (r.skip) return true;
  const std::vector<std::string> traits = trait_codes(instrument());
  persona::GroupSpec spec;
  spec.name = g.name;
  spec.query = g.query;
  spec.reference = persona::ReferenceFilter::parse(g.reference);
  spec.n = static_cast<Index>(g.n);
  spec.depth = static_cast<Index>(g.depth);
  persona::GroupReference gref;
  const RowMatrix<double> ref = group_reference(g, &gref.description);
  if (ref.rows() < 2)
    throw InvalidArgument(
        config_.where(fmt::format("groups[{}].reference", &g - config_.groups.data())),
        fmt::format("'{}' selects {} reference people (at least 2 are needed)", g.reference,
                    ref.rows()));
  gref.traits.traits = traits;
  gref.traits.values = ref;
  for (Index i = 0; i < ref.rows(); ++i) gref.traits.ids.push_back(std::to_string(i + 1));
  const io::PersonaFile pool = io::read_personas(at("personas/global.jsonl"));

  persona::GroupOptions go;
  go.revise_model = config_.generator.model;
  go.judge_model = config_.judge.model;
  const AdministerSettings& a = config_.administer;
  go.administer.mode = administer::administer_mode_from_string(a.mode);
  if (!a.prompt_template.empty())
    go.administer.prompt = administer::resolve_prompt_template(a.prompt_template);
  go.administer.model = config_.respondent.model;
  go.administer.max_retries = a.max_retries;
  go.administer.personas_per_round = a.personas_per_round;
  go.administer.chunk_size = 1;
  go.administer.parallel_chunks = static_cast<int>(config_.respondent.concurrency);
  go.align.method = *align::parse_method(config_.align.method);
  go.align.reg = config_.align.reg;
  go.align.candidate_factor = config_.align.candidate_factor;
  go.align.execution.threads = 1;
  go.seed = config_.seed;
  go.batch.chunk_size = 1;
  go.batch.parallel_chunks =
      static_cast<int>(std::max(config_.generator.concurrency, config_.judge.concurrency));
  go.execution.cancel = options_.cancel;
  const std::string stage = "group " + g.name;
  go.execution.progress = [this, stage](std::string_view step, double f) {
    return tick(stage + "." + std::string(step), static_cast<std::size_t>(std::lround(f * 1000)),
                1000);
  };
  persona::GroupBackends gb;
  auto reviser = backend("generator");
  auto judge = backend("judge");
  auto respondent = backend("respondent");
  gb.reviser = reviser.get();
  gb.judge = judge.get();
  gb.respondent = respondent.get();
  // GloVe SIF with the common component fitted on the global set's facts, as `popalign group`
  // and `popalign retrieve` do.
  std::vector<std::string> facts;
  for (const auto& p : pool.personas) facts.insert(facts.end(), p.facts.begin(), p.facts.end());
  std::shared_ptr<const embedding::Embedder> embedder =
      options_.embedder
          ? options_.embedder
          : embedding::make_sif_embedder(embedding::default_word_vectors_path(), "", facts);
  persona::GroupResult res;
  try {
    res = persona::build_group(pool.personas, embedder, gb, instrument(), gref, spec, go);
  } catch (const Cancelled&) {
    return false;
  }
  if (res.status == "cancelled") return false;
  for (const auto& w : res.warnings) log(stage + ": warning: " + w);
  const std::string dir = "groups/" + g.name;
  io::write_personas(at("personas/" + g.name + ".jsonl"), res.personas);
  io::write_personas(at(dir + "/pool.jsonl"), res.pool);
  io::write_file_atomically(at(dir + "/report.json"),
                            persona::group_report_json(res).dump() + "\n");
  r.entry.counts["retrieved"] = static_cast<double>(res.revisions.size());
  r.entry.counts["kept"] = static_cast<double>(res.kept());
  r.entry.counts["selected"] = static_cast<double>(res.personas.size());
  r.entry.counts["reference_people"] = static_cast<double>(ref.rows());
  finish(r, {"personas/" + g.name + ".jsonl", dir + "/pool.jsonl", dir + "/report.json"},
         fmt::format("{} retrieved, {} kept, {} selected; mean W1 to the group's reference {:.4f} "
                     "(global pool {:.4f})",
                     res.revisions.size(), res.kept(), res.personas.size(),
                     res.against_reference.mean_w1, res.global_against_reference.mean_w1));
  return true;
}

bool Runner::stage_report() {
  StageRun r = begin(spec_report(), {});
  if (r.skip) return true;
  const std::vector<std::string> traits = trait_codes(instrument());
  report::RunReportInput in;
  in.title = "popalign run report";
  if (!config_.posts.empty())
    in.inputs.emplace_back("posts", config_.posts.string());
  else
    in.inputs.emplace_back("personas", config_.personas.string());
  in.inputs.emplace_back("instrument", instrument().id);
  in.inputs.emplace_back("reference", config_.reference.path == "big5"
                                          ? std::string("BIG5 (shipped)")
                                          : config_.reference.path);
  in.inputs.emplace_back(
      "models", fmt::format("generator {}, judge {}, respondent {}", config_.generator.model,
                            config_.judge.model, config_.respondent.model));
  in.inputs.emplace_back("global N, seed", fmt::format("{}, {}", config_.align.n, config_.seed));
  for (const auto& e : manifest_.stages()) {
    if (e.name == "report") continue;
    // Deterministic summaries only (counts; no timings, no cache statistics).
    std::string s;
    for (const auto& [k, v] : e.counts)
      s += (s.empty() ? "" : ", ") + k + " " + io::format_number(v);
    in.stages.emplace_back(e.name, s);
  }
  if (!config_.posts.empty()) {
    std::ifstream f(at("mine/funnel.json"));
    const ojson j = ojson::parse(f, nullptr, false);
    if (j.is_object() && j.contains("steps"))
      for (const auto& st : j["steps"]) {
        if (!st.is_object()) continue;
        report::FunnelRow row;
        row.step = text_field(st, "step");
        row.in_unit = text_field(st, "in_unit");
        row.in = count_field(st, "in");
        row.out_unit = text_field(st, "out_unit");
        row.out = count_field(st, "out");
        if (st.contains("dropped") && st["dropped"].is_object())
          for (const auto& [k, v] : st["dropped"].items())
            row.dropped[k] = io::json_integer<std::size_t>(v).value_or(0);
        in.funnel.push_back(std::move(row));
      }
  }
  const TraitFile pool_all = read_trait_file(at("score/traits.csv"), traits);
  const TraitFile ref_all = read_trait_file(at("reference/traits.csv"), traits);
  const TraitFile sel = read_trait_file(at("align/selection.csv"), traits);
  in.global.title = "Global alignment";
  in.global.traits = traits;
  in.global.pool = take_rows(pool_all.values, finite_rows(pool_all.values));
  in.global.reference = take_rows(ref_all.values, finite_rows(ref_all.values));
  in.global.selection = sel.values;
  {
    const io::NumericTable w =
        io::to_numeric_table(io::read_table(at("align/weights.csv")), {"importance"}, {});
    if (w.values.rows() == in.global.pool.rows() && w.values.col(0).sum() > 0)
      in.global.importance_weights = w.values.col(0);
  }
  in.global.parameters = {{"N", std::to_string(config_.align.n)},
                          {"method", config_.align.method},
                          {"seed", std::to_string(config_.seed)},
                          {"instrument", instrument().id},
                          {"respondent model", config_.respondent.model}};
  for (const GroupSettings& g : config_.groups) {
    report::GroupSection sec;
    sec.name = g.name;
    sec.query = g.query;
    const std::string dir = "groups/" + g.name;
    const io::PersonaFile gp = io::read_personas(at(dir + "/pool.jsonl"));
    const io::PersonaFile gs = io::read_personas(at("personas/" + g.name + ".jsonl"));
    if (gp.personas.empty() || gs.personas.empty()) {
      in.notes.push_back("group " + g.name + ": no persona was kept (see " + dir + "/report.json)");
      continue;
    }
    sec.alignment.title = "Alignment to the group's reference";
    sec.alignment.traits = traits;
    sec.alignment.pool = persona::persona_traits(gp.personas, traits, dir + "/pool.jsonl").values;
    sec.alignment.selection =
        persona::persona_traits(gs.personas, traits, "personas/" + g.name + ".jsonl").values;
    sec.alignment.reference = group_reference(g, &sec.reference);
    sec.alignment.parameters = {
        {"N", std::to_string(g.n)},
        {"retrieval depth", std::to_string(g.depth > 0 ? g.depth : 3 * g.n)},
        {"reference", sec.reference}};
    {
      std::ifstream f(at(dir + "/report.json"));
      const ojson j = ojson::parse(f, nullptr, false);
      if (j.is_object()) {
        if (j.contains("warnings") && j["warnings"].is_array())
          for (const auto& w : j["warnings"])
            if (w.is_string()) sec.notes.push_back(w.get<std::string>());
        sec.retrieved = count_field(j, "retrieved");
        sec.kept = count_field(j, "kept");
        if (j.contains("drops") && j["drops"].is_object())
          for (const auto& [k, v] : j["drops"].items())
            if (const auto c = io::json_integer<std::size_t>(v)) sec.drops[k] = *c;
      }
    }
    for (const auto& p : gs.personas) {
      report::GroupMember m;
      m.id = p.id;
      m.text = p.text;
      if (const io::JsonValue* rv = p.fields.find("retrieval"))
        if (const io::JsonValue* rank = rv->find("rank"); rank && rank->is_number())
          m.note = fmt::format("retrieval rank {}", rank->as_number());
      sec.members.push_back(std::move(m));
    }
    if (sec.alignment.reference.rows() < 2 || !sec.alignment.pool.allFinite() ||
        !sec.alignment.selection.allFinite()) {
      in.notes.push_back("group " + g.name + ": too few usable rows for plots");
      continue;
    }
    in.groups.push_back(std::move(sec));
  }
  report::write_run_html(at("report.html"), in);
  finish(r, {"report.html"}, "report.html");
  return true;
}

}  // namespace popalign::pipeline::detail
