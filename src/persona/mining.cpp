// The mining pipeline with resume and the funnel. See persona/mining.hpp.
#include <popalign/persona/mining.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>

#include <fmt/core.h>
#include <popalign/core/error.hpp>
#include <popalign/io/jsonl.hpp>
#include <popalign/llm/types.hpp>
#include <popalign/persona/privacy.hpp>

#include "ask.hpp"

namespace popalign::persona {

namespace {

template <class F>
void prefixed(const char* prefix, F&& validate) {
  try {
    validate();
  } catch (const InvalidArgument& e) {
    std::string message = e.what();
    const std::string head = "invalid argument '" + e.argument() + "': ";
    if (message.rfind(head, 0) == 0) message.erase(0, head.size());
    throw InvalidArgument(std::string(prefix) + "." + e.argument(), message);
  }
}

// The key of a unit: its first request (model filled in) and max_attempts.
std::string unit_key(llm::Request r, int max_attempts, const std::string& default_model) {
  if (r.model.empty()) r.model = default_model;
  return llm::sha256_hex(llm::request_hash(r) + ":" + std::to_string(max_attempts));
}

// A step's work file: finished units by id (last line wins), and the appender.
class StepFile {
 public:
  StepFile(const std::filesystem::path& dir, const std::string& name, bool fsync,
           bool open_writer) {
    if (dir.empty()) return;
    path_ = dir / (name + ".jsonl");
    if (std::filesystem::exists(path_)) {
      io::JsonlReadOptions ro;
      ro.on_malformed = io::OnMalformed::skip;
      io::JsonlReadResult r = io::read_jsonl(path_, ro);
      for (io::JsonlRecord& rec : r.records) {
        const io::JsonValue* unit = rec.value.find("unit");
        const io::JsonValue* key = rec.value.find("key");
        if (unit == nullptr || key == nullptr || !unit->is_string() || !key->is_string()) continue;
        lines_[unit->as_string()] = std::move(rec.value);
      }
    }
    if (open_writer) {
      std::filesystem::create_directories(dir);
      writer_ = std::make_unique<io::JsonlWriter>(path_, io::JsonlWriteOptions{.fsync = fsync});
    }
  }
  /// The line of `unit` when its key matches, else null.
  const io::JsonValue* find(const std::string& unit, const std::string& key) const {
    const auto it = lines_.find(unit);
    if (it == lines_.end()) return nullptr;
    const io::JsonValue* k = it->second.find("key");
    return k->as_string() == key ? &it->second : nullptr;
  }
  void append(const io::JsonValue& line) {
    if (writer_) writer_->write(line);
  }

