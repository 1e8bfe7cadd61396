// Tests of include/popalign/administer/administer.hpp (with the GRM test double of
// respondent.hpp as the LLM).
#include <popalign/administer/administer.hpp>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <popalign/administer/respondent.hpp>
#include <popalign/core/random.hpp>
#include <popalign/io/jsonl.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/psychometrics/instrument.hpp>
#include <popalign/psychometrics/scoring.hpp>

namespace adm = popalign::administer;
namespace ps = popalign::psychometrics;
namespace llm = popalign::llm;

namespace {

const ps::Instrument& ipip50() {
  static const ps::Instrument inst = ps::instrument_by_name("ipip50", POPALIGN_DATA_DIR);
  return inst;
}

struct Panel {
  std::vector<popalign::io::PersonaRecord> personas;
  std::vector<std::vector<double>> theta;  // instrument trait order
};

/// A persona made in memory: an id and the text administered (no facts, fields or line).
popalign::io::PersonaRecord persona_record(std::string id, std::string text) {
  popalign::io::PersonaRecord p;
  p.id = std::move(id);
  p.text = std::move(text);
  return p;
}

Panel make_panel(std::size_t n, std::uint64_t seed) {
  Panel p;
  popalign::Rng rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "p%04zu", i);
    p.personas.push_back(
        persona_record(id, std::string("I am respondent ") + id + " of the test panel."));
    std::vector<double> t;
    for (std::size_t k = 0; k < ipip50().traits.size(); ++k) t.push_back(rng.normal());
    p.theta.push_back(std::move(t));
  }
  return p;
}

std::unique_ptr<adm::GradedResponseRespondent> make_double(const Panel& panel,
                                                           adm::GradedResponseOptions o = {}) {
  auto d = std::make_unique<adm::GradedResponseRespondent>(
      ipip50(), adm::GradedResponseRespondent::random_items(ipip50(), 11), o);
  for (std::size_t i = 0; i < panel.personas.size(); ++i)
    d->add_persona(panel.personas[i].id, panel.personas[i].text, panel.theta[i]);
  return d;
}

