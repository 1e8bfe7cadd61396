// Tests of include/popalign/administer/prompts.hpp.
#include <popalign/administer/prompts.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include <popalign/io/json.hpp>

namespace adm = popalign::administer;
namespace ps = popalign::psychometrics;

namespace {

ps::Scale ipip_scale() {
  return ps::Scale{1,
                   5,
                   {"Very Inaccurate", "Moderately Inaccurate", "Neither Accurate Nor Inaccurate",
                    "Moderately Accurate", "Very Accurate"}};
}

ps::Item item(const char* id, const char* text) {
  ps::Item it;
  it.id = id;
  it.text = text;
  it.trait = "E";
  return it;
}

std::filesystem::path temp_file(const std::string& name, const std::string& content) {
  const auto dir = std::filesystem::temp_directory_path() / "popalign_prompts_test";
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::ofstream(path) << content;
  return path;
}

TEST(Prompts, PersonaIsTheSystemPromptAndItemTextIsVerbatim) {
  const std::string persona =
      "I am a retired nurse from Lyon. I love {gardening} and \"quiet\" evenings.\nSecond line.";
  const ps::Item e1 = item("E1", "I am the life of the party.");
  const adm::RenderedPrompt p =
      adm::render_item_prompt(adm::builtin_template("likert-v1"), persona, e1, ipip_scale(), false);
  EXPECT_NE(p.system.find(persona), std::string::npos);
  EXPECT_EQ(p.system.find(e1.text), std::string::npos);
  EXPECT_NE(p.user.find(e1.text), std::string::npos);
  // Order: item, scale with labels, instruction.
  const auto at_item = p.user.find(e1.text);
  const auto at_scale = p.user.find("1 = Very Inaccurate");
  const auto at_last_label = p.user.find("5 = Very Accurate");
  const auto at_instruction = p.user.find("Answer with a single number from 1 to 5");
  ASSERT_NE(at_scale, std::string::npos);
  ASSERT_NE(at_last_label, std::string::npos);
  ASSERT_NE(at_instruction, std::string::npos);
  EXPECT_LT(at_item, at_scale);
  EXPECT_LT(at_scale, at_last_label);
  EXPECT_LT(at_last_label, at_instruction);
}

TEST(Prompts, ReversedScaleListsLabelsInOppositeOrder) {
  const ps::Scale s = ipip_scale();
  const std::string fwd = adm::render_scale(adm::builtin_template("likert-v1"), s, false);
  const std::string rev = adm::render_scale(adm::builtin_template("likert-v1"), s, true);
  EXPECT_EQ(fwd.substr(0, fwd.find('\n')), "1 = Very Inaccurate");
  EXPECT_EQ(rev.substr(0, rev.find('\n')), "1 = Very Accurate");
  EXPECT_NE(rev.find("5 = Very Inaccurate"), std::string::npos);
  const std::string bare =
      adm::render_scale(adm::builtin_template("likert-v1"), ps::Scale{1, 3, {}}, false);
  EXPECT_EQ(bare, "1\n2\n3");
}

TEST(Prompts, BatchPromptListsItemsInGivenOrderWithSchema) {
  const ps::Item a = item("E1", "I am the life of the party.");
  const ps::Item b = item("A1", "I feel little concern for others.");
  const std::vector<const ps::Item*> items = {&b, &a};
  const adm::RenderedPrompt p = adm::render_batch_prompt(adm::builtin_template("likert-json-v1"),
                                                         "Persona X", items, ipip_scale(), false);
  const auto pa = p.user.find("A1: I feel little concern for others.");
  const auto pe = p.user.find("E1: I am the life of the party.");
  ASSERT_NE(pa, std::string::npos);
  ASSERT_NE(pe, std::string::npos);
  EXPECT_LT(pa, pe);
  EXPECT_NE(p.user.find("each of the 2 statements"), std::string::npos);
  const popalign::io::JsonValue schema =
      popalign::io::parse_json(adm::batch_answer_schema(items, ipip_scale()));
  ASSERT_TRUE(schema.find("properties")->contains("E1"));
  EXPECT_EQ(schema.find("properties")->find("A1")->find("maximum")->as_number(), 5);
  EXPECT_EQ(schema.find("required")->size(), 2u);
  EXPECT_THROW(
      adm::render_item_prompt(adm::builtin_template("likert-json-v1"), "x", a, ipip_scale(), false),
      popalign::InvalidArgument);
}

TEST(Prompts, PlaceholdersAndBraces) {
  const std::pair<std::string_view, std::string_view> vals[] = {{"a", "1"}, {"b", "{x}"}};
  EXPECT_EQ(adm::substitute_placeholders("{a}{{lit}}{b}", vals), "1{lit}{x}");
  EXPECT_THROW(adm::substitute_placeholders("{c}", vals), popalign::InvalidArgument);
  EXPECT_THROW(adm::substitute_placeholders("{a", vals), popalign::InvalidArgument);
  EXPECT_THROW(adm::substitute_placeholders("a}", vals), popalign::InvalidArgument);
}

TEST(Prompts, TemplateValidationNamesTheField) {
  adm::PromptTemplate t = adm::builtin_template("likert-v1");
  t.user = "Rate: {scale}";
  try {
    t.validate();
    FAIL() << "no {item}";
  } catch (const popalign::InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "template.user");
  }
  t = adm::builtin_template("likert-v1");
  t.user += " {itemz}";
  EXPECT_THROW(t.validate(), popalign::InvalidArgument);
  t = adm::builtin_template("likert-v1");
  t.system = "You are a person.";  // no {persona} anywhere
  EXPECT_THROW(t.validate(), popalign::InvalidArgument);
  for (const std::string& id : adm::builtin_template_ids())
    EXPECT_NO_THROW(adm::builtin_template(id).validate()) << id;
  EXPECT_THROW(adm::builtin_template("nope"), popalign::InvalidArgument);
}

TEST(Prompts, LoadsUserTemplateFiles) {
  const auto path =
      temp_file("mine.json",
                R"({"id": "mine-v1", "format": "single", "system": "PERSONA: {persona}",
          "user": "Item {item_id}: {item}\n{scale}\nReply {min}-{max}.",
          "scale_line": "[{value}] {label}"})");
  const adm::PromptTemplate t = adm::load_prompt_template(path);
  EXPECT_EQ(t.id, "mine-v1");
  const adm::RenderedPrompt p =
      adm::render_item_prompt(t, "Bob", item("E1", "I talk a lot."), ipip_scale(), false);
  EXPECT_EQ(p.system, "PERSONA: Bob");
  EXPECT_EQ(p.user.substr(0, 22), "Item E1: I talk a lot.");
  EXPECT_NE(p.user.find("[2] Moderately Inaccurate"), std::string::npos);
  EXPECT_NE(p.user.find("Reply 1-5."), std::string::npos);
  EXPECT_EQ(adm::resolve_prompt_template(path.string()).id, "mine-v1");
  EXPECT_EQ(adm::resolve_prompt_template("likert-json-v1").format, adm::PromptFormat::batch);

  const auto bad = temp_file("bad.json", R"({"id": "b", "user": "{item} {nope} {persona}"})");
  try {
    adm::load_prompt_template(bad);
    FAIL();
  } catch (const popalign::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("{nope}"), std::string::npos) << e.what();
  }
  const auto unknown = temp_file("unk.json", R"({"id": "b", "user": "{item}", "usr": "x"})");
  EXPECT_THROW(adm::load_prompt_template(unknown), popalign::ParseError);
  EXPECT_THROW(adm::load_prompt_template("/nonexistent/t.json"), popalign::IoError);
}

}  // namespace
