// The `popalign` program: subcommands register themselves (see command.hpp).
//
// Checks shared by every subcommand live here, in one place (docs/cli.md states the policy):
//   - seed options (any option whose name contains "seed") refuse negative values, which CLI11
//     would otherwise wrap to 2^64 - 1;
//   - no output file may be an input file or another output of the same command (compared by
//     device + inode, see io::check_distinct_files); inputs and outputs are known by flag name
//     (kInputFlags, kOutputFlags below);
//   - exceptions become one exit code per class (cli::ExitCode).
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <new>
#include <string_view>

#include <popalign/core/error.hpp>
#include <popalign/io/output.hpp>
#include <popalign/version.hpp>

#include "cli/command.hpp"

namespace popalign::cli {
bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

void warn(const std::string& message) { std::cerr << "popalign: warning: " << message << "\n"; }
}  // namespace popalign::cli

namespace {

/// Flags (and positional arguments: compare's A and B, run's config) that name files a command
/// reads, and files it writes (or reads and rewrites: caches, the Batch API state). A flag that
/// names a built-in when it is not a file (--instrument ipip50, --template likert-v1) is listed
/// too: a name that is no file only matches an output of the same spelling.
constexpr std::string_view kInputFlags[] = {"--pool",
                                            "--reference",
                                            "--personas",
                                            "--instrument",
                                            "--responses",
                                            "--selection",
                                            "--pairs",
                                            "--profiles",
                                            "--posts",
                                            "--head",
                                            "--components",
                                            "--word-vectors",
                                            "--groups",
                                            "--reference-data",
                                            "--endpoints",
                                            "--template",
                                            "--quality-template",
                                            "--writer-template",
                                            "--critique-template",
                                            "--reference-columns",
                                            "A",
                                            "B",
                                            "config"};
constexpr std::string_view kOutputFlags[] = {"--out",        "--report",          "--funnel",
                                             "--save-pairs", "--save-components", "--cache",
                                             "--llm-cache",  "--batch-state"};

bool listed(std::string_view name, const auto& list) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

void check_files(const CLI::App& sub) {
  std::vector<popalign::io::NamedPath> inputs, outputs;
  for (const CLI::Option* o : sub.get_options()) {
    if (o->count() == 0) continue;
    const std::string name = o->get_name();
    const bool in = listed(name, kInputFlags), out = listed(name, kOutputFlags);
    if (!in && !out) continue;
    for (const std::string& value : o->results()) (in ? inputs : outputs).push_back({name, value});
  }
  popalign::io::check_distinct_files(inputs, outputs);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace popalign::cli;
  CLI::App app{"popalign: population-aligned persona sets for LLM social simulation"};
  app.set_version_flag("--version", std::string("popalign ") + popalign::version_string);
  app.require_subcommand(1);

  auto entries = command_list();
  std::sort(entries.begin(), entries.end(),
            [](const CommandEntry& a, const CommandEntry& b) { return a.name < b.name; });
  std::map<CLI::App*, Action> actions;
  for (auto& e : entries) {
    CLI::App* sub = app.add_subcommand(e.name, e.description);
    actions[sub] = e.setup(*sub);
    for (CLI::Option* o : sub->get_options())
      if (o->get_name().find("seed") != std::string::npos) o->check(non_negative_integer());
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version exit 0; every other command-line error is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  try {
    for (auto* sub : app.get_subcommands()) {
      auto it = actions.find(sub);
      if (it == actions.end()) continue;
      check_files(*sub);
      return it->second();
    }
    std::cerr << "popalign: no action for this subcommand\n";
    return kExitUsage;
  } catch (const popalign::InvalidArgument& e) {
    std::cerr << "popalign: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const popalign::IoError& e) {  // ParseError included
    std::cerr << "popalign: error: " << e.what() << "\n";
    return kExitFile;
  } catch (const popalign::NumericalError& e) {
    std::cerr << "popalign: error: " << e.what() << "\n";
    return kExitNumerical;
  } catch (const popalign::BackendError& e) {
    std::cerr << "popalign: error: " << e.what() << "\n";
    return kExitBackend;
  } catch (const popalign::Cancelled& e) {
    std::cerr << "popalign: " << e.what() << "\n";
    return kExitCancelled;
  } catch (const std::bad_alloc&) {
    std::cerr << "popalign: error: out of memory\n";
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << "popalign: error: " << e.what() << "\n";
    return kExitFailure;
  }
}