ps::Responses to_responses(const std::vector<adm::PersonaResponses>& rs) {
  ps::Responses r;
  r.source = "administer";
  for (const auto& item : ipip50().items) r.columns.push_back(item.id);
  r.values.resize(static_cast<popalign::Index>(rs.size()),
                  static_cast<popalign::Index>(r.columns.size()));
  for (std::size_t i = 0; i < rs.size(); ++i) {
    r.ids.push_back(rs[i].persona_id);
    for (std::size_t j = 0; j < rs[i].items.size(); ++j)
      r.values(static_cast<popalign::Index>(i), static_cast<popalign::Index>(j)) =
          rs[i].items[j].value.value_or(std::nan(""));
  }
  return r;
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0, mb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

llm::Response text_response(std::string text) {
  llm::Response r;
  r.text = std::move(text);
  return r;
}

std::filesystem::path temp_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "popalign_administer_test" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_personas(const std::filesystem::path& path, const Panel& panel) {
  std::ofstream out(path);
  for (const auto& p : panel.personas)
    out << "{\"id\": \"" << p.id << "\", \"persona\": \"" << p.text << "\", \"country\": \"FR\"}\n";
}

// ---- Recovery of known traits, all three modes ------------------------------------------------

class Recovery : public ::testing::TestWithParam<adm::AdministerMode> {};

TEST_P(Recovery, ScoresCorrelateWithLatentTraits) {
  const Panel panel = make_panel(200, 2024);
  auto grm = make_double(panel);
  adm::AdministerOptions o;
  o.mode = GetParam();
  o.seed = 5;
  o.personas_per_round = 64;
  o.chunk_size = 0;
  const std::vector<adm::PersonaResponses> rs = adm::administer(*grm, ipip50(), panel.personas, o);
  ASSERT_EQ(rs.size(), panel.personas.size());
  std::size_t answered = 0;
  for (const auto& r : rs) answered += r.answered();
  EXPECT_EQ(answered, 200u * 50u);

  const ps::ScoreResult scored = ps::score(ipip50(), to_responses(rs));
  for (std::size_t k = 0; k < ipip50().traits.size(); ++k) {
    const std::string& code = ipip50().traits[k].code;
    const auto col_it = std::find(scored.scores.traits.begin(), scored.scores.traits.end(), code);
    ASSERT_NE(col_it, scored.scores.traits.end()) << code;
    const auto col = col_it - scored.scores.traits.begin();
    std::vector<double> est, truth;
    for (std::size_t i = 0; i < rs.size(); ++i) {
      est.push_back(scored.scores.values(static_cast<popalign::Index>(i), col));
      truth.push_back(panel.theta[i][k]);
    }
    const double r = correlation(est, truth);
    EXPECT_GT(r, 0.9) << "trait " << code << " mode " << adm::to_string(GetParam());
  }
}

INSTANTIATE_TEST_SUITE_P(AllModes, Recovery,
                         ::testing::Values(adm::AdministerMode::generate,
                                           adm::AdministerMode::logprobs,
                                           adm::AdministerMode::batch),
                         [](const auto& p) { return std::string(adm::to_string(p.param)); });

// ---- Order, seeds, reversal ----------------------------------------------------------------

TEST(Administer, ItemOrderIsSeededPerPersona) {
  adm::AdministerOptions o;
  o.seed = 3;
  const auto a = adm::presented_order(ipip50(), "p1", o);
  EXPECT_EQ(a, adm::presented_order(ipip50(), "p1", o));
  EXPECT_NE(a, adm::presented_order(ipip50(), "p2", o));
  o.seed = 4;
  EXPECT_NE(a, adm::presented_order(ipip50(), "p1", o));
  std::vector<std::size_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i);
  o.shuffle_items = false;
  EXPECT_EQ(adm::presented_order(ipip50(), "p1", o), sorted);

  // The calls follow that order.
  std::vector<std::string> asked;
  llm::FunctionBackend rec([&](const llm::Request& r) -> llm::Outcome {
    for (const auto& item : ipip50().items)
      if (r.messages.back().content.find("\"" + item.text + "\"") != std::string::npos)
        asked.push_back(item.id);
    return text_response("3");
  });
  o.shuffle_items = true;
  o.seed = 3;
  const adm::PersonaResponses r =
      adm::administer_one(rec, ipip50(), persona_record("p1", "Persona one."), o);
  std::vector<std::string> expected;
  for (std::size_t idx : a) expected.push_back(ipip50().items[idx].id);
  EXPECT_EQ(asked, expected);
  EXPECT_EQ(r.order, expected);
  for (const auto& ir : r.items)
    EXPECT_EQ(expected[static_cast<std::size_t>(ir.position)], ir.item_id);
}

TEST(Administer, ReverseScaleMapsAnswersBack) {
  // A model that always writes "1": on a reversed scale, 1 is the highest option.
  llm::FunctionBackend ones([](const llm::Request&) -> llm::Outcome { return text_response("1"); });
  adm::AdministerOptions o;
  o.reverse_scale = true;
  adm::PersonaResponses r =
      adm::administer_one(ones, ipip50(), persona_record("x", "Persona x."), o);
  for (const auto& ir : r.items) EXPECT_EQ(ir.value, 5.0) << ir.item_id;
  o.reverse_scale = false;
  r = adm::administer_one(ones, ipip50(), persona_record("x", "Persona x."), o);
  for (const auto& ir : r.items) EXPECT_EQ(ir.value, 1.0) << ir.item_id;

  // A respondent that reads the reversed scale answers the same values in every mode.
  const Panel panel = make_panel(6, 9);
  for (auto mode :
       {adm::AdministerMode::generate, adm::AdministerMode::logprobs, adm::AdministerMode::batch}) {
    auto grm = make_double(panel);
    adm::AdministerOptions fwd;
    fwd.mode = mode;
    adm::AdministerOptions rev = fwd;
    rev.reverse_scale = true;
    const auto a = adm::administer(*grm, ipip50(), panel.personas, fwd);
    const auto b = adm::administer(*grm, ipip50(), panel.personas, rev);
    std::size_t raw_differs = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
      for (std::size_t j = 0; j < a[i].items.size(); ++j) {
        ASSERT_TRUE(a[i].items[j].value && b[i].items[j].value);
        EXPECT_NEAR(*a[i].items[j].value, *b[i].items[j].value, 1e-12)
            << adm::to_string(mode) << " " << a[i].items[j].item_id;
        raw_differs += a[i].items[j].raw != b[i].items[j].raw;
      }
    if (mode == adm::AdministerMode::generate) {
      EXPECT_GT(raw_differs, 0u);
    }
  }
}

