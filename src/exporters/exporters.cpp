// Exporters to TinyTroupe, Concordia and OASIS (see include/popalign/exporters/exporters.hpp
// and docs/export.md). Each persona is first "prepared" (unique name, traits, levels, the
// popalign object), then rendered by the format's function; nothing depends on the order of
// hash containers, so the bytes depend only on the inputs.
#include <popalign/exporters/exporters.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>
#include <set>
#include <system_error>

#include <popalign/core/error.hpp>
#include <popalign/io/csv.hpp>

namespace popalign::exporters {
namespace {

using io::JsonValue;

// Short descriptions for TinyTroupe's "Level. description" big_five strings (the form of its
// examples/agents/*.agent.json: "High. Very imaginative and curious.").
constexpr std::array<std::array<const char*, 3>, kBigFiveCount> kDescriptions{{
    {"Low. Practical and conventional; prefers the familiar to the new.",
     "Medium. Open to some new ideas while valuing the familiar.",
     "High. Curious and imaginative; enjoys new ideas and experiences."},
    {"Low. Spontaneous and flexible; not much given to plans or routine.",
     "Medium. Reasonably organized and dependable, without being rigid.",
     "High. Organized, careful and dependable; plans ahead."},
    {"Low. Reserved and quiet; prefers small groups or time alone.",
     "Medium. Sociable at times, but also values quiet time.",
     "High. Outgoing, talkative and energized by other people."},
    {"Low. Direct and competitive; puts own views first.",
     "Medium. Generally cooperative, but stands firm when it matters.",
     "High. Warm, trusting and cooperative; eager to help others."},
    {"Low. Calm and even-tempered; rarely anxious or upset.",
     "Medium. Usually steady, with the occasional worry or bad mood.",
     "High. Easily worried or stressed; moods change quickly."},
}};

// Members of `fields` that the exporters map; the rest is provenance.
const std::set<std::string, std::less<>> kConsumed{"traits",
                                                   "weight",
                                                   "count",
                                                   "name",
                                                   "age",
                                                   "gender",
                                                   "country",
                                                   "nationality",
                                                   "occupation",
                                                   "profession",
                                                   "region",
                                                   "interests",
                                                   "interested_topics",
                                                   "bio",
                                                   "username"};

struct Prepared {
  const io::PersonaRecord* record = nullptr;
  std::string name;
  std::string username;
  std::vector<std::pair<std::string, double>> traits;
  std::vector<std::pair<std::string, Level>> levels;  // key: Big Five name or the column name
  std::array<double, kBigFiveCount> big_five{};
  std::array<bool, kBigFiveCount> has_big_five{};
  std::optional<std::string> mbti;
  JsonValue popalign;
};

const JsonValue* member(const io::PersonaRecord& p, std::string_view key) {
  return p.fields.is_object() ? p.fields.find(key) : nullptr;
}

std::optional<std::string> text_field(const io::PersonaRecord& p,
                                      std::initializer_list<std::string_view> keys) {
  for (auto key : keys) {
    const JsonValue* v = member(p, key);
    if (v == nullptr || v->is_null()) continue;
    if (v->is_string()) {
      if (!v->as_string().empty()) return v->as_string();
      continue;
    }
    if (v->is_number()) return io::format_number(v->as_number());
  }
  return std::nullopt;
}

JsonValue age_of(const io::PersonaRecord& p, const std::string& source) {
  const JsonValue* v = member(p, "age");
  if (v == nullptr || v->is_null()) return JsonValue();
  std::optional<double> x;
  if (v->is_number()) x = v->as_number();
  if (v->is_string()) x = io::parse_number(v->as_string());
  if (!x || *x < 0 || *x > 150)
    throw ParseError(source, p.line, "persona '" + p.id + "': 'age' is not an age in years");
  return JsonValue(std::floor(*x));
}

std::vector<std::string> interests_of(const io::PersonaRecord& p) {
  std::vector<std::string> out;
  for (auto key : {"interests", "interested_topics"}) {
    const JsonValue* v = member(p, key);
    if (v == nullptr || v->is_null()) continue;
    if (v->is_string() && !v->as_string().empty()) out.push_back(v->as_string());
    if (v->is_array())
      for (const auto& e : v->as_array())
        if (e.is_string() && !e.as_string().empty()) out.push_back(e.as_string());
    if (!out.empty()) break;
  }
  return out;
}

JsonValue string_array(const std::vector<std::string>& v) {
  JsonValue a = JsonValue::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}

std::string slug(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 && u < 128)
      out.push_back(static_cast<char>(std::tolower(u)));
    else if (!out.empty() && out.back() != '_')
      out.push_back('_');
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

std::string file_stem(std::string_view id) {
  std::string out;
  for (char c : id) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back((std::isalnum(u) != 0 && u < 128) || c == '-' || c == '_' || c == '.' ? c : '_');
  }
  if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
  return out;
}

std::vector<Prepared> prepare(std::span<const io::PersonaRecord> personas,
                              const ReferenceLevels& reference, const ExportOptions& o,
                              ExportResult& result) {
  const std::string& src = o.personas_source;
  check_argument(!reference.empty(), "reference", "no reference traits (tertiles need them)");
  std::vector<Prepared> out;
  out.reserve(personas.size());
  std::set<std::string, std::less<>> names, usernames;
  for (const auto& p : personas) {
    Prepared q;
    q.record = &p;
    // Traits.
    const JsonValue* traits = member(p, "traits");
    if (traits == nullptr || !traits->is_object() || traits->size() == 0)
      throw ParseError(src, p.line,
                       "persona '" + p.id +
                           "' has no traits (a non-empty 'traits' object, or a --selection "
                           "row with trait columns)");
    for (const auto& [k, v] : traits->as_object()) {
      if (!v.is_number() || !std::isfinite(v.as_number()))
        throw ParseError(src, p.line,
                         "persona '" + p.id + "': trait '" + k + "' is not a finite number");
      q.traits.emplace_back(k, v.as_number());
    }
    for (const auto& [k, x] : q.traits) {
      const TraitCuts* cuts = reference.find(k);
      if (cuts == nullptr)
        throw InvalidArgument("reference", reference.source() + " has no column for trait '" + k +
                                               "' (persona '" + p.id + "', " + src + ":" +
                                               std::to_string(p.line) + ")");
      const auto b = big_five_of(k);
      q.levels.emplace_back(b ? big_five_name(*b) : k, level_of(x, *cuts));
      if (b) {
        q.big_five[static_cast<std::size_t>(*b)] = x;
        q.has_big_five[static_cast<std::size_t>(*b)] = true;
      }
    }
    bool mbti_ok = true;
    std::array<double, kBigFiveCount> medians{};
    for (BigFive t : {BigFive::extraversion, BigFive::openness, BigFive::agreeableness,
                      BigFive::conscientiousness}) {
      const auto k = static_cast<std::size_t>(t);
      const TraitCuts* c = reference.find(t);
      if (!q.has_big_five[k] || c == nullptr) {
        mbti_ok = false;
        break;
      }
      medians[k] = c->median;
    }
    if (mbti_ok) q.mbti = mbti_from_big_five(q.big_five, medians);
    if ((o.format == Format::oasis_reddit) && !q.mbti)
      throw ParseError(src, p.line,
                       "persona '" + p.id +
                           "': MBTI needs extraversion, openness, agreeableness and "
                           "conscientiousness among the traits and the reference");
    // Unique name.
    if (auto n = text_field(p, {"name"})) {
      q.name = *n;
    } else {
      q.name = "Persona " + p.id;
      ++result.generated_names;
    }
    if (names.count(q.name) != 0) {
      std::string n = q.name + " (" + p.id + ")";
      for (int k = 2; names.count(n) != 0; ++k)
        n = q.name + " (" + p.id + ") #" + std::to_string(k);
      q.name = n;
      ++result.renamed_duplicates;
    }
    names.insert(q.name);
    // Unique username (OASIS).
    std::string u = text_field(p, {"username"}).value_or("");
    if (u.empty()) u = "user_" + (slug(p.id).empty() ? std::string("x") : slug(p.id));
    if (usernames.count(u) != 0) {
      std::string v = u + "_2";
      for (int k = 3; usernames.count(v) != 0; ++k) v = u + "_" + std::to_string(k);
      u = v;
    }
    usernames.insert(u);
    q.username = u;
    // The popalign object: numbers that must stay out of the prompt.
    JsonValue pa = JsonValue::object();
    pa.set("popalign_schema", kSchemaVersion);
    pa.set("id", p.id);
    JsonValue t = JsonValue::object();
    for (const auto& [k, x] : q.traits) t.set(k, x);
    pa.set("traits", std::move(t));
    JsonValue l = JsonValue::object();
    for (const auto& [k, lv] : q.levels) l.set(k, level_name(lv));
    pa.set("levels", std::move(l));
    if (q.mbti) pa.set("mbti", *q.mbti);
    if (const JsonValue* w = member(p, "weight"); w != nullptr && w->is_number())
      pa.set("weight", *w);
    if (const JsonValue* c = member(p, "count"); c != nullptr && c->is_number())
      pa.set("count", *c);
    if (p.fields.is_object()) {
      JsonValue prov = JsonValue::object();
      for (const auto& [k, v] : p.fields.as_object())
        if (kConsumed.count(k) == 0) prov.set(k, v);
      if (prov.size() > 0) pa.set("provenance", std::move(prov));
    }
    q.popalign = std::move(pa);
    out.push_back(std::move(q));
  }
  return out;
}

std::string bio_of(const Prepared& q) {
  if (auto b = text_field(*q.record, {"bio"})) return *b;
  return q.record->facts.empty() ? q.record->text : q.record->facts.front();
}

JsonValue optional_string(const io::PersonaRecord& p,
                          std::initializer_list<std::string_view> keys) {
  if (auto s = text_field(p, keys)) return JsonValue(*s);
  return JsonValue();
}

ExportedFile tinytroupe_file(const Prepared& q, const std::string& source) {
  const io::PersonaRecord& p = *q.record;
  JsonValue persona = JsonValue::object();
  persona.set("name", q.name);
  if (JsonValue age = age_of(p, source); !age.is_null()) persona.set("age", std::move(age));
  if (auto g = text_field(p, {"gender"})) persona.set("gender", *g);
  if (auto n = text_field(p, {"nationality", "country"})) persona.set("nationality", *n);
  if (auto r = text_field(p, {"region", "country"})) persona.set("residence", *r);
  if (auto occ = text_field(p, {"occupation", "profession"})) {
    JsonValue o = JsonValue::object();
    o.set("title", *occ);
    persona.set("occupation", std::move(o));
  }
  JsonValue big5 = JsonValue::object();
  for (std::size_t k = 0; k < kBigFiveCount; ++k) {
    const auto t = static_cast<BigFive>(k);
    for (const auto& [name, lv] : q.levels)
      if (name == big_five_name(t)) big5.set(name, kDescriptions[k][static_cast<std::size_t>(lv)]);
  }
  if (big5.size() > 0) {
    JsonValue personality = JsonValue::object();
    personality.set("big_five", std::move(big5));
    persona.set("personality", std::move(personality));
  }
  if (auto in = interests_of(p); !in.empty()) {
    JsonValue prefs = JsonValue::object();
    prefs.set("interests", string_array(in));
    persona.set("preferences", std::move(prefs));
  }
  persona.set("other_facts",
              string_array(p.facts.empty() ? std::vector<std::string>{p.text} : p.facts));
  JsonValue doc = JsonValue::object();
  doc.set("type", "TinyPerson");
  doc.set("persona", std::move(persona));
  doc.set("popalign", q.popalign);
  return {file_stem(p.id) + ".agent.json", pretty_json(doc) + "\n"};
}

JsonValue concordia_entry(const Prepared& q) {
  const io::PersonaRecord& p = *q.record;
  JsonValue axes = JsonValue::object();
  for (const auto& [k, lv] : q.levels) axes.set(k, level_name(lv));
  JsonValue ch = JsonValue::object();
  ch.set("name", q.name);
  ch.set("description", p.text);
  ch.set("axis_position", std::move(axes));
  JsonValue e = JsonValue::object();
  e.set("name", q.name);
  e.set("characteristics", std::move(ch));
  e.set("memories", string_array(p.facts.empty() ? std::vector<std::string>{p.text} : p.facts));
  e.set("shared_memories", JsonValue::array());
  e.set("popalign", q.popalign);
  return e;
}

JsonValue reddit_entry(const Prepared& q, const std::string& source) {
  const io::PersonaRecord& p = *q.record;
  JsonValue e = JsonValue::object();
  e.set("realname", q.name);
  e.set("username", q.username);
  e.set("bio", bio_of(q));
  e.set("persona", p.text);
  e.set("age", age_of(p, source));
  e.set("gender", optional_string(p, {"gender"}));
  e.set("mbti", *q.mbti);
  e.set("country", optional_string(p, {"country", "nationality"}));
  e.set("profession", optional_string(p, {"profession", "occupation"}));
  e.set("interested_topics", string_array(interests_of(p)));
  e.set("popalign", q.popalign);
  return e;
}

std::string twitter_csv(const std::vector<Prepared>& qs) {
  std::string out =
      "user_id,name,username,following_agentid_list,previous_tweets,user_char,description,"
      "popalign\n";
  for (const auto& q : qs) {
    const std::vector<std::string> row{q.record->id, q.name,         q.username, "[]",
                                       "[]",         q.record->text, bio_of(q),  q.popalign.dump()};
    for (std::size_t j = 0; j < row.size(); ++j) {
      if (j > 0) out.push_back(',');
      out += io::quote_field(row[j], ',');
    }
    out.push_back('\n');
  }
  return out;
}

void pretty(const JsonValue& v, int indent, std::string& out) {
  const auto newline = [&](int n) {
    out.push_back('\n');
    out.append(static_cast<std::size_t>(n) * 2, ' ');
  };
  if (v.is_array() && v.size() > 0) {
    out.push_back('[');
    bool first = true;
    for (const auto& e : v.as_array()) {
      if (!first) out.push_back(',');
      first = false;
      newline(indent + 1);
      pretty(e, indent + 1, out);
    }
    newline(indent);
    out.push_back(']');
  } else if (v.is_object() && v.size() > 0) {
    out.push_back('{');
    bool first = true;
    for (const auto& [k, e] : v.as_object()) {
      if (!first) out.push_back(',');
      first = false;
      newline(indent + 1);
      io::append_json_string(out, k);
      out += ": ";
      pretty(e, indent + 1, out);
    }
    newline(indent);
    out.push_back('}');
  } else {
    v.dump_to(out);
  }
}

}  // namespace

