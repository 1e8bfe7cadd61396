#pragma once
// Readers for social-media posts (persona mining, step 1). Every reader produces persona::Post.
//
// Formats
// - jsonl: one JSON object per line, {"author", "id", "time", "text", ...}. `author` and `id` may
//   be strings or integers (17 -> "17"); `id` may be missing ("<author>:<n>", n = the author's
//   1-based post number in file order); `time` may be a string (kept as written), a number (kept
//   as its shortest text, 1084492800 -> "1084492800"), null or missing (""). Every other member
//   goes into `meta`, in file order, then "source" (the file name) and "line" (1-based) unless
//   the line has members of those names already (the line's own members win).
// - blog_csv: the Blog Authorship Corpus CSV export (Kaggle "blogtext.csv"): a header row naming
//   the columns (id, gender, age, topic, sign, date, text; any order, extra columns kept), RFC
//   4180 quoting (a quoted field may span lines; "" is a quote). `id` is the author; the post id
//   is "<author>:<n>" as above. Dates "14,May,2004" become "2004-05-14"; month names in English,
//   German, French, Spanish, Italian, Portuguese, Dutch and the Nordic languages are recognised
//   (the real corpus has them all); an unknown date leaves `time` empty (counted in `undated`)
//   and the raw date stays in meta.date. Meta: gender, age (a number when it is an integer),
//   topic, sign, date, any other column, source, line (the line the row starts on).
// - blog_xml: the corpus's original folder of files named ID.gender.age.industry.sign.xml,
//   each `<Blog> <date>14,May,2004</date> <post> text </post> ... </Blog>`. The files are NOT
//   well-formed XML, so they are scanned, not parsed: a post is the text between <post> and
//   </post>, its date the last <date> before it; the entities &amp; &lt; &gt; &quot; &apos;
//   &nbsp; and &#N; / &#xH; are decoded and any other '&' (stray in the corpus) is kept as it is.
//   Metadata comes from the file name (gender, age, industry, sign; the author is ID). A file
//   whose name is not of that form, that has no <Blog> element, or whose last <post> is not
//   closed is a problem (for an unclosed post: the posts before it are kept, the rest dropped).
//
// Encoding (every format): text must be UTF-8. Input that is not valid UTF-8 is decoded as
// Windows-1252 (a superset of Latin-1 for printable bytes; the five bytes Windows-1252 leaves
// undefined map to the Latin-1 C1 code points) and transcoded to UTF-8, counted in `transcoded`:
// a JSONL or CSV line, or a whole XML file, is the unit. A UTF-8 byte-order mark is dropped. Input
// that is UTF-16/UTF-32 (a byte-order mark or NUL bytes) is an unknown encoding: a problem, and
// the file (or line) is skipped.
//
// Bad input: a malformed JSONL line (not JSON, not an object, no author, no text, a duplicate
// id), a CSV row with the wrong number of fields or an unclosed quote, an unreadable file, an
// unknown encoding, a broken XML file. With OnBadLine::skip (the default) each becomes a
// PostReadProblem naming the file and line (or the author) and the read goes on; with
// OnBadLine::fail the first one throws ParseError(file, line) (IoError for an unreadable file).
// Post texts are trimmed; empty posts (only white space) are dropped silently and counted in
// `empty`.
//
// Order: posts are sorted by author (author_before), then time (time_before: time, then id), so
// the output does not depend on the order of files in a directory or of lines in a file.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/io/persona_record.hpp>
#include <popalign/persona/post.hpp>

