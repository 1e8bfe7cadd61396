// Group construction (persona/groups.hpp, persona/group_prompts.hpp): the spec and its JSON
// reader, the reference filters, the answer readers, and build_group end to end against the
// TEST DOUBLE of tests/persona/group_test_double.hpp (respondents with latent traits, revisions
// that move them).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <popalign/administer/administer.hpp>
#include <popalign/core/random.hpp>
#include <popalign/embedding/embedder.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/persona/group_prompts.hpp>
#include <popalign/persona/groups.hpp>
#include <popalign/psychometrics/instrument.hpp>

#include "group_test_double.hpp"

namespace pa = popalign;
namespace ps = popalign::persona;
using popalign::Index;

namespace {

// ---- spec reader ----------------------------------------------------------------------------

TEST(GroupSpec, ParsesJsonLinesAndArraysWithDefaults) {
  const auto a = ps::parse_group_specs(
      "# groups\n"
      R"({"name": "east-asia", "query": "adults living in East Asia", "reference": "region:East Asia"})"
      "\n\n"
      R"({"name": "us", "query": "people in the US", "reference": {"countries": ["us", "CA"]}, "n": 50, "depth": 120, "seed": 3})"
      "\n");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].n, 1000);
  EXPECT_EQ(a[0].resolved_depth(), 3000);
  EXPECT_EQ(a[0].reference.kind, ps::ReferenceFilter::Kind::region);
  EXPECT_EQ(a[0].reference.region, "East Asia");
  EXPECT_EQ(a[1].reference.to_string(), "country:us,CA");
  EXPECT_EQ(a[1].resolved_depth(), 120);
  EXPECT_EQ(a[1].seed, 3u);
  const auto b = ps::parse_group_specs(
      "[\n  {\"name\": \"hs\", \"query\": \"US high-school students\",\n"
      "   \"reference\": {\"column\": \"school\", \"value\": \"high school\"}, \"n\": 10},\n"
      "  {\"name\": \"all\", \"query\": \"anyone\"}\n]\n");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].reference.to_string(), "column:school=high school");
  EXPECT_EQ(b[1].reference.kind, ps::ReferenceFilter::Kind::all);
}