std::string pretty_json(const JsonValue& value) {
  std::string out;
  pretty(value, 0, out);
  return out;
}

const char* format_name(Format f) noexcept {
  switch (f) {
    case Format::tinytroupe:
      return "tinytroupe";
    case Format::concordia:
      return "concordia";
    case Format::oasis_reddit:
      return "oasis-reddit";
    case Format::oasis_twitter:
      return "oasis-twitter";
  }
  return "";
}

std::optional<Format> parse_format(std::string_view name) noexcept {
  for (Format f :
       {Format::tinytroupe, Format::concordia, Format::oasis_reddit, Format::oasis_twitter})
    if (name == format_name(f)) return f;
  return std::nullopt;
}

bool writes_folder(Format f) noexcept { return f == Format::tinytroupe; }

Selection read_selection(const std::filesystem::path& selection_csv) {
  Selection sel;
  sel.source = selection_csv.string();
  const io::Table table = io::read_table(selection_csv);
  const std::size_t id_col = table.require_column("id");
  const auto weight_col = table.find_column("weight");
  const auto count_col = table.find_column("count");
  std::vector<std::size_t> trait_cols;
  for (std::size_t j = 0; j < table.num_columns(); ++j)
    if (j != id_col && (!weight_col || j != *weight_col) && (!count_col || j != *count_col))
      trait_cols.push_back(j);
  if (trait_cols.empty())
    throw ParseError(sel.source, 1,
                     "no trait column (expected id, [count|weight], one column per trait)");
  for (std::size_t j : trait_cols) sel.traits.push_back(table.columns[j]);
  for (std::size_t r = 0; r < table.num_rows(); ++r) {
    const auto& row = table.rows[r];
    const std::size_t line = table.lines[r];
    const auto number = [&](std::size_t j) {
      const auto x = io::parse_number(row[j]);
      if (!x)
        throw io::CsvError(sel.source, line, 0, table.columns[j],
                           "'" + row[j] + "' is not a number (column " + table.columns[j] + ")");
      return *x;
    };
    sel.ids.push_back(row[id_col]);
    sel.lines.push_back(line);
    for (std::size_t j : trait_cols) sel.values.push_back(number(j));
    if (weight_col) sel.weights.push_back(number(*weight_col));
    if (count_col) sel.counts.push_back(number(*count_col));
  }
  return sel;
}

