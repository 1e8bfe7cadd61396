// `popalign version`: prints the version of the program and the compiled library.
#include <fmt/core.h>

#include <popalign/version.hpp>

#include "cli/command.hpp"

namespace {
popalign::cli::CommandRegistrar registrar{"version", "Print the version", [](CLI::App&) {
                                            return popalign::cli::Action([] {
                                              fmt::print("popalign {}\n", popalign::version_string);
                                              return 0;
                                            });
                                          }};
}  // namespace
