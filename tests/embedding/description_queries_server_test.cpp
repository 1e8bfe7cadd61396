// Description queries over real HTTP against the test LLM server (fixture llm_server:
// node-llama-cpp serving the tiny stories260K model, which writes story gibberish). What this
// proves: requests with a JSON Schema reach a real model and come back schema-shaped, every
// candidate is accepted or rejected with a reason, the cache makes a rerun free and identical,
// and `popalign make-pairs --descriptions` does all of it from the command line. It does not
// prove that the descriptions are good: a capable model is needed for that.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <popalign/embedding/description_queries.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/llm/openai_client.hpp>

#include "persona_fixture.hpp"

#include "embedding/cli_run.hpp"

using namespace popalign;
using namespace popalign::embedding;
namespace fs = std::filesystem;

namespace {

// Short personas: the test model has a 512-token context.
const std::vector<io::PersonaRecord> kPersonas = {
    fixture::persona("a", {"I am a nurse.", "I like cats."}),
    fixture::persona("b", {"I bake bread.", "I have a dog."}),
};

std::string server_url() {
  const char* url = std::getenv("POPALIGN_TEST_LLM_URL");
  return url ? url : "";
}

std::shared_ptr<llm::LlmBackend> http_backend() {
  llm::OpenAiOptions o;
  o.base_url = server_url();
  o.model = "stories260K";
  o.api_key_env = "";
  return std::make_shared<llm::OpenAiBackend>(o);
}

DescriptionQueryOptions options() {
  DescriptionQueryOptions o;
  o.per_persona = 2;
  o.max_tokens = 120;
  o.seed = 3;
  return o;
}

fs::path temp_path(const std::string& name) {
  return fs::temp_directory_path() /
         ("popalign_desc_server_" + std::to_string(::getpid()) + "_" + name);
}

void remove_db(const fs::path& db) {
  fs::remove(db);
  fs::remove(db.string() + "-wal");
  fs::remove(db.string() + "-shm");
}

}  // namespace

TEST(DescriptionQueriesServer, SchemaShapedAnswersFromARealModel) {
  ASSERT_FALSE(server_url().empty())
      << "run through ctest (fixture llm_server sets POPALIGN_TEST_LLM_URL)";
  auto backend = http_backend();
  for (const io::PersonaRecord& p : kPersonas) {
    const llm::Outcome o = llm::complete_one(*backend, description_request(p, options(), 0));
    ASSERT_TRUE(o.ok()) << o.error().message;
    const ParsedDescriptions parsed = parse_descriptions(o.value().text, p, options());
    // The server enforces the schema with a grammar: a JSON object with exactly per_persona
    // strings (the tiny model fills them with story text, which the checks mostly reject).
    EXPECT_TRUE(parsed.json) << o.value().text;
    EXPECT_FALSE(parsed.truncated) << o.value().text;
    EXPECT_EQ(parsed.accepted.size() + parsed.rejected.size(), 2u) << o.value().text;
    for (const RejectedDescription& r : parsed.rejected) EXPECT_FALSE(r.reason.empty());
  }
}

TEST(DescriptionQueriesServer, GeneratesAndAReRunIsServedByTheCache) {
  ASSERT_FALSE(server_url().empty());
  const fs::path db = temp_path("cache.sqlite");
  remove_db(db);
  llm::CacheOptions cache;
  cache.path = db.string();
  DescriptionPairs first, second;
  {
    llm::CachedBackend cached(http_backend(), cache);
    first = generate_description_pairs(cached, kPersonas, options());
  }
  EXPECT_EQ(first.report.failed_calls, 0u);
  EXPECT_GE(first.report.calls, kPersonas.size());
  EXPECT_LE(first.report.calls, kPersonas.size() * 2);  // max_attempts = 2
  EXPECT_EQ(first.report.cached_calls, 0u);
  EXPECT_EQ(first.report.accepted, first.pairs.size());
  EXPECT_GT(first.report.accepted + first.report.rejected, 0u);
  {
    llm::CachedBackend cached(http_backend(), cache);
    second = generate_description_pairs(cached, kPersonas, options());
  }
  EXPECT_EQ(second.report.calls, first.report.calls);
  EXPECT_EQ(second.report.cached_calls, second.report.calls);
  ASSERT_EQ(second.pairs.size(), first.pairs.size());
  for (std::size_t i = 0; i < first.pairs.size(); ++i) {
    EXPECT_EQ(second.pairs[i].query, first.pairs[i].query);
    EXPECT_EQ(second.pairs[i].positive, first.pairs[i].positive);
  }
  remove_db(db);
}

