// `popalign export`: persona JSONL (+ optional `align` selection CSV) + a human reference traits
// CSV -> agent files for TinyTroupe, Concordia or OASIS (docs/export.md). Trait levels are the
// reference's tertiles; OASIS's MBTI is the median-split rule of exporters/levels.hpp.
#include <fmt/core.h>

#include <memory>
#include <string>

#include <popalign/exporters/exporters.hpp>
#include <popalign/io/persona_record.hpp>

#include "cli/command.hpp"

namespace {

struct ExportOpts {
  std::string personas, selection, reference, format, out;
  bool quiet = false;
};

int run(const ExportOpts& o) {
  namespace ex = popalign::exporters;
  const auto format = ex::parse_format(o.format);
  if (!format)
    throw popalign::InvalidArgument(
        "--format", "unknown format '" + o.format +
                        "' (one of tinytroupe, concordia, oasis-reddit, oasis-twitter)");
  popalign::io::PersonaReadOptions read_options;
  read_options.log = [](const std::string& m) { popalign::cli::warn(m); };
  popalign::io::PersonaFile file = popalign::io::read_personas(o.personas, read_options);
  std::vector<popalign::io::PersonaRecord> personas = std::move(file.personas);
  if (!o.selection.empty()) personas = ex::join_selection(personas, o.selection);
  ex::ReferenceLevels reference;
  try {
    reference = ex::ReferenceLevels::load(o.reference);
  } catch (const popalign::InvalidArgument& e) {
    throw popalign::cli::as_flag(e, "--reference");
  }
  ex::ExportOptions eo;
  eo.format = *format;
  eo.personas_source = o.personas;
  ex::ExportResult r;
  try {
    r = ex::export_personas(personas, reference, eo, o.out);
  } catch (const popalign::InvalidArgument& e) {
    if (e.argument() == "reference") throw popalign::cli::as_flag(e, "--reference");
    if (e.argument() == "personas") throw popalign::cli::as_flag(e, "--personas");
    throw;
  }
  if (!o.quiet) {
    fmt::print(stderr, "popalign export: {} personas -> {} ({}{})\n", r.personas, o.out,
               ex::format_name(*format),
               ex::writes_folder(*format) ? fmt::format(", {} files", r.files.size()) : "");
    if (r.generated_names > 0)
      fmt::print(stderr, "  {} personas without a name were named 'Persona <id>'\n",
                 r.generated_names);
    if (r.renamed_duplicates > 0)
      fmt::print(stderr, "  {} repeated names were made unique with ' (<id>)'\n",
                 r.renamed_duplicates);
  }
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "export", "Export personas to TinyTroupe, Concordia or OASIS agent files", [](CLI::App& sub) {
      auto o = std::make_shared<ExportOpts>();
      sub.add_option("--personas", o->personas,
                     "Persona JSONL (id, persona text, traits and demographics in other members)")
          ->required();
      sub.add_option("--selection", o->selection,
                     "Selection CSV written by `popalign align --out` (id, [count|weight], "
                     "traits): keeps those personas, in its order, with its traits");
      sub.add_option("--reference", o->reference,
                     "Human reference traits CSV (id + one column per trait, e.g. from "
                     "`popalign score`): its tertiles give the low/medium/high levels")
          ->required();
      sub.add_option("--format", o->format, "tinytroupe | concordia | oasis-reddit | oasis-twitter")
          ->required();
      sub.add_option("--out", o->out,
                     "Output: a folder of <id>.agent.json files (tinytroupe), else a file")
          ->required();
      sub.add_flag("--quiet", o->quiet, "Do not print the summary to stderr");
      return popalign::cli::Action([o] { return run(*o); });
    }};

}  // namespace
