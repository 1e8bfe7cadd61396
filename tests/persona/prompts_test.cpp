// Prompt templates of mining: built-ins, render, file overrides, placeholder checks.
#include <popalign/persona/prompts.hpp>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <popalign/core/error.hpp>

namespace pe = popalign::persona;

TEST(MiningPrompts, BuiltinsHaveTheirPlaceholders) {
  EXPECT_EQ(pe::builtin_prompt_ids(),
            (std::vector<std::string>{"post-quality-v1", "persona-writer-v1", "critique-v1"}));
  EXPECT_NO_THROW(pe::builtin_prompt("post-quality-v1").require("p", {"post"}));
  EXPECT_NO_THROW(pe::builtin_prompt("persona-writer-v1").require("p", {"posts", "max_words"}));
  EXPECT_NO_THROW(pe::builtin_prompt("critique-v1").require("p", {"posts", "persona"}));
  EXPECT_THROW(pe::builtin_prompt("nope"), popalign::InvalidArgument);
}

TEST(MiningPrompts, RenderReplacesPlaceholdersAndBraces) {
  EXPECT_EQ(pe::render_prompt("a {x} {{lit}} {y}", {{"x", "1"}, {"y", "{2}"}}), "a 1 {lit} {2}");
  try {
    pe::render_prompt("a {z}", {{"x", "1"}});
    FAIL();
  } catch (const popalign::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("{z}"), std::string::npos);
  }
}

TEST(MiningPrompts, RequireNamesMissingAndUnknownPlaceholders) {
  pe::PromptTemplate t{"mine-v1", "sys", "Post: {post} {extra}"};
  try {
    t.require("quality.prompt", {"post"});
    FAIL();
  } catch (const popalign::InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "quality.prompt");
    EXPECT_NE(std::string(e.what()).find("{extra}"), std::string::npos);
  }
  t.user = "no placeholder";
  EXPECT_THROW(t.require("quality.prompt", {"post"}), popalign::InvalidArgument);
  t.id = "";
  try {
    t.validate();
    FAIL();
  } catch (const popalign::InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "prompt.id");
  }
}

TEST(MiningPrompts, ResolveReadsAFileOrABuiltin) {
  const auto dir = std::filesystem::temp_directory_path() / "popalign_mining_prompts";
  std::filesystem::create_directories(dir);
  const auto file = dir / "q.json";
  std::ofstream(file)
      << R"({"id": "my-quality-v2", "system": "Be brief.", "user": "Judge {post}"})";
  const pe::PromptTemplate t = pe::resolve_prompt(file.string());
  EXPECT_EQ(t.id, "my-quality-v2");
  EXPECT_EQ(t.system, "Be brief.");
  EXPECT_EQ(t.user, "Judge {post}");
  EXPECT_EQ(pe::resolve_prompt("critique-v1").id, "critique-v1");
  EXPECT_THROW(pe::resolve_prompt((dir / "missing.json").string()), popalign::IoError);
  std::ofstream(dir / "bad.json") << R"({"id": "x"})";
  try {
    pe::resolve_prompt((dir / "bad.json").string());
    FAIL();
  } catch (const popalign::ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("user"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}
