#pragma once
// Out-of-domain validity on real people (docs/validity.md, "Out of domain"): datasets where the
// same people answered the TIPI Big Five (10 items, 1-7) and another scale, laid out as the
// Open-Source Psychometrics Project's raw files (one folder per dataset with data.csv, comma or
// tab separated; see the ospp_ood README, which is research-only data kept outside data/).
//
// Loader: the TIPI answers TIPI1..TIPI10 and the other scale's answers, the columns Q<k>A when
// present (FTI, PWE, NR6: A = answer, I = position, E = time) else Q<k> (RWA, GCBS; their E<k>
// columns are response times). A row is kept when every one of these answers is a positive
// number (0 = missed in OSPP files). TIPI scoring (Gosling et al. 2003): each trait is the mean
// of one item and one reversed item (8 - x): E = 1, 6R; A = 2R, 7; C = 3, 8R; N = 4, 9R (the
// TIPI's "emotional stability" reversed, so high = neurotic, as the IPIP-50's N); O = 5, 10R.
//
// Experiment (run_ood), per dataset, bias profile and seed: a seeded permutation splits the
// people in reference (1/4), pool source (1/2) and held-out (1/4); the pool (size = source / 2)
// is drawn from the source with demo::draw_biased_pool on the five TIPI traits; the methods
// align the pool to the reference on the five TIPI traits only, N = pool / 6. Measured against
// the held-out people on the other scale:
//   item W1   mean over its items of the 1-D W1 (in answer units)
//   score W1  W1 of the scale score, the projection on the reference's first principal
//             component of the reference-standardised items (no scoring key needed; sign chosen
//             so the score correlates positively with the item mean)
// next to the pool, a random N of the pool, and the noise floor: a random N of held-out-like
// fresh people (a random N of the reference part) against
// the held-out people (the people of the source outside the pool are not used: they are biased
// the opposite way). The reduction is 1 - error / pool error.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <regex>
#include <string>
#include <vector>

#include <Eigen/Eigenvalues>

#include <popalign/align/align.hpp>
#include <popalign/core/error.hpp>
#include <popalign/core/random.hpp>
#include <popalign/demo/demo.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/metrics/univariate.hpp>

