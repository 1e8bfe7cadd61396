// `popalign mine` run as a program against a scripted loopback HTTP server (a TEST DOUBLE):
// end to end (personas, funnel table and JSON), the dry run, flag errors, and resume after
// kill -9 (same bytes as an uninterrupted run, no paid call repeated beyond those in flight).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <popalign/io/json.hpp>
#include <popalign/io/persona_record.hpp>

#include "embedding/cli_run.hpp"
#include "persona/scripted_server.hpp"

namespace fs = std::filesystem;
using popalign::test::run_cli;

extern char** environ;

namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("popalign_mine_cli_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string mine_args(const fs::path& posts, const std::string& url, const fs::path& out) {
  return "mine --posts " + posts.string() + " --base-url " + url +
         " --model scripted --http-attempts 1 --concurrency 4 --out " + out.string() +
         " --funnel " + out.string() + ".funnel.json";
}

}  // namespace

TEST(MineCli, EndToEndOnTheFixture) {
  const fs::path dir = temp_dir("e2e");
  popalign::test::write_mining_fixture(dir / "posts.jsonl");
  popalign::test::ScriptedMiningServerDouble server;
  const fs::path out = dir / "personas.jsonl";
  const auto r = run_cli(POPALIGN_CLI_PATH, mine_args(dir / "posts.jsonl", server.url(), out) +
                                                " --cache " + (dir / "cache.sqlite").string());
  ASSERT_EQ(r.code, 0) << r.output;
  // The funnel table, the per-step lines and the cost meter's totals.
  for (const char* s : {"step", "prefilter", "quality", "windows", "personas", "critique",
                        "privacy", "dedup", "- low quality: 1", "- cannot: 1",
                        "- near-duplicate: 1", "~ email: 1", "usage:", "10 personas written"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  const auto personas = popalign::io::read_personas(out);  // as administer reads it
  EXPECT_EQ(personas.personas.size(), 10u);
  const popalign::io::JsonValue funnel =
      popalign::io::parse_json(slurp(out.string() + ".funnel.json"));
  EXPECT_EQ(funnel.find("steps")->size(), 8u);
  EXPECT_EQ(funnel.find("drops")->size(), 15u);
  // A rerun pays nothing: every unit comes from the work directory (only the failing post is
  // asked again) and the bytes are the same.
  const std::string first = slurp(out);
  const std::size_t before = server.requests();
  const auto again = run_cli(POPALIGN_CLI_PATH, mine_args(dir / "posts.jsonl", server.url(), out) +
                                                    " --cache " + (dir / "cache.sqlite").string());
  ASSERT_EQ(again.code, 0) << again.output;
  EXPECT_EQ(server.requests() - before, 1u);
  EXPECT_EQ(slurp(out), first);
  fs::remove_all(dir);
}

TEST(MineCli, ShippedPosts) {
  const fs::path posts = fs::path(POPALIGN_SOURCE_DIR) / "data" / "posts" / "spc_posts.jsonl";
  if (!fs::exists(posts)) GTEST_SKIP() << "data/posts/spc_posts.jsonl is not in this tree";
  const fs::path dir = temp_dir("shipped");
  popalign::test::ScriptedMiningServerDouble server;
  const fs::path out = dir / "personas.jsonl";
  const auto r = run_cli(POPALIGN_CLI_PATH,
                         mine_args(posts, server.url(), out) + " --max-authors 12 --min-posts 3");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto personas = popalign::io::read_personas(out);
  EXPECT_GT(personas.personas.size(), 0u);
  EXPECT_TRUE(fs::exists(out.string() + ".funnel.json"));
  fs::remove_all(dir);
}

TEST(MineCli, DryRunSendsNothing) {
  const fs::path dir = temp_dir("dry");
  popalign::test::write_mining_fixture(dir / "posts.jsonl");
  popalign::test::ScriptedMiningServerDouble server;
  const auto r =
      run_cli(POPALIGN_CLI_PATH, "mine --posts " + (dir / "posts.jsonl").string() +
                                     " --model m --dry-run --out " + (dir / "p.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("dry run: nothing is sent"), std::string::npos);
  EXPECT_NE(r.output.find("quality   calls       130 (already done 0)"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("personas  calls     <= 16"), std::string::npos) << r.output;
  EXPECT_EQ(server.requests(), 0u);
  EXPECT_FALSE(fs::exists(dir / "p.jsonl"));
  fs::remove_all(dir);
}

TEST(MineCli, BadInputNamesTheFlagOrFile) {
  const fs::path dir = temp_dir("bad");
  popalign::test::write_mining_fixture(dir / "posts.jsonl");
  const std::string posts = " --posts " + (dir / "posts.jsonl").string();
  const std::string out = " --out " + (dir / "p.jsonl").string();
  auto r = run_cli(POPALIGN_CLI_PATH, "mine" + posts + " --model m" + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--base-url"), std::string::npos) << r.output;
  r = run_cli(POPALIGN_CLI_PATH,
              "mine" + posts + " --model m --dry-run --context-tokens 100" + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--context-tokens"), std::string::npos) << r.output;
  r = run_cli(POPALIGN_CLI_PATH, "mine" + posts + " --model m --dry-run --min-overall 11" + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--min-overall"), std::string::npos) << r.output;
  r = run_cli(POPALIGN_CLI_PATH,
              "mine" + posts + " --model m --dry-run --writer-template nope.json" + out);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("nope.json"), std::string::npos) << r.output;
  r = run_cli(POPALIGN_CLI_PATH,
              "mine --posts " + (dir / "missing.jsonl").string() + " --model m --dry-run" + out);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("missing.jsonl"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

// kill -9 at two points of a run (during the quality step, then later), rerun to the end:
// the output and the funnel are byte-identical to an uninterrupted run, and the server answered
// no request twice except those in flight at a kill (at most --concurrency per kill).
TEST(MineCli, ResumeAfterKillMinus9) {
  const fs::path dir = temp_dir("kill");
  popalign::test::write_mining_fixture(dir / "posts.jsonl");
  popalign::test::ScriptedMiningServerDouble server(/*delay_ms=*/20);
  // The uninterrupted run.
  const fs::path clean = dir / "clean.jsonl";
  const auto r0 = run_cli(POPALIGN_CLI_PATH, mine_args(dir / "posts.jsonl", server.url(), clean) +
                                                 " --cache " + (dir / "clean.sqlite").string());
  ASSERT_EQ(r0.code, 0) << r0.output;
  const std::size_t uninterrupted = server.answered();
  ASSERT_GT(uninterrupted, 150u);
  server.reset();

  const fs::path out = dir / "killed.jsonl";
  const std::string cmd =
      std::string(POPALIGN_CLI_PATH) + " " + mine_args(dir / "posts.jsonl", server.url(), out) +
      " --cache " + (dir / "killed.sqlite").string() + " > " + (dir / "log.txt").string() + " 2>&1";
  int kills = 0;
  for (const std::size_t kill_at : {40u, 150u}) {
    pid_t pid = 0;
    const char* argv[] = {"/bin/sh", "-c", nullptr, nullptr};
    const std::string exec_cmd = "exec " + cmd;
    argv[2] = exec_cmd.c_str();
    ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
    bool exited = false;
    for (int i = 0; i < 6000 && server.answered() < kill_at; ++i) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_FALSE(exited) << "the run ended before the kill point " << kill_at << "\n"
                         << slurp(dir / "log.txt");
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));
    ++kills;
  }
  const auto r = run_cli(POPALIGN_CLI_PATH, mine_args(dir / "posts.jsonl", server.url(), out) +
                                                " --cache " + (dir / "killed.sqlite").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(kills, 2);
  EXPECT_EQ(slurp(out), slurp(clean));
  EXPECT_EQ(slurp(out.string() + ".funnel.json"), slurp(clean.string() + ".funnel.json"));
  EXPECT_LE(server.repeated_answers(), 2u * 4u);
  EXPECT_LE(server.answered(), uninterrupted + 2u * 4u);
  EXPECT_GE(server.answered(), uninterrupted);
  fs::remove_all(dir);
}
