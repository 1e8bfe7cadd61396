// `popalign init`: writes a commented example pipeline config that runs on the shipped data.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

#include <popalign/core/error.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/pipeline/config.hpp>

#include "cli/command.hpp"

namespace {

struct Opts {
  std::string out = "pipeline.toml";
  std::string base_url = "http://127.0.0.1:8080/v1";
  std::string model = "my-model";
  bool force = false;
};

int run(const Opts& o) {
  if (std::filesystem::exists(o.out) && !o.force)
    throw popalign::InvalidArgument("--out", o.out + " exists (--force replaces it)");
  popalign::io::write_file_atomically(o.out,
                                      popalign::pipeline::example_config(o.base_url, o.model));
  fmt::print(
      "wrote {} (the shipped example examples/pipeline/three_regions.toml: the shipped posts, the "
      "BIG5 reference, groups East Asia, North America, Europe): edit the [models.generator] "
      "endpoint, then `popalign run {} --dry-run`\n",
      o.out, o.out);
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "init", "Write a commented example pipeline config (runs on the shipped data)",
    [](CLI::App& sub) {
      auto o = std::make_shared<Opts>();
      sub.add_option("--out", o->out, "Config file to write")->capture_default_str();
      sub.add_option("--base-url", o->base_url, "The generator's OpenAI-compatible server")
          ->capture_default_str();
      sub.add_option("--model", o->model, "The generator's model")->capture_default_str();
      sub.add_flag("--force", o->force, "Replace an existing file");
      return popalign::cli::Action([o] { return run(*o); });
    }};

}  // namespace
