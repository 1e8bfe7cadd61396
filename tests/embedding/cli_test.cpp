// Runs the `popalign` program: retrieve, train-embedder and make-pairs, including bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <popalign/embedding/projection_head.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/io/jsonl.hpp>

#include "embedding/cli_run.hpp"

using namespace popalign;
namespace fs = std::filesystem;

namespace {
const std::string kDir = std::string(POPALIGN_TEST_DATA_DIR) + "/embedding/";

using test::CliRun;
CliRun run(const std::string& args) { return test::run_cli(POPALIGN_CLI_PATH, args); }

fs::path temp_dir() {
  fs::path d = fs::temp_directory_path() / ("popalign_emb_cli_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

std::size_t count_lines(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  std::size_t n = 0;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}
}  // namespace

TEST(CliRetrieve, FindsTheNurseAndWritesScores) {
  const fs::path out = temp_dir() / "hits.jsonl";
  const CliRun r = run("retrieve --personas " + kDir +
                       "personas_small.jsonl --query \"someone who "
                       "works in healthcare\" --query \"someone with pets\" --k 2 --out " +
                       out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto recs = io::read_jsonl(out).records;
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].string_field("query"), "someone who works in healthcare");
  EXPECT_EQ(recs[0].number_field("rank"), 1.0);
  const std::string top = recs[0].id_field();
  EXPECT_TRUE(top == "p1" || top == "3") << top;  // the nurse or the doctor
  EXPECT_GE(recs[0].number_field("score"), recs[1].number_field("score"));
  EXPECT_FALSE(recs[0].string_field("persona").empty());
  fs::remove_all(out.parent_path());
}

TEST(CliRetrieve, BadJsonlLineIsReportedWithItsLineNumber) {
  const fs::path out = temp_dir() / "hits.jsonl";
  const CliRun r = run("retrieve --personas " + kDir + "personas_bad_json.jsonl --query x --out " +
                       out.string());
  EXPECT_EQ(r.code, 3);  // a file error (docs/cli.md)
  EXPECT_NE(r.output.find("personas_bad_json.jsonl:3"), std::string::npos) << r.output;
  const CliRun r2 = run("retrieve --personas " + kDir +
                        "personas_bad_facts.jsonl --query x --out " + out.string());
  EXPECT_NE(r2.output.find("personas_bad_facts.jsonl:3"), std::string::npos) << r2.output;
  const CliRun r3 = run("retrieve --personas " + kDir +
                        "personas_small.jsonl --query x --k 0 --out " + out.string());
  EXPECT_EQ(r3.code, 2);
  EXPECT_NE(r3.output.find("--k"), std::string::npos) << r3.output;
  const CliRun r4 = run("retrieve --personas " + kDir +
                        "personas_small.jsonl --query x --embedder "
                        "word2vec --out " +
                        out.string());
  EXPECT_EQ(r4.code, 2);
  EXPECT_NE(r4.output.find("--embedder"), std::string::npos) << r4.output;
  fs::remove_all(out.parent_path());
}

TEST(CliTrainEmbedder, BadPairsLineIsReportedWithItsLineNumber) {
  const fs::path dir = temp_dir();
  const CliRun r = run("train-embedder --pairs " + kDir + "pairs_missing.jsonl --out " +
                       (dir / "h.bin").string());
  EXPECT_EQ(r.code, 3);  // a file error (docs/cli.md)
  EXPECT_NE(r.output.find("pairs_missing.jsonl:3"), std::string::npos) << r.output;
  const CliRun r2 = run("train-embedder --pairs " + kDir + "pairs_empty_positive.jsonl --out " +
                        (dir / "h.bin").string());
  EXPECT_NE(r2.output.find("pairs_empty_positive.jsonl:2"), std::string::npos) << r2.output;
  const CliRun r3 = run("train-embedder --profiles " + kDir +
                        "personas_small.jsonl --temperature 0 "
                        "--out " +
                        (dir / "h.bin").string());
  EXPECT_EQ(r3.code, 2);
  EXPECT_NE(r3.output.find("--temperature"), std::string::npos) << r3.output;
  EXPECT_FALSE(fs::exists(dir / "h.bin"));
  fs::remove_all(dir);
}

TEST(CliTrainEmbedder, MakePairsTrainAndRetrieveWithTheHead) {
  const fs::path dir = temp_dir();
  // 300 real profiles: enough for a real run, fast.
  {
    std::ifstream in(std::string(POPALIGN_DATA_DIR) +
                     "/personas/synthetic_persona_chat_valid_test.jsonl");
    std::ofstream out(dir / "profiles.jsonl");
    std::string line;
    for (int i = 0; i < 300 && std::getline(in, line); ++i) out << line << "\n";
  }
  const CliRun mp = run("make-pairs --profiles " + (dir / "profiles.jsonl").string() + " --out " +
                        (dir / "pairs.jsonl").string());
  ASSERT_EQ(mp.code, 0) << mp.output;
  const std::size_t n_pairs = count_lines(dir / "pairs.jsonl");
  EXPECT_GT(n_pairs, 1000u);
  const CliRun tr = run("train-embedder --pairs " + (dir / "pairs.jsonl").string() +
                        " --epochs 2 --seed 3 --threads 1 --out " + (dir / "head.bin").string());
  ASSERT_EQ(tr.code, 0) << tr.output;
  const auto head = embedding::ProjectionHead::load((dir / "head.bin").string());
  EXPECT_EQ(head.input_dimension(), 100);
  EXPECT_NE(head.base_name().find("glove-sif"), std::string::npos);
  // Same seed, same bytes.
  const CliRun tr2 = run("train-embedder --pairs " + (dir / "pairs.jsonl").string() +
                         " --epochs 2 --seed 3 --threads 1 --out " + (dir / "head2.bin").string());
  ASSERT_EQ(tr2.code, 0) << tr2.output;
  std::ifstream a(dir / "head.bin", std::ios::binary), b(dir / "head2.bin", std::ios::binary);
  const std::string bytes_a(std::istreambuf_iterator<char>(a), {});
  EXPECT_EQ(bytes_a, std::string(std::istreambuf_iterator<char>(b), {}));
  // Decay toward the identity is wired through: a different head.
  const CliRun tr3 = run("train-embedder --pairs " + (dir / "pairs.jsonl").string() +
                         " --epochs 2 --seed 3 --threads 1 --decay-to-identity --weight-decay 3"
                         " --out " +
                         (dir / "head3.bin").string());
  ASSERT_EQ(tr3.code, 0) << tr3.output;
  std::ifstream c(dir / "head3.bin", std::ios::binary);
  EXPECT_NE(bytes_a, std::string(std::istreambuf_iterator<char>(c), {}));
  const CliRun rt = run("retrieve --personas " + (dir / "profiles.jsonl").string() +
                        " --query \"I love dogs\" --k 5 --head " + (dir / "head.bin").string() +
                        " --out " + (dir / "hits.jsonl").string());
  ASSERT_EQ(rt.code, 0) << rt.output;
  EXPECT_EQ(count_lines(dir / "hits.jsonl"), 5u);
  // A head has no token vectors: fused then fuses max-fact with the whole-profile cosine (so it
  // differs from auto = max-fact), and the word-level scorings are refused naming --head.
  const CliRun rf = run("retrieve --personas " + (dir / "profiles.jsonl").string() +
                        " --query \"I love dogs\" --k 5 --scoring fused --head " +
                        (dir / "head.bin").string() + " --out " + (dir / "fused.jsonl").string());
  ASSERT_EQ(rf.code, 0) << rf.output;
  const auto mf = io::read_jsonl(dir / "hits.jsonl").records;
  const auto fu = io::read_jsonl(dir / "fused.jsonl").records;
  ASSERT_EQ(fu.size(), 5u);
  EXPECT_NE(mf[0].number_field("score"), fu[0].number_field("score"));
  const CliRun rs = run("retrieve --personas " + (dir / "profiles.jsonl").string() +
                        " --query x --scoring max-sim-profile --head " +
                        (dir / "head.bin").string() + " --out " + (dir / "x.jsonl").string());
  EXPECT_EQ(rs.code, 2);
  EXPECT_NE(rs.output.find("'--head'"), std::string::npos) << rs.output;
  EXPECT_NE(rs.output.find("no token vectors"), std::string::npos) << rs.output;
  fs::remove_all(dir);
}

TEST(CliRetrieve, MaxSimScoring) {
  const fs::path out = temp_dir() / "hits_maxsim.jsonl";
  const CliRun r = run("retrieve --personas " + kDir +
                       "personas_small.jsonl --query \"someone who works in healthcare\" "
                       "--scoring max-sim --k 2 --out " +
                       out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const auto recs = io::read_jsonl(out).records;
  ASSERT_EQ(recs.size(), 2u);
  const std::string top = recs[0].id_field();
  EXPECT_TRUE(top == "p1" || top == "3") << top;  // the nurse or the doctor
  EXPECT_GE(recs[0].number_field("score"), recs[1].number_field("score"));
  const CliRun bad = run("retrieve --personas " + kDir +
                         "personas_small.jsonl --query x --scoring maxsim --out " + out.string());
  EXPECT_EQ(bad.code, 2);  // usage error (InvalidArgument)
  EXPECT_NE(bad.output.find("--scoring"), std::string::npos) << bad.output;
  // The word-level scorings refuse a head before loading it (fused works with one: see
  // MakePairsTrainAndRetrieveWithTheHead).
  const CliRun with_head =
      run("retrieve --personas " + kDir +
          "personas_small.jsonl --query x --scoring max-sim --head h.bin --out " + out.string());
  EXPECT_EQ(with_head.code, 2);
  EXPECT_NE(with_head.output.find("--head"), std::string::npos) << with_head.output;
  // A file with a repeated id is refused, naming the file and line.
  const fs::path dup = out.parent_path() / "dup.jsonl";
  {
    std::ofstream f(dup);
    f << R"({"id": "a", "persona": "I am a nurse."})"
      << "\n"
      << R"({"id": "a", "persona": "I play piano."})"
      << "\n";
  }
  const CliRun d = run("retrieve --personas " + dup.string() + " --query x --out " + out.string());
  EXPECT_NE(d.code, 0);
  EXPECT_NE(d.output.find("dup.jsonl:2"), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("duplicate id 'a'"), std::string::npos) << d.output;
  // Explicit fused equals the default (auto = fused with GloVe and no head).
  const fs::path fused_out = out.parent_path() / "hits_fused.jsonl";
  const fs::path auto_out = out.parent_path() / "hits_auto.jsonl";
  const std::string q = "personas_small.jsonl --query \"someone who works in healthcare\" --k 4 ";
  ASSERT_EQ(
      run("retrieve --personas " + kDir + q + "--scoring fused --out " + fused_out.string()).code,
      0);
  ASSERT_EQ(run("retrieve --personas " + kDir + q + "--out " + auto_out.string()).code, 0);
  const auto f = io::read_jsonl(fused_out).records;
  const auto a = io::read_jsonl(auto_out).records;
  ASSERT_EQ(f.size(), 4u);
  ASSERT_EQ(a.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(f[i].id_field(), a[i].id_field());
    EXPECT_EQ(f[i].number_field("score"), a[i].number_field("score"));
  }
  fs::remove_all(out.parent_path());
}

TEST(CliTrainEmbedder, DescriptionFlagsAreCheckedBeforeAnyCall) {
  const std::string personas = kDir + "personas_small.jsonl";
  const fs::path out = temp_dir() / "desc_pairs.jsonl";
  const CliRun a =
      run("make-pairs --profiles " + personas + " --descriptions 2 --out " + out.string());
  EXPECT_NE(a.code, 0);
  EXPECT_NE(a.output.find("--llm-url"), std::string::npos) << a.output;
  const CliRun b = run("make-pairs --profiles " + personas + " --no-cloze --out " + out.string());
  EXPECT_NE(b.code, 0);
  EXPECT_NE(b.output.find("--no-cloze"), std::string::npos) << b.output;
  const CliRun c =
      run("make-pairs --profiles " + personas +
          " --descriptions 11 --llm-url http://127.0.0.1:9/v1 --llm-model m --out " + out.string());
  EXPECT_NE(c.code, 0);
  EXPECT_NE(c.output.find("--descriptions"), std::string::npos) << c.output;
  const CliRun d = run("train-embedder --pairs " + out.string() + " --descriptions 2 --out " +
                       (temp_dir() / "h.bin").string());
  EXPECT_NE(d.code, 0);
  EXPECT_NE(d.output.find("--descriptions"), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("needs --profiles"), std::string::npos) << d.output;
  // Library option errors come back under the flag's name, without a doubled prefix.
  const CliRun e = run("make-pairs --profiles " + personas +
                       " --descriptions 2 --llm-url http://127.0.0.1:9/v1 --llm-model m "
                       "--llm-max-tokens 3 --out " +
                       out.string());
  EXPECT_EQ(e.code, 2);
  EXPECT_NE(e.output.find("invalid argument '--llm-max-tokens': must be >= 16"), std::string::npos)
      << e.output;
  const CliRun f = run("train-embedder --profiles " + personas + " --batch 1 --out " +
                       (temp_dir() / "h.bin").string());
  EXPECT_EQ(f.code, 2);
  EXPECT_NE(f.output.find("invalid argument '--batch': must be"), std::string::npos) << f.output;
  EXPECT_FALSE(fs::exists(out)) << "nothing is written when the flags are wrong";
}

TEST(CliRetrieve, FeedbackFlags) {
  const fs::path dir = temp_dir();
  const std::string q = "retrieve --personas " + kDir +
                        "personas_small.jsonl --query \"someone who works in healthcare\" --k 4 ";
  const fs::path off = dir / "fb_off.jsonl", zero = dir / "fb_zero.jsonl", on = dir / "fb_on.jsonl";
  ASSERT_EQ(run(q + "--feedback 0 --out " + off.string()).code, 0);
  ASSERT_EQ(run(q + "--feedback 3 --feedback-weight 0 --out " + zero.string()).code, 0);
  ASSERT_EQ(run(q + "--out " + on.string()).code, 0);
  const auto a = io::read_jsonl(off).records;
  const auto b = io::read_jsonl(zero).records;
  const auto c = io::read_jsonl(on).records;
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  ASSERT_EQ(c.size(), 4u);
  bool differs = false;
  for (std::size_t i = 0; i < 4; ++i) {
    // Weight 0 feeds nothing back: the plain fusion, to the bit.
    EXPECT_EQ(a[i].id_field(), b[i].id_field());
    EXPECT_EQ(a[i].number_field("score"), b[i].number_field("score"));
    differs = differs || a[i].number_field("score") != c[i].number_field("score");
  }
  EXPECT_TRUE(differs) << "the default (feedback 3, weight 0.25) re-scores the pool";
  for (const std::string bad : {"--feedback -1", "--feedback-weight -0.5"}) {
    const CliRun r = run(q + bad + " --out " + off.string());
    EXPECT_EQ(r.code, 2) << bad << "\n" << r.output;
    EXPECT_NE(r.output.find(bad.substr(0, bad.find(' '))), std::string::npos) << r.output;
  }
  fs::remove_all(dir);
}
