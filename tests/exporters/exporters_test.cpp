// The exporters in memory: golden files (one persona per format), selection join, names,
// determinism, and every error path (naming file, line or argument).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <popalign/core/error.hpp>
#include <popalign/exporters/exporters.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/persona_record.hpp>

#include "io/temp_dir.hpp"

namespace ex = popalign::exporters;
namespace io = popalign::io;

namespace {

const std::string kData = POPALIGN_SOURCE_DIR "/tests/exporters/data";

ex::ReferenceLevels reference() { return ex::ReferenceLevels::load(kData + "/reference.csv"); }

std::vector<io::PersonaRecord> personas(const std::string& file = "personas.jsonl") {
  return io::read_personas(kData + "/" + file).personas;
}

ex::ExportResult render(ex::Format f, const std::vector<io::PersonaRecord>& p) {
  ex::ExportOptions o;
  o.format = f;
  o.personas_source = "personas.jsonl";
  return ex::render_export(p, reference(), o);
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Exporters, GoldenFilesOnePersonaPerFormat) {
  const auto one = personas("one_persona.jsonl");
  const auto tt = render(ex::Format::tinytroupe, one);
  ASSERT_EQ(tt.files.size(), 1u);
  EXPECT_EQ(tt.files[0].name, "p1.agent.json");
  EXPECT_EQ(tt.files[0].content, io::read_file(kData + "/golden/tinytroupe/p1.agent.json"));
  EXPECT_EQ(render(ex::Format::concordia, one).files.at(0).content,
            io::read_file(kData + "/golden/concordia.json"));
  EXPECT_EQ(render(ex::Format::oasis_reddit, one).files.at(0).content,
            io::read_file(kData + "/golden/oasis_reddit.json"));
  EXPECT_EQ(render(ex::Format::oasis_twitter, one).files.at(0).content,
            io::read_file(kData + "/golden/oasis_twitter.csv"));
}

TEST(Exporters, NumbersStayOutOfTheTinyTroupePersona) {
  const auto r = render(ex::Format::tinytroupe, personas());
  ASSERT_EQ(r.files.size(), 3u);
  const io::JsonValue doc = io::parse_json(r.files[0].content);
  const io::JsonValue* persona = doc.find("persona");
  ASSERT_NE(persona, nullptr);
  EXPECT_EQ(persona->find("popalign"), nullptr);
  EXPECT_EQ(persona->find("traits"), nullptr);
  EXPECT_EQ(persona->find("weight"), nullptr);
  ASSERT_NE(doc.find("popalign"), nullptr);
  EXPECT_EQ(doc.find("popalign")->find("popalign_schema")->as_number(), 1.0);
  EXPECT_EQ(doc.find("popalign")->find("weight")->as_number(), 0.5);
}

TEST(Exporters, NamesAreUniqueAndDeterministic) {
  const auto r = render(ex::Format::concordia, personas());
  EXPECT_EQ(r.generated_names, 1u);
  EXPECT_EQ(r.renamed_duplicates, 1u);
  const io::JsonValue list = io::parse_json(r.files[0].content);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list.as_array()[0].find("name")->as_string(), "Ann Smith");
  EXPECT_EQ(list.as_array()[1].find("name")->as_string(), "Persona p2");
  EXPECT_EQ(list.as_array()[2].find("name")->as_string(), "Ann Smith (p3)");
  // Same inputs, same bytes.
  EXPECT_EQ(render(ex::Format::concordia, personas()).files[0].content, r.files[0].content);
}

TEST(Exporters, SelectionKeepsItsOrderAndTraits) {
  const auto sel = ex::join_selection(personas(), kData + "/selection.csv");
  ASSERT_EQ(sel.size(), 2u);
  EXPECT_EQ(sel[0].id, "p3");
  EXPECT_EQ(sel[1].id, "p1");
  EXPECT_EQ(sel[0].fields.find("traits")->find("O")->as_number(), 9.0);
  EXPECT_EQ(sel[0].fields.find("weight")->as_number(), 0.25);
  const auto r = render(ex::Format::oasis_reddit, sel);
  const io::JsonValue list = io::parse_json(r.files[0].content);
  // p3 with the selection's traits O 9, C 6, E 5, A 4 vs medians 8, 4, 4, 4.5 -> ENTJ.
  EXPECT_EQ(list.as_array()[0].find("mbti")->as_string(), "ENTJ");
  EXPECT_EQ(list.as_array()[0].find("popalign")->find("id")->as_string(), "p3");
}

TEST(Exporters, SelectionErrorsNameFileAndLine) {
  popalign::testing::TempDir dir;
  io::write_file_atomically(dir / "sel.csv", "id,O,C,E,A,N\np1,1,2,3,4,5\nnobody,1,2,3,4,5\n");
  const std::string m = message_of([&] { ex::join_selection(personas(), dir / "sel.csv"); });
  EXPECT_NE(m.find("sel.csv:3"), std::string::npos) << m;
  EXPECT_NE(m.find("nobody"), std::string::npos) << m;
  io::write_file_atomically(dir / "dup.csv", "id,O\np1,1\np1,2\n");
  EXPECT_NE(message_of([&] { ex::join_selection(personas(), dir / "dup.csv"); }).find("dup.csv:3"),
            std::string::npos);
}

