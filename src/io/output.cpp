// Output paths (see include/popalign/io/output.hpp): temporary file + rename for regular files,
// direct writes to special files, symlinks followed, and the CLI's same-file check.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <popalign/io/output.hpp>

namespace popalign::io {

namespace fs = std::filesystem;

fs::path follow_symlinks(const fs::path& path) {
  fs::path p = path;
  for (int level = 0; level < 40; ++level) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(p, ec))) return p;
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) throw IoError(path.string(), "cannot read the symbolic link: " + ec.message());
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  throw IoError(path.string(), "too many levels of symbolic links");
}

PathKind path_kind(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return PathKind::missing;
  if (S_ISREG(st.st_mode)) return PathKind::regular;
  if (S_ISDIR(st.st_mode)) return PathKind::directory;
  return PathKind::special;
}

void require_not_directory(const fs::path& path) {
  if (path_kind(path) == PathKind::directory)
    throw IoError(path.string(), "is a directory, not a file");
}

struct OutputFile::Impl {
  fs::path path;    // as given
  fs::path target;  // symlinks followed
  fs::path tmp;     // empty for a special file
  int fd = -1;
  bool special = false;
  bool done = false;
};

namespace {
std::string errno_text(int err) { return std::strerror(err); }
}  // namespace

OutputFile::OutputFile(const fs::path& path) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  if (path.empty()) throw IoError("<empty path>", "cannot write: no file name");
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;  // follows every symlink
  if (exists && S_ISDIR(st.st_mode)) throw IoError(path.string(), "is a directory, not a file");
  // FIFO, character/block device, socket: write in place. So for anything named under /dev or
  // /proc (/dev/stdout, /dev/fd/3, /proc/self/fd/1): their links are the kernel's, not files
  // to replace (a redirected stdout stays the file the shell opened).
  const std::string text = path.lexically_normal().string();
  if ((exists && !S_ISREG(st.st_mode)) || text.rfind("/dev/", 0) == 0 ||
      text.rfind("/proc/", 0) == 0) {
    impl_->special = true;
    impl_->fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (impl_->fd < 0)
      throw IoError(path.string(), "cannot open for writing: " + errno_text(errno));
    return;
  }
  impl_->target = follow_symlinks(path);
  static std::atomic<unsigned> counter{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path tmp = impl_->target;
    tmp += fmt::format(".tmp.{}.{}", ::getpid(), counter++);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      impl_->fd = fd;
      impl_->tmp = tmp;
      break;
    }
    if (errno != EEXIST)
      throw IoError(path.string(), "cannot open file for writing: " + errno_text(errno));
  }
  if (impl_->fd < 0) throw IoError(path.string(), "cannot create a temporary file beside it");
  // Keep the permissions of the file being replaced.
  if (exists) (void)::fchmod(impl_->fd, st.st_mode & 07777);
}

OutputFile::~OutputFile() { discard(); }

void OutputFile::write(std::string_view bytes) {
  if (impl_->fd < 0) throw IoError(impl_->path.string(), "the file is already closed");
  while (!bytes.empty()) {
    const ssize_t k = ::write(impl_->fd, bytes.data(), bytes.size());
    if (k < 0) {
      if (errno == EINTR) continue;
      throw IoError(impl_->path.string(), "write error: " + errno_text(errno));
    }
    bytes.remove_prefix(static_cast<std::size_t>(k));
  }
}

void OutputFile::commit() {
  if (impl_->done) return;
  impl_->done = true;
  const int fd = impl_->fd;
  impl_->fd = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    if (!impl_->tmp.empty()) ::unlink(impl_->tmp.c_str());
    throw IoError(impl_->path.string(), "write error on close: " + errno_text(err));
  }
  if (impl_->special) return;
  if (::rename(impl_->tmp.c_str(), impl_->target.c_str()) != 0) {
    const int err = errno;
    ::unlink(impl_->tmp.c_str());
    throw IoError(impl_->path.string(),
                  "cannot rename the temporary file into place: " + errno_text(err));
  }
}

void OutputFile::discard() noexcept {
  if (impl_->done) return;
  impl_->done = true;
  if (impl_->fd >= 0) ::close(impl_->fd);
  impl_->fd = -1;
  if (!impl_->tmp.empty()) ::unlink(impl_->tmp.c_str());
}

const fs::path& OutputFile::path() const noexcept { return impl_->path; }
bool OutputFile::is_special() const noexcept { return impl_->special; }

void write_file_atomically(const fs::path& path, std::string_view content) {
  OutputFile f(path);
  f.write(content);
  f.commit();
}

namespace {

struct Identity {
  bool exists = false, special = false;
  dev_t dev = 0;
  ino_t ino = 0;
  fs::path resolved;  // absolute, symlinks of the existing part resolved
};

Identity identify(const fs::path& p) {
  Identity id;
  struct stat st {};
  if (::stat(p.c_str(), &st) == 0) {
    id.exists = true;
    id.special = !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
    id.dev = st.st_dev;
    id.ino = st.st_ino;
  }
  std::error_code ec;
  id.resolved = fs::weakly_canonical(fs::absolute(p, ec), ec);
  if (ec) id.resolved = fs::absolute(p, ec).lexically_normal();
  return id;
}

bool same(const Identity& a, const Identity& b) {
  if (a.special || b.special) return false;
  if (a.exists && b.exists) return a.dev == b.dev && a.ino == b.ino;
  return a.resolved == b.resolved;
}

}  // namespace

void check_distinct_files(const std::vector<NamedPath>& inputs,
                          const std::vector<NamedPath>& outputs) {
  std::vector<std::pair<const NamedPath*, Identity>> seen_inputs, seen_outputs;
  for (const auto& in : inputs)
    if (!in.path.empty()) seen_inputs.emplace_back(&in, identify(in.path));
  for (const auto& out : outputs) {
    if (out.path.empty()) continue;
    if (path_kind(out.path) == PathKind::directory)
      throw InvalidArgument(out.flag,
                            fmt::format("'{}' is a directory; name a file", out.path.string()));
    const Identity id = identify(out.path);
    for (const auto& [in, in_id] : seen_inputs)
      if (same(id, in_id))
        throw InvalidArgument(
            out.flag, fmt::format("'{}' is the same file as the input {} ('{}'); writing it would "
                                  "destroy the input: name another file",
                                  out.path.string(), in->flag, in->path.string()));
    for (const auto& [other, other_id] : seen_outputs)
      if (same(id, other_id))
        throw InvalidArgument(
            out.flag, fmt::format("'{}' is the same file as {} ('{}'); each output needs its own "
                                  "file",
                                  out.path.string(), other->flag, other->path.string()));
    seen_outputs.emplace_back(&out, id);
  }
}

std::string printable(std::string_view text, std::size_t max_chars) {
  std::string out;
  const bool cut = text.size() > max_chars;
  if (cut) text = text.substr(0, max_chars);
  out.reserve(text.size() + 8);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0)
      out += "\\0";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (u < 0x20 || u == 0x7f)
      out += fmt::format("\\x{:02x}", u);
    else
      out += c;
  }
  if (cut) out += "...";
  return out;
}

}  // namespace popalign::io
