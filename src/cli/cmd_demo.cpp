// `popalign demo`: the offline demonstration on the shipped BIG5 data (see
// include/popalign/demo/demo.hpp): a biased pool of real people that mimics LLM personas,
// aligned to a disjoint reference part and measured on a held-out part.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

#include <popalign/demo/demo.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/data_dir.hpp>
#include <popalign/report/html_report.hpp>

#include "cli/checks.hpp"
#include "cli/command.hpp"

namespace {

using namespace popalign;

struct DemoArgs {
  std::string data_dir, out_dir = "demo-out", profile = "llm";
  std::uint64_t seed = 1;
  long long pool_size = demo::DemoOptions{}.pool_size;
  long long n = demo::DemoOptions{}.n;
  bool quick = false;
  int threads = 0;
};

int run_demo(const DemoArgs& a) {
  const auto profile = demo::parse_bias_profile(a.profile);
  if (!profile)
    throw InvalidArgument("--profile",
                          "must be llm, squeezed, shifted or mixed (got '" + a.profile + "')");
  demo::DemoOptions o;
  o.data_dir = a.data_dir.empty() ? io::data_dir() : std::filesystem::path(a.data_dir);
  o.seed = a.seed;
  o.profile = *profile;
  o.pool_size = static_cast<Index>(a.pool_size);
  o.n = static_cast<Index>(a.n);
  o.align.execution.threads = a.threads;
  if (a.quick) {
    o.max_part_size = 1500;
    o.pool_size = std::min<Index>(o.pool_size, 600);
    o.n = std::min<Index>(o.n, 150);
  }
  cli::validate_as_flags([&] {
    o.validate();
    o.align.execution.validate();
  });
  // The pool is generated in memory (5 traits and their copies through the stages).
  cli::check_memory("--pool-size", a.pool_size, 1000.0 * static_cast<double>(o.pool_size), "");
  const bool progress = cli::stderr_is_terminal();
  if (progress) fmt::print(stderr, "popalign demo: loading and scoring BIG5, aligning ...");
  const demo::DemoResult r = demo::run_demo(o);
  if (progress) fmt::print(stderr, "\r\033[K");

  fmt::print(
      "popalign demo: a biased pool of real BIG5 respondents ('{}' profile: {}) aligned to "
      "a disjoint reference part, measured on a held-out part.\n\n",
      to_string(o.profile),
      o.profile == demo::BiasProfile::llm
          ? "too agreeable, open, conscientious and calm, variance compressed, like LLM "
            "persona sets"
          : "see docs/validity.md");
  fmt::print("{}\n", r.table());

  std::filesystem::create_directories(a.out_dir);
  const std::filesystem::path out(a.out_dir);
  const demo::DemoMethodResult* best = r.find(align::Method::resample);
  if (best == nullptr) best = &r.methods.back();
  // The selection (rows of the pool; ids are pool row numbers).
  {
    io::CsvWriter w(out / "selection.csv");
    std::vector<std::string> header{"id"};
    for (const auto& t : r.traits) header.push_back(t);
    w.write_row(header);
    for (Index i : best->result.indices) {
      std::vector<std::string> row{"pool" + std::to_string(i + 1)};
      for (Index c = 0; c < r.pool.cols(); ++c) row.push_back(io::format_number(r.pool(i, c)));
      w.write_row(row);
    }
    w.close();
  }
  report::ReportInput in;
  in.title = fmt::format("popalign demo: '{}' bias profile, method {}", to_string(o.profile),
                         to_string(best->method));
  in.traits = r.traits;  // E N A C O
  in.pool = r.pool;
  in.reference = r.reference;
  in.selection.resize(static_cast<Index>(best->result.indices.size()), r.pool.cols());
  for (std::size_t k = 0; k < best->result.indices.size(); ++k)
    in.selection.row(static_cast<Index>(k)) = r.pool.row(best->result.indices[k]);
  in.importance_weights = best->result.importance_weights;
  in.diagnostics = best->result.diagnostics;
  in.parameters = {{"data", "OSPP BIG5 (openpsychometrics.org), scored on the IPIP-50 domains"},
                   {"bias profile", std::string(to_string(o.profile))},
                   {"pool size", std::to_string(r.pool.rows())},
                   {"reference part", std::to_string(r.reference.rows())},
                   {"held-out test part", std::to_string(r.test.rows())},
                   {"reg (relative to the mean cost)", fmt::format("{:g}", o.align.reg)},
                   {"candidate factor", fmt::format("{:g}", o.align.candidate_factor)}};
  in.notes = {
      "Traits: E Extraversion, N Neuroticism, A Agreeableness, C Conscientiousness, O "
      "Openness (IPIP-50 domain means, 1-5).",
      "The pool is a biased selection of real people drawn from half of the cleaned BIG5 "
      "data (docs/validity.md); the reference and the held-out test part are the two "
      "other, disjoint quarters."};
  in.comparison_caption =
      "Every method measured against the held-out test part (not the "
      "reference it was aligned to).";
  in.comparison.push_back({"pool", r.pool_vs_test, ""});
  for (const auto& m : r.methods)
    in.comparison.push_back(
        {std::string(to_string(m.method)), m.vs_test,
         fmt::format("mean W1 reduction {:.1f}%", 100 * r.reduction(m.method))});
  report::write_html(out / "report.html", in);
  fmt::print("wrote {} and {}\n", (out / "report.html").string(), (out / "selection.csv").string());
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "demo", "Offline demo on shipped BIG5 data: align a biased pool, print a table, write a report",
    [](CLI::App& sub) {
      auto a = std::make_shared<DemoArgs>();
      sub.add_option("--data-dir", a->data_dir,
                     "Folder with big5/ and instruments/ (default: the shipped data)");
      sub.add_option("--out-dir", a->out_dir,
                     "Where report.html and selection.csv go (default: demo-out)");
      sub.add_option("--seed", a->seed, "Random seed (split, pool, alignment)");
      sub.add_option("--profile", a->profile,
                     "Bias profile: llm (default), squeezed, shifted, mixed");
      sub.add_option("--pool-size", a->pool_size, "Biased pool size");
      sub.add_option("--n", a->n, "Personas to select");
      sub.add_flag("--quick", a->quick, "Small sizes (a few seconds; for tests)");
      sub.add_option("--threads", a->threads, "Threads (0 = all cores)");
      return popalign::cli::Action([a] { return run_demo(*a); });
    }};

}  // namespace