TEST(Administer, NonsenseIsAskedAgainWithNewSeedsThenMissing) {
  std::map<std::string, std::vector<std::uint64_t>> seeds;
  llm::FunctionBackend babble([&](const llm::Request& r) -> llm::Outcome {
    seeds[r.messages.back().content].push_back(*r.seed);
    return text_response("Once upon a time there was a little dog.");
  });
  adm::AdministerOptions o;
  o.max_retries = 2;
  const adm::PersonaResponses r =
      adm::administer_one(babble, ipip50(), persona_record("x", "Persona x."), o);
  EXPECT_EQ(r.answered(), 0u);
  EXPECT_EQ(r.calls, 150u);
  for (const auto& ir : r.items) {
    EXPECT_EQ(ir.attempts, 3);
    EXPECT_EQ(ir.status, adm::ParseStatus::no_answer);
    EXPECT_EQ(ir.raw, "Once upon a time there was a little dog.");
  }
  ASSERT_EQ(seeds.size(), 50u);
  for (const auto& [prompt, s] : seeds) {
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(std::set<std::uint64_t>(s.begin(), s.end()).size(), 3u);
  }
  // The seeds are call_seed(seed, persona, item, attempt).
  const ps::Item& e1 = ipip50().items[0];
  bool found = false;
  for (const auto& [prompt, s] : seeds)
    if (prompt.find("\"" + e1.text + "\"") != std::string::npos) {
      found = true;
      EXPECT_EQ(s, (std::vector<std::uint64_t>{adm::call_seed(0, "x", e1.id, 0),
                                               adm::call_seed(0, "x", e1.id, 1),
                                               adm::call_seed(0, "x", e1.id, 2)}));
    }
  EXPECT_TRUE(found);
  // Deterministic: the same seeds again.
  auto first = seeds;
  seeds.clear();
  adm::administer_one(babble, ipip50(), persona_record("x", "Persona x."), o);
  EXPECT_EQ(seeds, first);

  // A respondent that babbles half of the time is mostly rescued by re-asking.
  const Panel panel = make_panel(4, 1);
  auto grm = make_double(panel, {.nonsense_rate = 0.5});
  o.max_retries = 4;
  std::size_t answered = 0, asked_again = 0;
  for (const auto& pr : adm::administer(*grm, ipip50(), panel.personas, o)) {
    answered += pr.answered();
    for (const auto& ir : pr.items) asked_again += ir.attempts > 1;
  }
  EXPECT_GT(answered, 180u);  // 1 - 0.5^5 = 97% expected
  EXPECT_GT(asked_again, 50u);
}

TEST(Administer, BatchModeAsksMissingItemsAgain) {
  // First call: a truncated JSON answer; later calls: everything asked.
  std::vector<std::size_t> items_per_call;
  llm::FunctionBackend cut([&](const llm::Request& r) -> llm::Outcome {
    EXPECT_FALSE(r.json_schema.empty());
    const std::string& user = r.messages.back().content;
    std::size_t n = 0;
    std::string json = "{";
    for (const auto& item : ipip50().items)
      if (user.find(item.id + ": " + item.text) != std::string::npos) {
        if (n++) json += ", ";
        json += "\"" + item.id + "\": 4";
      }
    items_per_call.push_back(n);
    if (items_per_call.size() == 1) return text_response(json.substr(0, json.size() / 3));
    return text_response(json + "}");
  });
  adm::AdministerOptions o;
  o.mode = adm::AdministerMode::batch;
  const adm::PersonaResponses r =
      adm::administer_one(cut, ipip50(), persona_record("x", "Persona x."), o);
  EXPECT_EQ(r.answered(), 50u);
  ASSERT_EQ(items_per_call.size(), 2u);
  EXPECT_EQ(items_per_call[0], 50u);
  EXPECT_LT(items_per_call[1], 50u);
  EXPECT_GT(items_per_call[1], 0u);
  EXPECT_EQ(r.raw_calls.size(), 2u);
  for (const auto& ir : r.items) EXPECT_EQ(ir.value, 4.0);
}