void Selection::validate() const {
  const std::size_t n = ids.size();
  check_argument(!traits.empty(), "traits", "a selection needs at least one trait column");
  check_argument(values.size() == n * traits.size(), "values", "must hold ids x traits numbers");
  check_argument(weights.empty() || weights.size() == n, "weights", "one per id, or none");
  check_argument(counts.empty() || counts.size() == n, "counts", "one per id, or none");
  check_argument(lines.empty() || lines.size() == n, "lines", "one per id, or none");
}

std::vector<io::PersonaRecord> join_selection(std::span<const io::PersonaRecord> personas,
                                              const Selection& sel) {
  sel.validate();
  std::map<std::string, std::size_t, std::less<>> index;
  for (std::size_t i = 0; i < personas.size(); ++i) index.emplace(personas[i].id, i);
  std::set<std::string, std::less<>> seen;
  std::vector<io::PersonaRecord> out;
  out.reserve(sel.ids.size());
  const std::size_t d = sel.traits.size();
  for (std::size_t r = 0; r < sel.ids.size(); ++r) {
    const std::size_t line = sel.lines.empty() ? r + 1 : sel.lines[r];
    const std::string& id = sel.ids[r];
    const auto it = index.find(id);
    if (it == index.end())
      throw ParseError(sel.source, line, "id '" + id + "' is not among the personas");
    if (!seen.insert(id).second)
      throw ParseError(sel.source, line, "id '" + id + "' is listed twice");
    io::PersonaRecord p = personas[it->second];
    JsonValue traits = JsonValue::object();
    for (std::size_t j = 0; j < d; ++j) traits.set(sel.traits[j], sel.values[r * d + j]);
    p.fields.set("traits", std::move(traits));
    if (!sel.weights.empty()) p.fields.set("weight", sel.weights[r]);
    if (!sel.counts.empty()) p.fields.set("count", sel.counts[r]);
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<io::PersonaRecord> join_selection(std::span<const io::PersonaRecord> personas,
                                              const std::filesystem::path& selection_csv) {
  return join_selection(personas, read_selection(selection_csv));
}

ExportResult render_export(std::span<const io::PersonaRecord> personas,
                           const ReferenceLevels& reference, const ExportOptions& options) {
  options.validate();
  ExportResult result;
  const std::vector<Prepared> qs = prepare(personas, reference, options, result);
  result.personas = qs.size();
  switch (options.format) {
    case Format::tinytroupe: {
      std::map<std::string, std::string> stems;  // file name -> id
      for (const auto& q : qs) {
        ExportedFile f = tinytroupe_file(q, options.personas_source);
        const auto [it, fresh] = stems.emplace(f.name, q.record->id);
        if (!fresh)
          throw InvalidArgument("personas", "ids '" + it->second + "' and '" + q.record->id +
                                                "' give the same file name " + f.name);
        result.files.push_back(std::move(f));
      }
      break;
    }
    case Format::concordia: {
      JsonValue list = JsonValue::array();
      for (const auto& q : qs) list.push_back(concordia_entry(q));
      result.files.push_back({"concordia_personas.json", pretty_json(list) + "\n"});
      break;
    }
    case Format::oasis_reddit: {
      JsonValue list = JsonValue::array();
      for (const auto& q : qs) list.push_back(reddit_entry(q, options.personas_source));
      result.files.push_back({"oasis_reddit_users.json", pretty_json(list) + "\n"});
      break;
    }
    case Format::oasis_twitter:
      result.files.push_back({"oasis_twitter_users.csv", twitter_csv(qs)});
      break;
  }
  return result;
}

void write_export(const std::filesystem::path& out, const ExportResult& result, Format format) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (writes_folder(format)) {
    if (fs::exists(out, ec) && !fs::is_directory(out, ec))
      throw IoError(out.string(), "exists and is not a folder (tinytroupe writes a folder)");
    fs::create_directories(out, ec);
    if (ec) throw IoError(out.string(), "cannot create the folder: " + ec.message());
    std::set<std::string> ours;
    for (const auto& f : result.files) ours.insert(f.name);
    for (const auto& entry : fs::directory_iterator(out)) {
      const std::string name = entry.path().filename().string();
      if (name.ends_with(".agent.json") && ours.count(name) == 0)
        throw IoError(entry.path().string(),
                      "is not part of this export, and TinyPerson.load_specifications_from_folder "
                      "would load it too; use an empty folder");
    }
    for (const auto& f : result.files) io::write_file_atomically(out / f.name, f.content);
  } else {
    if (fs::is_directory(out, ec))
      throw IoError(out.string(),
                    std::string("is a folder; ") + format_name(format) + " writes one file");
    if (result.files.size() != 1) throw Error("write_export: expected one file");
    io::write_file_atomically(out, result.files.front().content);
  }
}

ExportResult export_personas(std::span<const io::PersonaRecord> personas,
                             const ReferenceLevels& reference, const ExportOptions& options,
                             const std::filesystem::path& out) {
  ExportResult r = render_export(personas, reference, options);
  write_export(out, r, options.format);
  return r;
}

}  // namespace popalign::exporters
