// `popalign run pipeline.toml`: the whole method in one resumable command (the library part is
// popalign::pipeline; this file draws the progress and prints the plan). See docs/pipeline.md.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>

#include <popalign/pipeline/config.hpp>
#include <popalign/pipeline/pipeline.hpp>

#include "cli/command.hpp"
#include "cli/llm_backend.hpp"

namespace {

namespace pl = popalign::pipeline;

struct Opts {
  std::string config;
  bool dry_run = false;
  bool quiet = false;
};

std::string bar(double f, int width) {
  const int fill = static_cast<int>(std::clamp(f, 0.0, 1.0) * width + 0.5);
  return std::string(static_cast<std::size_t>(fill), '#') +
         std::string(static_cast<std::size_t>(width - fill), '.');
}

int run(const Opts& o) {
  // A bad key is a fault of the config file, not of the command line: exit 3 like every file
  // (docs/cli.md), with the message naming file:line: key.
  const pl::PipelineConfig config = [&] {
    try {
      return pl::load_config(o.config);
    } catch (const popalign::InvalidArgument& e) {
      std::string m = e.what();
      const std::string prefix = "invalid argument '" + e.argument() + "': ";
      if (m.rfind(prefix, 0) == 0) m.erase(0, prefix.size());
      throw popalign::IoError(e.argument(), m);
    }
  }();
  if (o.dry_run) {
    const pl::RunPlan plan = pl::plan_run(config);
    fmt::print("dry run: nothing is sent. run directory {}\n", config.run_dir.string());
    fmt::print("{}", plan.table());
    fmt::print(
        "calls marked <= depend on earlier stages (as if every unit passed); tokens are about 4 "
        "characters each, completion tokens an upper bound; unusable answers are asked again on "
        "top. \"done\": finished in the manifest with the same inputs and options.\n");
    return 0;
  }
  popalign::CancellationToken cancel;
  pl::RunOptions ro;
  ro.cancel = cancel;
  const bool tty = popalign::cli::stderr_is_terminal() && !o.quiet;
  std::string last_stage;
  ro.progress = [&](const pl::Progress& p) {
    if (tty) {
      const double f = p.total ? static_cast<double>(p.done) / static_cast<double>(p.total) : 0.0;
      std::cerr << fmt::format(
                       "\r\033[K{:<16} [{}] {:>5.1f}%  all [{}] {:>5.1f}%  cost {:.4f} + ~{:.4f}",
                       p.stage.substr(0, 16), bar(f, 20), 100 * f, bar(p.overall, 20),
                       100 * p.overall, p.cost_so_far, p.cost_rest)
                << std::flush;
    } else if (!o.quiet && p.stage.substr(0, p.stage.find('.')) != last_stage) {
      std::cerr << fmt::format(
          "popalign run: {} ({:.0f}% of the run; cost so far {:.4f}, ~{:.4f} "
          "to go)\n",
          p.stage, 100 * p.overall, p.cost_so_far, p.cost_rest);
    }
    last_stage = p.stage.substr(0, p.stage.find('.'));  // one line per stage, not per step
    return false;
  };
  ro.log = [&](const std::string& m) {
    if (o.quiet) return;
    if (tty) std::cerr << "\r\033[K";
    std::cerr << "popalign run: " << m << "\n";
  };
  pl::RunResult res;
  {
    const popalign::cli::CancelOnSignal on_signal(cancel);
    res = pl::run_pipeline(config, ro);
  }
  if (tty) std::cerr << "\r\033[K";
  for (const auto& s : res.stages)
    std::cerr << fmt::format(
        "popalign run: {:<12} {:<8} {:>8.2f} s {:>6} calls ({} cached) cost {:.4f}  {}\n", s.name,
        s.action, s.seconds, s.calls, s.cached_calls, s.cost, s.summary);
  if (res.status == "cancelled") {
    std::cerr << "popalign run: interrupted; run the same command again to resume (finished "
                 "calls are in the cache)\n";
    return 130;
  }
  fmt::print("report: {}\n", res.report.string());
  for (const auto& f : res.persona_files) fmt::print("personas: {}\n", f.string());
  fmt::print("cost of this run: {:.6f}\n", res.cost);
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "run", "Run the whole pipeline from a config file (resumable; see `popalign init`)",
    [](CLI::App& sub) {
      auto o = std::make_shared<Opts>();
      sub.add_option("config", o->config, "Pipeline config (TOML), e.g. pipeline.toml")->required();
      sub.add_flag("--dry-run", o->dry_run,
                   "Print the plan: calls, tokens and cost per stage; send nothing");
      sub.add_flag("--quiet", o->quiet, "No progress, only the result");
      return popalign::cli::Action([o] { return run(*o); });
    }};

}  // namespace
