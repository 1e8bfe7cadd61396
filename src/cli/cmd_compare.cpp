// `popalign compare A.csv B.csv`: the distance of a sample A (e.g. a persona selection) to a
// reference B (e.g. human data) on the five population metrics (mean per-trait W1, Fréchet
// distance of Gaussian fits, sliced W2, unbiased Gaussian MMD^2, correlation-matrix MAE; all in
// B-standardised units, include/popalign/metrics/population.hpp) and per trait (W1 in the traits'
// own units and in B's sds, KS, mean and sd gaps). Text by default, JSON with --json.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <popalign/io/csv.hpp>
#include <popalign/metrics/compare.hpp>
#include <popalign/metrics/population.hpp>

#include "cli/checks.hpp"
#include "cli/command.hpp"

namespace {

using namespace popalign;

constexpr long long kMaxProjections = 100'000;

struct CompareArgs {
  std::string a, b, traits, weight_a, weight_b, id_column = "id";
  std::uint64_t seed = 0;
  long long projections = metrics::SlicedOptions{}.n_projections;
  long long mmd_points = metrics::PopulationOptions{}.mmd_max_points;
  bool json = false;
  int threads = 0;
};

/// Columns both tables share (A's order) whose first data cell is a number in both, except the
/// id and weight columns. Bad cells further down are reported with their line by
/// to_numeric_table.
std::vector<std::string> shared_numeric_columns(const io::Table& a, const io::Table& b,
                                                const std::vector<std::string>& exclude) {
  std::vector<std::string> out;
  for (std::size_t c = 0; c < a.num_columns(); ++c) {
    const std::string& name = a.columns[c];
    bool skip = false;
    for (const auto& e : exclude) skip = skip || (!e.empty() && e == name);
    if (skip) continue;
    const auto bc = b.find_column(name);
    if (!bc) continue;
    const bool an = a.num_rows() > 0 && io::parse_number(a.rows[0][c]).has_value();
    const bool bn = b.num_rows() > 0 && io::parse_number(b.rows[0][*bc]).has_value();
    if (an && bn) out.push_back(name);
  }
  return out;
}

/// The weight column of a table (empty name: uniform): finite, >= 0, not all zero; a bad cell
/// is named by file, line and column.
Vector<double> read_weights(const io::Table& t, const std::string& path, const std::string& column,
                            const std::string& flag) {
  if (column.empty()) return Vector<double>();
  if (!t.find_column(column))
    throw InvalidArgument(flag, fmt::format("{} has no column '{}'", path, column));
  const io::NumericTable w = io::to_numeric_table(t, {column});
  double total = 0.0;
  for (Index i = 0; i < w.values.rows(); ++i) {
    const double v = w.values(i, 0);
    if (!(v >= 0.0) || !std::isfinite(v))
      throw io::CsvError(path, w.lines[static_cast<std::size_t>(i)], 0, column,
                         fmt::format("column '{}': weight {} is {}", column, io::format_number(v),
                                     v < 0 ? "negative" : "not finite"));
    total += v;
  }
  if (!std::isfinite(total))
    throw io::CsvError(path, 0, 0, column,
                       fmt::format("column '{}': the weights sum to more than a double holds; "
                                   "rescale them",
                                   column));
  if (!(total > 0.0))
    throw InvalidArgument(flag,
                          fmt::format("every weight in column '{}' of {} is zero", column, path));
  return w.values.col(0);
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

/// A number for JSON: shortest round-trip text, null for NaN.
std::string json_number(double v) { return std::isfinite(v) ? io::format_number(v) : "null"; }

int run_compare(const CompareArgs& args) {
  // The sliced Wasserstein distance sorts both samples once per direction: the work grows with
  // --projections, so it is bounded (docs/cli.md); 128 is the default.
  check_argument(args.projections >= 1 && args.projections <= kMaxProjections, "--projections",
                 fmt::format("must be in [1, {}] (got {})", kMaxProjections, args.projections));
  check_argument(args.mmd_points >= 2, "--mmd-points", "must be >= 2");
  check_argument(args.threads >= 0, "--threads", "must be >= 0");
  const io::Table ta = io::read_table(args.a);
  const io::Table tb = io::read_table(args.b);
  std::vector<std::string> traits;
  if (!args.traits.empty()) {
    traits = cli::split_unique_list(args.traits, "--traits");
    check_argument(!traits.empty(), "--traits", "lists no column");
  } else {
    traits = shared_numeric_columns(ta, tb, {args.id_column, args.weight_a, args.weight_b});
    if (traits.empty())
      throw InvalidArgument("--traits",
                            fmt::format("{} and {} share no numeric column (except '{}' and the "
                                        "weight columns); name the trait columns with --traits",
                                        args.a, args.b, args.id_column));
  }
  const io::NumericTable a = io::to_numeric_table(ta, traits);
  const io::NumericTable b = io::to_numeric_table(tb, traits);
  check_argument(a.values.rows() > 0, "A", args.a + " has no data rows");
  check_argument(b.values.rows() > 0, "B", args.b + " has no data rows");
  // B is the reference the metrics standardise by: a constant trait there has no scale (a
  // constant trait in A is a legitimate, measurable selection).
  cli::check_trait_table(b, "reference (B)", 2, /*need_full_rank=*/false);
  const Vector<double> wa = read_weights(ta, args.a, args.weight_a, "--weight-a");
  const Vector<double> wb = read_weights(tb, args.b, args.weight_b, "--weight-b");

  metrics::CompareOptions o;
  o.trait_names = traits;
  o.sliced.seed = args.seed;
  o.sliced.n_projections = static_cast<Index>(args.projections);
  o.sliced.execution.threads = args.threads;
  o.mmd.seed = args.seed;
  o.mmd.execution.threads = args.threads;
  o.mmd_max_points = static_cast<Index>(args.mmd_points);
  const metrics::Comparison c = metrics::compare<double>(a.values, b.values, wa, wb, o);
  const metrics::Standardisation sb = metrics::reference_standardisation<double>(b.values, wb);
  const metrics::PopulationMetrics& p = c.population;
  const Index n_a = a.values.rows(), n_b = b.values.rows();

  if (args.json) {
    std::string s = "{\n";
    s += fmt::format("  \"a\": {{\"file\": {}, \"rows\": {}, \"weights\": {}}},\n",
                     json_string(args.a), n_a,
                     args.weight_a.empty() ? "null" : json_string(args.weight_a));
    s += fmt::format("  \"b\": {{\"file\": {}, \"rows\": {}, \"weights\": {}}},\n",
                     json_string(args.b), n_b,
                     args.weight_b.empty() ? "null" : json_string(args.weight_b));
    s += fmt::format(
        "  \"seed\": {},\n  \"units\": \"reference-standardised (B's weighted mean "
        "and sd)\",\n",
        args.seed);
    s += "  \"population\": {\n";
    s += fmt::format("    \"mean_w1\": {},\n", json_number(p.mean_w1));
    s += fmt::format("    \"frechet\": {},\n", json_number(p.frechet));
    s += fmt::format("    \"sliced_wasserstein\": {},\n", json_number(p.sliced_wasserstein));
    s += fmt::format("    \"mmd2\": {},\n", json_number(p.mmd2));
    s += fmt::format("    \"mmd2_biased\": {},\n", json_number(p.mmd2_biased));
    s += fmt::format("    \"mmd_bandwidth\": {},\n", json_number(p.mmd_bandwidth));
    s += fmt::format("    \"correlation_mae\": {}\n  }},\n", json_number(p.correlation_mae));
    s += "  \"traits\": [\n";
    for (std::size_t k = 0; k < traits.size(); ++k) {
      const auto i = static_cast<Index>(k);
      s += fmt::format(
          "    {{\"name\": {}, \"w1\": {}, \"w1_standardised\": {}, \"ks\": {}, \"mean_gap\": {}, "
          "\"sd_gap\": {}}}{}\n",
          json_string(traits[k]), json_number(c.w1[i]), json_number(c.w1[i] / sb.sd[i]),
          json_number(c.ks[i]), json_number(c.mean_gap[i]), json_number(c.sd_gap[i]),
          k + 1 < traits.size() ? "," : "");
    }
    s += "  ]\n}\n";
    fmt::print("{}", s);
    return 0;
  }

  fmt::print("A: {} ({} rows{}), B (reference): {} ({} rows{}), {} trait{}\n", args.a, n_a,
             args.weight_a.empty() ? "" : ", weights " + args.weight_a, args.b, n_b,
             args.weight_b.empty() ? "" : ", weights " + args.weight_b, traits.size(),
             traits.size() == 1 ? "" : "s");
  fmt::print("five population metrics (both samples standardised by B's weighted mean and sd):\n");
  auto num = [](double v, int prec) {
    return std::isnan(v) ? std::string("-") : fmt::format("{:.{}f}", v, prec);
  };
  fmt::print("  mean W1            {}\n", num(p.mean_w1, 4));
  fmt::print("  Fréchet distance   {}\n", num(p.frechet, 4));
  fmt::print("  sliced W2          {}   ({} projections, seed {})\n", num(p.sliced_wasserstein, 4),
             args.projections, args.seed);
  fmt::print("  MMD^2 (unbiased)   {}   (biased {}, Gaussian kernel, sigma {})\n", num(p.mmd2, 6),
             num(p.mmd2_biased, 6), num(p.mmd_bandwidth, 3));
  fmt::print("  correlation MAE    {}\n", num(p.correlation_mae, 4));
  std::size_t width = 5;
  for (const auto& t : traits) width = std::max(width, t.size());
  fmt::print("{:<{}}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}\n", "trait", width, "W1", "W1 (sd)", "KS",
             "mean gap", "sd gap");
  for (std::size_t k = 0; k < traits.size(); ++k) {
    const auto i = static_cast<Index>(k);
    fmt::print("{:<{}}  {:>9.4f}  {:>9.4f}  {:>9.4f}  {:>+9.4f}  {:>+9.4f}\n", traits[k], width,
               c.w1[i], c.w1[i] / sb.sd[i], c.ks[i], c.mean_gap[i], c.sd_gap[i]);
  }
  fmt::print(
      "(W1, mean gap and sd gap in the traits' own units; W1 (sd) in B's sds; gaps A - B)\n");
  return 0;
}

popalign::cli::CommandRegistrar registrar{
    "compare", "Distances between two trait tables (five population metrics, per-trait W1)",
    [](CLI::App& sub) {
      auto a = std::make_shared<CompareArgs>();
      sub.description(
          "Compare a sample A (e.g. a persona selection) with a reference B (e.g. human data): "
          "mean per-trait W1, Fréchet distance of Gaussian fits, sliced W2, unbiased Gaussian "
          "MMD^2 and correlation-matrix MAE, all after standardising both by B's weighted mean "
          "and sd; then W1, KS and mean / sd gaps per trait.");
      sub.add_option("A", a->a, "Sample CSV/TSV with the trait columns")->required();
      sub.add_option("B", a->b, "Reference CSV/TSV with the trait columns")->required();
      sub.add_option("--traits", a->traits,
                     "Comma-separated trait columns (default: the numeric columns both files "
                     "share, except the id and weight columns)");
      sub.add_option("--weight-a", a->weight_a, "Column of A holding row weights (default: equal)");
      sub.add_option("--weight-b", a->weight_b, "Column of B holding row weights (default: equal)");
      sub.add_option("--id-column", a->id_column, "Column never used as a trait (default: id)");
      sub.add_option("--seed", a->seed,
                     "Seed of the sliced-Wasserstein directions and the MMD subsamples");
      sub.add_option("--projections", a->projections, "Sliced-Wasserstein directions (128)");
      sub.add_option("--mmd-points", a->mmd_points,
                     "Rows per sample for the MMD (a seeded subsample above; 4000)");
      sub.add_option("--threads", a->threads, "Threads (0 = all cores)");
      sub.add_flag("--json", a->json, "Print JSON instead of text");
      return popalign::cli::Action([a] { return run_compare(*a); });
    }};

}  // namespace
