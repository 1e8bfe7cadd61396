// Group construction (the method's third stage). See persona/groups.hpp for the algorithm.
#include <popalign/persona/groups.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <popalign/core/error.hpp>
#include <popalign/io/json.hpp>
#include <popalign/persona/group_prompts.hpp>
#include <popalign/psychometrics/scoring_core.hpp>

#include "ask.hpp"

namespace popalign::persona {

namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

io::JsonValue number_or_null(double x) {
  return std::isfinite(x) ? io::JsonValue(x) : io::JsonValue();
}

}  // namespace

// ---- Reference rows -------------------------------------------------------------------------

std::vector<Index> group_reference_rows(const psychometrics::ReferenceData& data,
                                        const ReferenceFilter& filter,
                                        const psychometrics::RegionMap& regions,
                                        const io::Table* columns, const std::string& id_column) {
  filter.validate();
  std::vector<Index> rows;
  const Index n = data.rows();
  switch (filter.kind) {
    case ReferenceFilter::Kind::all:
      for (Index i = 0; i < n; ++i) rows.push_back(i);
      break;
    case ReferenceFilter::Kind::region: {
      if (!regions.has_region(filter.region)) {
        std::string names;
        for (const auto& r : regions.regions()) names += (names.empty() ? "" : ", ") + r;
        throw InvalidArgument("reference.region",
                              "unknown region '" + filter.region + "' (regions: " + names + ")");
      }
      for (Index i = 0; i < n; ++i)
        if (regions.region_of(data.country[static_cast<std::size_t>(i)]) == filter.region)
          rows.push_back(i);
      break;
    }
    case ReferenceFilter::Kind::countries: {
      std::set<std::string> want;
      for (const auto& c : filter.countries) want.insert(upper(trim(c)));
      for (Index i = 0; i < n; ++i)
        if (want.count(upper(trim(data.country[static_cast<std::size_t>(i)]))) != 0)
          rows.push_back(i);
      break;
    }
    case ReferenceFilter::Kind::column: {
      check_argument(columns != nullptr, "reference.column",
                     "a column filter needs the table holding column '" + filter.column + "'");
      const auto col = columns->find_column(filter.column);
      check_argument(col.has_value(), "reference.column",
                     "'" + filter.column + "' is not a column of " + columns->source);
      std::optional<std::size_t> idc;
      if (!id_column.empty()) {
        idc = columns->find_column(id_column);
        check_argument(idc.has_value(), "reference.id_column",
                       "'" + id_column + "' is not a column of " + columns->source);
      } else {
        idc = columns->find_column("id");
      }
      std::set<std::string> members;
      for (std::size_t r = 0; r < columns->rows.size(); ++r) {
        const auto& row = columns->rows[r];
        if (*col >= row.size() || trim(row[*col]) != filter.value) continue;
        members.insert(idc ? trim(row[*idc]) : std::to_string(r + 1));
      }
      for (Index i = 0; i < n; ++i)
        if (members.count(data.responses.ids[static_cast<std::size_t>(i)]) != 0) rows.push_back(i);
      break;
    }
  }
  return rows;
}

// ---- Options --------------------------------------------------------------------------------

void GroupOptions::validate() const {
  retrieval.validate();
  for (const auto& q : query_expansions)
    check_argument(!trim(q).empty(), "query_expansions", "holds an empty text");
  if (!revise_prompt.id.empty()) revise_prompt.require("revise_prompt", {"group", "persona"});
  if (!judge_prompt.id.empty())
    judge_prompt.require("judge_prompt", {"group", "original", "revised"});
  check_argument(revise_temperature >= 0 && revise_temperature <= 2, "revise_temperature",
                 "must be in [0, 2]");
  check_argument(revise_max_tokens >= 16, "revise_max_tokens", "must be >= 16");
  check_argument(revise_attempts >= 1, "revise_attempts", "must be >= 1");
  check_argument(max_revised_words >= 5, "max_revised_words", "must be >= 5");
  check_argument(judge_max_tokens >= 16, "judge_max_tokens", "must be >= 16");
  check_argument(judge_attempts >= 1, "judge_attempts", "must be >= 1");
  check_argument(judge_retries >= 0, "judge_retries", "must be >= 0");
  try {
    administer.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument("administer", e.what());
  }
  scoring.validate();
  try {
    align.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument("align", e.what());
  }
  compare.validate();
  check_argument(min_reference_rows >= 0, "min_reference_rows", "must be >= 0");
  batch.validate();
  execution.validate();
}

