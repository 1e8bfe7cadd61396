// `popalign run` as a program, end to end, against a loopback TEST DOUBLE server whose
// respondents carry latent traits (tests/pipeline/latent_server.hpp): the whole pipeline on a
// generated corpus (the scores follow the latent traits; the aligned set is closer to the
// reference than the pool), a rerun that skips every stage and sends nothing, an option change
// that reruns only what depends on it, the dry run, and kill -9 at three different stages
// followed by a rerun: every output byte-identical to an uninterrupted run, and no paid call
// repeated beyond those in flight at the kill (counted on the server).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <popalign/io/csv.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/psychometrics/instrument.hpp>

#include "embedding/cli_run.hpp"
#include "pipeline/latent_server.hpp"

namespace fs = std::filesystem;
using popalign::test::LatentServerDouble;
using popalign::test::run_cli;

namespace {

constexpr int kAuthors = 24;
constexpr int kConcurrency = 2;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("popalign_pipeline_run_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

/// Latent traits of author a (instrument trait order): biased like LLM personas (agreeable,
/// calm: +0.8 on the 2nd trait, -0.6 on the 4th), from a fixed LCG and Box-Muller.
std::vector<std::vector<double>> latent_traits(int authors, std::size_t d) {
  std::uint64_t s = 12345;
  auto uni = [&] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (static_cast<double>(s >> 11) + 0.5) / 9007199254740992.0;
  };
  std::vector<std::vector<double>> out;
  for (int a = 0; a < authors; ++a) {
    std::vector<double> t;
    for (std::size_t k = 0; k < d; ++k) {
      const double z = std::sqrt(-2 * std::log(uni())) * std::cos(6.283185307179586 * uni());
      const double bias = k == 1 ? 0.8 : k == 3 ? -0.6 : 0.0;
      t.push_back(std::clamp(bias + 0.8 * z, -2.5, 2.5));
    }
    out.push_back(t);
  }
  return out;
}

/// Posts of `authors` authors, 6 each, every post carrying its author's latent marker.
void write_corpus(const fs::path& path, const std::vector<std::vector<double>>& theta) {
  static const char* hobbies[] = {"hiking",   "baking",    "chess",       "painting",
                                  "cycling",  "gardening", "poetry",      "fishing",
                                  "knitting", "running",   "photography", "jazz"};
  static const char* sentences[] = {
      "Yesterday I walked to the market and bought fresh bread for the whole family.",
      "My neighbour asked me to help with her broken fence, so we spent the afternoon fixing it.",
      "I have been reading a long novel about sailors and I cannot put it down at night.",
      "We had a loud argument at work about the new schedule and I stayed calm this time.",
      "On Sunday I cooked a huge pot of soup and froze half of it for the busy week ahead.",
      "I finally cleaned the garage and found old letters from my grandmother in a box.",
      "My friends and I drove to the coast to watch the storm roll over the grey water.",
      "I started learning a new language with an app and practise every morning on the bus.",
      "The train was late again, so I sat in the station and wrote this entry by hand.",
      "I volunteered at the shelter and walked three dogs that were far stronger than me.",
      "Our team lost the quiz night by one point and I keep thinking about that last answer.",
      "I repainted the kitchen a pale yellow colour and it feels much brighter in the mornings."};
  std::ofstream out(path, std::ios::binary);
  for (std::size_t a = 0; a < theta.size(); ++a) {
    const std::string marker = popalign::test::latent_marker(theta[a]);
    for (int p = 0; p < 6; ++p) {
      std::string text = "I love " + std::string(hobbies[(a + p % 2) % 12]) + ". ";
      for (int k = 0; k < 3; ++k)
        text += std::string(sentences[(a * 5 + p * 3 + k * 7) % 12]) + " ";
      text += "Day " + std::to_string(a * 10 + p) + " of my notes, " + marker + " end.";
      nlohmann::json j{{"author", "a" + std::to_string(100 + a)},
                       {"id", "a" + std::to_string(100 + a) + ":" + std::to_string(p)},
                       {"time", "2004-05-1" + std::to_string(p)},
                       {"text", text}};
      out << j.dump() << "\n";
    }
  }
}

std::string config_text(const fs::path& dir, const std::string& url, long long n = 8) {
  return "run_dir = \"" + (dir / "run").string() +
         "\"\nseed = 3\n[models.generator]\nbase_url = \"" + url +
         "\"\nmodel = \"latent-double\"\nconcurrency = " + std::to_string(kConcurrency) +
         "\nhttp_attempts = 2\nprompt_price = 1.0\ncompletion_price = 2.0\n[input]\nposts = \"" +
         (fs::temp_directory_path() / "popalign_pipeline_run_posts.jsonl").string() +
         "\"\n[mining]\ndedup = false\n[instrument]\nname = \"mini_ipip\"\nmax_retries = 1\n"
         "[reference]\npath = \"big5\"\n[align]\nn = " +
         std::to_string(n) +
         "\n[[groups]]\nname = \"hikers_europe\"\nquery = \"people who love hiking\"\n"
         "reference = \"region:Europe\"\nn = 3\ndepth = 6\n[[groups]]\nname = \"east_asia\"\n"
         "query = \"adults living in East Asia\"\nreference = \"East Asia\"\nn = 3\ndepth = 6\n";
}

/// A scenario directory with posts and config.
fs::path scenario(const std::string& name, const std::string& url,
                  const std::vector<std::vector<double>>& theta) {
  const fs::path dir = temp_dir(name);
  // One posts file for every scenario: mined records name their source file, so runs compared
  // byte for byte must read the same path.
  write_corpus(fs::temp_directory_path() / "popalign_pipeline_run_posts.jsonl", theta);
  std::ofstream(dir / "pipeline.toml") << config_text(dir, url);
  return dir;
}

const std::vector<std::string> kOutputs = {"mine/personas.jsonl",
                                           "mine/funnel.json",
                                           "administer/answers.jsonl",
                                           "score/traits.csv",
                                           "reference/traits.csv",
                                           "align/selection.csv",
                                           "align/weights.csv",
                                           "personas/global.jsonl",
                                           "personas/hikers_europe.jsonl",
                                           "personas/east_asia.jsonl",
                                           "groups/hikers_europe/pool.jsonl",
                                           "groups/east_asia/report.json",
                                           "report.html"};

/// Starts `popalign run cfg`; kills it with SIGKILL once `when()` is true. True when killed
/// (false: it finished first).
bool run_and_kill(const fs::path& cfg, const std::function<bool()>& when) {
  const pid_t child = ::fork();
  if (child == 0) {
    const std::string log = (cfg.parent_path() / "killed.log").string();
    FILE* f = std::freopen(log.c_str(), "a", stderr);
    (void)f;
    std::freopen("/dev/null", "w", stdout);
    ::execl(POPALIGN_CLI_PATH, POPALIGN_CLI_PATH, "run", cfg.c_str(), "--quiet",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (;;) {
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) return false;
    if (when()) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

class PipelineRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    instrument_ = new popalign::psychometrics::Instrument(
        popalign::psychometrics::resolve_instrument("mini_ipip"));
    theta_ = latent_traits(kAuthors, instrument_->traits.size());
  }
  static void TearDownTestSuite() { delete instrument_; }
  static popalign::psychometrics::Instrument* instrument_;
  static std::vector<std::vector<double>> theta_;
};
popalign::psychometrics::Instrument* PipelineRun::instrument_ = nullptr;
std::vector<std::vector<double>> PipelineRun::theta_;

TEST_F(PipelineRun, EndToEndThenRerunSkipsEverything) {
  LatentServerDouble server(*instrument_);
  const fs::path dir = scenario("e2e", server.url(), theta_);
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string() + " --quiet");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.code, 0) << r.output;
  std::cerr << "[ measured ] end to end " << seconds << " s; answers: quality "
            << server.answered("quality") << ", writer " << server.answered("writer")
            << ", critique " << server.answered("critique") << ", items " << server.answered("item")
            << ", revisions " << server.answered("revise") << ", revision verdicts "
            << server.answered("revision-judge") << "\n";
  for (const auto& f : kOutputs) EXPECT_TRUE(fs::exists(dir / "run" / f)) << f;
  // Calls per stage: 6 posts per author, one persona per author, 20 items per persona.
  EXPECT_EQ(server.answered("quality"), 6u * kAuthors);
  EXPECT_EQ(server.answered("writer"), 1u * kAuthors);
  EXPECT_EQ(server.answered("critique"), 1u * kAuthors);
  // + the revised personas (a persona revised alike for both groups is answered from the cache).
  EXPECT_GE(server.answered("item"), 20u * (kAuthors + 6));
  EXPECT_EQ(server.answered("revise"), 12u);  // depth 6 in each of the 2 groups
  EXPECT_EQ(server.answered("revision-judge"), 12u);
  EXPECT_EQ(server.repeated_answers(), 0u);
  const auto personas = popalign::io::read_personas(dir / "run/personas/global.jsonl");
  EXPECT_EQ(personas.personas.size(), 8u);
  // The scores follow the latent traits (GRM respondents): correlation per trait > 0.5.
  const popalign::io::Table scores = popalign::io::read_table(dir / "run/score/traits.csv");
  ASSERT_EQ(scores.num_rows(), static_cast<std::size_t>(kAuthors));
  for (std::size_t k = 0; k < instrument_->traits.size(); ++k) {
    const auto col = scores.find_column(instrument_->traits[k].code);
    ASSERT_TRUE(col.has_value());
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (std::size_t i = 0; i < scores.num_rows(); ++i) {
      const int a = std::stoi(scores.rows[i][0].substr(1, 3)) - 100;  // "a1xx#1"
      const double x = theta_[static_cast<std::size_t>(a)][k];
      const double y = std::stod(scores.rows[i][*col]);
      sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
    }
    const double n = static_cast<double>(scores.num_rows());
    const double corr = (sxy - sx * sy / n) / std::sqrt((sxx - sx * sx / n) * (syy - sy * sy / n));
    EXPECT_GT(corr, 0.5) << instrument_->traits[k].code;
  }
  // The run report: funnel, global section, and the numbers of the alignment.
  const std::string html = slurp(dir / "run/report.html");
  for (const char* s : {"Mining funnel", "Global alignment", "id=\"chart-count\"", "quality",
                        "Group hikers_europe", "Group east_asia", "region:East Asia", "global set"})
    EXPECT_NE(html.find(s), std::string::npos) << s;
  // The manifest: every stage done, calls and cost recorded.
  const nlohmann::json m = nlohmann::json::parse(slurp(dir / "run/manifest.json"));
  ASSERT_EQ(m["stages"].size(), 8u);  // mine administer score reference align 2 groups report
  for (const auto& s : m["stages"]) EXPECT_EQ(s["status"], "done") << s["name"];
  EXPECT_EQ(m["stages"][0]["calls"].get<int>(), 8 * kAuthors);  // mine: quality+writer+critique
  EXPECT_GT(m["stages"][0]["cost"].get<double>(), 0.0);
  // Rerun: nothing sent, every stage skipped, same bytes.
  std::map<std::string, std::string> before;
  for (const auto& f : kOutputs) before[f] = slurp(dir / "run" / f);
  const std::size_t requests = server.requests();
  const auto again =
      run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string() + " --quiet");
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(server.requests(), requests);
  EXPECT_EQ(again.output.find(" ran "), std::string::npos) << again.output;
  for (const auto& f : kOutputs) EXPECT_EQ(slurp(dir / "run" / f), before[f]) << f;
  // Group sets: 3 personas each, revised, with re-administered traits.
  for (const char* g : {"hikers_europe", "east_asia"}) {
    const auto gs = popalign::io::read_personas(dir / "run/personas" / (std::string(g) + ".jsonl"));
    ASSERT_EQ(gs.personas.size(), 3u) << g;
    EXPECT_NE(gs.personas[0].text.find("revised for the group"), std::string::npos);
    EXPECT_TRUE(gs.personas[0].fields.find("traits") != nullptr);
  }
  // A changed N: mining and administering are skipped (no mining or first-round call); the
  // global set, the groups built from it and the report run again.
  const std::size_t mined =
      server.answered("quality") + server.answered("writer") + server.answered("critique");
  std::ofstream(dir / "pipeline.toml") << config_text(dir, server.url(), 6);
  const auto changed = run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string());
  ASSERT_EQ(changed.code, 0) << changed.output;
  EXPECT_EQ(server.answered("quality") + server.answered("writer") + server.answered("critique"),
            mined);
  for (const char* s : {"mine         skipped", "administer   skipped", "score        skipped",
                        "align        ran", "report       ran"})
    EXPECT_NE(changed.output.find(s), std::string::npos) << s << "\n" << changed.output;
  EXPECT_EQ(popalign::io::read_personas(dir / "run/personas/global.jsonl").personas.size(), 6u);
  // The dry run of a finished run: every stage done, nothing to send.
  const auto dry =
      run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string() + " --dry-run");
  ASSERT_EQ(dry.code, 0) << dry.output;
  {
    const auto at = dry.output.find("mine.quality");
    ASSERT_NE(at, std::string::npos) << dry.output;
    const std::string line = dry.output.substr(at, dry.output.find('\n', at) - at);
    EXPECT_NE(line.find(" done"), std::string::npos) << line;
  }
  fs::remove_all(dir);
}

