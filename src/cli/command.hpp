#pragma once
// Registration of `popalign` subcommands. Each src/cli/cmd_<name>.cpp registers itself with a
// file-scope `CommandRegistrar{name, description, setup}`; main() creates the subcommand and
// calls setup(sub), which adds the options to `sub` and returns the action to run when that
// subcommand is chosen. The list lives in the executable only.
//
//   static popalign::cli::CommandRegistrar reg{"score", "Score item responses", [](CLI::App& sub) {
//     auto opts = std::make_shared<Opts>();
//     sub.add_option("--out", opts->out, "...")->required();
//     return popalign::cli::Action([opts] { return run(*opts); });
//   }};
#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <initializer_list>
#include <popalign/core/error.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace popalign::cli {

/// Returns the action for a subcommand (called after parsing; returns the exit code).
using Action = std::function<int()>;
using CommandSetup = std::function<Action(CLI::App& sub)>;

struct CommandEntry {
  std::string name;
  std::string description;
  CommandSetup setup;
};

inline std::vector<CommandEntry>& command_list() {
  static std::vector<CommandEntry> list;
  return list;
}

struct CommandRegistrar {
  CommandRegistrar(std::string name, std::string description, CommandSetup setup) {
    command_list().push_back({std::move(name), std::move(description), std::move(setup)});
  }
};

/// Exit codes, one per class of outcome (docs/cli.md). Warnings never change the code.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,    ///< anything else (internal error, out of memory)
  kExitUsage = 2,      ///< a bad command line: unknown/missing flag, bad value (names the flag)
  kExitFile = 3,       ///< a file cannot be read, parsed or written (names file[:line])
  kExitNumerical = 4,  ///< the data defeat the arithmetic (singular, non-finite, no convergence)
  kExitBackend = 5,    ///< the model / embedding server failed
  kExitCancelled = 130,
};

/// True when stderr is a terminal (progress output is off otherwise).
bool stderr_is_terminal();

/// Prints "popalign: warning: <message>" to stderr.
void warn(const std::string& message);

/// CLI11 check for seed-like options: a non-negative integer (CLI11 would wrap "-1" to
/// 2^64 - 1 for an unsigned option). main() adds it to every option whose name has "seed".
inline CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        const auto b = s.find_first_not_of(" \t");
        if (b != std::string::npos && s[b] == '-')
          return "must be a non-negative integer (got " + s + ")";
        return {};
      },
      "UINT");
}

/// The same error, naming a command-line flag instead of the library's field:
/// InvalidArgument("epochs", "must be >= 1") -> InvalidArgument("--epochs", "must be >= 1").
/// `context`, when given, goes before the message (e.g. the file a flag names).
inline popalign::InvalidArgument as_flag(const popalign::InvalidArgument& e,
                                         const std::string& flag, const std::string& context = "") {
  std::string message = e.what();
  const std::string prefix = "invalid argument '" + e.argument() + "': ";
  if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
  return popalign::InvalidArgument(flag, context.empty() ? message : context + ": " + message);
}

/// Runs `validate` (an Options::validate() call) and rethrows its InvalidArgument under the
/// flag's name: the field "max_tokens" becomes prefix + "max-tokens" ("--max-tokens"); fields
/// whose flag is named otherwise are listed in `renames` as {field, full flag}.
template <class Validate>
void validate_as_flags(
    Validate&& validate,
    std::initializer_list<std::pair<std::string_view, std::string_view>> renames = {},
    std::string_view prefix = "--") {
  try {
    validate();
  } catch (const popalign::InvalidArgument& e) {
    for (const auto& [field, flag] : renames)
      if (e.argument() == field) throw as_flag(e, std::string(flag));
    std::string flag = e.argument();
    std::replace(flag.begin(), flag.end(), '_', '-');
    throw as_flag(e, std::string(prefix) + flag);
  }
}

}  // namespace popalign::cli