 private:
  std::filesystem::path path_;
  std::map<std::string, io::JsonValue> lines_;
  std::unique_ptr<io::JsonlWriter> writer_;
};

std::string str(const io::JsonValue* v) {
  return v != nullptr && v->is_string() ? v->as_string() : std::string();
}
// A small integer field of a checkpoint line; anything else (absent, not a number, NaN, out of
// int's range) reads as 0 -- the cast of an out-of-range double to int is undefined.
int num(const io::JsonValue* v) {
  if (v == nullptr || !v->is_number()) return 0;
  const double d = v->as_number();
  return std::isfinite(d) && std::abs(d) < 1e9 ? static_cast<int>(d) : 0;
}

io::JsonValue scores_json(const CritiqueScores& s) {
  io::JsonValue o = io::JsonValue::object();
  o.set("hallucination", s.hallucination).set("coverage", s.coverage);
  o.set("conciseness", s.conciseness).set("relevance", s.relevance).set("overall", s.overall);
  o.set("explanation", s.explanation);
  return o;
}

CritiqueScores scores_from(const io::JsonValue& o) {
  CritiqueScores s;
  s.hallucination = num(o.find("hallucination"));
  s.coverage = num(o.find("coverage"));
  s.conciseness = num(o.find("conciseness"));
  s.relevance = num(o.find("relevance"));
  s.overall = num(o.find("overall"));
  s.explanation = str(o.find("explanation"));
  return s;
}

void merge_calls(StepCalls& into, const StepCalls& c) {
  into.calls += c.calls;
  into.cached_calls += c.cached_calls;
  into.failed_calls += c.failed_calls;
  into.reasks += c.reasks;
  for (const std::string& m : c.messages)
    if (into.messages.size() < 20) into.messages.push_back(m);
  if (c.status == "cancelled") into.status = "cancelled";
}

// Runs `units` (indices into some list) in rounds: ask(round indices) does the calls and
// returns false when cancelled.
bool in_rounds(const std::vector<std::size_t>& todo, std::size_t round_size, std::size_t total,
               std::size_t already, const std::string& step, const MiningOptions& options,
               const std::function<bool(const std::vector<std::size_t>&)>& ask) {
  std::size_t done = already;
  if (options.progress && options.progress(step, done, total)) return false;
  for (std::size_t b = 0; b < todo.size(); b += round_size) {
    const std::vector<std::size_t> round(
        todo.begin() + static_cast<std::ptrdiff_t>(b),
        todo.begin() + static_cast<std::ptrdiff_t>(std::min(todo.size(), b + round_size)));
    if (!ask(round)) return false;
    done += round.size();
    if (options.progress && options.progress(step, done, total)) return false;
    if (options.cancel.cancelled()) return false;
  }
  return true;
}

// True when some unit of a step already has a usable answer (from the work files or an earlier
// round): a round whose every call failed is then not an unusable server but failing units.
template <class T, class F>
bool any_success(const std::vector<T>& units, F&& usable) {
  for (const T& u : units)
    if (static_cast<bool>(usable(u))) return true;
  return false;
}

template <class T>
T failed_unit(const BackendError& e) {
  T u;
  u.reason = "call failed";
  u.detail = e.what();
  return u;
}

struct Prepared {
  PrefilterResult filtered;
  Funnel funnel;
};

Prepared read_and_prefilter(const PostCorpus& corpus, const MiningOptions& options) {
  Prepared p;
  FunnelStep& read = p.funnel.add_step("read", "records", 0, "posts");
  read.out = corpus.posts.size();
  for (const PostReadProblem& pr : corpus.problems)
    p.funnel.drop("read", pr.line ? fmt::format("{}:{}", pr.source, pr.line) : pr.source,
                  "malformed", pr.message);
  if (corpus.read > corpus.posts.size())
    read.dropped["beyond max_authors"] = corpus.read - corpus.posts.size();
  if (corpus.empty > 0) read.dropped["empty"] = corpus.empty;
  if (corpus.transcoded > 0) read.changed["decoded as Windows-1252"] = corpus.transcoded;
  if (corpus.undated > 0) read.changed["undated"] = corpus.undated;
  read.in = read.out;  // every record read is a post kept or a drop
  for (const auto& [reason, n] : read.dropped) read.in += n;
  p.filtered = prefilter(corpus.posts, options.prefilter);
  FunnelStep& pf = p.funnel.add_step("prefilter", "posts", corpus.posts.size(), "posts");
  pf.out = p.filtered.kept.size();
  for (const DroppedPost& d : p.filtered.dropped)
    p.funnel.drop("prefilter", d.post_id, d.reason, d.detail);
  return p;
}

std::vector<CritiqueInput> critique_inputs(
    const std::vector<PersonaDraft>& drafts,
    const std::map<std::string, const AuthorWindow*>& by_id) {
  std::vector<CritiqueInput> out;
  for (const PersonaDraft& d : drafts) out.push_back({d.id, d.text, by_id.at(d.id)->posts});
  return out;
}

}  // namespace

void MiningOptions::validate() const {
  prefixed("prefilter", [&] { prefilter.validate(); });
  prefixed("quality", [&] { quality.validate(); });
  prefixed("writer", [&] { writer.validate(); });
  prefixed("critique", [&] { critique.validate(); });
  prefixed("dedup", [&] { dedup.validate(); });
  check_argument(round_size >= 1, "round_size", "must be >= 1");
}

io::PersonaRecord mined_record(const PersonaDraft& draft, const CritiqueScores& scores,
                               const io::JsonValue& meta) {
  io::PersonaRecord r;
  r.id = draft.id;
  r.text = draft.text;
  io::JsonValue f = io::JsonValue::object();
  f.set("author", draft.author);
  io::JsonValue ids = io::JsonValue::array();
  for (const std::string& id : draft.post_ids) ids.push_back(id);
  f.set("source_posts", std::move(ids));
  f.set("scores", scores_json(scores));
  io::JsonValue w = io::JsonValue::object();
  w.set("index", draft.window + 1).set("of", draft.windows);
  w.set("first", draft.first_time).set("last", draft.last_time);
  f.set("window", std::move(w));
  f.set("provenance", meta);
  r.fields = std::move(f);
  return r;
}

MiningResult mine_personas(llm::LlmBackend& backend, const embedding::Embedder* embedder,
                           const PostCorpus& corpus, const MiningOptions& options_in) {
  options_in.validate();
  check_argument(embedder != nullptr || !options_in.deduplicate, "embedder",
                 "is required for deduplication (or set deduplicate = false)");
  MiningOptions options = options_in;
  options.quality.batch.execution.cancel = options.cancel;
  options.writer.batch.execution.cancel = options.cancel;
  options.critique.batch.execution.cancel = options.cancel;
  const std::string default_model = backend.default_model();
  auto log = [&](const std::string& m) {
    if (options.log) options.log(m);
  };

  MiningResult result;
  Prepared prep = read_and_prefilter(corpus, options);
  result.funnel = std::move(prep.funnel);
  Funnel& funnel = result.funnel;
  const std::vector<Post>& posts = prep.filtered.kept;
  auto cancelled = [&]() {
    result.status = "cancelled";
    result.personas.clear();
    return result;
  };

  // ---- 3. post quality
  MiningStepCalls qcalls{"quality", {}, posts.size(), 0};
  std::vector<PostAssessment> assessments(posts.size());
  {
    StepFile file(options.work_dir, "quality", options.fsync, true);
    std::vector<std::string> keys(posts.size());
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < posts.size(); ++i) {
      keys[i] = unit_key(post_quality_request(posts[i], options.quality, 0),
                         options.quality.max_attempts, default_model);
      const io::JsonValue* line = file.find(posts[i].id, keys[i]);
      if (line == nullptr) {
        todo.push_back(i);
        continue;
      }
      PostAssessment& a = assessments[i];
      a.attempts = num(line->find("attempts"));
      const io::JsonValue* q = line->find("quality");
      if (q != nullptr && q->is_string()) {
        const io::JsonValue* h = line->find("harmful");
        a.verdict = PostVerdict{quality_from_string(q->as_string()), h != nullptr && h->as_bool()};
      } else {
        a.detail = str(line->find("problem"));
      }
      ++qcalls.resumed;
    }
    const bool finished = in_rounds(
        todo, options.round_size, posts.size(), qcalls.resumed, "quality", options,
        [&](const std::vector<std::size_t>& round) {
          std::vector<Post> batch;
          for (const std::size_t i : round) batch.push_back(posts[i]);
          PostQualityResult r;
          try {
            r = assess_posts(backend, batch, options.quality);
          } catch (const BackendError& e) {
            if (!any_success(assessments, [](const PostAssessment& a) { return a.verdict; })) throw;
            r.assessments.assign(batch.size(), failed_unit<PostAssessment>(e));
            r.report.calls = r.report.failed_calls = batch.size();
          }
          merge_calls(qcalls.calls, r.report);
          for (std::size_t k = 0; k < round.size(); ++k) {
            PostAssessment& a = r.assessments[k];
            const std::size_t i = round[k];
            if (a.finished && a.reason != "call failed") {
              io::JsonValue line = io::JsonValue::object();
              line.set("unit", posts[i].id).set("key", keys[i]);
              if (a.verdict) {
                line.set("quality", std::string(to_string(a.verdict->quality)));
                line.set("harmful", a.verdict->harmful);
              } else {
                line.set("quality", nullptr).set("problem", a.detail);
              }
              line.set("attempts", a.attempts);
              file.append(line);
            }
            assessments[i] = std::move(a);
          }
          return r.report.status != "cancelled";
        });
    if (!finished) {
      result.calls.push_back(qcalls);
      return cancelled();
    }
  }
  std::vector<Post> kept_posts;
  FunnelStep& qs = funnel.add_step("quality", "posts", posts.size(), "posts");
  for (std::size_t i = 0; i < posts.size(); ++i) {
    PostAssessment& a = assessments[i];
    if (a.reason == "call failed") {  // no detail: failures vary from run to run
      funnel.drop("quality", posts[i].id, a.reason);
      continue;
    }
    if (!a.verdict) {
      funnel.drop("quality", posts[i].id, "off-schema answer", a.detail);
      continue;
    }
    const std::string reason = post_drop_reason(*a.verdict, options.quality);
    if (reason.empty())
      kept_posts.push_back(posts[i]);
    else
      funnel.drop("quality", posts[i].id, reason);
  }
  qs.out = kept_posts.size();
  result.calls.push_back(qcalls);

