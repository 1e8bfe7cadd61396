// The `popalign` program: subcommands register themselves (see command.hpp).
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>

#include <popalign/core/error.hpp>
#include <popalign/version.hpp>

#include "cli/command.hpp"

namespace popalign::cli {
bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }
}  // namespace popalign::cli

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
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto* sub : app.get_subcommands()) {
      auto it = actions.find(sub);
      if (it != actions.end()) return it->second();
    }
    std::cerr << "popalign: no action for this subcommand\n";
    return 2;
  } catch (const popalign::InvalidArgument& e) {
    std::cerr << "popalign: error: " << e.what() << "\n";
    return 2;
  } catch (const popalign::Cancelled& e) {
    std::cerr << "popalign: " << e.what() << "\n";
    return 130;
  } catch (const std::exception& e) {
    std::cerr << "popalign: error: " << e.what() << "\n";
    return 1;
  }
}
