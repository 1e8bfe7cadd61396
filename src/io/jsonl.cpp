// JSON Lines reader and writer (see include/popalign/io/jsonl.hpp).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>

#include <popalign/io/csv.hpp>
#include <popalign/io/jsonl.hpp>

namespace popalign::io {

const JsonValue& JsonlRecord::field(std::string_view key) const {
  const JsonValue* v = value.find(key);
  if (!v) throw ParseError(source, line, fmt::format("missing field '{}'", key));
  return *v;
}

const std::string& JsonlRecord::string_field(std::string_view key) const {
  const JsonValue& v = field(key);
  if (!v.is_string())
    throw ParseError(
        source, line,
        fmt::format("field '{}' is {}, not a string", key, JsonValue::kind_name(v.kind())));
  return v.as_string();
}

double JsonlRecord::number_field(std::string_view key) const {
  const JsonValue& v = field(key);
  if (!v.is_number())
    throw ParseError(
        source, line,
        fmt::format("field '{}' is {}, not a number", key, JsonValue::kind_name(v.kind())));
  return v.as_number();
}

std::optional<std::string> JsonlRecord::optional_string(std::string_view key) const {
  const JsonValue* v = value.find(key);
  if (!v || v->is_null()) return std::nullopt;
  return string_field(key);
}

std::optional<double> JsonlRecord::optional_number(std::string_view key) const {
  const JsonValue* v = value.find(key);
  if (!v || v->is_null()) return std::nullopt;
  return number_field(key);
}

std::string JsonlRecord::id_field(std::string_view key) const {
  const JsonValue& v = field(key);
  if (v.is_string()) return v.as_string();
  if (v.is_number()) return format_number(v.as_number());
  throw ParseError(
      source, line,
      fmt::format("field '{}' is {}, not a string or number", key, JsonValue::kind_name(v.kind())));
}

namespace {

bool is_blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t' && c != '\r') return false;
  return true;
}

/// Parses one line. Returns false (and fills `bad`) when malformed.
bool parse_line(std::string_view text, std::size_t line, const std::string& source,
                const JsonlReadOptions& options, JsonlRecord& out, MalformedLine& bad) {
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  try {
    JsonValue v = parse_json(text, source, line);
    if (options.require_object && !v.is_object()) {
      bad = {line, fmt::format("expected a JSON object, found {}", JsonValue::kind_name(v.kind())),
             std::string(text)};
      return false;
    }
    out.source = source;
    out.line = line;
    out.raw = std::string(text);
    out.value = std::move(v);
    return true;
  } catch (const ParseError& e) {
    std::string msg = e.what();
    const std::string prefix = fmt::format("{}:{}: ", source, line);
    if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
    bad = {line, msg, std::string(text)};
    return false;
  }
}

}  // namespace

struct JsonlReader::Impl {
  std::string path;
  JsonlReadOptions options;
  std::ifstream in;
  std::size_t line = 0;
  std::vector<MalformedLine> malformed;
  bool truncated = false;
  bool done = false;
};

JsonlReader::JsonlReader(const std::filesystem::path& path, JsonlReadOptions options)
    : impl_(std::make_unique<Impl>()) {
  options.validate();
  impl_->path = path.string();
  impl_->options = options;
  require_not_directory(path);
  impl_->in.open(path, std::ios::binary);
  if (!impl_->in) throw IoError(impl_->path, "cannot open file for reading");
}

JsonlReader::~JsonlReader() = default;

