// The funnel record: counts, drops, JSON and table.
#include <popalign/persona/funnel.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <popalign/core/error.hpp>

namespace pe = popalign::persona;

TEST(Funnel, CountsDropsAndWritesJson) {
  pe::Funnel f;
  f.add_step("quality", "posts", 3, "posts").out = 1;
  f.drop("quality", "p2", "low quality");
  f.drop("quality", "p3", "harmful", "d");
  f.step("quality").changed["x"] = 2;
  EXPECT_THROW(f.drop("nope", "u", "r"), popalign::InvalidArgument);
  EXPECT_EQ(
      f.to_json().dump(),
      R"({"steps":[{"step":"quality","in_unit":"posts","in":3,"out_unit":"posts","out":1,"dropped":{"harmful":1,"low quality":1},"changed":{"x":2}}],"drops":[{"step":"quality","unit":"p2","reason":"low quality","detail":""},{"step":"quality","unit":"p3","reason":"harmful","detail":"d"}]})");
  const std::string t = f.table();
  EXPECT_NE(t.find("quality"), std::string::npos);
  EXPECT_NE(t.find("- harmful: 1"), std::string::npos);
  EXPECT_NE(t.find("~ x: 2"), std::string::npos);
  const auto path = std::filesystem::temp_directory_path() / "popalign_funnel_test.json";
  pe::write_funnel(path, f);
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), f.to_json().dump() + "\n");
  std::filesystem::remove(path);
}