  // ---- 4. windows and persona writing
  const Windowing windowing = make_windows(kept_posts, options.writer);
  FunnelStep& ws = funnel.add_step("windows", "authors", windowing.authors, "windows");
  ws.out = windowing.windows.size();
  if (windowing.cut_posts > 0) ws.changed["posts cut to fit the context"] = windowing.cut_posts;
  for (const DroppedAuthor& d : windowing.dropped)
    funnel.drop("windows", d.author, d.reason, fmt::format("{} kept posts", d.posts));
  std::map<std::string, const AuthorWindow*> window_by_id;
  for (const AuthorWindow& w : windowing.windows) window_by_id[w.id()] = &w;

  MiningStepCalls wcalls{"personas", {}, windowing.windows.size(), 0};
  std::vector<PersonaDraft> drafts(windowing.windows.size());
  {
    StepFile file(options.work_dir, "personas", options.fsync, true);
    std::vector<std::string> keys(drafts.size());
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < drafts.size(); ++i) {
      const AuthorWindow& w = windowing.windows[i];
      keys[i] = unit_key(persona_request(w, options.writer, 0), options.writer.max_attempts,
                         default_model);
      const io::JsonValue* line = file.find(w.id(), keys[i]);
      if (line == nullptr) {
        todo.push_back(i);
        continue;
      }
      PersonaDraft d = draft_for(w);
      const std::string status = str(line->find("status"));
      d.attempts = num(line->find("attempts"));
      if (status == "ok") {
        d.kept = true;
        d.text = str(line->find("persona"));
      } else {
        d.reason = status;
        d.detail = str(line->find("detail"));
      }
      drafts[i] = std::move(d);
      ++wcalls.resumed;
    }
    const bool finished = in_rounds(
        todo, options.round_size, drafts.size(), wcalls.resumed, "personas", options,
        [&](const std::vector<std::size_t>& round) {
          std::vector<AuthorWindow> batch;
          for (const std::size_t i : round) batch.push_back(windowing.windows[i]);
          PersonaWritingResult r;
          try {
            r = draft_personas(backend, batch, options.writer);
          } catch (const BackendError& e) {
            if (!any_success(drafts, [](const PersonaDraft& d) {
                  return !d.id.empty() && d.finished && d.reason != "call failed";
                }))
              throw;
            for (const AuthorWindow& w : batch) {
              PersonaDraft d = draft_for(w);
              d.reason = "call failed";
              d.detail = e.what();
              r.drafts.push_back(std::move(d));
            }
            r.report.calls = r.report.failed_calls = batch.size();
          }
          merge_calls(wcalls.calls, r.report);
          for (std::size_t k = 0; k < round.size(); ++k) {
            PersonaDraft& d = r.drafts[k];
            const std::size_t i = round[k];
            if (d.finished && d.reason != "call failed") {
              io::JsonValue line = io::JsonValue::object();
              line.set("unit", d.id).set("key", keys[i]);
              line.set("status", d.kept ? std::string("ok") : d.reason);
              line.set("persona", d.text).set("detail", d.detail).set("attempts", d.attempts);
              file.append(line);
            }
            drafts[i] = std::move(d);
          }
          return r.report.status != "cancelled";
        });
    if (!finished) {
      result.calls.push_back(wcalls);
      return cancelled();
    }
  }
  std::vector<PersonaDraft> written;
  FunnelStep& ps = funnel.add_step("personas", "windows", drafts.size(), "personas");
  for (PersonaDraft& d : drafts) {
    if (d.kept)
      written.push_back(d);
    else
      funnel.drop("personas", d.id, d.reason, d.reason == "call failed" ? "" : d.detail);
  }
  ps.out = written.size();
  result.calls.push_back(wcalls);

  // ---- 5. critique
  MiningStepCalls ccalls{"critique", {}, written.size(), 0};
  std::vector<PersonaCritique> critiques(written.size());
  const std::vector<CritiqueInput> inputs = critique_inputs(written, window_by_id);
  {
    StepFile file(options.work_dir, "critique", options.fsync, true);
    std::vector<std::string> keys(inputs.size());
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      keys[i] = unit_key(critique_request(inputs[i], options.critique, 0),
                         options.critique.max_attempts, default_model);
      const io::JsonValue* line = file.find(inputs[i].id, keys[i]);
      if (line == nullptr) {
        todo.push_back(i);
        continue;
      }
      PersonaCritique& c = critiques[i];
      c.id = inputs[i].id;
      c.attempts = num(line->find("attempts"));
      const io::JsonValue* s = line->find("scores");
      if (s != nullptr && s->is_object())
        c.scores = scores_from(*s);
      else
        c.detail = str(line->find("problem"));
      ++ccalls.resumed;
    }
    const bool finished = in_rounds(
        todo, options.round_size, inputs.size(), ccalls.resumed, "critique", options,
        [&](const std::vector<std::size_t>& round) {
          std::vector<CritiqueInput> batch;
          for (const std::size_t i : round) batch.push_back(inputs[i]);
          CritiqueResult r;
          try {
            r = critique_personas(backend, batch, options.critique);
          } catch (const BackendError& e) {
            if (!any_success(critiques, [](const PersonaCritique& c) { return c.scores; })) throw;
            for (const CritiqueInput& in : batch) {
              PersonaCritique c = failed_unit<PersonaCritique>(e);
              c.id = in.id;
              r.critiques.push_back(std::move(c));
            }
            r.report.calls = r.report.failed_calls = batch.size();
          }
          merge_calls(ccalls.calls, r.report);
          for (std::size_t k = 0; k < round.size(); ++k) {
            PersonaCritique& c = r.critiques[k];
            const std::size_t i = round[k];
            if (c.finished && c.reason != "call failed") {
              io::JsonValue line = io::JsonValue::object();
              line.set("unit", c.id).set("key", keys[i]);
              if (c.scores)
                line.set("scores", scores_json(*c.scores));
              else
                line.set("scores", nullptr).set("problem", c.detail);
              line.set("attempts", c.attempts);
              file.append(line);
            }
            critiques[i] = std::move(c);
          }
          return r.report.status != "cancelled";
        });
    if (!finished) {
      result.calls.push_back(ccalls);
      return cancelled();
    }
  }
  FunnelStep& cs = funnel.add_step("critique", "personas", written.size(), "personas");
  std::vector<std::size_t> judged;  // indices into written / critiques
  for (std::size_t i = 0; i < written.size(); ++i) {
    const PersonaCritique& c = critiques[i];
    if (c.reason == "call failed") {
      funnel.drop("critique", c.id, c.reason);
      continue;
    }
    if (!c.scores) {
      funnel.drop("critique", written[i].id, "off-schema answer", c.detail);
      continue;
    }
    std::string detail;
    const std::string reason = critique_drop_reason(*c.scores, options.critique, &detail);
    if (reason.empty())
      judged.push_back(i);
    else
      funnel.drop("critique", written[i].id, reason, detail);
  }
  cs.out = judged.size();
  result.calls.push_back(ccalls);

  // ---- 6. privacy and dedup
  std::map<std::string, const Post*> post_by_id;
  for (const Post& p : kept_posts) post_by_id[p.id] = &p;
  io::JsonValue prompts = io::JsonValue::object();
  prompts.set("quality", options.quality.prompt.id).set("writer", options.writer.prompt.id);
  prompts.set("critique", options.critique.prompt.id);
  io::JsonValue models = io::JsonValue::object();
  models.set("writer", options.writer.model.empty() ? default_model : options.writer.model);
  models.set("judge", options.critique.model.empty() ? default_model : options.critique.model);
  FunnelStep& pv = funnel.add_step("privacy", "personas", judged.size(), "personas");
  std::vector<io::PersonaRecord> records;
  for (const std::size_t i : judged) {
    PersonaDraft d = written[i];
    io::JsonValue redactions = io::JsonValue::array();
    if (options.redact) {
      RedactResult rr = redact_pii(d.text);
      for (const Redaction& r : rr.redactions) {
        ++pv.changed[r.kind];
        io::JsonValue o = io::JsonValue::object();
        o.set("kind", r.kind).set("offset", r.offset);
        redactions.push_back(std::move(o));
      }
      d.text = std::move(rr.text);
    }
    io::JsonValue meta = io::JsonValue::object();
    const Post* first = d.post_ids.empty() ? nullptr : post_by_id.at(d.post_ids.front());
    meta.set("author_meta", first != nullptr ? first->meta : io::JsonValue());
    meta.set("models", models).set("prompts", prompts);
    io::PersonaRecord rec = mined_record(d, *critiques[i].scores, meta);
    rec.fields.set("redactions", std::move(redactions));
    records.push_back(std::move(rec));
  }
  pv.out = records.size();

  FunnelStep& dd = funnel.add_step("dedup", "personas", records.size(), "personas");
  if (options.deduplicate && records.size() > 1) {
    std::vector<std::string> texts;
    for (const io::PersonaRecord& r : records) texts.push_back(r.text);
    const PersonaDedupResult dr = dedup_personas(*embedder, texts, options.dedup);
    std::vector<bool> keep(records.size(), true);
    for (const auto& [removed, kept] : dr.removed) {
      keep[removed] = false;
      funnel.drop("dedup", records[removed].id, "near-duplicate",
                  fmt::format("of {}, cosine {:.3f}", records[kept].id, dr.similarity[removed]));
    }
    std::vector<io::PersonaRecord> out;
    for (std::size_t i = 0; i < records.size(); ++i)
      if (keep[i]) out.push_back(std::move(records[i]));
    records = std::move(out);
  }
  dd.out = records.size();
  result.personas = std::move(records);

  for (const MiningStepCalls& c : result.calls) {
    for (const std::string& m : c.calls.messages)
      if (result.messages.size() < 60) result.messages.push_back(c.step + ": " + m);
    if (c.calls.failed_calls > 0)
      log(
          fmt::format("{}: {} calls failed after retries (dropped as \"call failed\"; rerun to "
                      "ask them again)",
                      c.step, c.calls.failed_calls));
  }
  return result;
}