namespace popalign::validity {

/// One OSPP dataset: TIPI answers and traits, and the other scale's answers (same rows).
struct OodData {
  std::string name;                        ///< folder name
  RowMatrix<double> tipi;                  ///< TIPI1..TIPI10 answers (1-7)
  RowMatrix<double> traits;                ///< E, N, A, C, O from the TIPI (1-7)
  RowMatrix<double> other;                 ///< the other scale's answers
  std::vector<std::string> other_columns;  ///< their column names
  Index dropped = 0;                       ///< rows dropped (missing / non-numeric answer)
};

/// TIPI traits in the order E, N, A, C, O from the 10 answers (columns TIPI1..TIPI10).
inline RowMatrix<double> tipi_traits(const RowMatrix<double>& t) {
  check_argument(t.cols() == 10, "tipi", "needs 10 columns (TIPI1..TIPI10)");
  RowMatrix<double> out(t.rows(), 5);
  const Eigen::ArrayXd r = Eigen::ArrayXd::Constant(t.rows(), 8.0);
  out.col(0) = 0.5 * (t.col(0).array() + (r - t.col(5).array()));  // E = 1, 6R
  out.col(1) = 0.5 * (t.col(3).array() + (r - t.col(8).array()));  // N = 4, 9R
  out.col(2) = 0.5 * ((r - t.col(1).array()) + t.col(6).array());  // A = 2R, 7
  out.col(3) = 0.5 * (t.col(2).array() + (r - t.col(7).array()));  // C = 3, 8R
  out.col(4) = 0.5 * (t.col(4).array() + (r - t.col(9).array()));  // O = 5, 10R
  return out;
}

/// Reads `folder`/data.csv (see the file comment). Throws IoError / CsvError naming the file,
/// IoError naming the file also when the TIPI or the other scale's columns are missing.
inline OodData load_ood_dataset(const std::filesystem::path& folder) {
  const std::filesystem::path file = folder / "data.csv";
  const io::Table t = io::read_table(file);
  OodData d;
  d.name = folder.filename().string();
  std::vector<std::size_t> tipi_cols, other_cols;
  for (int k = 1; k <= 10; ++k) tipi_cols.push_back(t.require_column("TIPI" + std::to_string(k)));
  const std::regex qa("Q([0-9]+)A"), q("Q([0-9]+)");
  for (const std::regex* re : {&qa, &q}) {
    std::vector<std::pair<int, std::size_t>> found;
    for (std::size_t c = 0; c < t.num_columns(); ++c) {
      std::smatch m;
      if (std::regex_match(t.columns[c], m, *re)) found.push_back({std::stoi(m[1]), c});
    }
    if (!found.empty()) {
      std::sort(found.begin(), found.end());
      for (const auto& [k, c] : found) {
        other_cols.push_back(c);
        d.other_columns.push_back(t.columns[c]);
      }
      break;
    }
  }
  if (other_cols.empty())
    throw IoError(file.string(),
                  "has no other-scale columns (Q<k>A or Q<k>) next to TIPI1..TIPI10");
  std::vector<std::vector<double>> keep;
  const std::size_t w = tipi_cols.size() + other_cols.size();
  for (const auto& row : t.rows) {
    std::vector<double> v;
    v.reserve(w);
    bool ok = true;
    for (const std::vector<std::size_t>* cols : {&tipi_cols, &other_cols})
      for (std::size_t c : *cols) {
        const auto x = c < row.size() ? io::parse_number(row[c]) : std::nullopt;
        if (!x || !(*x > 0) || !std::isfinite(*x)) {
          ok = false;
          break;
        }
        v.push_back(*x);
      }
    if (ok && v.size() == w)
      keep.push_back(std::move(v));
    else
      ++d.dropped;
  }
  if (keep.size() < 8)
    throw IoError(file.string(),
                  fmt::format("has only {} complete rows (TIPI and the other scale)", keep.size()));
  const Index n = static_cast<Index>(keep.size());
  d.tipi.resize(n, 10);
  d.other.resize(n, static_cast<Index>(other_cols.size()));
  for (Index i = 0; i < n; ++i) {
    const auto& v = keep[static_cast<std::size_t>(i)];
    for (Index k = 0; k < 10; ++k) d.tipi(i, k) = v[static_cast<std::size_t>(k)];
    for (Index k = 0; k < d.other.cols(); ++k) d.other(i, k) = v[static_cast<std::size_t>(10 + k)];
  }
  d.traits = tipi_traits(d.tipi);
  return d;
}

/// Sub-folders of `dir` holding a data.csv, sorted by name. Throws IoError naming `dir`.
inline std::vector<std::filesystem::path> ood_datasets(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir))
    throw IoError(dir.string(), "--ood-dir: not a directory");
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_directory() && std::filesystem::exists(e.path() / "data.csv")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  if (out.empty()) throw IoError(dir.string(), "--ood-dir: no sub-folder with a data.csv");
  return out;
}

/// Scale score: projection of the reference-standardised items on the reference's first
/// principal component, sign fixed so that it correlates positively with the item mean.
struct ScaleScore {
  Eigen::RowVectorXd mu, sd;
  Eigen::VectorXd dir;
  explicit ScaleScore(const RowMatrix<double>& ref) {
    mu = ref.colwise().mean();
    sd = ((ref.rowwise() - mu).array().square().colwise().sum() / static_cast<double>(ref.rows()))
             .sqrt()
             .max(1e-12);
    const RowMatrix<double> z = ((ref.rowwise() - mu).array().rowwise() / sd.array()).matrix();
    const Eigen::MatrixXd c = z.transpose() * z / static_cast<double>(z.rows());
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(c);
    dir = es.eigenvectors().col(c.cols() - 1);
    const Eigen::VectorXd s = z * dir;
    const Eigen::VectorXd mean_item = z.rowwise().mean();
    if ((s.array() * mean_item.array()).sum() < 0) dir = -dir;
  }
  RowMatrix<double> operator()(const RowMatrix<double>& x) const {
    const RowMatrix<double> z = ((x.rowwise() - mu).array().rowwise() / sd.array()).matrix();
    return RowMatrix<double>(z * dir);
  }
};