// ---- Traits ---------------------------------------------------------------------------------

TraitTable<double> persona_traits(std::span<const io::PersonaRecord> personas,
                                  const std::vector<std::string>& traits,
                                  const std::string& source) {
  TraitTable<double> t;
  t.traits = traits;
  if (t.traits.empty() && !personas.empty()) {
    const io::JsonValue* o = personas[0].fields.find("traits");
    if (o == nullptr || !o->is_object() || o->size() == 0)
      throw ParseError(source, personas[0].line,
                       "persona '" + personas[0].id + "' has no \"traits\" object");
    for (const auto& [k, v] : o->as_object()) t.traits.push_back(k);
  }
  const Index d = static_cast<Index>(t.traits.size());
  t.values.resize(static_cast<Index>(personas.size()), d);
  for (std::size_t i = 0; i < personas.size(); ++i) {
    const io::PersonaRecord& p = personas[i];
    t.ids.push_back(p.id);
    const io::JsonValue* o = p.fields.find("traits");
    if (o == nullptr || !o->is_object())
      throw ParseError(source, p.line, "persona '" + p.id + "' has no \"traits\" object");
    for (Index k = 0; k < d; ++k) {
      const io::JsonValue* v = o->find(t.traits[static_cast<std::size_t>(k)]);
      if (v == nullptr || !v->is_number() || !std::isfinite(v->as_number()))
        throw ParseError(source, p.line,
                         "persona '" + p.id + "': trait '" + t.traits[static_cast<std::size_t>(k)] +
                             "' is missing or not a finite number");
      t.values(static_cast<Index>(i), k) = v->as_number();
    }
  }
  return t;
}

// ---- Results --------------------------------------------------------------------------------

std::vector<std::pair<std::string, std::size_t>> GroupResult::drops() const {
  std::map<std::string, std::size_t> m;
  for (const auto& r : revisions)
    if (!r.drop_reason.empty()) ++m[r.drop_reason];
  return {m.begin(), m.end()};
}

std::string GroupResult::summary() const {
  std::string s =
      fmt::format("group {} ({}): {} retrieved, {} kept, {} selected (N = {})\n", spec.name, status,
                  revisions.size(), pool.size(), personas.size(), spec.n);
  for (const auto& [reason, count] : drops())
    s += fmt::format("  dropped, {}: {}\n", reason, count);
  if (against_reference.w1.size() > 0)
    s += fmt::format(
        "mean W1 against the group reference: group set {:.4f}, global pool {:.4f}; sliced W2 "
        "{:.4f} vs {:.4f}\n",
        against_reference.mean_w1, global_against_reference.mean_w1,
        against_reference.sliced_wasserstein, global_against_reference.sliced_wasserstein);
  for (const auto& w : warnings) s += "warning: " + w + "\n";
  return s;
}

namespace {

io::JsonValue comparison_json(const metrics::Comparison& c,
                              const std::vector<std::string>& traits) {
  io::JsonValue j = io::JsonValue::object();
  j.set("mean_w1", number_or_null(c.mean_w1));
  auto per_trait = [&](const Vector<double>& v) {
    io::JsonValue o = io::JsonValue::object();
    for (Index k = 0; k < v.size() && k < static_cast<Index>(traits.size()); ++k)
      o.set(traits[static_cast<std::size_t>(k)], number_or_null(v[k]));
    return o;
  };
  j.set("w1", per_trait(c.w1));
  j.set("ks", per_trait(c.ks));
  j.set("mean_gap", per_trait(c.mean_gap));
  j.set("sd_gap", per_trait(c.sd_gap));
  j.set("correlation_frobenius", number_or_null(c.correlation.frobenius));
  j.set("correlation_rms", number_or_null(c.correlation.normalized));
  j.set("sliced_wasserstein", number_or_null(c.sliced_wasserstein));
  j.set("mmd2", number_or_null(c.mmd2));
  j.set("correlation_mae", number_or_null(c.correlation.mae));
  io::JsonValue p = io::JsonValue::object();
  p.set("mean_w1", number_or_null(c.population.mean_w1));
  p.set("frechet", number_or_null(c.population.frechet));
  p.set("sliced_wasserstein", number_or_null(c.population.sliced_wasserstein));
  p.set("mmd2", number_or_null(c.population.mmd2));
  p.set("mmd2_biased", number_or_null(c.population.mmd2_biased));
  p.set("correlation_mae", number_or_null(c.population.correlation_mae));
  j.set("population", std::move(p));
  return j;
}

io::JsonValue strings_json(const std::vector<std::string>& v) {
  io::JsonValue a = io::JsonValue::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}

}  // namespace

