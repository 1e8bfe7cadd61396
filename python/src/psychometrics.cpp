// Bindings of popalign::psychometrics: instruments and scoring. Responses come in as a matrix
// (rows = respondents, columns named by item id or alias; NaN = not answered) with row ids; the
// Python layer builds it from a DataFrame or reads a file.
#include <popalign/io/data_dir.hpp>
#include <popalign/psychometrics/instrument.hpp>
#include <popalign/psychometrics/scoring.hpp>

#include "common.hpp"

namespace popalign::python {

namespace {
py::dict score_dict(psychometrics::ScoreResult&& r) {
  py::dict d;
  d["ids"] = r.scores.ids;
  d["traits"] = r.scores.traits;
  d["values"] = to_numpy(std::move(r.scores.values));
  py::list dims;
  for (const auto& x : r.dimensions) {
    py::dict e;
    e["code"] = x.code;
    e["name"] = x.name;
    e["is_facet"] = x.is_facet;
    e["items"] = x.items;
    e["items_present"] = x.items_present;
    e["scored"] = x.scored;
    e["insufficient"] = x.insufficient;
    e["mean"] = x.mean;
    e["sd"] = x.sd;
    e["alpha"] = x.alpha;
    e["alpha_rows"] = x.alpha_rows;
    dims.append(e);
  }
  d["dimensions"] = dims;
  d["rows_with_missing"] = r.rows_with_missing;
  d["missing_answers"] = r.missing_answers;
  d["rows_with_nan_score"] = r.rows_with_nan_score;
  d["absent_items"] = r.absent_items;
  d["summary"] = r.summary();
  return d;
}

psychometrics::ScoringOptions scoring_options(double min_answered, bool traits, bool facets,
                                              bool use_names) {
  psychometrics::ScoringOptions o;
  o.min_answered = min_answered;
  o.traits = traits;
  o.facets = facets;
  o.use_names = use_names;
  o.validate();
  return o;
}
}  // namespace

void bind_psychometrics(py::module_& m) {
  using psychometrics::Instrument;
  py::class_<psychometrics::Item>(m, "Item")
      .def_readonly("id", &psychometrics::Item::id)
      .def_readonly("text", &psychometrics::Item::text)
      .def_readonly("trait", &psychometrics::Item::trait)
      .def_readonly("facet", &psychometrics::Item::facet)
      .def_readonly("key", &psychometrics::Item::key)
      .def_readonly("aliases", &psychometrics::Item::aliases)
      .def("__repr__", [](const psychometrics::Item& i) {
        return "Item(id='" + i.id + "', trait='" + i.trait + "', key=" + std::to_string(i.key) +
               ", text=" + py::repr(py::str(i.text)).cast<std::string>() + ")";
      });
  py::class_<psychometrics::Scale>(m, "Scale")
      .def_readonly("min", &psychometrics::Scale::min)
      .def_readonly("max", &psychometrics::Scale::max)
      .def_readonly("labels", &psychometrics::Scale::labels)
      .def("__repr__", [](const psychometrics::Scale& s) {
        return "Scale(min=" + std::to_string(s.min) + ", max=" + std::to_string(s.max) + ")";
      });
  py::class_<psychometrics::Dimension>(m, "Dimension")
      .def_readonly("code", &psychometrics::Dimension::code)
      .def_readonly("name", &psychometrics::Dimension::name)
      .def_readonly("trait", &psychometrics::Dimension::trait)
      .def("__repr__", [](const psychometrics::Dimension& d) {
        return "Dimension(code='" + d.code + "', name='" + d.name + "')";
      });
  py::class_<Instrument>(m, "Instrument", "A questionnaire: items, traits, facets, scale.")
      .def_readonly("id", &Instrument::id)
      .def_readonly("name", &Instrument::name)
      .def_readonly("license", &Instrument::license)
      .def_readonly("reference", &Instrument::reference)
      .def_readonly("scale", &Instrument::scale)
      .def_readonly("items", &Instrument::items)
      .def_readonly("traits", &Instrument::traits)
      .def_readonly("facets", &Instrument::facets)
      .def("__len__", &Instrument::num_items)
      .def("__repr__", [](const Instrument& i) {
        return "Instrument(id='" + i.id + "', items=" + std::to_string(i.items.size()) +
               ", traits=" + std::to_string(i.traits.size()) +
               ", facets=" + std::to_string(i.facets.size()) +
               ", scale=" + std::to_string(i.scale.min) + ".." + std::to_string(i.scale.max) + ")";
      });
  m.def("resolve_instrument", &psychometrics::resolve_instrument, py::arg("spec"),
        "A path to an instrument JSON file, or the name of a shipped one.");
  m.def(
      "parse_instrument",
      [](const std::string& json, const std::string& default_id) {
        return psychometrics::parse_instrument(json, "<string>", default_id);
      },
      py::arg("json"), py::arg("default_id") = "instrument");
  m.def("available_instruments",
        [] { return psychometrics::available_instruments(io::data_dir()); });

  m.def(
      "score_matrix",
      [](const Instrument& instrument, py::handle values, std::vector<std::string> ids,
         std::vector<std::string> columns, double min_answered, bool traits, bool facets,
         bool use_names) {
        MatrixArg<double> v(values, "responses", true);
        psychometrics::Responses r;
        r.source = "<responses>";
        r.ids = std::move(ids);
        r.columns = std::move(columns);
        r.values = v.view;
        r.validate();
        const auto o = scoring_options(min_answered, traits, facets, use_names);
        return score_dict(without_gil([&] { return psychometrics::score(instrument, r, o); }));
      },
      py::arg("instrument"), py::arg("values"), py::arg("ids"), py::arg("columns"),
      py::arg("min_answered") = 0.5, py::arg("traits") = true, py::arg("facets") = false,
      py::arg("use_names") = false);
  m.def(
      "score_file",
      [](const Instrument& instrument, const std::string& path, const std::string& id_column,
         std::optional<double> missing_code, double min_answered, bool traits, bool facets,
         bool use_names) {
        psychometrics::ReadResponsesOptions ro;
        ro.id_column = id_column;
        ro.missing_code = missing_code;
        const auto o = scoring_options(min_answered, traits, facets, use_names);
        return score_dict(without_gil([&] {
          const auto r = psychometrics::read_responses(path, instrument, ro);
          return psychometrics::score(instrument, r, o);
        }));
      },
      py::arg("instrument"), py::arg("path"), py::arg("id_column") = "",
      py::arg("missing_code") = py::none(), py::arg("min_answered") = 0.5, py::arg("traits") = true,
      py::arg("facets") = false, py::arg("use_names") = false);
}

}  // namespace popalign::python
