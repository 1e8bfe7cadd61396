#pragma once
// The persona record: the one type in which every stage passes personas along (mining writes
// them, administering asks them questions, retrieval ranks them, group construction revises
// them, exporters convert them), and the one reader and writer of persona files.
//
// A persona file is JSON Lines, one object per line:
//   {"id": "p17", "persona": "She is a nurse in Leeds. She ...", ...other fields...}
//   {"id": 17, "facts": ["I am a nurse.", "I love dogs."], ...}      (Synthetic-Persona-Chat)
// - id: a string or an integer (written as text: 17 -> "17"); non-empty; unique within the file
//   unless PersonaReadOptions::unique_ids is false.
// - the text: the member named text_field ("persona"), a string, or an array of strings that
//   are joined with single spaces; when that member is missing or null, the member named
//   facts_field ("facts"), an array of strings, joined with single spaces.
// - the facts: the facts_field array when present (each trimmed, empty ones dropped);
//   otherwise the text_field array; otherwise the text split into sentences (split_sentences).
//   Fact-level retrieval scores a persona by its facts; administering uses the text.
// - every other member is kept, in file order, in `fields` (a JSON object; null when there are
//   none or keep_fields is false). Mining writes `author`, `source_posts`, `scores`, `window`
//   there; exporters read `traits`, `weight`, demographics there.
//
// A bad line (not JSON, not an object, no usable id, no text, an empty text, a duplicate id) is
// either an error, ParseError(file, line, what is wrong), or skipped and counted, per
// on_bad_line; skipped lines are reported through `log` with their line numbers. A last line
// without its '\n' that does not parse (the trace of a killed writer) is skipped and reported.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/io/json.hpp>

namespace popalign::io {

/// One persona.
struct PersonaRecord {
  std::string id;
  /// The narrative text (the string, or the strings joined by single spaces).
  std::string text;
  /// The persona's facts (see the file comment): never empty for a record read from a file.
  std::vector<std::string> facts;
  /// Every other member of the line (an object), or null when there are none.
  JsonValue fields;
  /// 1-based line of the record in its file; 0 for a record made in memory.
  std::size_t line = 0;

  /// The facts joined by single spaces (what fact-level code embeds as the whole persona).
  std::string facts_text() const;
};

/// Splits text into sentences at '.', '!' or '?' (runs of them count as one) followed by white
/// space or the end of the text; every sentence trimmed, empty ones dropped.
std::vector<std::string> split_sentences(std::string_view text);

enum class OnBadLine { fail, skip };

struct PersonaReadOptions {
  std::string id_field = "id";
  /// The text member: a string, or an array of strings.
  std::string text_field = "persona";
  /// The facts member: an array of strings. Empty: none (the facts come from the text).
  std::string facts_field = "facts";
  OnBadLine on_bad_line = OnBadLine::fail;
  /// A repeated id is a bad line (the second occurrence).
  bool unique_ids = true;
  /// Keep the other members in PersonaRecord::fields.
  bool keep_fields = true;
  /// Messages for the user (skipped lines, a truncated last line); may be empty.
  std::function<void(const std::string&)> log;

  /// InvalidArgument naming the field (an empty id_field or text_field, equal field names).
  void validate() const;
};

/// Personas read from a file, in file order.
struct PersonaFile {
  std::vector<PersonaRecord> personas;
  std::size_t malformed = 0;    ///< lines skipped (OnBadLine::skip), a truncated tail included
  bool truncated_tail = false;  ///< an unterminated, unparseable last line was ignored
};

/// Reads a persona file (see the file comment). IoError when the file cannot be read;
/// ParseError(file, line) for a bad line under OnBadLine::fail.
PersonaFile read_personas(const std::filesystem::path& path,
                          const PersonaReadOptions& options = {});

/// Parses persona JSONL already in memory (`source` names it in errors).
PersonaFile parse_personas(std::string_view text, const PersonaReadOptions& options = {},
                           const std::string& source = "<string>");

/// The record as a JSON object: {"id", "persona": text, then every member of `fields`}; with
/// `with_facts` also "facts" (after "persona"). A member of `fields` named "id", "persona" or
/// (with_facts) "facts" is dropped, since the record's own value wins.
JsonValue to_json(const PersonaRecord& persona, bool with_facts = false);

/// to_json as one line of compact JSON (no trailing newline).
std::string persona_line(const PersonaRecord& persona, bool with_facts = false);

/// Writes personas as JSONL (replacing the file): written to a temporary file beside it and
/// renamed, so a reader never sees half a file.
void write_personas(const std::filesystem::path& path, std::span<const PersonaRecord> personas,
                    bool with_facts = false);

}  // namespace popalign::io