io::JsonValue group_report_json(const GroupResult& r) {
  io::JsonValue j = io::JsonValue::object();
  j.set("group", r.spec.name);
  j.set("query", r.spec.query);
  j.set("reference", r.spec.reference.to_string());
  j.set("n", static_cast<double>(r.spec.n));
  j.set("depth", static_cast<double>(r.spec.resolved_depth()));
  j.set("status", r.status);
  j.set("retrieved", static_cast<double>(r.revisions.size()));
  j.set("kept", static_cast<double>(r.pool.size()));
  j.set("selected", static_cast<double>(r.personas.size()));
  io::JsonValue drops = io::JsonValue::object();
  for (const auto& [reason, count] : r.drops()) drops.set(reason, static_cast<double>(count));
  j.set("drops", std::move(drops));
  auto calls = [](const StepCalls& c) {
    io::JsonValue o = io::JsonValue::object();
    o.set("calls", static_cast<double>(c.calls));
    o.set("failed", static_cast<double>(c.failed_calls));
    o.set("reasks", static_cast<double>(c.reasks));
    return o;
  };
  io::JsonValue c = io::JsonValue::object();
  c.set("revise", calls(r.revise_calls));
  c.set("judge", calls(r.judge_calls));
  io::JsonValue ad = io::JsonValue::object();
  ad.set("calls", static_cast<double>(r.administer_calls));
  c.set("administer", std::move(ad));
  j.set("calls", std::move(c));
  j.set("traits", strings_json(r.traits));
  io::JsonValue cmp = io::JsonValue::object();
  cmp.set("group_vs_reference", comparison_json(r.against_reference, r.traits));
  cmp.set("global_vs_reference", comparison_json(r.global_against_reference, r.traits));
  cmp.set("group_vs_global", comparison_json(r.against_global, r.traits));
  j.set("comparison", std::move(cmp));
  j.set("alignment",
        r.alignment.requested > 0 ? io::JsonValue(r.alignment.brief()) : io::JsonValue());
  j.set("warnings", strings_json(r.warnings));
  io::JsonValue revs = io::JsonValue::array();
  for (const RevisionRecord& x : r.revisions) {
    io::JsonValue o = io::JsonValue::object();
    o.set("id", x.persona_id);
    o.set("rank", static_cast<double>(x.rank));
    o.set("score", static_cast<double>(x.score));
    o.set("revisions", x.revisions);
    o.set("calls", x.calls);
    o.set("changes", strings_json(x.changes));
    o.set("verdict", x.verdict);
    o.set("judge_reasons", strings_json(x.judge_reasons));
    o.set("kept", x.kept);
    o.set("selected", x.selected);
    if (!x.drop_reason.empty()) {
      o.set("drop_reason", x.drop_reason);
      o.set("drop_detail", x.drop_detail);
    }
    revs.push_back(std::move(o));
  }
  j.set("revisions", std::move(revs));
  return j;
}

// ---- build_group ----------------------------------------------------------------------------