void expect_parse_error(const std::string& text, std::size_t line, const std::string& what) {
  try {
    ps::parse_group_specs(text, "specs.json");
    ADD_FAILURE() << "no error for " << text;
  } catch (const pa::ParseError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(line ? "specs.json:" + std::to_string(line) : "specs.json:"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
  }
}

TEST(GroupSpec, ErrorsNameTheFileLineAndField) {
  expect_parse_error("{\"name\":\"a\",\"query\":\"q\"}\n{\"name\":\"b\"}\n", 2, "missing 'query'");
  expect_parse_error("{\"name\":\"a\",\"query\":\"q\",\"size\":3}\n", 1, "unknown member 'size'");
  expect_parse_error("{\"name\":\"a\",\"query\":\"q\",\"n\":-1}\n", 1, "'n'");
  expect_parse_error("{\"name\":\"a\",\"query\":\"q\",\"n\":10,\"depth\":5}\n", 1, "depth");
  expect_parse_error("{\"name\":\"a b\",\"query\":\"q\"}\n", 1, "name");
  expect_parse_error("{\"name\":\"a\",\"query\":\"q\"}\n{\"name\":\"a\",\"query\":\"r\"}\n", 2,
                     "used twice");
  expect_parse_error("{\"name\":\"a\",\"query\":\"q\",\"reference\":\"column:school\"}\n", 1,
                     "column:NAME=VALUE");
  expect_parse_error("{\"name\":\"a\",\"query\":\"q\",\"reference\":{\"planet\":\"x\"}}\n", 1,
                     "reference.planet");
  expect_parse_error("[\n{\"name\":\"a\",\"query\":\"q\"},\n\n{\"name\":\"b\",\"query\":\"\"}\n]",
                     4, "query");
  expect_parse_error("{\"name\":\"a\",\n", 1, "not JSON");
  expect_parse_error("\n# nothing\n", 0, "no group spec");
  EXPECT_THROW(ps::read_group_specs("/nonexistent/specs.json"), pa::IoError);
}

TEST(GroupSpec, ValidateNamesTheField) {
  ps::GroupSpec g{.name = "g", .query = "q"};
  EXPECT_NO_THROW(g.validate());
  auto field_of = [](const ps::GroupSpec& s) {
    try {
      s.validate();
    } catch (const pa::InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(field_of({.name = "", .query = "q"}).find("'name'"), std::string::npos);
  EXPECT_NE(field_of({.name = "g", .query = " "}).find("'query'"), std::string::npos);
  EXPECT_NE(field_of({.name = "g", .query = "q", .n = 0}).find("'n'"), std::string::npos);
  ps::GroupSpec r{.name = "g", .query = "q"};
  r.reference.kind = ps::ReferenceFilter::Kind::column;
  EXPECT_NE(field_of(r).find("reference.column"), std::string::npos);
  EXPECT_EQ(ps::ReferenceFilter::parse("East Asia").to_string(), "region:East Asia");
  EXPECT_EQ(ps::ReferenceFilter::parse("all").kind, ps::ReferenceFilter::Kind::all);
  EXPECT_THROW(ps::ReferenceFilter::parse("country: ,"), pa::InvalidArgument);
}

// ---- reference rows -------------------------------------------------------------------------

TEST(GroupReference, RowsByRegionCountriesAndColumn) {
  pa::psychometrics::ReferenceData d;
  d.country = {"US", "jp", "DE", "KR", "", "ca"};
  d.responses.ids = {"1", "2", "3", "4", "5", "6"};
  d.responses.values.resize(6, 1);
  d.responses.columns = {"E1"};
  const auto map = pa::psychometrics::RegionMap::load_default();
  const auto ea = ps::group_reference_rows(d, ps::ReferenceFilter::parse("East Asia"), map);
  EXPECT_EQ(ea, (std::vector<Index>{1, 3}));
  const auto na = ps::group_reference_rows(d, ps::ReferenceFilter::parse("North America"), map);
  EXPECT_EQ(na, (std::vector<Index>{0, 5}));
  EXPECT_EQ(ps::group_reference_rows(d, ps::ReferenceFilter::parse("country:de, JP"), map),
            (std::vector<Index>{1, 2}));
  EXPECT_EQ(ps::group_reference_rows(d, ps::ReferenceFilter{}, map).size(), 6u);
  try {
    ps::group_reference_rows(d, ps::ReferenceFilter::parse("Atlantis"), map);
    ADD_FAILURE();
  } catch (const pa::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("East Asia"), std::string::npos) << e.what();
  }
  const pa::io::Table t =
      pa::io::parse_table("id,school\n2,high school\n4,college\n6,high school\n", {}, "groups.csv");
  EXPECT_EQ(
      ps::group_reference_rows(d, ps::ReferenceFilter::parse("column:school=high school"), map, &t),
      (std::vector<Index>{1, 5}));
  // Without an id column the table's rows are the data rows in order (1-based ids).
  const pa::io::Table u = pa::io::parse_table("school\nx\nhs\nhs\n", {}, "u.csv");
  EXPECT_EQ(ps::group_reference_rows(d, ps::ReferenceFilter::parse("column:school=hs"), map, &u),
            (std::vector<Index>{1, 2}));
  EXPECT_THROW(ps::group_reference_rows(d, ps::ReferenceFilter::parse("column:grade=9"), map, &t),
               pa::InvalidArgument);
  EXPECT_THROW(ps::group_reference_rows(d, ps::ReferenceFilter::parse("column:school=x"), map),
               pa::InvalidArgument);
}

// ---- answer readers -------------------------------------------------------------------------

TEST(GroupPrompts, RevisionIsReadLenientlyWithNegativeControls) {
  std::string problem;
  auto r = ps::parse_group_revision(
      "Sure!\n```json\n{\"revised\": \"She is  a nurse in Osaka who loves dogs.\", \"changes\": "
      "\"moved to Osaka\"}\n```",
      50, &problem);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->revised, "She is a nurse in Osaka who loves dogs.");
  EXPECT_EQ(r->changes, std::vector<std::string>{"moved to Osaka"});
  r = ps::parse_group_revision(R"({"persona": "He teaches music in a small town nearby."})", 50);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->changes.empty());
  EXPECT_FALSE(ps::parse_group_revision("I cannot help with that.", 50, &problem));
  EXPECT_NE(problem.find("no JSON object"), std::string::npos);
  EXPECT_FALSE(ps::parse_group_revision(R"({"revised": "Too short."})", 50, &problem));
  EXPECT_NE(problem.find("too short"), std::string::npos);
  EXPECT_FALSE(ps::parse_group_revision(
      R"({"revised": "one two three four five six seven eight nine ten eleven"})", 10, &problem));
  EXPECT_NE(problem.find("too long"), std::string::npos);
  EXPECT_FALSE(ps::parse_group_revision(
      R"({"revised": "She is a nurse in Osaka today.", "changes": [3]})", 50, &problem));
  EXPECT_FALSE(ps::parse_group_revision(R"({"revised": 5})", 50, &problem));
}