namespace {

/// std::getline bounded by kMaxLineBytes: reads one line (without its '\n') into `text` in
/// blocks, so that a file without line breaks never grows one string past the limit. Returns
/// false at the end of the file with nothing read; `terminated` tells whether a '\n' ended it.
bool read_line(std::istream& in, std::string& text, bool& terminated, const std::string& path,
               std::size_t line) {
  text.clear();
  char block[1 << 16];
  bool any = false;
  for (;;) {
    in.getline(block, sizeof block);
    const auto got = static_cast<std::size_t>(in.gcount());
    if (in.bad()) throw IoError(path, "read error");
    if (!in.fail()) {  // a '\n' (counted in gcount, not stored), or the end after some bytes
      terminated = !in.eof();
      text.append(block, terminated ? got - 1 : got);
      return true;
    }
    if (in.eof()) {  // nothing more in this call
      terminated = false;
      return any;
    }
    // The block is full and the line goes on.
    text.append(block, got);
    any = true;
    in.clear();
    if (text.size() > kMaxLineBytes)
      throw ParseError(path, line,
                       fmt::format("a line longer than {} MiB (the limit of one JSON Lines "
                                   "line); is this a JSONL file?",
                                   kMaxLineBytes >> 20));
  }
}

}  // namespace

bool JsonlReader::next(JsonlRecord& out) {
  auto& s = *impl_;
  std::string text;
  while (!s.done) {
    bool terminated = false;
    if (!read_line(s.in, text, terminated, s.path, s.line + 1)) {
      s.done = true;
      break;
    }
    ++s.line;
    if (s.line == 1 && text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0)
      text.erase(0, 3);
    if (is_blank(text)) continue;
    MalformedLine bad;
    if (parse_line(text, s.line, s.path, s.options, out, bad)) return true;
    if (!terminated) {
      // The last line has no '\n' and does not parse: a writer was killed mid-line.
      if (s.options.truncated_tail_is_error)
        throw ParseError(s.path, bad.line,
                         "the last line is incomplete (no newline and not valid JSON: the file "
                         "was cut short): " +
                             bad.message);
      s.truncated = true;
      s.done = true;
      break;
    }
    if (s.options.on_malformed == OnMalformed::fail)
      throw ParseError(s.path, bad.line, bad.message);
    s.malformed.push_back(std::move(bad));
  }
  return false;
}

const std::vector<MalformedLine>& JsonlReader::malformed() const noexcept {
  return impl_->malformed;
}
bool JsonlReader::truncated_tail() const noexcept { return impl_->truncated; }

JsonlReadResult read_jsonl(const std::filesystem::path& path, const JsonlReadOptions& options) {
  JsonlReader reader(path, options);
  JsonlReadResult r;
  JsonlRecord rec;
  while (reader.next(rec)) r.records.push_back(std::move(rec));
  r.malformed = reader.malformed();
  r.truncated_tail = reader.truncated_tail();
  return r;
}

JsonlReadResult parse_jsonl(std::string_view text, const JsonlReadOptions& options,
                            const std::string& source) {
  options.validate();
  JsonlReadResult r;
  std::size_t pos = 0, line = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    const bool terminated = nl != std::string_view::npos;
    std::string_view s = text.substr(pos, terminated ? nl - pos : std::string_view::npos);
    pos = terminated ? nl + 1 : text.size();
    ++line;
    if (s.size() > kMaxLineBytes)
      throw ParseError(source, line,
                       fmt::format("a line longer than {} MiB (the limit of one JSON Lines line)",
                                   kMaxLineBytes >> 20));
    if (line == 1 && s.size() >= 3 && s.substr(0, 3) == "\xEF\xBB\xBF") s.remove_prefix(3);
    if (is_blank(s)) continue;
    JsonlRecord rec;
    MalformedLine bad;
    if (parse_line(s, line, source, options, rec, bad)) {
      r.records.push_back(std::move(rec));
      continue;
    }
    if (!terminated) {
      if (options.truncated_tail_is_error)
        throw ParseError(source, bad.line,
                         "the last line is incomplete (no newline and not valid JSON: the text "
                         "was cut short): " +
                             bad.message);
      r.truncated_tail = true;
      break;
    }
    if (options.on_malformed == OnMalformed::fail) throw ParseError(source, bad.line, bad.message);
    r.malformed.push_back(std::move(bad));
  }
  return r;
}