#if defined(POPALIGN_CLI_PATH)
namespace {
using test::CliRun;
CliRun run(const std::string& args) { return test::run_cli(POPALIGN_CLI_PATH, args); }
std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

TEST(DescriptionQueriesServer, MakePairsFromTheCommandLineResumesFromItsCache) {
  ASSERT_FALSE(server_url().empty());
  const fs::path personas = temp_path("personas.jsonl");
  {
    std::ofstream f(personas);
    f << R"({"id":"a","facts":["I am a nurse.","I like cats."]})"
      << "\n"
      << R"({"id":"b","facts":["I bake bread.","I have a dog."]})"
      << "\n";
  }
  const fs::path db = temp_path("cli.sqlite");
  remove_db(db);
  const fs::path out1 = temp_path("pairs1.jsonl"), out2 = temp_path("pairs2.jsonl");
  const std::string common = "make-pairs --profiles " + personas.string() +
                             " --descriptions 2 --llm-url " + server_url() +
                             " --llm-model stories260K --llm-api-key-env '' --llm-max-tokens 120"
                             " --llm-seed 3 --llm-cache " +
                             db.string();
  const CliRun a = run(common + " --out " + out1.string());
  ASSERT_EQ(a.code, 0) << a.output;
  EXPECT_NE(a.output.find("descriptions: 2 personas"), std::string::npos) << a.output;
  EXPECT_NE(a.output.find("(0 from cache, 0 failed)"), std::string::npos) << a.output;
  const CliRun b = run(common + " --out " + out2.string());
  ASSERT_EQ(b.code, 0) << b.output;
  EXPECT_EQ(b.output.find("(0 from cache"), std::string::npos) << "the rerun used the cache\n"
                                                               << b.output;
  const std::string bytes = slurp(out1);
  EXPECT_FALSE(bytes.empty());  // at least the 4 inverse-cloze pairs
  EXPECT_EQ(slurp(out2), bytes) << "same inputs and seed, same output bytes";

  // train-embedder --profiles with the same description flags trains on exactly those pairs
  // (--save-pairs), served from the same cache.
  const fs::path head = temp_path("head.bin"), saved = temp_path("saved.jsonl");
  std::string train = common;
  train.replace(0, std::string("make-pairs").size(), "train-embedder");
  const CliRun t = run(train + " --epochs 1 --batch 4 --save-pairs " + saved.string() + " --out " +
                       head.string());
  ASSERT_EQ(t.code, 0) << t.output;
  EXPECT_EQ(t.output.find("(0 from cache"), std::string::npos) << t.output;
  EXPECT_TRUE(fs::exists(head));
  EXPECT_EQ(slurp(saved), bytes);
  fs::remove(head);
  fs::remove(saved);

  // Nothing listens on the discard port: a clear error, exit 1, no crash.
  const CliRun c = run("make-pairs --profiles " + personas.string() +
                       " --descriptions 2 --llm-url http://127.0.0.1:9/v1 --llm-model m"
                       " --llm-api-key-env '' --llm-attempts 1 --out " +
                       out2.string());
  EXPECT_NE(c.code, 0);
  EXPECT_NE(c.output.find("every description call failed"), std::string::npos) << c.output;
  // --descriptions without --llm-url names the flag.
  const CliRun d = run("make-pairs --profiles " + personas.string() + " --descriptions 2 --out " +
                       out2.string());
  EXPECT_NE(d.code, 0);
  EXPECT_NE(d.output.find("--llm-url"), std::string::npos) << d.output;
  remove_db(db);
  fs::remove(personas);
  fs::remove(out1);
  fs::remove(out2);
}
#endif

#if defined(POPALIGN_CLI_PATH)
// The HTTP embedder from the command line: retrieve with real 64-d model embeddings, train a
// head on them, and retrieve again through the head (the issue's `--embedder openai`).
TEST(EmbedderServerCli, RetrieveTrainAndRetrieveWithAHeadOverHttp) {
  ASSERT_FALSE(server_url().empty());
  const fs::path personas = temp_path("stories.jsonl");
  {
    std::ofstream f(personas);
    f << R"({"id":"cat","facts":["Once upon a time there was a cat.","The cat liked milk."]})"
      << "\n"
      << R"({"id":"dog","facts":["The dog ran to the park.","He played with a ball."]})"
      << "\n"
      << R"({"id":"lily","facts":["Lily went to the shop.","She bought a red hat."]})"
      << "\n";
  }
  const std::string http =
      " --embedder openai --base-url " + server_url() + " --model stories260K --api-key-env ''";
  const fs::path hits = temp_path("hits.jsonl"), head = temp_path("openai_head.bin");
  const CliRun r = run("retrieve --personas " + personas.string() +
                       " --query \"Once upon a time there was a cat.\" --k 3" + http + " --out " +
                       hits.string());
  ASSERT_EQ(r.code, 0) << r.output;
  std::string text = slurp(hits);
  EXPECT_NE(text.find("\"id\":\"cat\""), std::string::npos) << text;
  EXPECT_LT(text.find("\"id\":\"cat\""), text.find("\"id\":\"dog\""))
      << "the persona holding the query sentence ranks first\n"
      << text;

  const CliRun t =
      run("train-embedder --profiles " + personas.string() +
          " --epochs 2 --batch 4 --hard-negatives 1" + http + " --out " + head.string());
  ASSERT_EQ(t.code, 0) << t.output;
  ASSERT_TRUE(fs::exists(head));
  const CliRun h =
      run("retrieve --personas " + personas.string() + " --query \"a cat\" --k 2 --head " +
          head.string() + http + " --out " + hits.string());
  ASSERT_EQ(h.code, 0) << h.output;
  text = slurp(hits);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  // fused works over HTTP (no token vectors: max-fact fused with the whole profile); the
  // word-level scorings are refused naming --scoring.
  const CliRun f = run("retrieve --personas " + personas.string() +
                       " --query \"Once upon a time there was a cat.\" --k 3 --scoring fused" +
                       http + " --out " + hits.string());
  ASSERT_EQ(f.code, 0) << f.output;
  text = slurp(hits);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3) << text;
  EXPECT_LT(text.find("\"id\":\"cat\""), text.find("\"id\":\"dog\"")) << text;
  const CliRun ms = run("retrieve --personas " + personas.string() +
                        " --query x --scoring max-sim" + http + " --out " + hits.string());
  EXPECT_EQ(ms.code, 2);
  EXPECT_NE(ms.output.find("'--scoring'"), std::string::npos) << ms.output;
  EXPECT_NE(ms.output.find("token vectors"), std::string::npos) << ms.output;
  // A head trained on GloVe vectors does not fit 64-d model embeddings: a clear error.
  const CliRun wrong = run("retrieve --personas " + personas.string() + " --query x --head " +
                           std::string(POPALIGN_DATA_DIR) + "/embedding/glove_sif_head.bin" + http +
                           " --out " + hits.string());
  EXPECT_EQ(wrong.code, 2);
  EXPECT_NE(wrong.output.find("'--head'"), std::string::npos) << wrong.output;
  EXPECT_NE(wrong.output.find("dimension 100"), std::string::npos) << wrong.output;
  fs::remove(personas);
  fs::remove(hits);
  fs::remove(head);
}
#endif