TEST(GroupPrompts, VerdictIsReadLenientlyWithNegativeControls) {
  auto v = ps::parse_group_verdict(R"({"verdict": "PASS", "reasons": []})");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->pass);
  v = ps::parse_group_verdict(R"(ok: {"verdict": "reject", "reasons": "adds a stereotype"})");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->pass);
  EXPECT_EQ(v->reasons, std::vector<std::string>{"adds a stereotype"});
  v = ps::parse_group_verdict(R"({"pass": false})");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->pass);
  std::string problem;
  EXPECT_FALSE(ps::parse_group_verdict(R"({"verdict": "maybe"})", &problem));
  EXPECT_NE(problem.find("verdict"), std::string::npos);
  EXPECT_FALSE(ps::parse_group_verdict("fine", &problem));
  EXPECT_FALSE(ps::parse_group_verdict(R"({"verdict": "pass", "reasons": [1]})", &problem));
  EXPECT_NO_THROW(ps::group_revise_template().require("t", {"group", "persona", "max_words"}));
  EXPECT_NO_THROW(ps::group_judge_template().require("t", {"group", "original", "revised"}));
}

// ---- build_group ----------------------------------------------------------------------------

// A TEST DOUBLE embedder: hashed bag of lower-case words (64 dimensions), unit rows.
struct HashedWords {
  pa::RowMatrix<float> embed(const std::vector<std::string>& texts) const {
    pa::RowMatrix<float> m = pa::RowMatrix<float>::Zero(static_cast<Index>(texts.size()), 64);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      std::string w;
      auto flush = [&] {
        if (w.size() > 2)
          m(static_cast<Index>(i), static_cast<Index>(std::hash<std::string>{}(w) % 64)) += 1;
        w.clear();
      };
      for (char c : texts[i]) {
        if (std::isalpha(static_cast<unsigned char>(c)))
          w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        else
          flush();
      }
      flush();
      const float n = m.row(static_cast<Index>(i)).norm();
      if (n > 0) m.row(static_cast<Index>(i)) /= n;
    }
    return m;
  }
  Index dimension() const { return 64; }
  bool normalized() const { return true; }
};

struct Fixture {
  pa::psychometrics::Instrument instrument = pa::psychometrics::instrument_by_name("mini_ipip20");
  std::vector<double> shift{1.2, 0, 0, 0, 0};  // revisions raise the first trait
  std::shared_ptr<pa::test::GroupTestDouble> model =
      std::make_shared<pa::test::GroupTestDouble>(instrument, shift);
  std::vector<pa::io::PersonaRecord> pool;
  ps::GroupReference reference;
  std::shared_ptr<const pa::embedding::Embedder> embedder =
      pa::embedding::make_embedder(HashedWords{}, "hashed-words");

  static pa::administer::AdministerOptions administer_options() {
    pa::administer::AdministerOptions o;
    o.temperature = 1.0;
    return o;
  }

  pa::TraitTable<double> administer_and_score(std::vector<pa::io::PersonaRecord>& people) {
    const auto res = pa::administer::administer(*model, instrument, people, administer_options());
    pa::RowMatrix<double> a(static_cast<Index>(people.size()),
                            static_cast<Index>(instrument.items.size()));
    for (std::size_t i = 0; i < res.size(); ++i)
      for (std::size_t k = 0; k < instrument.items.size(); ++k)
        a(static_cast<Index>(i), static_cast<Index>(k)) =
            res[i].items[k].value.value_or(std::nan(""));
    return pa::psychometrics::score_items(instrument, a).scores;
  }