namespace popalign::persona {

enum class PostFormat { automatic, jsonl, blog_csv, blog_xml };

/// "automatic", "jsonl", "blog-csv", "blog-xml" (the CLI's --format values).
std::string_view to_string(PostFormat format);
/// Inverse of to_string; also accepts "auto", "blog_csv", "blog_xml", "csv", "xml".
/// InvalidArgument("format") otherwise.
PostFormat post_format_from_string(std::string_view name);

struct PostReadOptions {
  /// automatic: a directory's files by extension (.jsonl/.ndjson/.json -> jsonl, .csv ->
  /// blog_csv, .xml -> blog_xml; other files are skipped and logged); a file by extension, else
  /// by content (first non-blank byte '{' -> jsonl, '<' -> blog_xml, otherwise blog_csv).
  PostFormat format = PostFormat::automatic;
  io::OnBadLine on_bad_line = io::OnBadLine::skip;
  /// 0 = all authors; else only the first N authors in id order (author_before). For a folder of
  /// XML files the other files are not read.
  std::size_t max_authors = 0;
  /// JSONL member names.
  std::string author_field = "author";
  std::string id_field = "id";
  std::string time_field = "time";
  std::string text_field = "text";
  /// Messages for the user (each problem, skipped files); may be empty.
  std::function<void(const std::string&)> log;

  /// InvalidArgument naming the field (an empty or repeated JSONL member name).
  void validate() const;
};

/// A line, row or file that was skipped, and why.
struct PostReadProblem {
  std::string source;    ///< the file (as given, or the name inside the directory)
  std::size_t line = 0;  ///< 1-based; 0 when the problem is about the whole file
  std::string author;    ///< when known
  std::string message;
};

struct PostCorpus {
  /// Sorted by (author_before, time_before).
  std::vector<Post> posts;
  std::size_t files = 0;       ///< files read (opened and scanned)
  std::size_t read = 0;        ///< posts parsed, before the max_authors cut
  std::size_t malformed = 0;   ///< lines, rows or files skipped (= problems.size())
  std::size_t empty = 0;       ///< posts with no text, dropped
  std::size_t transcoded = 0;  ///< lines / files decoded as Windows-1252 (see the file comment)
  std::size_t undated = 0;     ///< posts whose date could not be read (time left empty)
  std::size_t authors = 0;     ///< distinct authors in `posts`
  /// Every skipped line, row or file, with its reason, in the order met.
  std::vector<PostReadProblem> problems;
};

/// Reads a file, or every file of a directory (not recursive; hidden files skipped; files in
/// name order). IoError when the path does not exist or a single given file cannot be read
/// (a directory's unreadable file is a problem under OnBadLine::skip).
PostCorpus read_posts(const std::filesystem::path& file_or_dir,
                      const PostReadOptions& options = {});

/// Parses posts already in memory: `data` is the whole content of one file, `source` its name
/// (for blog_xml the file name carries the author's metadata, so it must be of the form
/// ID.gender.age.industry.sign.xml). automatic decides by content. The same rules, order and
/// diagnostics as read_posts; the entry point for fuzzing.
PostCorpus parse_posts(std::string_view data, PostFormat format,
                       const PostReadOptions& options = {}, const std::string& source = "<string>");

/// Reads a stream to its end and parses it as parse_posts does.
PostCorpus read_posts(std::istream& in, PostFormat format, const PostReadOptions& options = {},
                      const std::string& source = "<stream>");

/// The time order used everywhere in mining: times that are numbers ("1084492800", "17.5")
/// compare as numbers and come first; other non-empty times compare as strings (ISO 8601 sorts
/// correctly as text); empty times come last; equal times are ordered by id (author_before's
/// rule). A strict weak ordering.
bool time_before(const Post& a, const Post& b);

/// Id order (authors, post ids): ids that are non-negative integers compare as numbers and come
/// first ("9" < "10"), others compare as strings; equal numbers fall back to the text ("07" vs
/// "7").
bool author_before(std::string_view a, std::string_view b);

/// The Blog Authorship Corpus date "14,May,2004" as ISO "2004-05-14"; "" when it cannot be
/// read (see the file comment for the month names recognised).
std::string blog_date_to_iso(std::string_view date);

/// `bytes` as UTF-8 under the encoding rule of the file comment. Sets *transcoded when the
/// Windows-1252 decoding was applied. Returns false (and leaves `out` empty) for UTF-16/UTF-32
/// input (a byte-order mark or a NUL byte).
bool to_utf8(std::string_view bytes, std::string& out, bool* transcoded = nullptr);

}  // namespace popalign::persona