TEST(Exporters, MissingTraitsNameTheLine) {
  auto p = personas();
  p[1].fields = io::JsonValue();  // p2 is on line 2
  const std::string m = message_of([&] { render(ex::Format::tinytroupe, p); });
  EXPECT_NE(m.find("personas.jsonl:2"), std::string::npos) << m;
  EXPECT_NE(m.find("no traits"), std::string::npos) << m;
}

TEST(Exporters, TraitWithoutReferenceColumnIsAnError) {
  auto p = personas();
  p[0].fields.find("traits")->set("Honesty", 3.0);
  try {
    render(ex::Format::concordia, p);
    FAIL() << "expected InvalidArgument";
  } catch (const popalign::InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "reference");
    EXPECT_NE(std::string(e.what()).find("Honesty"), std::string::npos);
  }
}

TEST(Exporters, OasisRedditNeedsTheMbtiTraits) {
  auto p = personas();
  io::JsonValue t = io::JsonValue::object();
  t.set("Neuroticism", 2.0);
  p[2].fields.set("traits", t);  // p3, line 3
  const std::string m = message_of([&] { render(ex::Format::oasis_reddit, p); });
  EXPECT_NE(m.find("personas.jsonl:3"), std::string::npos) << m;
  // The other formats accept a persona with only some Big Five traits.
  EXPECT_NO_THROW(render(ex::Format::tinytroupe, p));
}

TEST(Exporters, FormatNames) {
  for (auto f : {ex::Format::tinytroupe, ex::Format::concordia, ex::Format::oasis_reddit,
                 ex::Format::oasis_twitter})
    EXPECT_EQ(ex::parse_format(ex::format_name(f)), f);
  EXPECT_EQ(ex::parse_format("oasis"), std::nullopt);
}

TEST(Exporters, WriteExportChecksTheOutputPath) {
  popalign::testing::TempDir dir;
  const auto tt = render(ex::Format::tinytroupe, personas());
  io::write_file_atomically(dir / "file", "x");
  EXPECT_THROW(ex::write_export(dir / "file", tt, ex::Format::tinytroupe), popalign::IoError);
  ex::write_export(dir / "agents", tt, ex::Format::tinytroupe);
  EXPECT_TRUE(std::filesystem::exists(dir / "agents" / "p2.agent.json"));
  ex::write_export(dir / "agents", tt, ex::Format::tinytroupe);  // rewriting our own files is fine
  io::write_file_atomically(dir / "agents" / "old.agent.json", "{}");
  const std::string m =
      message_of([&] { ex::write_export(dir / "agents", tt, ex::Format::tinytroupe); });
  EXPECT_NE(m.find("old.agent.json"), std::string::npos) << m;
  const auto c = render(ex::Format::concordia, personas());
  EXPECT_THROW(ex::write_export(dir / "agents", c, ex::Format::concordia), popalign::IoError);
  ex::write_export(dir / "c.json", c, ex::Format::concordia);
  EXPECT_EQ(io::read_file(dir / "c.json"), c.files[0].content);
}

TEST(Exporters, PrettyJsonRoundTrips) {
  const io::JsonValue v = io::parse_json(R"({"a":[1,2.5,{"b":"x\n"}],"c":{},"d":[],"e":null})");
  const std::string s = ex::pretty_json(v);
  EXPECT_EQ(io::parse_json(s), v);
  EXPECT_EQ(s.substr(0, 9), "{\n  \"a\": ");
}

TEST(Exporters, SelectionInMemoryMatchesTheFile) {
  const ex::Selection sel = ex::read_selection(kData + "/selection.csv");
  EXPECT_EQ(sel.ids, (std::vector<std::string>{"p3", "p1"}));
  EXPECT_EQ(sel.traits.size(), 5u);
  EXPECT_EQ(sel.lines, (std::vector<std::size_t>{2, 3}));
  ex::Selection mem;
  mem.ids = {"p3", "p1"};
  mem.traits = {"O", "C", "E", "A", "N"};
  mem.values = {9, 6, 5, 4, 3, 4, 2, 7, 6, 1};
  mem.weights = {0.25, 0.75};
  const auto a = render(ex::Format::concordia, ex::join_selection(personas(), mem));
  const auto b =
      render(ex::Format::concordia, ex::join_selection(personas(), kData + "/selection.csv"));
  EXPECT_EQ(a.files[0].content, b.files[0].content);
  mem.weights = {0.25};
  try {
    ex::join_selection(personas(), mem);
    FAIL() << "expected InvalidArgument";
  } catch (const popalign::InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "weights");
  }
  mem.weights.clear();
  mem.ids = {"p3", "ghost"};
  EXPECT_NE(message_of([&] { ex::join_selection(personas(), mem); }).find("<selection>:2"),
            std::string::npos);
}