  Fixture() {
    pa::Rng rng(11);
    const char* hobbies[] = {"gardening", "chess", "painting", "surfing"};
    for (int i = 0; i < 96; ++i) {
      std::string text = "Person " + std::to_string(i) + " enjoys " + hobbies[i % 4] +
                         " on weekends. They work in an office number " + std::to_string(i) + ".";
      if (i == 0) text += " [nonsense]";
      if (i == 4) text += " [reject]";
      if (i == 8) text += " [reject-once]";
      if (i == 12) text += " [bad-verdict]";
      if (i == 16) text += " [fail-call]";
      std::vector<double> theta(5);
      for (double& t : theta) t = rng.normal();
      model->add_persona("p" + std::to_string(i), text, theta);
      pa::io::PersonaRecord p;
      p.id = "p" + std::to_string(i);
      p.text = text;
      p.facts = pa::io::split_sentences(text);
      p.fields = pa::io::JsonValue::object();
      p.fields.set("author", "a" + std::to_string(i));
      pool.push_back(std::move(p));
    }
    const pa::TraitTable<double> t = administer_and_score(pool);
    for (std::size_t i = 0; i < pool.size(); ++i) {
      pa::io::JsonValue o = pa::io::JsonValue::object();
      for (std::size_t k = 0; k < t.traits.size(); ++k)
        o.set(t.traits[k], t.values(static_cast<Index>(i), static_cast<Index>(k)));
      pool[i].fields.set("traits", std::move(o));
    }
    // The group's "humans": latent traits shifted like the revisions, 300 people.
    std::vector<pa::io::PersonaRecord> humans;
    for (int i = 0; i < 300; ++i) {
      std::vector<double> theta(5);
      for (std::size_t k = 0; k < 5; ++k) theta[k] = rng.normal() + shift[k];
      pa::io::PersonaRecord h;
      h.id = "h" + std::to_string(i);
      h.text = "Human respondent number " + std::to_string(i) + " of the group.";
      model->add_respondent(h.id, h.text, theta);
      humans.push_back(std::move(h));
    }
    reference.traits = administer_and_score(humans);
    reference.description = "synthetic group humans";
  }

  ps::GroupOptions options() const {
    ps::GroupOptions o;
    o.administer = administer_options();
    o.min_reference_rows = 100;
    o.align.kde_max_points = 1000;
    return o;
  }
  ps::GroupSpec spec() const {
    return {.name = "gardeners", .query = "people who enjoy gardening", .n = 16, .depth = 40};
  }
  ps::GroupBackends backends(pa::llm::LlmBackend* b = nullptr) const {
    pa::llm::LlmBackend* m = b != nullptr ? b : model.get();
    return {m, m, m};
  }
};

std::string result_bytes(const ps::GroupResult& r) {
  std::string s = ps::group_report_json(r).dump() + "\n";
  for (const auto& p : r.personas) s += pa::io::persona_line(p) + "\n";
  return s;
}