namespace {

llm::Request revise_request(const PromptTemplate& t, const GroupSpec& spec, const std::string& text,
                            const GroupOptions& o, std::uint64_t seed) {
  const std::vector<std::pair<std::string, std::string>> values = {
      {"group", spec.query}, {"persona", text}, {"max_words", std::to_string(o.max_revised_words)}};
  llm::Request r;
  if (!t.system.empty()) r.messages.push_back({"system", render_prompt(t.system, values)});
  r.messages.push_back({"user", render_prompt(t.user, values)});
  r.model = o.revise_model;
  r.temperature = o.revise_temperature;
  r.max_tokens = o.revise_max_tokens;
  r.seed = seed;
  r.json_schema = group_revision_schema();
  return r;
}

llm::Request judge_request(const PromptTemplate& t, const GroupSpec& spec,
                           const std::string& original, const std::string& revised,
                           const GroupOptions& o, std::uint64_t seed) {
  const std::vector<std::pair<std::string, std::string>> values = {
      {"group", spec.query}, {"original", original}, {"revised", revised}};
  llm::Request r;
  if (!t.system.empty()) r.messages.push_back({"system", render_prompt(t.system, values)});
  r.messages.push_back({"user", render_prompt(t.user, values)});
  r.model = o.judge_model;
  r.temperature = 0.0;
  r.max_tokens = o.judge_max_tokens;
  r.seed = seed;
  r.json_schema = group_verdict_schema();
  return r;
}

void add_calls(StepCalls& into, const StepCalls& c) {
  into.calls += c.calls;
  into.cached_calls += c.cached_calls;
  into.failed_calls += c.failed_calls;
  into.reasks += c.reasks;
  for (const auto& m : c.messages)
    if (into.messages.size() < 20) into.messages.push_back(m);
  if (c.status != "ok") into.status = c.status;
}

GroupResult cancelled_result(GroupResult r) {
  r.status = "cancelled";
  r.personas.clear();
  r.pool.clear();
  return r;
}

}  // namespace

