// Exporters to the simulation frameworks (TinyTroupe, Concordia, OASIS) from Python: persona
// records in, the framework's files out (written, or returned in memory). The reference whose
// tertiles set the trait levels is a traits CSV path or an array with column names; the
// selection (which personas, with which traits) is an `align --out` CSV path or arrays.
#include <popalign/exporters/exporters.hpp>
#include <popalign/exporters/levels.hpp>

#include "common.hpp"

namespace popalign::python {

namespace {

exporters::Format format_of(const std::string& name) {
  const auto f = exporters::parse_format(name);
  if (!f)
    throw InvalidArgument("format", "must be tinytroupe, concordia, oasis-reddit or "
                                    "oasis-twitter, got '" + name + "'");
  return *f;
}

exporters::ReferenceLevels reference_of(py::object reference, py::object columns) {
  if (py::isinstance<py::str>(reference) || py::hasattr(reference, "__fspath__"))
    return exporters::ReferenceLevels::load(
        py::str(py::module_::import("os").attr("fspath")(reference)).cast<std::string>());
  auto arr = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(reference);
  if (!arr || arr.ndim() != 2)
    throw InvalidArgument("reference", "must be a traits CSV path or a 2-d array of trait values");
  auto names = columns.cast<std::vector<std::string>>();
  if (names.size() != static_cast<std::size_t>(arr.shape(1)))
    throw InvalidArgument("reference_columns", "has " + std::to_string(names.size()) +
                                                   " names for " + std::to_string(arr.shape(1)) +
                                                   " columns");
  return exporters::ReferenceLevels(
      std::move(names),
      std::span<const double>(arr.data(), static_cast<std::size_t>(arr.size())),
      static_cast<std::size_t>(arr.shape(0)), "<reference array>");
}

std::vector<io::PersonaRecord> selected(const std::vector<io::PersonaRecord>& personas,
                                        py::object selection) {
  if (selection.is_none()) return personas;
  if (py::isinstance<py::str>(selection) || py::hasattr(selection, "__fspath__"))
    return exporters::join_selection(
        personas, std::filesystem::path(
                      py::str(py::module_::import("os").attr("fspath")(selection)).cast<std::string>()));
  // (ids, traits, values[n x d], weights or None, counts or None)
  auto t = selection.cast<py::tuple>();
  if (t.size() != 5)
    throw InvalidArgument("selection", "must be a path or (ids, traits, values, weights, counts)");
  exporters::Selection s;
  s.ids = t[0].cast<std::vector<std::string>>();
  s.traits = t[1].cast<std::vector<std::string>>();
  auto v = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(t[2]);
  if (!v) throw InvalidArgument("selection", "values must be numeric");
  s.values.assign(v.data(), v.data() + v.size());
  if (!t[3].is_none()) s.weights = t[3].cast<std::vector<double>>();
  if (!t[4].is_none()) s.counts = t[4].cast<std::vector<double>>();
  s.source = "<selection>";
  s.validate();
  return exporters::join_selection(personas, s);
}

}  // namespace

void bind_exporters(py::module_& m) {
  m.def(
      "render_export",
      [](const std::vector<io::PersonaRecord>& personas, const std::string& format,
         py::object reference, py::object reference_columns, py::object selection) {
        const auto levels = reference_of(reference, reference_columns);
        const auto chosen = selected(personas, selection);
        exporters::ExportOptions o;
        o.format = format_of(format);
        o.personas_source = "<personas>";
        const auto r = exporters::render_export(chosen, levels, o);
        py::list files;
        for (const auto& f : r.files) files.append(py::make_tuple(f.name, f.content));
        return files;
      },
      py::arg("personas"), py::arg("format"), py::arg("reference"),
      py::arg("reference_columns") = py::none(), py::arg("selection") = py::none());
  m.def(
      "export_personas",
      [](const std::vector<io::PersonaRecord>& personas, const std::string& format,
         const std::string& out, py::object reference, py::object reference_columns,
         py::object selection) {
        const auto levels = reference_of(reference, reference_columns);
        const auto chosen = selected(personas, selection);
        exporters::ExportOptions o;
        o.format = format_of(format);
        o.personas_source = "<personas>";
        const auto r = exporters::export_personas(chosen, levels, o, out);
        py::dict d;
        d["personas"] = r.personas;
        py::list names;
        for (const auto& f : r.files) names.append(f.name);
        d["files"] = names;
        d["generated_names"] = r.generated_names;
        d["renamed_duplicates"] = r.renamed_duplicates;
        return d;
      },
      py::arg("personas"), py::arg("format"), py::arg("out"), py::arg("reference"),
      py::arg("reference_columns") = py::none(), py::arg("selection") = py::none());
  m.def(
      "mbti_from_big_five",
      [](const std::array<double, exporters::kBigFiveCount>& scores,
         const std::array<double, exporters::kBigFiveCount>& medians) {
        return exporters::mbti_from_big_five(scores, medians);
      },
      py::arg("scores"), py::arg("medians"));
}

}  // namespace popalign::python