TEST(Administer, LogprobsRecordsOptionMass) {
  const Panel panel = make_panel(3, 4);
  auto grm = make_double(panel, {.other_mass = 0.25});
  adm::AdministerOptions o;
  o.mode = adm::AdministerMode::logprobs;
  const auto rs = adm::administer(*grm, ipip50(), panel.personas, o);
  for (const auto& r : rs)
    for (const auto& ir : r.items) {
      ASSERT_TRUE(ir.value);
      EXPECT_GE(*ir.value, 1.0);
      EXPECT_LE(*ir.value, 5.0);
      EXPECT_NEAR(ir.option_mass, 0.75, 1e-9);
      double sum = 0;
      for (double p : ir.probabilities) sum += p;
      EXPECT_NEAR(sum, 1.0, 1e-12);
      // The expected score of the GRM category probabilities.
      const auto p =
          grm->category_probabilities(r.persona_id, static_cast<std::size_t>(&ir - r.items.data()));
      double ev = 0;
      for (std::size_t k = 0; k < p.size(); ++k) ev += static_cast<double>(k + 1) * p[k];
      EXPECT_NEAR(*ir.value, ev, 1e-9);
    }
  // A server without log-probabilities: nothing to read, recorded missing after re-asks.
  llm::FunctionBackend plain(
      [](const llm::Request&) -> llm::Outcome { return text_response("4"); });
  const auto r = adm::administer_one(plain, ipip50(), persona_record("x", "Persona x."), o);
  EXPECT_EQ(r.answered(), 0u);
  EXPECT_EQ(r.items[0].attempts, 3);
}

TEST(Administer, BackendFailuresAreRecordedPerItem) {
  std::atomic<int> n{0};
  llm::FunctionBackend flaky([&](const llm::Request&) -> llm::Outcome {
    if (n++ % 2) return llm::Failure{llm::ErrorKind::server, 503, "busy", {}};
    return text_response("2");
  });
  const adm::PersonaResponses r =
      adm::administer_one(flaky, ipip50(), persona_record("x", "Persona x."), {});
  EXPECT_TRUE(r.failed());
  EXPECT_FALSE(r.cancelled());
  EXPECT_EQ(r.answered(), 25u);
  std::size_t errors = 0;
  for (const auto& ir : r.items) errors += ir.error.find("503") != std::string::npos;
  EXPECT_EQ(errors, 25u);
}

TEST(Administer, OptionsAreValidated) {
  adm::AdministerOptions o;
  o.max_retries = -1;
  EXPECT_THROW(o.validate(), popalign::InvalidArgument);
  o = {};
  o.temperature = 3.0;
  EXPECT_THROW(o.validate(), popalign::InvalidArgument);
  o = {};
  o.mode = adm::AdministerMode::batch;
  o.prompt = adm::builtin_template("likert-v1");
  try {
    o.validate();
    FAIL();
  } catch (const popalign::InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "prompt");
  }
  EXPECT_EQ(adm::administer_mode_from_string("logprobs"), adm::AdministerMode::logprobs);
  EXPECT_THROW(adm::administer_mode_from_string("chat"), popalign::InvalidArgument);
}

// ---- Files: resume, malformed lines, dry run -------------------------------------------------

/// Fails every call after `budget` successful ones (a dying server / a run cut short).
struct FailAfter {
  llm::LlmBackend* inner;
  long budget;  // used from one thread (chunks are sent one after another)
  std::vector<llm::Outcome> complete(std::span<const llm::Request> batch) {
    std::vector<llm::Outcome> out;
    for (const auto& r : batch) {
      if (budget-- > 0)
        out.push_back(llm::complete_one(*inner, r));
      else
        out.push_back(llm::Failure{llm::ErrorKind::server, 500, "server gone", {}});
    }
    return out;
  }
  std::string default_model() const { return "grm-test-double"; }
};