MiningEstimate estimate_mining(const PostCorpus& corpus, const MiningOptions& options,
                               const std::string& default_model) {
  options.validate();
  MiningEstimate est;
  Prepared prep = read_and_prefilter(corpus, options);
  est.funnel = std::move(prep.funnel);
  const std::vector<Post>& posts = prep.filtered.kept;
  auto tokens = [](const llm::Request& r) {
    std::size_t t = 0;
    for (const llm::Message& m : r.messages) t += detail::estimate_tokens(m.content) + 4;
    return t;
  };
  est.max_attempts_quality = options.quality.max_attempts;
  est.max_attempts_writer = options.writer.max_attempts;
  est.max_attempts_critique = options.critique.max_attempts;
  {
    StepFile file(options.work_dir, "quality", false, false);
    StepEstimate s{"quality"};
    for (const Post& p : posts) {
      const llm::Request r = post_quality_request(p, options.quality, 0);
      if (file.find(p.id, unit_key(r, options.quality.max_attempts, default_model))) {
        ++s.done;
        continue;
      }
      ++s.calls;
      s.prompt_tokens += tokens(r);
    }
    s.max_completion_tokens = s.calls * static_cast<std::size_t>(options.quality.max_tokens);
    est.steps.push_back(s);
  }
  const Windowing windowing = make_windows(posts, options.writer);
  {
    StepFile wfile(options.work_dir, "personas", false, false);
    StepEstimate w{"personas"}, c{"critique"};
    const std::size_t persona_tokens = static_cast<std::size_t>(options.writer.max_words) * 2;
    for (const AuthorWindow& win : windowing.windows) {
      const llm::Request r = persona_request(win, options.writer, 0);
      const std::size_t t = tokens(r);
      if (wfile.find(win.id(), unit_key(r, options.writer.max_attempts, default_model)))
        ++w.done;
      else {
        ++w.calls;
        w.prompt_tokens += t;
      }
      ++c.calls;
      CritiqueInput in{win.id(), "", win.posts};
      c.prompt_tokens += tokens(critique_request(in, options.critique, 0)) + persona_tokens;
    }
    w.max_completion_tokens = w.calls * static_cast<std::size_t>(options.writer.max_tokens);
    c.max_completion_tokens = c.calls * static_cast<std::size_t>(options.critique.max_tokens);
    est.steps.push_back(w);
    est.steps.push_back(c);
  }
  return est;
}

}  // namespace popalign::persona
