// The pipeline config (TOML): every key read, inheritance of the judge and respondent endpoints,
// paths, and errors that name the file, line and key; the example config of `popalign init`;
// the manifest round trip and stage keys.
#include <popalign/pipeline/config.hpp>
#include <popalign/pipeline/manifest.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include <popalign/core/error.hpp>
#include <popalign/io/data_dir.hpp>

namespace fs = std::filesystem;
namespace pl = popalign::pipeline;

namespace {

const char* kMinimal = R"(run_dir = "out"
seed = 5
[models.generator]
base_url = "http://127.0.0.1:1/v1"
model = "gen"
prompt_price = 1.5
[models.judge]
model = "judge"
[models.respondent]
model = "resp"
concurrency = 3
[input]
posts = "posts.jsonl"
max_authors = 7
[mining]
min_posts = 4
dedup = false
[instrument]
name = "mini_ipip"
mode = "logprobs"
[reference]
path = "big5"
missing_code = 0
[align]
n = 12
method = "is"
[[groups]]
name = "eu"
query = "adults living in Europe"
reference = "region:Europe"
n = 5
)";

/// The message of the InvalidArgument thrown by parsing `text` as /tmp/x/cfg.toml.
std::string error_of(const std::string& text) {
  try {
    pl::parse_config(text, "/tmp/x/cfg.toml");
  } catch (const popalign::InvalidArgument& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(PipelineConfig, ReadsEveryTableAndInheritsEndpoints) {
  const pl::PipelineConfig c = pl::parse_config(kMinimal, "/tmp/x/cfg.toml");
  EXPECT_EQ(c.run_dir, fs::path("/tmp/x/out"));
  EXPECT_EQ(c.seed, 5u);
  EXPECT_EQ(c.generator.model, "gen");
  EXPECT_EQ(c.judge.model, "judge");
  EXPECT_EQ(c.judge.base_url, "http://127.0.0.1:1/v1");  // inherited
  EXPECT_DOUBLE_EQ(c.judge.prompt_price, 1.5);           // inherited
  EXPECT_EQ(c.respondent.concurrency, 3u);
  EXPECT_EQ(c.generator.concurrency, 8u);  // default
  EXPECT_EQ(c.posts, fs::path("/tmp/x/posts.jsonl"));
  EXPECT_EQ(c.mining.max_authors, 7u);
  EXPECT_EQ(c.mining.min_posts, 4u);
  EXPECT_FALSE(c.mining.dedup);
  EXPECT_EQ(c.administer.instrument, "mini_ipip");
  EXPECT_EQ(c.administer.mode, "logprobs");
  EXPECT_EQ(c.reference.path, "big5");
  ASSERT_TRUE(c.reference.missing_code.has_value());
  EXPECT_EQ(c.align.n, 12);
  EXPECT_EQ(c.align.method, "is");
  ASSERT_EQ(c.groups.size(), 1u);
  EXPECT_EQ(c.groups[0].name, "eu");
  EXPECT_EQ(c.groups[0].n, 5);
  EXPECT_EQ(c.lines.at("align.n"), 25);
}

TEST(PipelineConfig, ErrorsNameFileLineAndKey) {
  std::string t = kMinimal;
  // Unknown key (a typo) on line 26.
  EXPECT_NE(error_of(t + "\n").find("(no error)"), std::string::npos);
  std::string typo = t;
  typo.replace(typo.find("n = 12"), 6, "nn = 12");
  EXPECT_NE(error_of(typo).find("cfg.toml:25: align.nn': unknown key"), std::string::npos)
      << error_of(typo);
  // Wrong type.
  std::string wrong = t;
  wrong.replace(wrong.find("concurrency = 3"), 15, "concurrency = \"3\"");
  EXPECT_NE(error_of(wrong).find("cfg.toml:11: models.respondent.concurrency': must be an integer"),
            std::string::npos)
      << error_of(wrong);
  // Out of range.
  std::string range = t;
  range.replace(range.find("n = 5"), 5, "n = 0");
  EXPECT_NE(error_of(range).find("cfg.toml:31: groups[0].n'"), std::string::npos)
      << error_of(range);
  // A value that fails validation (not the parser): the line of the key.
  std::string mode = t;
  mode.replace(mode.find("\"logprobs\""), 10, "\"chat\"");
  EXPECT_NE(
      error_of(mode).find("cfg.toml:20: instrument.mode': must be generate, logprobs or batch"),
      std::string::npos)
      << error_of(mode);
  // Both inputs.
  EXPECT_NE(error_of(t + "[input2]\n").find("unknown key"), std::string::npos);
  std::string both = t;
  both.replace(both.find("max_authors = 7"), 15, "personas = \"p.jsonl\"");
  EXPECT_NE(error_of(both).find("give exactly one of input.posts"), std::string::npos)
      << error_of(both);
  // Missing endpoint keys: named with the file.
  EXPECT_NE(error_of("run_dir = \"r\"\n[input]\npersonas = \"p.jsonl\"\n")
                .find("models.respondent.base_url': is required"),
            std::string::npos);
  // Not TOML at all: the line of the syntax error.
  EXPECT_NE(error_of("run_dir = \"r\"\n[models\n").find("cfg.toml:2'"), std::string::npos)
      << error_of("run_dir = \"r\"\n[models\n");
  // Group names: unique, file-name safe, not "global".
  std::string dup = t + "[[groups]]\nname = \"eu\"\nquery = \"q\"\nreference = \"Europe\"\n";
  EXPECT_NE(error_of(dup).find("groups[1].name': 'eu' is used twice"), std::string::npos)
      << error_of(dup);
  std::string bad = t;
  bad.replace(bad.find("name = \"eu\""), 11, "name = \"e u\"");
  EXPECT_NE(error_of(bad).find("groups[0].name'"), std::string::npos);
  // A group reference filter that does not parse (persona::ReferenceFilter).
  std::string filt = t;
  filt.replace(filt.find("\"region:Europe\""), 15, "\"column:\"");
  EXPECT_NE(error_of(filt).find("cfg.toml:30: groups[0].reference'"), std::string::npos)
      << error_of(filt);
  // A file that cannot be read.
  EXPECT_THROW(pl::load_config("/nonexistent/pipeline.toml"), popalign::IoError);
}

TEST(PipelineConfig, ExampleConfigIsValidAndUsesShippedData) {
  const pl::PipelineConfig c =
      pl::parse_config(pl::example_config("http://h:1/v1", "m"), "/tmp/x/pipeline.toml");
  EXPECT_EQ(c.generator.base_url, "http://h:1/v1");
  EXPECT_EQ(c.respondent.model, "m");
  EXPECT_TRUE(fs::exists(c.posts)) << c.posts;
  EXPECT_EQ(c.posts, popalign::io::data_dir() / "posts/spc_posts.jsonl");
  EXPECT_EQ(c.groups.size(), 3u);
  EXPECT_EQ(c.run_dir, fs::path("/tmp/x/popalign-run"));
}

TEST(PipelineManifest, RoundTripAndKeys) {
  const fs::path dir = fs::temp_directory_path() / "popalign_pipeline_manifest";
  fs::remove_all(dir);
  fs::create_directories(dir);
  { std::ofstream(dir / "a.txt") << "hello"; }
  pl::Manifest m = pl::Manifest::load(dir);
  EXPECT_TRUE(m.stages().empty());
  pl::StageEntry e;
  e.name = "score";
  e.status = "done";
  e.options = R"({"x":1})";
  e.inputs["answers"] = pl::hash_path(dir / "a.txt");
  e.key = pl::stage_key(e.name, e.options, e.inputs);
  e.outputs["a.txt"] = e.inputs["answers"];
  e.counts["rows"] = 3;
  e.calls = 4;
  e.cost = 0.25;
  m.put(e);
  m.save();
  const pl::Manifest back = pl::Manifest::load(dir);
  ASSERT_NE(back.find("score"), nullptr);
  const pl::StageEntry& b = *back.find("score");
  EXPECT_EQ(b.key, e.key);
  EXPECT_EQ(b.options, e.options);
  EXPECT_EQ(b.outputs, e.outputs);
  EXPECT_EQ(b.counts.at("rows"), 3);
  EXPECT_EQ(b.calls, 4u);
  EXPECT_DOUBLE_EQ(b.cost, 0.25);
  // SHA-256 of "hello" (independent reference: sha256sum).
  EXPECT_EQ(pl::hash_path(dir / "a.txt"),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  // The key changes with the options and with any input.
  EXPECT_NE(pl::stage_key("score", R"({"x":2})", e.inputs), e.key);
  auto other = e.inputs;
  other["answers"] = "00";
  EXPECT_NE(pl::stage_key("score", e.options, other), e.key);
  // Not a manifest.
  std::ofstream(dir / "manifest.json") << "[1,2]";
  EXPECT_THROW(pl::Manifest::load(dir), popalign::ParseError);
  fs::remove_all(dir);
}
