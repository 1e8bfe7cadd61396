#pragma once
// Exporters: persona records -> the agent files of LLM social-simulation frameworks.
//
// Input: io::PersonaRecord (the canonical persona JSONL), whose `fields` may hold
//   traits    {name: number} (or the traits come from an `align` selection CSV, see
//             join_selection), demographics name, age, gender, country | nationality,
//             occupation | profession, region, interests | interested_topics, bio, username,
//             weight, and any provenance (author, source_posts, ...).
// Output (docs/export.md has the mapping tables):
//   tinytroupe     one `<id>.agent.json` per persona: {"type": "TinyPerson", "persona": {name,
//                  age, gender, nationality, residence, occupation{title}, personality{
//                  big_five{openness: "High. ...", ...}}, preferences{interests}, other_facts},
//                  "popalign": {...}}. TinyPerson.from_json reads only its serializable
//                  attributes (persona, mental_state, ...), so the top-level "popalign" object
//                  never reaches the prompt.
//   concordia      one JSON list of {name, characteristics{name, description, axis_position{
//                  trait: level}}, memories[facts], shared_memories[], popalign{...}}.
//   oasis-reddit   one JSON list of {realname, username, bio, persona, age, gender, mbti,
//                  country, profession, interested_topics, popalign{...}}.
//   oasis-twitter  one CSV: user_id,name,username,following_agentid_list,previous_tweets,
//                  user_char,description,popalign (the last column a JSON object).
// Every export carries "popalign": {"popalign_schema": 1, "id", "traits", "levels", "weight",
// "provenance", ...} per persona. Rows keep the input order (OASIS numbers agents by position).
// Output bytes depend only on the inputs: JSON is written with two-space indentation, keys in
// a fixed order, numbers in shortest round-trip form.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/exporters/levels.hpp>
#include <popalign/io/persona_record.hpp>

namespace popalign::exporters {

/// Version of the "popalign" object written into every export.
inline constexpr int kSchemaVersion = 1;

enum class Format { tinytroupe, concordia, oasis_reddit, oasis_twitter };
/// "tinytroupe", "concordia", "oasis-reddit", "oasis-twitter".
const char* format_name(Format format) noexcept;
/// The format of a name (as format_name), or std::nullopt.
std::optional<Format> parse_format(std::string_view name) noexcept;
/// True for tinytroupe (a folder of files); the others write one file.
bool writes_folder(Format format) noexcept;

/// An `align` selection in memory: ids in order, trait values (row-major, ids x traits),
/// optional weights and counts (one per id), and where each row came from (for errors).
struct Selection {
  std::vector<std::string> ids;
  std::vector<std::string> traits;
  std::vector<double> values;
  std::vector<double> weights;     ///< empty, or one per id
  std::vector<double> counts;      ///< empty, or one per id
  std::vector<std::size_t> lines;  ///< empty (rows numbered 1, 2, ...), or one per id
  std::string source = "<selection>";

  /// InvalidArgument naming the field whose size does not match.
  void validate() const;
};

/// Reads a selection CSV written by `popalign align --out`: `id`, optional `count` / `weight`,
/// every other column a trait. CsvError / ParseError naming the file, line and column.
Selection read_selection(const std::filesystem::path& selection_csv);

/// Keeps the personas named by the selection, in its order, and sets each one's fields
/// "traits", "weight" and "count" from it. ParseError(selection source, line) for an id that
/// is not among the personas or is listed twice.
std::vector<io::PersonaRecord> join_selection(std::span<const io::PersonaRecord> personas,
                                              const Selection& selection);

/// Keeps the personas named by an `align` selection CSV (id, optional count/weight, one column
/// per trait), in the selection's order, and sets each one's fields "traits" (the trait
/// columns), "weight" (the weight column, if any) and "count" (the count column, if any).
/// ParseError naming the selection file and line for an id that is not among the personas.
std::vector<io::PersonaRecord> join_selection(std::span<const io::PersonaRecord> personas,
                                              const std::filesystem::path& selection_csv);

struct ExportOptions {
  Format format = Format::tinytroupe;
  /// Names the persona file in errors ("personas.jsonl:12: ...").
  std::string personas_source = "<personas>";

  void validate() const {}
};

/// One output file: its name (relative to the output folder for tinytroupe; the file name of
/// the output otherwise) and its bytes.
struct ExportedFile {
  std::string name;
  std::string content;
};

struct ExportResult {
  std::vector<ExportedFile> files;
  std::size_t personas = 0;
  /// Names given to personas without one (deterministic: "Persona <id>").
  std::size_t generated_names = 0;
  /// Names made unique by appending " (<id>)".
  std::size_t renamed_duplicates = 0;
};

/// Renders the export in memory. ParseError(personas_source, line) for a persona without
/// traits, with a non-numeric trait, or (oasis) without the four traits MBTI needs;
/// InvalidArgument("reference") when a persona trait has no reference column.
ExportResult render_export(std::span<const io::PersonaRecord> personas,
                           const ReferenceLevels& reference, const ExportOptions& options);

/// Writes a rendered export to `out`: a folder for tinytroupe (created if needed; IoError when
/// `out` exists as a non-folder, or holds an `.agent.json` file this export does not write,
/// which load_specifications_from_folder would load too), a file otherwise (IoError when `out`
/// is a folder). Files are written through a temporary file and renamed.
void write_export(const std::filesystem::path& out, const ExportResult& result, Format format);

/// render_export + write_export.
ExportResult export_personas(std::span<const io::PersonaRecord> personas,
                             const ReferenceLevels& reference, const ExportOptions& options,
                             const std::filesystem::path& out);

/// JSON text with two-space indentation (the exporters' output form), no trailing newline.
std::string pretty_json(const io::JsonValue& value);

}  // namespace popalign::exporters
