// `popalign version`: prints the version of the program and the compiled library.
#include <fmt/core.h>

#include <popalign/version.hpp>

#include "cli/command.hpp"

namespace popalign {
const char* compiled_version() noexcept;
}

namespace {
popalign::cli::CommandRegistrar registrar{
    "version", "Print the version", [](CLI::App&) {
      return popalign::cli::Action([] {
        fmt::print("popalign {} (library {})\n", popalign::version_string,
                   popalign::compiled_version());
        return 0;
      });
    }};
}  // namespace