struct OodMethod {
  std::string label;
  align::Method method = align::Method::resample;
  bool calibrate = true;
  align::Calibration calibration = align::AlignOptions{}.calibration;  ///< the library's default
  align::Refinement refine = align::Refinement::swap;
};

struct OodOptions {
  std::vector<std::uint64_t> seeds{1, 2, 3, 4, 5};
  align::AlignOptions base{};
  std::vector<OodMethod> methods;
  bool quick = false;  ///< one dataset (the smallest folder name order's first), fewer people
};

namespace detail {
inline RowMatrix<double> rows_of(const RowMatrix<double>& m, const std::vector<Index>& rows) {
  RowMatrix<double> out(static_cast<Index>(rows.size()), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = m.row(rows[i]);
  return out;
}
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
}  // namespace detail

/// Per dataset x profile: medians over the seeds of the pool / random / noise / method errors.
struct OodCell {
  std::vector<double> pool, random, noise;
  std::map<std::string, std::vector<double>> method;
};

/// Runs the experiment of the file comment and prints two Markdown tables (item W1, score W1).
inline void run_ood(const std::filesystem::path& dir, const OodOptions& o) {
  using detail::median;
  using detail::rows_of;
  std::vector<std::filesystem::path> sets = ood_datasets(dir);
  if (o.quick) sets.resize(1);
  std::map<std::string, std::map<demo::BiasProfile, OodCell>> items, scores;
  std::vector<std::string> names;
  for (const auto& folder : sets) {
    const OodData d = load_ood_dataset(folder);
    names.push_back(d.name);
    const Index n_all = d.traits.rows();
    for (std::uint64_t seed : o.seeds) {
      Rng rng(seed);
      Rng rp = rng.split(hash_string("popalign.validity.ood.split"));
      std::vector<Index> perm(static_cast<std::size_t>(n_all));
      std::iota(perm.begin(), perm.end(), Index{0});
      rp.shuffle(perm);
      if (o.quick && perm.size() > 1200) perm.resize(1200);
      const std::size_t q = perm.size() / 4;
      std::vector<Index> ref(perm.begin(), perm.begin() + q);
      std::vector<Index> test(perm.begin() + q, perm.begin() + 2 * q);
      std::vector<Index> src(perm.begin() + 2 * q, perm.end());
      for (auto* v : {&ref, &test, &src}) std::sort(v->begin(), v->end());
      const RowMatrix<double> rtraits = rows_of(d.traits, ref);
      const RowMatrix<double> straits = rows_of(d.traits, src);
      const RowMatrix<double> test_items = rows_of(d.other, test);
      const ScaleScore score(rows_of(d.other, ref));
      const RowMatrix<double> test_score = score(test_items);
      const Index pool_size = static_cast<Index>(src.size()) / 2;
      const Index N = std::max<Index>(2, pool_size / 6);
      auto err = [&](const RowMatrix<double>& sel_items, const Vector<double>& w, double& item_w1,
                     double& score_w1) {
        item_w1 =
            metrics::column_wasserstein1<double>(sel_items, test_items, w, Vector<double>()).mean();
        score_w1 = metrics::column_wasserstein1<double>(score(sel_items), test_score, w,
                                                        Vector<double>())[0];
      };
      for (demo::BiasProfile p : demo::all_bias_profiles()) {
        const std::vector<Index> prow_local =
            demo::draw_biased_pool(straits, rtraits, p, pool_size, seed);
        std::vector<Index> prow;
        for (Index i : prow_local) prow.push_back(src[static_cast<std::size_t>(i)]);
        const RowMatrix<double> ptraits = rows_of(d.traits, prow);
        const RowMatrix<double> pitems = rows_of(d.other, prow);
        OodCell& ci = items[d.name][p];
        OodCell& cs = scores[d.name][p];
        double a = 0, b = 0;
        err(pitems, Vector<double>(), a, b);
        ci.pool.push_back(a);
        cs.pool.push_back(b);
        // Noise floor: N fresh people of the population (a random N of the reference part,
        // which is disjoint from the held-out people and unbiased).
        {
          const std::vector<Index>& fresh = ref;
          Rng rf = rng.split(hash_string("popalign.validity.ood.noise") + static_cast<int>(p));
          const auto pick = align::detail::subsample_rows(static_cast<Index>(fresh.size()), N, rf);
          std::vector<Index> rows;
          for (Index j : pick) rows.push_back(fresh[static_cast<std::size_t>(j)]);
          err(rows_of(d.other, rows), Vector<double>(), a, b);
          ci.noise.push_back(a);
          cs.noise.push_back(b);
        }
        for (const OodMethod& m : o.methods) {
          align::AlignOptions ao = o.base;
          ao.n = N;
          ao.method = m.method;
          ao.seed = seed;
          ao.calibrate = m.calibrate;
          ao.calibration = m.calibration;
          ao.refine = m.refine;
          ao.compute_metrics = false;
          const align::AlignResult r = align::align<double>(ptraits, rtraits, ao);
          Vector<double> w(static_cast<Index>(r.indices.size()));
          for (std::size_t i = 0; i < r.indices.size(); ++i)
            w[static_cast<Index>(i)] = r.weights[r.indices[i]];
          err(rows_of(pitems, r.indices), w, a, b);
          if (m.method == align::Method::random) {
            ci.random.push_back(a);
            cs.random.push_back(b);
          }
          ci.method[m.label].push_back(a);
          cs.method[m.label].push_back(b);
        }
      }
    }
  }
  // Tables.
  for (int which = 0; which < 2; ++which) {
    auto& cells = which == 0 ? items : scores;
    fmt::print(
        "## Out-of-domain ({}): align on the TIPI Big Five, {} of the other scale to the "
        "held-out people (median over seeds {}..{}; in parentheses the reduction vs the pool)\n\n",
        which == 0 ? "items" : "score", which == 0 ? "mean per-item W1" : "score W1",
        o.seeds.front(), o.seeds.back());
    fmt::print("| dataset | profile | pool | noise floor [min, max] |");
    for (const auto& m : o.methods) fmt::print(" {} |", m.label);
    fmt::print(" eligible |\n|---|---|---|---|");
    for (std::size_t k = 0; k < o.methods.size(); ++k) fmt::print("---|");
    fmt::print("---|\n");
    std::map<std::string, double> red_all, red_elig;
    std::map<std::string, int> worse;
    int n_all = 0, n_elig = 0;
    for (const auto& name : names)
      for (demo::BiasProfile p : demo::all_bias_profiles()) {
        const OodCell& c = cells[name][p];
        const double pool = median(c.pool), noise = median(c.noise);
        const auto [lo, hi] = std::minmax_element(c.noise.begin(), c.noise.end());
        const double spread = *hi - *lo;
        const bool elig = pool > 1.2 * noise;
        ++n_all;
        n_elig += elig;
        fmt::print("| {} | {} | {:.4f} | {:.4f} [{:.4f}, {:.4f}] |", name, demo::to_string(p), pool,
                   noise, *lo, *hi);
        const double rnd = c.random.empty() ? std::nan("") : median(c.random);
        for (const auto& m : o.methods) {
          const double e = median(c.method.at(m.label));
          const double r = 1.0 - e / pool;
          red_all[m.label] += r;
          if (elig) red_elig[m.label] += r;
          if (!std::isnan(rnd) && e > rnd + spread) ++worse[m.label];
          fmt::print(" {:.4f} ({:+.0f}%) |", e, 100 * r);
        }
        fmt::print(" {} |\n", elig ? "yes" : "no");
      }
    fmt::print("| **mean reduction, all {} pairs** | | | |", n_all);
    for (const auto& m : o.methods) fmt::print(" **{:+.1f}%** |", 100 * red_all[m.label] / n_all);
    fmt::print(" |\n| **mean reduction, {} eligible pairs** | | | |", n_elig);
    for (const auto& m : o.methods)
      fmt::print(" **{:+.1f}%** |", n_elig ? 100 * red_elig[m.label] / n_elig : 0.0);
    fmt::print(" |\n| **pairs worse than random by more than the noise spread** | | | |");
    for (const auto& m : o.methods) fmt::print(" {} |", worse[m.label]);
    fmt::print(" |\n\n");
  }
}

}  // namespace popalign::validity
