#include <popalign/psychometrics/instrument.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <popalign/io/data_dir.hpp>

namespace popalign::psychometrics {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kData = POPALIGN_DATA_DIR;

std::vector<std::string> codes(const std::vector<Dimension>& d) {
  std::vector<std::string> out;
  for (const auto& x : d) out.push_back(x.code);
  return out;
}

TEST(Instrument, ShippedInstrumentsLoad) {
  struct Case {
    std::string name;
    std::size_t items;
    std::size_t facets;
    std::size_t per_trait;
  };
  for (const Case& c : {Case{"ipip50", 50, 0, 10}, Case{"mini_ipip", 20, 0, 4},
                        Case{"neo120", 120, 30, 24}, Case{"neo300", 300, 30, 60}}) {
    const Instrument ins = instrument_by_name(c.name, kData);
    EXPECT_EQ(ins.num_items(), c.items) << c.name;
    EXPECT_EQ(ins.facets.size(), c.facets) << c.name;
    EXPECT_EQ(codes(ins.traits), (std::vector<std::string>{"O", "C", "E", "A", "N"})) << c.name;
    EXPECT_EQ(ins.scale.min, 1);
    EXPECT_EQ(ins.scale.max, 5);
    EXPECT_EQ(ins.scale.labels.size(), 5u) << c.name;
    for (const auto& t : ins.traits) EXPECT_EQ(ins.items_of_trait(t.code).size(), c.per_trait);
    for (const auto& f : ins.facets) EXPECT_EQ(ins.items_of_facet(f.code).size(), c.items / 30);
    EXPECT_NO_THROW(ins.validate());
  }
}

TEST(Instrument, Ipip50DetailsAndAliases) {
  const Instrument ins = instrument_by_name("ipip50", kData);
  EXPECT_EQ(ins.id, "ipip50_bfm");
  EXPECT_THAT(ins.license, HasSubstr("public domain"));
  const auto k = ins.find_item("EXT2");  // IPIP-FFM column name
  ASSERT_TRUE(k);
  EXPECT_EQ(ins.items[*k].id, "E2");
  EXPECT_EQ(ins.items[*k].key, -1);
  EXPECT_EQ(ins.items[*k].text, "I don't talk a lot.");
  EXPECT_EQ(ins.find_item("E2"), k);
  EXPECT_FALSE(ins.find_item("E11"));
  // N keyed as Neuroticism: "I get stressed out easily" is +1, "I am relaxed most of the time" -1.
  EXPECT_EQ(ins.items[*ins.find_item("N1")].key, 1);
  EXPECT_EQ(ins.items[*ins.find_item("EST2")].key, -1);
  int reversed = 0;
  for (const auto& it : ins.items) reversed += it.key < 0;
  EXPECT_EQ(reversed, 5 + 2 + 4 + 4 + 3);  // E, N, A, C, O
  EXPECT_EQ(ins.scale.label(1), "Very Inaccurate");
  EXPECT_EQ(ins.scale.label(5), "Very Accurate");
  EXPECT_THROW((void)ins.scale.label(6), InvalidArgument);
  EXPECT_EQ(ins.traits[2].name, "Extraversion");
  // Mini-IPIP items carry BIG5 and IPIP-FFM aliases.
  const Instrument mini = instrument_by_name("mini_ipip20", kData);
  EXPECT_EQ(mini.items[*mini.find_item("O6")].id, "MINI20");
  EXPECT_EQ(mini.find_item("OPN6"), mini.find_item("MINI20"));
}

TEST(Instrument, NeoFacetsAreOrderedByTraitThenNumber) {
  const Instrument ins = instrument_by_name("neo120", kData);
  ASSERT_EQ(ins.facets.size(), 30u);
  EXPECT_EQ(ins.facets[0].code, "O1");
  EXPECT_EQ(ins.facets[0].trait, "O");
  EXPECT_EQ(ins.facets[5].code, "O6");
  EXPECT_EQ(ins.facets[29].code, "N6");
  EXPECT_EQ(ins.facets[24].name, "Anxiety");
  EXPECT_EQ(ins.items[0].facet, "N1");
}

TEST(Instrument, PopalignLayout) {
  const std::string json = R"({
    "id": "tiny", "name": "Tiny test instrument",
    "scale": {"min": 0, "max": 3, "labels": ["no", "a bit", "yes", "very"]},
    "items": [
      {"id": "q1", "text": "I like people.", "trait": "S", "facet": "S1", "key": 1,
       "columns": ["Q_1", "social1"]},
      {"id": "q2", "text": "I avoid people.", "trait": "S", "facet": "S2", "key": -1},
      {"id": "q3", "text": "I plan.", "trait": "P", "key": 1}
    ]})";
  const Instrument ins = parse_instrument(json, "tiny.json", "fallback");
  EXPECT_EQ(ins.id, "tiny");
  EXPECT_EQ(codes(ins.traits), (std::vector<std::string>{"S", "P"}));  // first appearance
  EXPECT_EQ(codes(ins.facets), (std::vector<std::string>{"S1", "S2"}));
  EXPECT_EQ(ins.find_item("social1"), std::optional<std::size_t>(0));
  EXPECT_EQ(ins.scale.label(2), "yes");
  EXPECT_EQ(ins.scale.reverse(1), 2.0);
}

