// Integration test of `popalign administer` against the real tiny model (stories260K served by
// tests/support/llm_server; ctest fixture llm_server, URL in POPALIGN_TEST_LLM_URL).
// The model writes children's stories, so its answers are usually missing or gibberish: this
// test checks the plumbing (HTTP, parsing, log-probabilities, the cache, resume), not answers.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <popalign/io/jsonl.hpp>

namespace {

const std::string kData = std::string(POPALIGN_TEST_DATA_DIR) + "/administer";

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

RunResult run_cli(const std::vector<std::string>& args, const std::filesystem::path& dir) {
  const auto out_path = dir / "cli.stdout", err_path = dir / "cli.stderr";
  std::vector<std::string> argv_s = {POPALIGN_CLI};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    const int fo = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int fe = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fo, 1);
    ::dup2(fe, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out_path);
  r.err = read_text(err_path);
  return r;
}

class AdministerRealModel : public ::testing::TestWithParam<std::string> {};

TEST_P(AdministerRealModel, WritesLinesAndRerunsFromTheCache) {
  const char* url = std::getenv("POPALIGN_TEST_LLM_URL");
  ASSERT_TRUE(url && *url) << "run through ctest (fixture llm_server sets POPALIGN_TEST_LLM_URL)";
  const std::string mode = GetParam();
  const auto dir =
      std::filesystem::temp_directory_path() / "popalign_administer_integration" / mode;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto args = [&](const std::string& out) {
    return std::vector<std::string>{"administer",
                                    "--personas",
                                    kData + "/two_personas.jsonl",
                                    "--instrument",
                                    kData + "/three_items.json",
                                    "--base-url",
                                    url,
                                    "--model",
                                    "stories260K",
                                    "--mode",
                                    mode,
                                    "--seed",
                                    "1",
                                    "--max-retries",
                                    "1",
                                    "--concurrency",
                                    "2",
                                    "--timeout",
                                    "60",
                                    "--cache",
                                    (dir / "cache.sqlite").string(),
                                    "--out",
                                    (dir / out).string()};
  };

  const RunResult first = run_cli(args("first.jsonl"), dir);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto records = popalign::io::read_jsonl(dir / "first.jsonl").records;
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].string_field("id"), "lily");
  EXPECT_EQ(records[1].string_field("id"), "tom");
  for (const auto& rec : records) {
    EXPECT_EQ(rec.string_field("mode"), mode);
    const auto& answers = rec.field("answers");
    ASSERT_EQ(answers.size(), 3u);
    for (const auto& [item, value] : answers.as_object()) {
      if (value.is_null()) {
        EXPECT_TRUE(rec.field("missing").contains(item)) << rec.raw;
        continue;
      }
      EXPECT_GE(value.as_number(), 1.0) << rec.raw;
      EXPECT_LE(value.as_number(), 5.0) << rec.raw;
    }
    EXPECT_EQ(rec.field("raw").size(), 3u);
    if (mode == "logprobs") {
      for (const auto& [item, mass] : rec.field("option_mass").as_object()) {
        EXPECT_GE(mass.as_number(), 0.0) << item;
        EXPECT_LE(mass.as_number(), 1.0 + 1e-9) << item;
      }
    }
  }

  // The same run again: everything from the cache, the same bytes.
  const RunResult second = run_cli(args("second.jsonl"), dir);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(read_text(dir / "second.jsonl"), read_text(dir / "first.jsonl"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(second.err, m, std::regex(R"((\d+) calls \((\d+) from cache\))")))
      << second.err;
  EXPECT_EQ(m[1].str(), m[2].str()) << second.err;
  EXPECT_GE(std::stoi(m[1].str()), 6);
}

INSTANTIATE_TEST_SUITE_P(Modes, AdministerRealModel,
                         ::testing::Values(std::string("generate"), std::string("logprobs")),
                         [](const auto& p) { return p.param; });

}  // namespace