TEST(BuildGroup, EveryStageAgainstTheTestDouble) {
  Fixture f;
  const ps::GroupResult r = ps::build_group(f.pool, f.embedder, f.backends(), f.instrument,
                                            f.reference, f.spec(), f.options());
  ASSERT_EQ(r.status, "ok");
  ASSERT_EQ(r.revisions.size(), 40u);
  // Retrieval: the 24 gardeners (every 4th persona) rank first.
  for (std::size_t u = 0; u < 24; ++u) {
    const int id = std::stoi(r.revisions[u].persona_id.substr(1));
    EXPECT_EQ(id % 4, 0) << "rank " << u << " is " << r.revisions[u].persona_id;
  }
  auto rec = [&](const std::string& id) -> const ps::RevisionRecord& {
    for (const auto& x : r.revisions)
      if (x.persona_id == id) return x;
    throw std::runtime_error("no record " + id);
  };
  EXPECT_EQ(rec("p0").drop_reason, "off-schema revision");
  EXPECT_EQ(rec("p0").calls, 2);  // asked again once
  EXPECT_EQ(rec("p4").drop_reason, "judge rejected");
  EXPECT_EQ(rec("p4").revisions, 2);  // revised again after the first failed verdict
  EXPECT_EQ(rec("p4").drop_detail, "adds a stereotype as a fact");
  EXPECT_TRUE(rec("p8").kept);
  EXPECT_EQ(rec("p8").revisions, 2);
  EXPECT_NE(rec("p8").revised.find("(second revision)"), std::string::npos);
  EXPECT_EQ(rec("p12").drop_reason, "off-schema verdict");
  EXPECT_EQ(rec("p16").drop_reason, "call failed");
  EXPECT_TRUE(rec("p20").kept);
  EXPECT_EQ(rec("p20").verdict, "pass");
  EXPECT_EQ(rec("p20").changes, std::vector<std::string>{"placed the person in the target group"});
  EXPECT_EQ(r.kept(), 36u);
  EXPECT_EQ(r.personas.size(), 16u);
  std::size_t selected = 0;
  for (const auto& x : r.revisions) selected += x.selected ? 1 : 0;
  EXPECT_EQ(selected, 16u);
  const auto drops = r.drops();
  ASSERT_EQ(drops.size(), 4u);
  // The revisions moved the first trait: re-administered scores exceed the pool's by about the
  // shift's effect on a 1..5 scale (an independent check: the pool's traits came from the
  // originals' own administration in the fixture).
  double moved = 0;
  for (const auto& p : r.pool) {
    const std::string t0 = r.traits[0];
    double before = 0;
    for (const auto& q : f.pool)
      if (q.id == p.id) before = q.fields.find("traits")->find(t0)->as_number();
    moved += p.fields.find("traits")->find(t0)->as_number() - before;
  }
  moved /= static_cast<double>(r.pool.size());
  EXPECT_GT(moved, 0.4);
  // ... and the traits of the other dimensions did not move on average (negative control).
  double other = 0;
  for (const auto& p : r.pool)
    for (const auto& q : f.pool)
      if (q.id == p.id)
        other += p.fields.find("traits")->find(r.traits[2])->as_number() -
                 q.fields.find("traits")->find(r.traits[2])->as_number();
  EXPECT_LT(std::abs(other / static_cast<double>(r.pool.size())), 0.3);
  // The group set is closer to the group's reference than the global pool is, above all on the
  // trait the group differs in.
  EXPECT_LT(r.against_reference.w1[0], r.global_against_reference.w1[0] - 0.3);
  EXPECT_LT(r.against_reference.mean_w1, r.global_against_reference.mean_w1);
  EXPECT_GT(r.against_global.mean_w1, 0.0);
  // Output records: revised text, new traits, provenance, the pool's other fields.
  const auto& p = r.personas[0];
  EXPECT_NE(p.text.find("They now belong to the target group."), std::string::npos);
  EXPECT_EQ(p.fields.find("group")->as_string(), "gardeners");
  EXPECT_TRUE(p.fields.find("source_persona")->is_string());
  EXPECT_TRUE(p.fields.find("author")->is_string());
  EXPECT_TRUE(p.fields.find("retrieval")->is_object());
  // Small reference: no warning at 300 >= 100, a warning at 500.
  for (const auto& w : r.warnings) EXPECT_EQ(w.find("only 300 people"), std::string::npos) << w;
  auto o = f.options();
  o.min_reference_rows = 500;
  const auto small =
      ps::build_group(f.pool, f.embedder, f.backends(), f.instrument, f.reference, f.spec(), o);
  ASSERT_FALSE(small.warnings.empty());
  EXPECT_NE(small.warnings[0].find("only 300 people"), std::string::npos);
  const std::string summary = r.summary();
  EXPECT_NE(summary.find("judge rejected: 1"), std::string::npos) << summary;
}

