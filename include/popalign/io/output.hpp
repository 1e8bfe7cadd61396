#pragma once
// Output paths: how every popalign writer puts bytes at a path, and how a command refuses an
// output that would clobber one of its inputs or another of its outputs.
//
// OutputFile decides by what the path is (after following symlinks, every level):
//   - missing or a regular file: the bytes go to a new temporary file beside the target
//     (`<name>.tmp.<pid>.<n>`, created with O_EXCL, mode 0666 & ~umask, or the old file's mode),
//     which commit() flushes and renames over the target. A reader never sees half a file and a
//     run that fails (or is killed) before commit() leaves the old file as it was.
//   - a symlink: followed to its final target, which is written as above; the link stays a link
//     (writing "through" it, as `>` in a shell does). A dangling link creates its target.
//   - a FIFO, a character device (`/dev/stdout`, `/dev/null`, a terminal) or a socket, and any
//     path under /dev or /proc (`/dev/stdout` redirected to a file, `/dev/fd/3`): opened and
//     written directly, without a temporary file (a rename would replace the special file and
//     its reader would get nothing).
//   - a directory: IoError ("is a directory").
//
// check_distinct_files() is the one check of the CLI that an output is not an input and not
// another output of the same command: existing files are compared by device and inode (so a
// symlink or a second hard link to an input is caught), files that do not exist yet by their
// absolute path with symlinks of the existing part resolved. Special files (FIFOs, devices) are
// not compared: `--out /dev/null --report /dev/null` is fine.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <popalign/core/error.hpp>

namespace popalign::io {

/// What a path names, after following symlinks.
enum class PathKind { missing, regular, directory, special };

/// The kind of `path` (symlinks followed; a dangling link is `missing`).
PathKind path_kind(const std::filesystem::path& path);

/// `path` with every symlink level followed (relative link targets resolved against the
/// link's directory). A path that is not a symlink is returned unchanged. IoError after 40
/// levels (a loop).
std::filesystem::path follow_symlinks(const std::filesystem::path& path);

/// A file being written (see the file comment). Not thread-safe.
class OutputFile {
 public:
  /// Opens the temporary file (or the special file). IoError naming `path` if it cannot.
  explicit OutputFile(const std::filesystem::path& path);
  /// Without commit(): removes the temporary file (the target is untouched).
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  /// Appends bytes. IoError on a write error (disk full, closed pipe).
  void write(std::string_view bytes);
  /// Closes and, for a regular target, renames the temporary file over it. IoError on failure
  /// (the temporary file is then removed). Idempotent.
  void commit();
  /// Closes and removes the temporary file without touching the target. Idempotent.
  void discard() noexcept;
  /// The path as given.
  const std::filesystem::path& path() const noexcept;
  /// True when the target is a FIFO, device or socket (written directly).
  bool is_special() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Writes `content` to `path` through an OutputFile. Throws IoError naming the path.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

/// A file named on a command line: the flag (or argument) that names it, and the path.
struct NamedPath {
  std::string flag;
  std::filesystem::path path;
};

/// Throws InvalidArgument(output flag, "names the same file as --pool (x.csv); ...") when an
/// output is one of `inputs` or another output (see the file comment). Empty paths are skipped.
/// Also refuses an output that is an existing directory.
void check_distinct_files(const std::vector<NamedPath>& inputs,
                          const std::vector<NamedPath>& outputs);

/// Throws IoError(path, "is a directory, not a file") when `path` is a directory (readers call
/// it before opening, since opening a directory for reading succeeds on POSIX and then reads
/// as an empty file).
void require_not_directory(const std::filesystem::path& path);

/// `text` as it may appear inside an error message: ASCII control characters (NUL included)
/// and DEL are written as `\0`, `\t`, `\n`, `\r` or `\xHH` (a NUL would otherwise cut the
/// message short), and a text longer than `max_chars` bytes is cut and ends with "...".
std::string printable(std::string_view text, std::size_t max_chars = 80);

}  // namespace popalign::io
