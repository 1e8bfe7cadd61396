#pragma once
// The popalign error hierarchy.
//
//   Error                      base of everything popalign throws
//   ├── InvalidArgument        a bad argument; names it (argument())
//   ├── IoError                a file problem; names the file and, where known, the line
//   │   └── ParseError         malformed content (bad CSV cell, bad JSON line, ...)
//   ├── NumericalError         a computation produced NaN/Inf where it must not
//   ├── Cancelled              a progress callback or cancellation token stopped the run
//   └── BackendError           an LLM / embedder backend failed (the llm layer refines it)
//
// Numerical non-convergence is NOT an exception: solvers return a status in their result.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace popalign {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InvalidArgument : public Error {
 public:
  InvalidArgument(std::string argument, const std::string& message)
      : Error("invalid argument '" + argument + "': " + message), argument_(std::move(argument)) {}
  const std::string& argument() const noexcept { return argument_; }

 private:
  std::string argument_;
};

class IoError : public Error {
 public:
  /// line == 0 means "not about a particular line".
  IoError(std::string file, std::size_t line, const std::string& message)
      : Error(format_message(file, line, message)), file_(std::move(file)), line_(line) {}
  IoError(std::string file, const std::string& message) : IoError(std::move(file), 0, message) {}
  const std::string& file() const noexcept { return file_; }
  std::size_t line() const noexcept { return line_; }

 private:
  static std::string format_message(const std::string& file, std::size_t line,
                                    const std::string& message) {
    std::string out;
    out.reserve(file.size() + message.size() + 24);
    out.append(file);
    if (line > 0) {
      out.push_back(':');
      out.append(std::to_string(line));
    }
    out.append(": ");
    out.append(message);
    return out;
  }
  std::string file_;
  std::size_t line_;
};

class ParseError : public IoError {
 public:
  using IoError::IoError;
};

class NumericalError : public Error {
 public:
  using Error::Error;
};

class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
  explicit Cancelled(const std::string& what) : Error("cancelled: " + what) {}
};

class BackendError : public Error {
 public:
  using Error::Error;
};

/// Throws InvalidArgument(argument, message) unless condition holds.
inline void check_argument(bool condition, const char* argument, const std::string& message) {
  if (!condition) throw InvalidArgument(argument, message);
}

}  // namespace popalign