TEST_F(PipelineRun, DryRunPlansCallsAndCost) {
  LatentServerDouble server(*instrument_);
  const fs::path dir = scenario("dry", server.url(), theta_);
  const auto dry =
      run_cli(POPALIGN_CLI_PATH, "run " + (dir / "pipeline.toml").string() + " --dry-run");
  ASSERT_EQ(dry.code, 0) << dry.output;
  EXPECT_EQ(server.requests(), 0u);
  EXPECT_FALSE(fs::exists(dir / "run/manifest.json"));
  // 144 posts pass the pre-filter; at most one window (persona) per author; 20 items each.
  for (const char* s :
       {"mine.quality", "144", "mine.personas", "<= 24", "administer", "<= 480",
        "group east_asia.revise", "<= 6", "group east_asia.administer", "<= 120", "total"})
    EXPECT_NE(dry.output.find(s), std::string::npos) << s << "\n" << dry.output;
  fs::remove_all(dir);
}

TEST_F(PipelineRun, KillNineAtThreeStagesThenResumeGivesTheSameBytes) {
  LatentServerDouble server(*instrument_, /*delay_ms=*/2);
  // The uninterrupted run.
  const fs::path ref = scenario("kill_reference", server.url(), theta_);
  const auto r = run_cli(POPALIGN_CLI_PATH, "run " + (ref / "pipeline.toml").string() + " --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::size_t uninterrupted = server.answered_total();
  server.reset();
  // The same run killed while mining (post quality), while administering, and while revising
  // the first group's personas.
  const fs::path dir = scenario("kill", server.url(), theta_);
  const fs::path cfg = dir / "pipeline.toml";
  EXPECT_TRUE(run_and_kill(cfg, [&] { return server.answered("quality") >= 40; }));
  EXPECT_TRUE(run_and_kill(cfg, [&] { return server.answered("item") >= 200; }));
  EXPECT_TRUE(run_and_kill(cfg, [&] { return server.answered("revise") >= 3; }));
  EXPECT_LT(server.answered_total(), uninterrupted);
  const auto fin = run_cli(POPALIGN_CLI_PATH, "run " + cfg.string() + " --quiet");
  ASSERT_EQ(fin.code, 0) << fin.output << slurp(dir / "killed.log");
  std::cerr << "[ measured ] answers: uninterrupted " << uninterrupted
            << ", killed 3 times + rerun " << server.answered_total() << ", repeated "
            << server.repeated_answers() << "\n";
  for (const auto& f : kOutputs)
    EXPECT_EQ(slurp(dir / "run" / f), slurp(ref / "run" / f)) << f << " differs";
  // No paid call repeated, except those in flight at each kill (at most `concurrency`).
  EXPECT_LE(server.repeated_answers(), 3u * kConcurrency);
  EXPECT_LE(server.answered_total(), uninterrupted + 3u * kConcurrency);
  fs::remove_all(dir);
  fs::remove_all(ref);
}