GroupResult build_group(std::span<const io::PersonaRecord> pool,
                        std::shared_ptr<const embedding::Embedder> embedder,
                        const GroupBackends& backends, const psychometrics::Instrument& instrument,
                        const GroupReference& reference, const GroupSpec& spec,
                        const GroupOptions& options) {
  options.validate();
  spec.validate();
  check_argument(embedder != nullptr, "embedder", "is null");
  check_argument(backends.reviser != nullptr || (!options.revise && backends.respondent != nullptr),
                 "backends.reviser", "is null");
  llm::LlmBackend& reviser = backends.reviser != nullptr ? *backends.reviser : *backends.respondent;
  llm::LlmBackend& judge = backends.judge != nullptr ? *backends.judge : reviser;
  llm::LlmBackend& respondent = backends.respondent != nullptr ? *backends.respondent : reviser;
  check_argument(!pool.empty(), "pool", "is empty");
  reference.traits.validate();
  check_argument(reference.traits.rows() >= 2, "reference",
                 "the group reference has " + std::to_string(reference.traits.rows()) +
                     " people (at least 2 needed)");
  const std::vector<std::string>& traits = reference.traits.traits;
  check_argument(!traits.empty(), "reference", "has no trait columns");

  GroupResult result;
  result.spec = spec;
  result.traits = traits;
  const std::uint64_t seed = options.seed + spec.seed;
  const TraitTable<double> global = persona_traits(pool, traits, "pool");

  if (reference.traits.rows() < options.min_reference_rows)
    result.warnings.push_back(fmt::format(
        "the group reference has only {} people (fewer than {}): its distribution, and every "
        "distance to it, is uncertain",
        reference.traits.rows(), options.min_reference_rows));

  // 1. Retrieve.
  if (options.execution.report("retrieve", 0.0)) return cancelled_result(std::move(result));
  Index depth = spec.resolved_depth();
  if (depth > static_cast<Index>(pool.size())) {
    result.warnings.push_back(
        fmt::format("retrieval depth {} exceeds the pool ({} personas)", depth, pool.size()));
    depth = static_cast<Index>(pool.size());
  }
  std::vector<embedding::RetrievalHit> hits;
  {
    embedding::PersonaRetriever retriever(
        embedder, std::vector<io::PersonaRecord>(pool.begin(), pool.end()), options.retrieval);
    std::vector<std::string> queries{spec.query};
    for (const auto& q : options.query_expansions) queries.push_back(q);
    const RowMatrix<float> scores = retriever.score_all(queries);
    const RowMatrix<float> mean = scores.colwise().mean();
    hits = embedding::top_k_rows(mean, depth)[0];
  }
  const std::size_t units = hits.size();
  result.revisions.resize(units);
  for (std::size_t u = 0; u < units; ++u) {
    RevisionRecord& rec = result.revisions[u];
    const io::PersonaRecord& p = pool[static_cast<std::size_t>(hits[u].index)];
    rec.persona_id = p.id;
    rec.rank = static_cast<Index>(u);
    rec.score = hits[u].score;
    rec.original = p.text;
  }
  if (options.execution.report("retrieve", 1.0)) return cancelled_result(std::move(result));

  // 2-3. Revise and judge, in rounds.
  llm::BatchOptions batch = options.batch;
  batch.execution.cancel = options.execution.cancel;
  const PromptTemplate& rt =
      options.revise_prompt.id.empty() ? group_revise_template() : options.revise_prompt;
  const PromptTemplate& jt =
      options.judge_prompt.id.empty() ? group_judge_template() : options.judge_prompt;
  std::vector<bool> accepted(units, false);
  if (!options.revise) {
    for (std::size_t u = 0; u < units; ++u) {
      result.revisions[u].revised = result.revisions[u].original;
      accepted[u] = true;
    }
  } else {
    std::vector<std::size_t> pending(units);
    for (std::size_t u = 0; u < units; ++u) pending[u] = u;
    for (int round = 0; round <= options.judge_retries && !pending.empty(); ++round) {
      // Revise.
      std::vector<std::optional<GroupRevision>> revs(pending.size());
      detail::AskTotals rtot;
      const auto rstate = detail::ask_all(
          reviser, pending.size(), options.revise_attempts,
          [&](std::size_t k, int attempt) {
            return revise_request(rt, spec, result.revisions[pending[k]].original, options,
                                  seed + 100 * static_cast<std::uint64_t>(round) +
                                      static_cast<std::uint64_t>(attempt));
          },
          [&](std::size_t k, const llm::Response& r, std::string& problem) {
            revs[k] = parse_group_revision(r.text, options.max_revised_words, &problem);
            return revs[k].has_value();
          },
          batch,
          [&](std::size_t k) { return "persona " + result.revisions[pending[k]].persona_id; },
          rtot);
      add_calls(result.revise_calls, rtot.step_calls());
      if (rtot.cancelled) return cancelled_result(std::move(result));
      std::vector<std::size_t> to_judge;
      for (std::size_t k = 0; k < pending.size(); ++k) {
        RevisionRecord& rec = result.revisions[pending[k]];
        rec.calls += rstate[k].attempts;
        if (rstate[k].call_failed) {
          rec.drop_reason = "call failed";
          rec.drop_detail = rstate[k].problem;
        } else if (!revs[k]) {
          rec.drop_reason = "off-schema revision";
          rec.drop_detail = rstate[k].problem;
        } else {
          ++rec.revisions;
          rec.revised = revs[k]->revised;
          rec.changes = revs[k]->changes;
          to_judge.push_back(pending[k]);
        }
      }
      if (options.execution.report("revise", 1.0)) return cancelled_result(std::move(result));
      std::vector<std::size_t> again;
      if (!options.judge) {
        for (std::size_t u : to_judge) accepted[u] = true;
      } else if (!to_judge.empty()) {
        std::vector<std::optional<GroupVerdict>> verdicts(to_judge.size());
        detail::AskTotals jtot;
        const auto jstate = detail::ask_all(
            judge, to_judge.size(), options.judge_attempts,
            [&](std::size_t k, int attempt) {
              const RevisionRecord& rec = result.revisions[to_judge[k]];
              return judge_request(jt, spec, rec.original, rec.revised, options,
                                   seed + static_cast<std::uint64_t>(attempt));
            },
            [&](std::size_t k, const llm::Response& r, std::string& problem) {
              verdicts[k] = parse_group_verdict(r.text, &problem);
              return verdicts[k].has_value();
            },
            batch,
            [&](std::size_t k) { return "persona " + result.revisions[to_judge[k]].persona_id; },
            jtot);
        add_calls(result.judge_calls, jtot.step_calls());
        if (jtot.cancelled) return cancelled_result(std::move(result));
        for (std::size_t k = 0; k < to_judge.size(); ++k) {
          RevisionRecord& rec = result.revisions[to_judge[k]];
          rec.calls += jstate[k].attempts;
          if (jstate[k].call_failed) {
            rec.drop_reason = "call failed";
            rec.drop_detail = jstate[k].problem;
          } else if (!verdicts[k]) {
            rec.drop_reason = "off-schema verdict";
            rec.drop_detail = jstate[k].problem;
          } else {
            rec.verdict = verdicts[k]->pass ? "pass" : "fail";
            rec.judge_reasons = verdicts[k]->reasons;
            if (verdicts[k]->pass) {
              accepted[to_judge[k]] = true;
            } else if (round < options.judge_retries) {
              again.push_back(to_judge[k]);
            } else {
              rec.drop_reason = "judge rejected";
              std::string d;
              for (const auto& s : rec.judge_reasons) d += (d.empty() ? "" : "; ") + s;
              rec.drop_detail = d;
            }
          }
        }
        if (options.execution.report("judge", 1.0)) return cancelled_result(std::move(result));
      }
      pending = std::move(again);
    }
  }

  // 4. Administer and score the accepted revisions.
  std::vector<std::size_t> admitted;
  std::vector<io::PersonaRecord> revised;
  for (std::size_t u = 0; u < units; ++u) {
    if (!accepted[u]) continue;
    admitted.push_back(u);
    io::PersonaRecord r;
    r.id = result.revisions[u].persona_id;
    r.text = result.revisions[u].revised;
    r.facts = io::split_sentences(r.text);
    revised.push_back(std::move(r));
  }
  administer::AdministerOptions ao = options.administer;
  ao.seed = seed;
  ao.execution.cancel = options.execution.cancel;
  const std::vector<administer::PersonaResponses> responses =
      administer::administer(respondent, instrument, revised, ao);
  for (const auto& r : responses) {
    result.administer_calls += r.calls;
    result.administer_cached_calls += r.cached_calls;
    if (r.cancelled()) return cancelled_result(std::move(result));
  }
  if (options.execution.report("administer", 1.0)) return cancelled_result(std::move(result));
  const Index items = static_cast<Index>(instrument.items.size());
  RowMatrix<double> answers(static_cast<Index>(responses.size()), items);
  answers.setConstant(std::numeric_limits<double>::quiet_NaN());
  for (std::size_t i = 0; i < responses.size(); ++i) {
    std::map<std::string_view, std::size_t> pos;
    for (std::size_t k = 0; k < responses[i].items.size(); ++k)
      pos.emplace(responses[i].items[k].item_id, k);
    for (Index k = 0; k < items; ++k) {
      const auto it = pos.find(instrument.items[static_cast<std::size_t>(k)].id);
      if (it != pos.end() && responses[i].items[it->second].value)
        answers(static_cast<Index>(i), k) = *responses[i].items[it->second].value;
    }
  }
  psychometrics::ScoreResult scored =
      psychometrics::score_items(instrument, answers, options.scoring);
  std::vector<Index> cols;
  for (const auto& t : traits) {
    const auto it = std::find(scored.scores.traits.begin(), scored.scores.traits.end(), t);
    if (it == scored.scores.traits.end()) {
      std::string have;
      for (const auto& s : scored.scores.traits) have += (have.empty() ? "" : ", ") + s;
      throw InvalidArgument("reference", "trait '" + t + "' is not a score column of instrument '" +
                                             instrument.name + "' (columns: " + have + ")");
    }
    cols.push_back(static_cast<Index>(it - scored.scores.traits.begin()));
  }
  std::vector<std::size_t> kept;  // indices into admitted / responses
  for (std::size_t i = 0; i < responses.size(); ++i) {
    RevisionRecord& rec = result.revisions[admitted[i]];
    if (responses[i].failed()) {
      rec.drop_reason = "call failed";
      rec.drop_detail = "administering the instrument";
      continue;
    }
    bool ok = true;
    for (Index c : cols) ok = ok && std::isfinite(scored.scores.values(static_cast<Index>(i), c));
    if (!ok) {
      rec.drop_reason = "no scores";
      rec.drop_detail = fmt::format("{} of {} items answered", responses[i].answered(), items);
      continue;
    }
    kept.push_back(i);
  }
  const Index d = static_cast<Index>(traits.size());
  RowMatrix<double> x(static_cast<Index>(kept.size()), d);
  for (std::size_t r = 0; r < kept.size(); ++r) {
    const std::size_t i = kept[r];
    const std::size_t u = admitted[i];
    RevisionRecord& rec = result.revisions[u];
    rec.kept = true;
    const io::PersonaRecord& orig = pool[static_cast<std::size_t>(hits[u].index)];
    io::PersonaRecord p;
    p.id = orig.id;
    p.text = rec.revised;
    p.facts = io::split_sentences(p.text);
    p.fields = io::JsonValue::object();
    io::JsonValue tj = io::JsonValue::object();
    for (Index k = 0; k < d; ++k) {
      x(static_cast<Index>(r), k) =
          scored.scores.values(static_cast<Index>(i), cols[static_cast<std::size_t>(k)]);
      tj.set(traits[static_cast<std::size_t>(k)], x(static_cast<Index>(r), k));
    }
    p.fields.set("traits", std::move(tj));
    p.fields.set("group", spec.name);
    p.fields.set("source_persona", rec.original);
    p.fields.set("changes", strings_json(rec.changes));
    io::JsonValue rj = io::JsonValue::object();
    rj.set("rank", static_cast<double>(rec.rank));
    rj.set("score", static_cast<double>(rec.score));
    p.fields.set("retrieval", std::move(rj));
    if (orig.fields.is_object())
      for (const auto& [k, v] : orig.fields.as_object())
        if (k != "traits" && k != "weight" && k != "count" && !p.fields.contains(k))
          p.fields.set(k, v);
    result.pool.push_back(std::move(p));
  }

  // 5. Align to the group reference.
  if (result.pool.empty()) {
    result.warnings.push_back("no persona survived revision, judging and scoring: no group set");
    return result;
  }
  Index n = spec.n;
  if (static_cast<Index>(result.pool.size()) < n) {
    result.warnings.push_back(fmt::format(
        "only {} personas were kept of {} retrieved, fewer than N = {}: the group set has {}",
        result.pool.size(), units, spec.n, result.pool.size()));
    n = static_cast<Index>(result.pool.size());
  }
  align::AlignOptions al = options.align;
  al.n = n;
  al.seed = seed;
  al.execution.cancel = options.execution.cancel;
  al.execution.progress = options.execution.progress;
  align::AlignResult ar;
  try {
    ar = align::align<double>(x, reference.traits.values, al);
  } catch (const Cancelled&) {
    return cancelled_result(std::move(result));
  }
  result.alignment = ar.diagnostics;
  for (const auto& w : ar.diagnostics.warnings) result.warnings.push_back("align: " + w);
  RowMatrix<double> sel(static_cast<Index>(ar.indices.size()), d);
  for (std::size_t k = 0; k < ar.indices.size(); ++k) {
    const auto i = static_cast<std::size_t>(ar.indices[k]);
    sel.row(static_cast<Index>(k)) = x.row(ar.indices[k]);
    result.personas.push_back(result.pool[i]);
    const std::string& id = result.pool[i].id;
    for (auto& rec : result.revisions)
      if (rec.persona_id == id) rec.selected = true;
  }

  // 6. Compare.
  metrics::CompareOptions co = options.compare;
  co.trait_names = traits;
  result.against_reference = metrics::compare<double>(sel, reference.traits.values,
                                                      Vector<double>(), Vector<double>(), co);
  result.global_against_reference = metrics::compare<double>(
      global.values, reference.traits.values, Vector<double>(), Vector<double>(), co);
  result.against_global =
      metrics::compare<double>(sel, global.values, Vector<double>(), Vector<double>(), co);
  options.execution.report("align", 1.0);
  return result;
}

}  // namespace popalign::persona