TEST(AdministerFile, ResumeAfterFailureEqualsUninterruptedRun) {
  const auto dir = temp_dir("resume");
  const Panel panel = make_panel(12, 77);
  write_personas(dir / "personas.jsonl", panel);
  for (auto mode :
       {adm::AdministerMode::generate, adm::AdministerMode::logprobs, adm::AdministerMode::batch}) {
    SCOPED_TRACE(std::string(adm::to_string(mode)));
    adm::AdministerOptions o;
    o.mode = mode;
    o.seed = 17;
    o.personas_per_round = 3;
    o.chunk_size = 1;

    // Uninterrupted.
    auto grm = make_double(panel, {.nonsense_rate = 0.1});
    adm::AdministerFileOptions fo;
    fo.personas = dir / "personas.jsonl";
    fo.out = dir / "ref.jsonl";
    std::filesystem::remove(fo.out);
    const auto ref_report = adm::administer_file(*grm, ipip50(), o, fo);
    EXPECT_EQ(ref_report.written, 12u);
    const std::size_t ref_calls = grm->calls();
    const std::string ref = read_text(fo.out);

    // Interrupted: the server dies part-way through; answers go through a SQLite cache.
    grm = make_double(panel, {.nonsense_rate = 0.1});
    const auto cache_path = dir / "cache.sqlite";
    std::filesystem::remove(cache_path);
    fo.out = dir / "resumed.jsonl";
    std::filesystem::remove(fo.out);
    const long budget = static_cast<long>(ref_calls) / 2 + 1;
    {
      auto dying = std::make_shared<llm::BackendAdapter<FailAfter>>(FailAfter{grm.get(), budget});
      llm::CacheOptions co;
      co.path = cache_path.string();
      llm::CachedBackend cached(dying, co);
      EXPECT_THROW(adm::administer_file(cached, ipip50(), o, fo), popalign::BackendError);
    }
    const std::string partial = read_text(fo.out);
    const std::size_t lines_before =
        static_cast<std::size_t>(std::count(partial.begin(), partial.end(), '\n'));
    EXPECT_GT(lines_before, 0u);
    EXPECT_LT(lines_before, 12u);
    EXPECT_EQ(ref.substr(0, partial.size()), partial);
    // A killed writer may also leave half a line.
    std::ofstream(fo.out, std::ios::app) << "{\"id\":\"p00";

    // Resume.
    grm->reset_counts();
    auto healthy = std::make_shared<llm::BackendAdapter<FailAfter>>(FailAfter{grm.get(), 1 << 30});
    llm::CacheOptions co;
    co.path = cache_path.string();
    llm::CachedBackend cached(healthy, co);
    std::vector<std::string> log;
    fo.log = [&](const std::string& m) { log.push_back(m); };
    const auto rep = adm::administer_file(cached, ipip50(), o, fo);
    EXPECT_EQ(rep.already_done, lines_before);
    EXPECT_EQ(rep.written, 12u - lines_before);
    EXPECT_EQ(read_text(fo.out), ref);
    // No call for a finished persona, and no paid call repeated: the first run's successful
    // calls (budget) plus the resumed run's equal the uninterrupted run's calls.
    for (std::size_t i = 0; i < lines_before; ++i)
      EXPECT_EQ(grm->calls_for(panel.personas[i].id), 0u) << panel.personas[i].id;
    EXPECT_EQ(static_cast<std::size_t>(budget) + grm->calls(), ref_calls);
    EXPECT_EQ(rep.cached_calls + grm->calls(), rep.calls);
    // Generate and logprobs: the persona whose calls failed had answered calls, now cached.
    if (mode != adm::AdministerMode::batch) {
      EXPECT_GT(rep.cached_calls, 0u);
    }
    ASSERT_FALSE(log.empty());

    // Running again does nothing.
    grm->reset_counts();
    const auto again = adm::administer_file(cached, ipip50(), o, fo);
    EXPECT_EQ(again.written, 0u);
    EXPECT_EQ(grm->calls(), 0u);
    EXPECT_EQ(read_text(fo.out), ref);

    // Other settings on the same output: refused, naming "out".
    adm::AdministerOptions other = o;
    other.seed = 18;
    try {
      adm::administer_file(cached, ipip50(), other, fo);
      FAIL();
    } catch (const popalign::InvalidArgument& e) {
      EXPECT_EQ(e.argument(), "out");
      EXPECT_NE(std::string(e.what()).find("seed"), std::string::npos) << e.what();
    }
  }
}