TEST(BuildGroup, DeterministicAndResumableThroughTheCache) {
  Fixture f;
  const std::string first = result_bytes(ps::build_group(
      f.pool, f.embedder, f.backends(), f.instrument, f.reference, f.spec(), f.options()));
  const std::string second = result_bytes(ps::build_group(
      f.pool, f.embedder, f.backends(), f.instrument, f.reference, f.spec(), f.options()));
  EXPECT_EQ(first, second);
  auto other_seed = f.spec();
  other_seed.seed = 5;
  EXPECT_NE(result_bytes(ps::build_group(f.pool, f.embedder, f.backends(), f.instrument,
                                         f.reference, other_seed, f.options())),
            first);

  // Cancelled at the judge, then at the administering, then run to the end: the same bytes,
  // and no request reached the model twice.
  Fixture g;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("popalign_groups_cache_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::shared_ptr<pa::llm::LlmBackend> inner = g.model;
  pa::llm::CacheOptions cache_options;
  cache_options.path = (dir / "cache.sqlite").string();
  pa::llm::CachedBackend cached(inner, cache_options);
  for (const char* stage : {"judge", "administer"}) {
    auto o = g.options();
    pa::CancellationToken token;
    o.execution.cancel = token;
    o.execution.progress = [stage, token](std::string_view s, double) mutable {
      if (s == stage) token.cancel();
      return false;
    };
    const auto r = ps::build_group(g.pool, g.embedder, g.backends(&cached), g.instrument,
                                   g.reference, g.spec(), o);
    EXPECT_EQ(r.status, "cancelled") << stage;
    EXPECT_TRUE(r.personas.empty());
  }
  const std::size_t before_final = g.model->total();
  EXPECT_GT(before_final, 0u);
  const std::string resumed = result_bytes(ps::build_group(
      g.pool, g.embedder, g.backends(&cached), g.instrument, g.reference, g.spec(), g.options()));
  EXPECT_EQ(resumed, first);
  // Failed calls are not cached, so the scripted failure is asked again each run: count distinct
  // requests against all requests minus those repeats.
  EXPECT_EQ(g.model->total() - g.model->distinct(), 2u * 1u);  // [fail-call]: 3 runs, 1 each
  std::filesystem::remove_all(dir);
}

TEST(BuildGroup, OptionsWithoutRevisionOrJudgeAndErrors) {
  Fixture f;
  auto o = f.options();
  o.judge = false;
  auto r =
      ps::build_group(f.pool, f.embedder, f.backends(), f.instrument, f.reference, f.spec(), o);
  ASSERT_EQ(r.status, "ok");
  for (const auto& x : r.revisions) EXPECT_EQ(x.verdict, "");
  EXPECT_EQ(f.model->calls("judge"), 0u);
  EXPECT_EQ(r.kept(), 38u);  // only [nonsense] and [fail-call] are dropped
  o.revise = false;
  const std::size_t revise_calls = f.model->calls("revise");
  r = ps::build_group(f.pool, f.embedder, f.backends(), f.instrument, f.reference, f.spec(), o);
  EXPECT_EQ(f.model->calls("revise"), revise_calls);
  EXPECT_EQ(r.kept(), 40u);
  EXPECT_EQ(r.personas[0].text, r.personas[0].fields.find("source_persona")->as_string());
  // Query expansion changes the ranking.
  o.query_expansions = {"chess players"};
  r = ps::build_group(f.pool, f.embedder, f.backends(), f.instrument, f.reference, f.spec(), o);
  std::set<int> hobbies;
  for (std::size_t u = 0; u < 40; ++u)
    hobbies.insert(std::stoi(r.revisions[u].persona_id.substr(1)) % 4);
  EXPECT_TRUE(hobbies.count(1));  // chess players (i % 4 == 1) now among the retrieved
  // N larger than the kept personas: capped with a warning.
  auto big = f.spec();
  big.n = 39;
  o.query_expansions.clear();
  o.revise = true;
  o.judge = true;
  r = ps::build_group(f.pool, f.embedder, f.backends(), f.instrument, f.reference, big, o);
  EXPECT_EQ(r.personas.size(), r.kept());
  bool warned = false;
  for (const auto& w : r.warnings)
    warned = warned || w.find("fewer than N = 39") != std::string::npos;
  EXPECT_TRUE(warned);
  // Errors name the field.
  auto bad = f.options();
  bad.revise_attempts = 0;
  EXPECT_THROW(
      ps::build_group(f.pool, f.embedder, f.backends(), f.instrument, f.reference, f.spec(), bad),
      pa::InvalidArgument);
  bad = f.options();
  bad.judge_retries = -1;
  try {
    bad.validate();
    ADD_FAILURE();
  } catch (const pa::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("judge_retries"), std::string::npos);
  }
  ps::GroupReference wrong = f.reference;
  wrong.traits.traits[0] = "Zest";
  EXPECT_THROW(
      ps::build_group(f.pool, f.embedder, f.backends(), f.instrument, wrong, f.spec(), f.options()),
      pa::ParseError);  // the pool has no trait "Zest"
  auto no_traits = f.pool;
  no_traits[3].fields = pa::io::JsonValue::object();
  EXPECT_THROW(ps::build_group(no_traits, f.embedder, f.backends(), f.instrument, f.reference,
                               f.spec(), f.options()),
               pa::ParseError);
}

}  // namespace
