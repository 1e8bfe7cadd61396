// Bindings of popalign::io: the persona record (the type every stage passes personas along in,
// and what the exporters read) and the persona JSONL reader / writer. `fields` crosses the
// boundary as JSON text; the Python layer turns it into a dict.
#include <popalign/io/json.hpp>
#include <popalign/io/persona_record.hpp>

#include "common.hpp"

namespace popalign::python {

void bind_io(py::module_& m) {
  py::class_<io::PersonaRecord>(m, "PersonaRecord", "One persona: id, text, facts, other fields.")
      .def(py::init([](std::string id, std::string text, std::vector<std::string> facts,
                       const std::string& fields_json) {
             io::PersonaRecord r;
             r.id = std::move(id);
             r.text = std::move(text);
             r.facts = std::move(facts);
             if (!fields_json.empty()) r.fields = io::parse_json(fields_json, "fields");
             if (!r.fields.is_null() && !r.fields.is_object())
               throw InvalidArgument("fields", "must be a JSON object (a dict)");
             return r;
           }),
           py::arg("id"), py::arg("text"), py::arg("facts") = std::vector<std::string>{},
           py::arg("fields_json") = "")
      .def_readwrite("id", &io::PersonaRecord::id)
      .def_readwrite("text", &io::PersonaRecord::text)
      .def_readwrite("facts", &io::PersonaRecord::facts)
      .def_readonly("line", &io::PersonaRecord::line)
      .def_property(
          "fields_json", [](const io::PersonaRecord& r) { return r.fields.dump(); },
          [](io::PersonaRecord& r, const std::string& s) {
            r.fields = s.empty() ? io::JsonValue() : io::parse_json(s, "fields");
          })
      .def(
          "to_json",
          [](const io::PersonaRecord& r, bool with_facts) {
            return io::persona_line(r, with_facts);
          },
          py::arg("with_facts") = false)
      .def("__repr__", [](const io::PersonaRecord& r) {
        std::string t = r.text.size() > 60 ? r.text.substr(0, 57) + "..." : r.text;
        return "PersonaRecord(id=" + py::repr(py::str(r.id)).cast<std::string>() +
               ", text=" + py::repr(py::str(t)).cast<std::string>() +
               ", facts=" + std::to_string(r.facts.size()) + ")";
      });

  m.def(
      "read_personas",
      [](const std::string& path, const std::string& id_field, const std::string& text_field,
         const std::string& facts_field, bool skip_bad_lines, bool unique_ids) {
        io::PersonaReadOptions o;
        o.id_field = id_field;
        o.text_field = text_field;
        o.facts_field = facts_field;
        o.on_bad_line = skip_bad_lines ? io::OnBadLine::skip : io::OnBadLine::fail;
        o.unique_ids = unique_ids;
        return without_gil([&] { return io::read_personas(path, o).personas; });
      },
      py::arg("path"), py::arg("id_field") = "id", py::arg("text_field") = "persona",
      py::arg("facts_field") = "facts", py::arg("skip_bad_lines") = false,
      py::arg("unique_ids") = true);
  m.def(
      "parse_personas",
      [](const std::string& text, const std::string& id_field, const std::string& text_field,
         const std::string& facts_field, bool unique_ids) {
        io::PersonaReadOptions o;
        o.id_field = id_field;
        o.text_field = text_field;
        o.facts_field = facts_field;
        o.unique_ids = unique_ids;
        return io::parse_personas(text, o, "<string>").personas;
      },
      py::arg("text"), py::arg("id_field") = "id", py::arg("text_field") = "persona",
      py::arg("facts_field") = "facts", py::arg("unique_ids") = true);
  m.def(
      "write_personas",
      [](const std::string& path, const std::vector<io::PersonaRecord>& personas, bool with_facts) {
        without_gil([&] { io::write_personas(path, personas, with_facts); });
      },
      py::arg("path"), py::arg("personas"), py::arg("with_facts") = false);
  m.def("split_sentences", &io::split_sentences, py::arg("text"));
}

}  // namespace popalign::python
