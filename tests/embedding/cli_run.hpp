#pragma once
// Runs the program under test (POPALIGN_CLI_PATH) with arguments through the shell and
// captures its exit code and output (stdout and stderr together). For the CLI tests.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

namespace popalign::test {

struct CliRun {
  int code = -1;       ///< exit code; -1 when the program did not exit normally
  std::string output;  ///< stdout + stderr
};

inline CliRun run_cli(const std::string& program, const std::string& args) {
  const std::string cmd = program + " " + args + " 2>&1";
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace popalign::test
