#pragma once
// Helpers shared by the align tests: temporary folders and running the `popalign` program.
#include <sys/wait.h>
#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace popalign::test {

inline std::filesystem::path temp_dir(const std::string& name) {
  auto p = std::filesystem::temp_directory_path() /
           ("popalign_align_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

/// Runs `popalign <args>` (args already shell-quoted) with stdout/stderr captured.
inline RunResult run_popalign(const std::string& args, const std::filesystem::path& dir) {
  const std::filesystem::path exe = std::filesystem::path(POPALIGN_BINARY_DIR) / "bin" / "popalign";
  const auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd =
      "'" + exe.string() + "' " + args + " > '" + out.string() + "' 2> '" + err.string() + "'";
  const int rc = std::system(cmd.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

}  // namespace popalign::test
