#pragma once
// JSON Lines: one JSON value per line. The format of every popalign stage that may run for a
// long time (personas, administered answers, LLM records): a run appends one line per finished
// unit of work, and a resumed run reads what is there and continues.
//
// Reading is line by line (constant memory with JsonlReader); a line longer than kMaxLineBytes
// (io/limits.hpp) is a ParseError naming it, whatever the on_malformed policy. A malformed line is
// reported with its line number; `on_malformed` decides whether that fails the read (default) or
// the line is skipped and listed in `malformed`. A last line without its '\n' that does not parse
// is the trace of a killed writer: it is reported as `truncated_tail` and never fails the read.
//
// Writing: JsonlWriter appends each record as ONE write(2) of "line\n" to a file opened with
// O_APPEND, then (optionally) fsync(2). A record is therefore either entirely in the file or
// absent, even when the process is killed, and several writers on one file do not interleave
// inside a line. Opening for append first removes a partial last line left by a killed writer
// (repair_jsonl_tail).
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/io/json.hpp>
#include <popalign/io/limits.hpp>

namespace popalign::io {

/// One line of a JSONL file: its 1-based line number, the raw text, and the parsed value.
struct JsonlRecord {
  std::string source;
  std::size_t line = 0;
  std::string raw;
  JsonValue value;

  /// Member `key` of the object on this line; throws ParseError(source, line) naming the key
  /// if it is missing or of the wrong kind.
  const JsonValue& field(std::string_view key) const;
  const std::string& string_field(std::string_view key) const;
  double number_field(std::string_view key) const;
  /// The member, or std::nullopt when it is missing or null; ParseError if of the wrong kind.
  std::optional<std::string> optional_string(std::string_view key) const;
  std::optional<double> optional_number(std::string_view key) const;
  /// A string or a number member as text (ids are sometimes written as numbers: 17 -> "17").
  std::string id_field(std::string_view key = "id") const;
};

enum class OnMalformed { fail, skip };

struct JsonlReadOptions {
  OnMalformed on_malformed = OnMalformed::fail;
  /// Every line must be a JSON object (else it is malformed).
  bool require_object = true;
  /// A truncated last line (no '\n', not valid JSON) is a ParseError naming the line instead of
  /// being skipped: for input files that no popalign run appends to (training pairs, groups).
  bool truncated_tail_is_error = false;
  void validate() const {}
};

struct MalformedLine {
  std::size_t line = 0;
  std::string message;
  std::string raw;
};

struct JsonlReadResult {
  std::vector<JsonlRecord> records;
  std::vector<MalformedLine> malformed;  ///< skipped lines (OnMalformed::skip)
  bool truncated_tail = false;           ///< an unterminated, unparseable last line was ignored
};

/// Streaming reader. Blank lines are skipped. Throws IoError if the file cannot be opened and
/// ParseError (file:line) for a malformed line under OnMalformed::fail.
class JsonlReader {
 public:
  explicit JsonlReader(const std::filesystem::path& path, JsonlReadOptions options = {});
  ~JsonlReader();
  JsonlReader(const JsonlReader&) = delete;
  JsonlReader& operator=(const JsonlReader&) = delete;

  /// Reads the next record into `out`; false at the end of the file.
  bool next(JsonlRecord& out);
  const std::vector<MalformedLine>& malformed() const noexcept;
  bool truncated_tail() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Reads a whole file.
JsonlReadResult read_jsonl(const std::filesystem::path& path, const JsonlReadOptions& options = {});
/// Parses JSONL text already in memory.
JsonlReadResult parse_jsonl(std::string_view text, const JsonlReadOptions& options = {},
                            const std::string& source = "<string>");

struct JsonlWriteOptions {
  /// Append to an existing file (resume) instead of truncating it.
  bool append = true;
  /// fsync after every record (durable against power loss; slower).
  bool fsync = false;
  void validate() const {}
};

/// Appends records atomically (see the file comment). Thread-safe: calls are serialized.
class JsonlWriter {
 public:
  explicit JsonlWriter(const std::filesystem::path& path, JsonlWriteOptions options = {});
  ~JsonlWriter();
  JsonlWriter(const JsonlWriter&) = delete;
  JsonlWriter& operator=(const JsonlWriter&) = delete;

  void write(const JsonValue& value);
  /// Writes a line given as text; it must be one line (no '\n' or '\r'): InvalidArgument.
  void write_raw(std::string_view line);
  /// Lines written by this writer.
  std::size_t count() const noexcept;
  const std::filesystem::path& path() const noexcept;
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Prepares `path` for appending after a killed writer: text after the last '\n' that is not
/// valid JSON (a partial line) is removed; a valid JSON value there (a complete record written
/// without its '\n', e.g. by another tool) is kept and gets its '\n'. Returns the number of
/// bytes removed. A missing file is not an error (returns 0).
std::size_t repair_jsonl_tail(const std::filesystem::path& path);

}  // namespace popalign::io
