// `popalign align`: select N personas from a pool so that their trait distribution matches a
// human reference (the Resample pipeline, include/popalign/align/align.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <popalign/align/align.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/report/html_report.hpp>

#include "cli/checks.hpp"
#include "cli/command.hpp"

namespace {

using namespace popalign;

struct AlignArgs {
  std::string pool, reference, traits, out, report, method = "resample", id_column = "id";
  std::string calibration = "pairwise", cost_weights, refine = "swap";
  long long n = 0;
  std::uint64_t seed = 0;
  bool with_replacement = false, weights_only = false, quiet = false;
  double reg = align::AlignOptions{}.reg;
  double candidates = align::AlignOptions{}.candidate_factor;
  int threads = 0;
  long long max_iter = align::AlignOptions{}.max_iter;
  std::string scaling = "auto";
  long long atoms = align::AlignOptions{}.atoms;
};

/// Trait columns shared by both tables (pool order), except the id column, whose first data
/// cell parses as a number in both files. Non-numeric or NaN cells further down are then
/// reported with their line by to_numeric_table.
std::vector<std::string> shared_numeric_columns(const io::Table& pool, const io::Table& ref,
                                                const std::string& id_column) {
  std::vector<std::string> out;
  for (std::size_t c = 0; c < pool.num_columns(); ++c) {
    const std::string& name = pool.columns[c];
    if (name == id_column) continue;
    const auto rc = ref.find_column(name);
    if (!rc) continue;
    const bool pn = pool.num_rows() > 0 && io::parse_number(pool.rows[0][c]).has_value();
    const bool rn = ref.num_rows() > 0 && io::parse_number(ref.rows[0][*rc]).has_value();
    if (pn && rn) out.push_back(name);
  }
  return out;
}

int run_align(const AlignArgs& a) {
  const auto method = align::parse_method(a.method);
  if (!method)
    throw InvalidArgument("--method",
                          "must be resample, is, ot, random or paper (got '" + a.method + "')");
  const bool calibrate = a.calibration != "none";
  const auto calibration = align::parse_calibration(calibrate ? a.calibration : "marginal");
  if (!calibration)
    throw InvalidArgument("--calibration", "must be pairwise, marginal, sliced or none (got '" +
                                               a.calibration + "')");
  const auto refine = align::parse_refinement(a.refine);
  if (!refine) throw InvalidArgument("--refine", "must be swap or none (got '" + a.refine + "')");
  check_argument(a.n > 0, "--n", "must be > 0");
  check_argument(!(a.with_replacement && a.weights_only), "--weights-only",
                 "cannot be combined with --with-replacement");
  const io::Table pool_t = io::read_table(a.pool);
  const io::Table ref_t = io::read_table(a.reference);
  for (const io::Table* t : {&pool_t, &ref_t})
    if (t->num_rows() == 0) throw IoError(t->source, "has a header line but no data rows");
  pool_t.require_column(a.id_column);
  std::vector<std::string> traits;
  if (!a.traits.empty()) {
    traits = cli::split_unique_list(a.traits, "--traits");
  } else {
    traits = shared_numeric_columns(pool_t, ref_t, a.id_column);
    if (traits.empty())
      throw InvalidArgument("--traits",
                            fmt::format("{} and {} share no numeric column (except '{}'); name the "
                                        "trait columns with --traits",
                                        a.pool, a.reference, a.id_column));
  }
  io::NumericTableOptions po;
  po.id_column = a.id_column;
  po.unique_ids = true;
  const io::NumericTable pool = io::to_numeric_table(pool_t, traits, po);
  io::NumericTableOptions ro;
  const io::NumericTable ref = io::to_numeric_table(ref_t, traits, ro);
  const Index n_pool = pool.values.rows();
  Vector<double> cost_weights;
  if (!a.cost_weights.empty()) {
    const std::vector<std::string> ws = cli::split_list(a.cost_weights);
    check_argument(ws.size() == traits.size(), "--cost-weights",
                   fmt::format("has {} values for {} trait columns", ws.size(), traits.size()));
    cost_weights.resize(static_cast<Index>(ws.size()));
    for (std::size_t k = 0; k < ws.size(); ++k) {
      const auto v = io::parse_number(ws[k]);
      check_argument(v.has_value() && *v >= 0, "--cost-weights",
                     fmt::format("value {} ('{}') is not a number >= 0", k + 1, ws[k]));
      cost_weights[static_cast<Index>(k)] = *v;
    }
  }
  // The published method draws with replacement: its output always has a count column.
  const bool with_replacement = a.with_replacement || *method == align::Method::paper;
  if (!with_replacement && !a.weights_only)
    check_argument(a.n <= n_pool, "--n",
                   fmt::format("asks for {} distinct personas but {} has only {} rows (use "
                               "--with-replacement to draw with replacement)",
                               a.n, a.pool, n_pool));
  if (a.with_replacement)  // the draws are materialised before they become counts
    cli::check_memory("--n", a.n, 32.0 * static_cast<double>(a.n),
                      "a multiset of a smaller --n has the same expected shares");
  // The data faults behind a singular covariance, each named (file, column, line).
  const bool kde = *method == align::Method::resample || *method == align::Method::importance;
  const Index d = static_cast<Index>(traits.size());
  if (*method != align::Method::random) {
    cli::check_trait_table(pool, "pool", kde ? d + 1 : 2, kde);
    cli::check_trait_table(ref, "reference", kde ? d + 1 : 2, kde);
  }

  align::AlignOptions opt;
  opt.n = static_cast<Index>(a.n);
  opt.method = *method;
  opt.seed = a.seed;
  opt.output = a.weights_only     ? align::Output::weights
               : with_replacement ? align::Output::multiset
                                  : align::Output::distinct;
  opt.reg = a.reg;
  opt.calibrate = calibrate;
  opt.calibration = *calibration;
  opt.refine = *refine;
  opt.cost_weights = cost_weights;
  opt.candidate_factor = a.candidates;
  opt.execution.threads = a.threads;
  opt.max_iter = static_cast<Index>(a.max_iter);
  const auto scaling = align::parse_scaling(a.scaling);
  if (!scaling)
    throw InvalidArgument("--scaling",
                          "must be auto, subsample or compress (got '" + a.scaling + "')");
  opt.scaling = *scaling;
  opt.atoms = static_cast<Index>(a.atoms);
  if (cli::stderr_is_terminal() && !a.quiet) {
    opt.execution.progress = [](std::string_view stage, double) {
      fmt::print(stderr, "\r\033[Kpopalign align: {} ...", stage);
      std::fflush(stderr);
      return false;
    };
  }
  cli::validate_as_flags([&] { opt.validate(); }, {{"candidate_factor", "--candidates"},
                                                   {"cost_weights", "--cost-weights"},
                                                   {"atoms", "--atoms"}});
  align::AlignResult r;
  try {
    r = align::align<double>(pool.values, ref.values, opt);
  } catch (const InvalidArgument& e) {
    // The density step's own check (near-singular data the checks above let through): its
    // advice names a library option, so say it in the CLI's terms.
    if (e.argument() != "data") throw;
    throw NumericalError(
        fmt::format("the traits of {} are (nearly) linearly dependent, so their "
                    "weighted covariance is singular: leave a trait out of "
                    "--traits, or use --method ot or random",
                    a.pool));
  }
  if (cli::stderr_is_terminal() && !a.quiet) fmt::print(stderr, "\r\033[K");

  // Output CSV: id, count or weight, traits.
  {
    io::CsvWriter w(a.out);
    std::vector<std::string> header{"id"};
    if (opt.output == align::Output::multiset) header.push_back("count");
    if (opt.output == align::Output::weights) header.push_back("weight");
    for (const auto& t : traits) header.push_back(t);
    w.write_row(header);
    for (std::size_t k = 0; k < r.indices.size(); ++k) {
      const Index i = r.indices[k];
      std::vector<std::string> row{pool.ids[static_cast<std::size_t>(i)]};
      if (opt.output == align::Output::multiset) row.push_back(std::to_string(r.counts[k]));
      if (opt.output == align::Output::weights) row.push_back(io::format_number(r.weights[i]));
      for (Index c = 0; c < pool.values.cols(); ++c)
        row.push_back(io::format_number(pool.values(i, c)));
      w.write_row(row);
    }
    w.close();
  }

  if (!a.report.empty()) {
    report::ReportInput in;
    in.title = "popalign alignment report";
    in.traits = traits;
    in.pool = pool.values;
    in.reference = ref.values;
    in.selection.resize(static_cast<Index>(r.indices.size()), pool.values.cols());
    in.selection_weights.resize(static_cast<Index>(r.indices.size()));
    for (std::size_t k = 0; k < r.indices.size(); ++k) {
      in.selection.row(static_cast<Index>(k)) = pool.values.row(r.indices[k]);
      in.selection_weights[static_cast<Index>(k)] = r.weights[r.indices[k]];
    }
    in.importance_weights = r.importance_weights;
    in.diagnostics = r.diagnostics;
    std::string tl;
    for (const auto& t : traits) tl += (tl.empty() ? "" : ", ") + t;
    in.parameters = {{"pool file", a.pool},
                     {"reference file", a.reference},
                     {"traits", tl},
                     {"reg (relative to the mean cost)", fmt::format("{:g}", opt.reg)},
                     {"candidate factor", fmt::format("{:g}", opt.candidate_factor)},
                     {"method", std::string(align::to_string(opt.method))},
                     {"calibration", calibrate ? a.calibration : std::string("none")},
                     {"refinement", a.refine},
                     {"output file", a.out}};
    report::write_html(a.report, in);
  }

  if (!a.quiet) {
    fmt::print("{}", r.diagnostics.summary(traits));
    fmt::print("wrote {} ({} rows){}\n", a.out, r.indices.size(),
               a.report.empty() ? "" : ", report " + a.report);
  } else {
    for (const auto& w : r.diagnostics.warnings) fmt::print(stderr, "warning: {}\n", w);
  }
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "align", "Select N personas whose trait distribution matches a human reference",
    [](CLI::App& sub) {
      auto a = std::make_shared<AlignArgs>();
      sub.description(
          "Select N personas from a pool so that their trait distribution matches a human "
          "reference: KDE density-ratio weights -> importance resampling of candidates -> "
          "capacity-constrained entropic OT -> N distinct personas (default).");
      sub.add_option("--pool", a->pool, "Pool CSV/TSV: an id column and the trait columns")
          ->required();
      sub.add_option("--reference", a->reference,
                     "Reference CSV/TSV with the trait columns (other columns ignored)")
          ->required();
      sub.add_option("--traits", a->traits,
                     "Comma-separated trait columns (default: the numeric columns both files "
                     "share, except the id column). Item space: list the item-answer columns "
                     "(e.g. the 50 IPIP-50 items) instead of the trait scores");
      sub.add_option("--n", a->n, "Number of personas to select")->required();
      sub.add_option("--seed", a->seed, "Random seed (same inputs + seed = same output bytes)");
      sub.add_option("--method", a->method,
                     "resample (default), is, ot, random, or paper (the published Stage 2: KDE "
                     "bandwidth 0.20, top 70% by weight, entropic OT eps 0.08 x median cost, 250 "
                     "iterations, N draws with replacement: duplicates possible, so the output "
                     "has a count column)");
      sub.add_option("--calibration", a->calibration,
                     "resample's calibration of the transport shares: pairwise (default: every "
                     "trait and every pair's sum and difference, so the correlations follow), "
                     "marginal (per trait only), sliced or none");
      sub.add_option("--refine", a->refine,
                     "resample's last step (distinct output): swap (default: seeded swaps of "
                     "selected personas for unselected candidates while the per-trait histograms "
                     "and the trait correlations get closer to the reference's) or none");
      sub.add_option("--cost-weights", a->cost_weights,
                     "Comma-separated weight per trait column in the transport cost (default: "
                     "all 1), e.g. 1/(items of the trait) per item for item-space alignment");
      sub.add_flag("--with-replacement", a->with_replacement,
                   "Draw a multiset of N with counts (column 'count') instead of N distinct");
      sub.add_flag("--weights-only", a->weights_only,
                   "Write every pool persona with a weight (column 'weight') instead of selecting");
      sub.add_option("--out", a->out, "Output CSV (id, [count|weight], traits)")->required();
      sub.add_option("--report", a->report, "Also write a self-contained HTML report");
      sub.add_option("--id-column", a->id_column, "Id column of the pool (default: id)");
      sub.add_option("--reg", a->reg, "Entropic regularisation relative to the mean cost");
      sub.add_option("--max-iter", a->max_iter,
                     "Most Sinkhorn iterations at the target regularisation (resample, ot)");
      sub.add_option("--candidates", a->candidates,
                     "Candidate pool size for the transport, as a multiple of N (resample)");
      sub.add_option("--threads", a->threads, "Threads (0 = all cores)");
      sub.add_option("--scaling", a->scaling,
                     "Large inputs: auto (default: compress above 100,000 rows), subsample, or "
                     "compress (every person counts through weighted atoms)");
      sub.add_option("--atoms", a->atoms, "Atoms per side (pool, reference) when compressing");
      sub.add_flag("--quiet", a->quiet, "Print only warnings");
      return popalign::cli::Action([a] { return run_align(*a); });
    }};

}  // namespace
