// The offline demo / validity experiment on the shipped BIG5 data (see demo.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <popalign/core/random.hpp>
#include <popalign/demo/demo.hpp>
#include <popalign/io/data_dir.hpp>
#include <popalign/psychometrics/instrument.hpp>
#include <popalign/psychometrics/reference.hpp>
#include <popalign/psychometrics/scoring.hpp>
#include <popalign/sampling/resample.hpp>

namespace popalign::demo {

using align::AlignOptions;
using align::Comparison;
using align::Method;

namespace {
const std::vector<std::string> kTraits{"E", "N", "A", "C", "O"};

std::vector<Index> column_order(const std::vector<std::string>& have,
                                const std::vector<std::string>& want, const std::string& what) {
  std::vector<Index> out;
  for (const auto& w : want) {
    auto it = std::find(have.begin(), have.end(), w);
    if (it == have.end()) throw Error(fmt::format("{}: no score column '{}'", what, w));
    out.push_back(static_cast<Index>(it - have.begin()));
  }
  return out;
}

RowMatrix<double> rows_of(const RowMatrix<double>& m, const std::vector<Index>& rows) {
  RowMatrix<double> out(static_cast<Index>(rows.size()), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = m.row(rows[i]);
  return out;
}

Comparison compare_to(const RowMatrix<double>& x, const Vector<double>& w,
                      const RowMatrix<double>& test, const AlignOptions& opt) {
  const Eigen::RowVectorXd mu = test.colwise().mean();
  const Eigen::RowVectorXd sd =
      ((test.rowwise() - mu).array().square().colwise().sum() / static_cast<double>(test.rows()))
          .sqrt();
  const RowMatrix<double> zx = ((x.rowwise() - mu).array().rowwise() / sd.array()).matrix();
  const RowMatrix<double> zt = ((test.rowwise() - mu).array().rowwise() / sd.array()).matrix();
  return align::detail::compare<double>(x, w, test, zx, zt, opt);
}
}  // namespace

std::string_view to_string(BiasProfile p) noexcept {
  switch (p) {
    case BiasProfile::llm:
      return "llm";
    case BiasProfile::squeezed:
      return "squeezed";
    case BiasProfile::shifted:
      return "shifted";
    case BiasProfile::mixed:
      return "mixed";
  }
  return "unknown";
}

std::optional<BiasProfile> parse_bias_profile(std::string_view s) noexcept {
  for (BiasProfile p : all_bias_profiles())
    if (s == to_string(p)) return p;
  return std::nullopt;
}

std::vector<BiasProfile> all_bias_profiles() {
  return {BiasProfile::llm, BiasProfile::squeezed, BiasProfile::shifted, BiasProfile::mixed};
}

BiasSpec bias_spec(BiasProfile p) {
  BiasSpec s;
  s.mean = Vector<double>::Zero(5);
  s.sd = Vector<double>::Ones(5);
  switch (p) {
    case BiasProfile::llm:  // E N A C O
      s.mean << 0.2, -0.6, 0.6, 0.3, 0.5;
      s.sd.setConstant(0.7);
      break;
    case BiasProfile::squeezed:
      s.sd.setConstant(0.5);
      break;
    case BiasProfile::shifted:
      s.mean[2] = 0.8;
      break;
    case BiasProfile::mixed:
      s.mean << -0.4, 0.4, 0.0, 0.5, -0.3;
      s.sd << 1.0, 0.8, 1.0, 0.8, 1.0;
      break;
  }
  return s;
}

Vector<double> bias_log_weights(const RowMatrix<double>& z, const BiasSpec& spec) {
  check_argument(
      z.cols() == spec.mean.size() && z.cols() == spec.sd.size(), "z",
      fmt::format("has {} columns but the bias spec has {}", z.cols(), spec.mean.size()));
  Vector<double> lw(z.rows());
  for (Index i = 0; i < z.rows(); ++i) {
    double s = 0;
    for (Index k = 0; k < z.cols(); ++k) {
      const double sk2 = spec.sd[k] * spec.sd[k];
      s += spec.mean[k] / sk2 * z(i, k) - 0.5 * (1.0 / sk2 - 1.0) * z(i, k) * z(i, k);
    }
    lw[i] = s;
  }
  return lw;
}

Big5Split load_big5_split(const std::filesystem::path& data_dir, std::uint64_t seed,
                          Big5Extra extra) {
  namespace ps = psychometrics;
  const std::filesystem::path dir = data_dir.empty() ? io::data_dir() : data_dir;
  ps::ReferenceData ref = ps::load_big5(dir / "big5" / "data.csv");
  const ps::Instrument ipip = ps::instrument_by_name("ipip50", dir);
  ps::clean_reference(ref, ipip);
  const ps::ScoreResult sc = ps::score(ipip, ref.responses);
  const auto order = column_order(sc.scores.traits, kTraits, "ipip50 scores");
  const Index n = sc.scores.values.rows();
  RowMatrix<double> traits(n, 5);
  for (Index k = 0; k < 5; ++k)
    traits.col(k) = sc.scores.values.col(order[static_cast<std::size_t>(k)]);

  RowMatrix<double> extra_m;
  std::vector<std::string> extra_cols;
  if (extra == Big5Extra::mini_ipip_and_items) {
    const ps::Instrument mini = ps::instrument_by_name("mini_ipip", dir);
    const ps::ScoreResult ms = ps::score(mini, ref.responses);
    const auto mo = column_order(ms.scores.traits, kTraits, "mini_ipip scores");
    const RowMatrix<double> keyed = ps::keyed_item_matrix(ipip, ref.responses);
    std::vector<Index> other;
    for (std::size_t k = 0; k < ipip.items.size(); ++k) {
      bool in_mini = mini.find_item(ipip.items[k].id).has_value();
      for (const auto& al : ipip.items[k].aliases)
        in_mini = in_mini || mini.find_item(al).has_value();
      if (!in_mini) other.push_back(static_cast<Index>(k));
    }
    extra_m.resize(n, 5 + static_cast<Index>(other.size()));
    for (Index k = 0; k < 5; ++k) {
      extra_m.col(k) = ms.scores.values.col(mo[static_cast<std::size_t>(k)]);
      extra_cols.push_back("mini_" + kTraits[static_cast<std::size_t>(k)]);
    }
    for (std::size_t j = 0; j < other.size(); ++j) {
      extra_m.col(5 + static_cast<Index>(j)) = keyed.col(other[j]);
      extra_cols.push_back(ipip.items[static_cast<std::size_t>(other[j])].id);
    }
  }
  if (extra == Big5Extra::items) {
    extra_m = ps::keyed_item_matrix(ipip, ref.responses);
    for (const auto& item : ipip.items) extra_cols.push_back(item.id);
  }
  // Rows with a NaN anywhere are dropped (clean_reference keeps complete rows only, so none).
  std::vector<Index> keep;
  for (Index i = 0; i < n; ++i)
    if (traits.row(i).allFinite() && (extra_m.size() == 0 || extra_m.row(i).allFinite()))
      keep.push_back(i);
  Rng rng(seed);
  Rng rp = rng.split(hash_string("popalign.demo.split"));
  rp.shuffle(keep);
  // Source: half of the people (the pool is a biased sample of it); reference and test: a
  // quarter each.
  const std::size_t half = keep.size() / 2, q3 = half + (keep.size() - half) / 2;
  std::vector<Index> p0(keep.begin(), keep.begin() + static_cast<std::ptrdiff_t>(half));
  std::vector<Index> p1(keep.begin() + static_cast<std::ptrdiff_t>(half),
                        keep.begin() + static_cast<std::ptrdiff_t>(q3));
  std::vector<Index> p2(keep.begin() + static_cast<std::ptrdiff_t>(q3), keep.end());
  for (auto* p : {&p0, &p1, &p2}) std::sort(p->begin(), p->end());
  Big5Split out;
  out.traits = kTraits;
  out.source = rows_of(traits, p0);
  out.reference = rows_of(traits, p1);
  out.test = rows_of(traits, p2);
  if (extra_m.size() > 0) {
    out.source_extra = rows_of(extra_m, p0);
    out.reference_extra = rows_of(extra_m, p1);
    out.test_extra = rows_of(extra_m, p2);
    out.extra_columns = extra_cols;
  }
  return out;
}

std::vector<Index> draw_biased_pool(const RowMatrix<double>& source,
                                    const RowMatrix<double>& standardise_by, BiasProfile profile,
                                    Index pool_size, std::uint64_t seed) {
  check_argument(pool_size > 0 && pool_size <= source.rows(), "pool_size",
                 fmt::format("must be in [1, {}] (source rows)", source.rows()));
  const Eigen::RowVectorXd mu = standardise_by.colwise().mean();
  const Eigen::RowVectorXd sd = ((standardise_by.rowwise() - mu).array().square().colwise().sum() /
                                 static_cast<double>(standardise_by.rows()))
                                    .sqrt();
  const RowMatrix<double> z = ((source.rowwise() - mu).array().rowwise() / sd.array()).matrix();
  const Vector<double> lw = bias_log_weights(z, bias_spec(profile));
  const Vector<double> w = (lw.array() - lw.maxCoeff()).exp().matrix();
  Rng rng(seed);
  Rng rb = rng.split(hash_string("popalign.demo.pool"));
  std::vector<Index> rows = sampling::sample_without_replacement<double>(w, pool_size, rb);
  std::sort(rows.begin(), rows.end());
  return rows;
}

void DemoOptions::validate() const {
  check_argument(pool_size > 0, "pool_size", "must be > 0");
  check_argument(n > 0 && n <= pool_size, "n", "must be in [1, pool_size]");
  check_argument(max_part_size >= 0, "max_part_size", "must be >= 0 (0 = all)");
  check_argument(!methods.empty(), "methods", "is empty");
}

const DemoMethodResult* DemoResult::find(Method m) const {
  for (const auto& r : methods)
    if (r.method == m) return &r;
  return nullptr;
}

double DemoResult::reduction(Method m) const {
  const DemoMethodResult* r = find(m);
  if (r == nullptr) return std::numeric_limits<double>::quiet_NaN();
  return 1.0 - r->vs_test.mean_w1 / pool_vs_test.mean_w1;
}

std::string DemoResult::table() const {
  std::string s = fmt::format(
      "bias profile '{}', seed {}: pool {} people, reference {}, held-out "
      "test {}\n",
      to_string(profile), seed, pool.rows(), reference.rows(), test.rows());
  s += "Per-trait W1 to the held-out test part (lower is better); mean gap = mean(set) - "
       "mean(test)\n";
  s += fmt::format("{:<10}", "set");
  for (const auto& t : traits) s += fmt::format(" {:>7}", "W1 " + t);
  s += fmt::format(" {:>8} {:>9}", "mean W1", "reduction");
  for (const auto& t : traits) s += fmt::format(" {:>7}", "gap " + t);
  s += "\n";
  auto row = [&](std::string_view name, const Comparison& c, double red) {
    std::string r = fmt::format("{:<10}", name);
    for (Index k = 0; k < c.w1.size(); ++k) r += fmt::format(" {:>7.4f}", c.w1[k]);
    r += fmt::format(" {:>8.4f} {:>9}", c.mean_w1,
                     std::isnan(red) ? std::string("-") : fmt::format("{:.1f}%", 100 * red));
    for (Index k = 0; k < c.mean_gap.size(); ++k) r += fmt::format(" {:>+7.3f}", c.mean_gap[k]);
    return r + "\n";
  };
  s += row("pool", pool_vs_test, std::numeric_limits<double>::quiet_NaN());
  for (const auto& m : methods) s += row(to_string(m.method), m.vs_test, reduction(m.method));
  // The five population metrics (metrics/population.hpp), on traits standardised by the test
  // part's mean and sd.
  s += "Population metrics to the held-out test part (traits standardised by its mean and sd; "
       "lower is better)\n";
  s += fmt::format("{:<10} {:>8} {:>8} {:>9} {:>10} {:>8}\n", "set", "mean W1", "Frechet",
                   "sliced W2", "MMD^2", "corr MAE");
  auto population_row = [](std::string_view name, const Comparison& c) {
    const metrics::PopulationMetrics& p = c.population;
    return fmt::format("{:<10} {:>8.4f} {:>8.4f} {:>9.4f} {:>10.6f} {:>8.4f}\n", name, p.mean_w1,
                       p.frechet, p.sliced_wasserstein, p.mmd2, p.correlation_mae);
  };
  s += population_row("pool", pool_vs_test);
  for (const auto& m : methods) s += population_row(to_string(m.method), m.vs_test);
  return s;
}

DemoResult run_demo(const DemoOptions& options) {
  options.validate();
  Big5Split split = load_big5_split(options.data_dir, options.seed);
  if (options.max_part_size > 0) {
    Rng r(options.seed);
    Rng rq = r.split(hash_string("popalign.demo.quick"));
    for (auto* part : {&split.source, &split.reference, &split.test}) {
      const std::vector<Index> rows =
          align::detail::subsample_rows(part->rows(), options.max_part_size, rq);
      *part = rows_of(*part, rows);
    }
  }
  check_argument(options.pool_size <= split.source.rows(), "pool_size",
                 fmt::format("is larger than the source part ({} people)", split.source.rows()));
  DemoResult out;
  out.traits = split.traits;
  out.profile = options.profile;
  out.seed = options.seed;
  const std::vector<Index> prow = draw_biased_pool(split.source, split.reference, options.profile,
                                                   options.pool_size, options.seed);
  out.pool = rows_of(split.source, prow);
  out.reference = std::move(split.reference);
  out.test = std::move(split.test);
  out.pool_vs_test = compare_to(out.pool, Vector<double>(), out.test, options.align);
  for (Method m : options.methods) {
    AlignOptions ao = options.align;
    ao.n = options.n;
    ao.method = m;
    ao.seed = options.seed;
    DemoMethodResult r;
    r.method = m;
    r.result = align::align<double>(out.pool, out.reference, ao);
    const RowMatrix<double> sel = rows_of(out.pool, r.result.indices);
    Vector<double> w(static_cast<Index>(r.result.indices.size()));
    for (std::size_t i = 0; i < r.result.indices.size(); ++i)
      w[static_cast<Index>(i)] = r.result.weights[r.result.indices[i]];
    r.vs_test = compare_to(sel, w, out.test, options.align);
    out.methods.push_back(std::move(r));
  }
  return out;
}

}  // namespace popalign::demo