TEST(AdministerFile, CancelledRunResumes) {
  const auto dir = temp_dir("cancel");
  const Panel panel = make_panel(8, 5);
  write_personas(dir / "personas.jsonl", panel);
  adm::AdministerOptions o;
  o.personas_per_round = 2;
  adm::AdministerFileOptions fo;
  fo.personas = dir / "personas.jsonl";
  fo.out = dir / "ref.jsonl";
  auto grm = make_double(panel);
  adm::administer_file(*grm, ipip50(), o, fo);
  const std::string ref = read_text(fo.out);

  fo.out = dir / "out.jsonl";
  adm::AdministerOptions stop = o;
  stop.execution.progress = [](std::string_view, double f) { return f >= 0.5; };
  EXPECT_THROW(adm::administer_file(*grm, ipip50(), stop, fo), popalign::Cancelled);
  const std::string partial = read_text(fo.out);
  EXPECT_EQ(std::count(partial.begin(), partial.end(), '\n'), 4);
  grm->reset_counts();
  adm::administer_file(*grm, ipip50(), o, fo);
  EXPECT_EQ(read_text(fo.out), ref);
  EXPECT_EQ(grm->calls_for(panel.personas[0].id), 0u);
  EXPECT_EQ(grm->calls_for(panel.personas[7].id), 50u);
}