TEST(Instrument, MalformedFilesNameTheFileAndItem) {
  auto expect_parse_error = [](const std::string& json, const std::string& what) {
    try {
      parse_instrument(json, "bad.json", "bad");
      ADD_FAILURE() << "no error for " << json;
    } catch (const ParseError& e) {
      EXPECT_THAT(e.what(), HasSubstr("bad.json"));
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  expect_parse_error(R"({"items": [{"id": "a", "trait": "E", "key": 1}]})", "scale");
  expect_parse_error(R"({"scale": {"min": 1, "max": 5}, "items": []})", "items");
  expect_parse_error(
      R"({"scale": {"min": 1, "max": 5}, "items": [{"id": "a", "trait": "E", "key": 2}]})",
      "item 'a' needs \"key\"");
  expect_parse_error(R"({"scale": {"min": 1, "max": 5}, "items": [{"id": "a", "key": 1}]})",
                     "item 'a' has no \"trait\"");
  expect_parse_error(
      R"({"scale": {"min": 1, "max": 5}, "items": [{"id": "a", "trait": "E", "key": 1},
                        {"id": "a", "trait": "E", "key": 1}]})",
      "also used by item");
  expect_parse_error(
      R"({"scale": {"min": 5, "max": 1}, "items": [{"id": "a", "trait": "E", "key": 1}]})", "max");
  expect_parse_error(
      R"({"scale": {"min": 1, "max": 3, "labels": ["x"]}, "items": [{"id": "a", "trait": "E", "key": 1}]})",
      "labels");
  expect_parse_error("{not json", "malformed JSON");
}

TEST(Instrument, LookupByNameAndPath) {
  try {
    instrument_by_name("tipi10", kData);  // deliberately not shipped
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "instrument");
    EXPECT_THAT(e.what(), HasSubstr("ipip50"));
    EXPECT_THAT(e.what(), HasSubstr("neo300"));
  }
  const auto names = available_instruments(kData);
  EXPECT_THAT(names, ::testing::IsSupersetOf(
                         {"ipip50", "ipip50_bfm", "mini_ipip20", "neo120", "ipip_neo_300"}));
  EXPECT_EQ(resolve_instrument((kData / "instruments" / "mini_ipip20.json").string()).num_items(),
            20u);
  EXPECT_THROW(resolve_instrument("/no/such/instrument.json"), IoError);
  EXPECT_EQ(load_instrument(kData / "instruments" / "ipip_neo_300.json").id, "ipip_neo_300");
}

}  // namespace
}  // namespace popalign::psychometrics