std::size_t repair_jsonl_tail(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  if (path_kind(path) != PathKind::regular) return 0;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw IoError(path.string(), "cannot stat file");
  if (size == 0) return 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string(), "cannot open file for reading");
  // Scan backwards in blocks for the last '\n'.
  std::uintmax_t end = size;
  std::uintmax_t keep = 0;
  bool found = false;
  std::string block;
  while (end > 0 && !found) {
    const std::uintmax_t begin = end > 65536 ? end - 65536 : 0;
    block.resize(static_cast<std::size_t>(end - begin));
    in.seekg(static_cast<std::streamoff>(begin));
    in.read(block.data(), static_cast<std::streamsize>(block.size()));
    for (std::size_t k = block.size(); k-- > 0;)
      if (block[k] == '\n') {
        keep = begin + k + 1;
        found = true;
        break;
      }
    end = begin;
  }
  if (keep == size) return 0;
  // The tail: a complete record whose '\n' is missing (written by another tool) is kept and
  // terminated; anything else is the partial line of a killed writer and is removed.
  std::string tail(static_cast<std::size_t>(size - keep), '\0');
  in.clear();
  in.seekg(static_cast<std::streamoff>(keep));
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  in.close();
  if (!tail.empty() && tail.back() == '\r') tail.pop_back();
  bool complete = false;
  if (!is_blank(tail)) {
    try {
      (void)parse_json(tail, path.string(), 0);
      complete = true;
    } catch (const ParseError&) {
    }
  }
  if (complete) {
    std::ofstream app(path, std::ios::binary | std::ios::app);
    app << '\n';
    if (!app) throw IoError(path.string(), "cannot terminate the last line");
    return 0;
  }
  std::filesystem::resize_file(path, keep, ec);
  if (ec) throw IoError(path.string(), "cannot truncate the partial last line");
  return static_cast<std::size_t>(size - keep);
}

struct JsonlWriter::Impl {
  std::filesystem::path path;
  JsonlWriteOptions options;
  int fd = -1;
  std::size_t count = 0;
  std::mutex mutex;
  std::string buffer;
};

JsonlWriter::JsonlWriter(const std::filesystem::path& path, JsonlWriteOptions options)
    : impl_(std::make_unique<Impl>()) {
  options.validate();
  impl_->path = path;
  impl_->options = options;
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  const PathKind kind = path_kind(path);
  if (kind == PathKind::directory) throw IoError(path.string(), "is a directory, not a file");
  // A FIFO or device (e.g. /dev/stdout) is written as it is: no repair, no truncation.
  if (kind != PathKind::special) {
    if (options.append)
      repair_jsonl_tail(path);
    else
      flags |= O_TRUNC;
  }
  impl_->fd = ::open(path.c_str(), flags, 0644);
  if (impl_->fd < 0)
    throw IoError(path.string(),
                  fmt::format("cannot open file for appending: {}", std::strerror(errno)));
}

JsonlWriter::~JsonlWriter() {
  try {
    close();
  } catch (...) {
  }
}

void JsonlWriter::write(const JsonValue& value) {
  std::string line = value.dump();
  write_raw(line);
}

void JsonlWriter::write_raw(std::string_view line) {
  check_argument(line.find_first_of("\r\n") == std::string_view::npos, "line",
                 "a JSONL record must be one line (it contains a line break)");
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->fd < 0) throw IoError(impl_->path.string(), "writer is closed");
  auto& buf = impl_->buffer;
  buf.assign(line);
  buf += '\n';
  const char* p = buf.data();
  std::size_t left = buf.size();
  while (left > 0) {
    const ssize_t w = ::write(impl_->fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError(impl_->path.string(), fmt::format("write error: {}", std::strerror(errno)));
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (impl_->options.fsync && ::fsync(impl_->fd) != 0)
    throw IoError(impl_->path.string(), fmt::format("fsync failed: {}", std::strerror(errno)));
  ++impl_->count;
}

std::size_t JsonlWriter::count() const noexcept { return impl_->count; }
const std::filesystem::path& JsonlWriter::path() const noexcept { return impl_->path; }

void JsonlWriter::close() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->fd < 0) return;
  const int fd = impl_->fd;
  impl_->fd = -1;
  if (::close(fd) != 0) throw IoError(impl_->path.string(), "close failed");
}

}  // namespace popalign::io