TEST(AdministerFile, MalformedPersonaLinesAreReportedWithLineNumbers) {
  const auto dir = temp_dir("malformed");
  const Panel panel = make_panel(4, 3);
  {
    std::ofstream out(dir / "personas.jsonl");
    out << "{\"id\": \"p0000\", \"persona\": \"" << panel.personas[0].text << "\", \"age\": 41}\n"
        << "{\"id\": \"p0001\", \"persona\": \"" << panel.personas[1].text << "\"}\n"
        << "{this is not json\n"
        << "\n"
        << "{\"id\": \"p0002\", \"bio\": \"no persona field\"}\n"
        << "{\"id\": \"p0001\", \"persona\": \"again\"}\n"
        << "{\"id\": 3, \"persona\": [\"" << panel.personas[3].text << "\"]}\n";
  }
  auto grm = make_double(panel);
  adm::AdministerFileOptions fo;
  fo.personas = dir / "personas.jsonl";
  fo.out = dir / "out.jsonl";
  try {
    adm::administer_file(*grm, ipip50(), {}, fo);
    FAIL() << "a malformed line must fail by default";
  } catch (const popalign::ParseError& e) {
    EXPECT_EQ(e.line(), 3u) << e.what();
    EXPECT_NE(std::string(e.what()).find("personas.jsonl:3"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(fo.out));

  fo.on_bad_line = popalign::io::OnBadLine::skip;
  std::vector<std::string> log;
  fo.log = [&](const std::string& m) { log.push_back(m); };
  const auto rep = adm::administer_file(*grm, ipip50(), {}, fo);
  EXPECT_EQ(rep.personas, 3u);
  EXPECT_EQ(rep.malformed, 3u);
  std::string all;
  for (const auto& m : log) all += m + "\n";
  EXPECT_NE(all.find("personas.jsonl:3:"), std::string::npos) << all;
  EXPECT_NE(all.find("personas.jsonl:5:"), std::string::npos) << all;
  EXPECT_NE(all.find("personas.jsonl:6: duplicate id 'p0001' (first on line 2)"), std::string::npos)
      << all;
  const std::string out = read_text(fo.out);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3);
  EXPECT_NE(out.find("\"persona_fields\":{\"age\":41}"), std::string::npos);
  EXPECT_NE(out.find("{\"id\":\"3\",\"instrument\":\"ipip50_bfm\""), std::string::npos) << out;

  // The output is what `popalign score` reads.
  const ps::Responses responses = ps::read_responses(fo.out, ipip50());
  EXPECT_EQ(responses.rows(), 3);
  EXPECT_EQ(responses.ids[2], "3");
}

TEST(AdministerFile, PersonasAreReadAsPersonaRecords) {
  // administer_file reads io::PersonaRecord through io::read_personas(read_options()): the
  // record's text is administered; its fields (every member but the id, the text and "facts")
  // become persona_fields; a line with "facts" but no text field is administered with the
  // facts joined.
  const auto dir = temp_dir("records");
  const Panel panel = make_panel(3, 12);
  {
    std::ofstream out(dir / "personas.jsonl");
    out << "{\"id\": \"p0000\", \"persona\": \"" << panel.personas[0].text
        << "\", \"facts\": [\"Not administered.\"], \"age\": 41}\n"
        << "{\"id\": \"p0001\", \"facts\": [\"" << panel.personas[1].text << "\"]}\n"
        << "{\"id\": \"p0002\", \"persona\": \"" << panel.personas[2].text << "\", \"group\": 1}\n";
  }
  auto grm = make_double(panel);
  adm::AdministerFileOptions fo;
  fo.personas = dir / "personas.jsonl";
  fo.out = dir / "out.jsonl";
  const auto rep = adm::administer_file(*grm, ipip50(), {}, fo);
  EXPECT_EQ(rep.written, 3u);
  EXPECT_EQ(rep.missing_answers, 0u);
  for (const auto& p : panel.personas) EXPECT_EQ(grm->calls_for(p.id), 50u) << p.id;
  const auto lines = popalign::io::read_jsonl(fo.out).records;
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].field("persona_fields").dump(), "{\"age\":41}");
  EXPECT_EQ(lines[1].value.find("persona_fields"), nullptr);
  EXPECT_EQ(lines[2].field("persona_fields").dump(), "{\"group\":1}");

  // The reader's options follow the file options.
  fo.text_field = "facts";
  fo.on_bad_line = popalign::io::OnBadLine::skip;
  std::vector<std::string> log;
  fo.log = [&](const std::string& m) { log.push_back(m); };
  popalign::io::PersonaReadOptions ro = fo.read_options();
  EXPECT_EQ(ro.id_field, "id");
  EXPECT_EQ(ro.text_field, "facts");
  EXPECT_EQ(ro.facts_field, "");  // the text field is the facts: no separate facts member
  EXPECT_TRUE(ro.unique_ids);
  EXPECT_TRUE(ro.keep_fields);
  EXPECT_EQ(ro.on_bad_line, popalign::io::OnBadLine::skip);
  popalign::io::PersonaFile pf = popalign::io::read_personas(fo.personas, ro);
  ASSERT_EQ(pf.personas.size(), 2u);
  EXPECT_EQ(pf.malformed, 1u);
  EXPECT_EQ(pf.personas[0].text, "Not administered.");
  EXPECT_EQ(pf.personas[0].fields.find("persona")->as_string(), panel.personas[0].text);
  EXPECT_EQ(pf.personas[1].line, 2u);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("personas.jsonl:3: no field \"facts\""), std::string::npos) << log[0];

  fo.text_field = "persona";
  fo.keep_fields = false;
  EXPECT_EQ(fo.read_options().facts_field, "facts");
  pf = popalign::io::read_personas(fo.personas, fo.read_options());
  ASSERT_EQ(pf.personas.size(), 3u);
  for (const auto& p : pf.personas) EXPECT_TRUE(p.fields.is_null()) << p.id;
  EXPECT_EQ(pf.personas[1].text, panel.personas[1].text);
}

TEST(AdministerFile, DryRunEstimatesCallsAndTokens) {
  const Panel panel = make_panel(3, 8);
  adm::AdministerOptions o;
  const auto est = adm::estimate_administration(ipip50(), panel.personas, o, 0.5, 2.0);
  EXPECT_EQ(est.calls, 150u);
  EXPECT_EQ(est.personas, 3u);
  EXPECT_GT(est.prompt_tokens, 150 * 40);
  EXPECT_EQ(est.max_completion_tokens, 150 * 16);
  ASSERT_TRUE(est.cost);
  EXPECT_NEAR(*est.cost, est.prompt_tokens * 0.5e-6 + est.max_completion_tokens * 2e-6, 1e-12);
  EXPECT_NE(est.example.system.find(panel.personas[0].text), std::string::npos);
  o.mode = adm::AdministerMode::batch;
  EXPECT_EQ(adm::estimate_administration(ipip50(), panel.personas, o).calls, 3u);
  EXPECT_EQ(adm::estimate_tokens("abcdefgh"), 2);
  EXPECT_EQ(adm::estimate_tokens("abcdefghi"), 3);
}

}  // namespace
