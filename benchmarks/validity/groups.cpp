// Group validity on human data (docs/groups.md): does aligning a pool to a group's reference
// give a set that matches the group's held-out people, when the pool holds mostly people of
// other groups?
//
// For each region R of data/regions (North America, Europe, East Asia by default) and seed s:
//   1. the BIG5 people (cleaned, IPIP-50 domain scores on 1..5) of R, shuffled with Rng(s), are
//      split: `own` people go into the pool (a few of R's own, as a group query would retrieve
//      a few real members), the rest is halved into R's reference part and R's held-out test
//      part (persona::group_reference_rows selects R's rows);
//   2. the pool: `pool - own` people drawn at random from the other regions (Unknown included),
//      plus the own people; optionally biased (--bias llm: the demo's LLM-like bias profile,
//      drawn from the others);
//   3. selections of N personas from the pool, each measured against R's test part with
//      metrics::compare:
//        group    align::align(pool, R's reference part)  — the method's group stage
//        global   align::align(pool, a global reference)  — the global-only selection a user
//                 gets without group construction (reference: a random half of all people
//                 outside R's test part, the same size cap)
//        random   N pool members uniformly
//        own      the own people alone (what retrieval of true members only would give; few)
//        floor    R's reference part itself vs R's test part (human sampling noise)
//   Medians over the seeds of: mean W1 (1..5 scale), max KS, mean |mean gap|, and the five
//   population metrics of metrics::compare (standardised by the test part's mean and sd): mean
//   W1, Fréchet, sliced W2, unbiased MMD^2, correlation MAE.
//
//   popalign_validity_groups [--seeds S] [--pool P] [--n N] [--own-fraction F] [--own-max K]
//                            [--bias none|llm|squeezed|shifted|mixed] [--regions "A;B"]
//                            [--data-dir D] [--quick]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <popalign/align/align.hpp>
#include <popalign/core/random.hpp>
#include <popalign/demo/demo.hpp>
#include <popalign/metrics/compare.hpp>
#include <popalign/persona/groups.hpp>
#include <popalign/psychometrics/instrument.hpp>
#include <popalign/psychometrics/reference.hpp>
#include <popalign/psychometrics/regions.hpp>
#include <popalign/psychometrics/scoring.hpp>

using namespace popalign;

namespace {

RowMatrix<double> rows_of(const RowMatrix<double>& m, const std::vector<Index>& rows) {
  RowMatrix<double> out(static_cast<Index>(rows.size()), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = m.row(rows[i]);
  return out;
}

std::vector<Index> shuffled(std::vector<Index> v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.uniform_int(static_cast<std::uint64_t>(i)));
    std::swap(v[i - 1], v[j]);
  }
  return v;
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// The metrics printed, by name, read from a Comparison.
struct Metric {
  const char* name;
  double (*get)(const metrics::Comparison&);
};
const std::vector<Metric>& metric_list() {
  static const std::vector<Metric> m = {
      {"mean W1 (1..5 scale)", [](const metrics::Comparison& c) { return c.mean_w1; }},
      {"max KS", [](const metrics::Comparison& c) { return c.max_ks(); }},
      {"mean abs. mean gap", [](const metrics::Comparison& c) { return c.mean_abs_mean_gap(); }},
      {"pop. mean W1 (sd units)",
       [](const metrics::Comparison& c) { return c.population.mean_w1; }},
      {"pop. Fréchet", [](const metrics::Comparison& c) { return c.population.frechet; }},
      {"pop. sliced W2",
       [](const metrics::Comparison& c) { return c.population.sliced_wasserstein; }},
      {"pop. MMD² (unbiased)", [](const metrics::Comparison& c) { return c.population.mmd2; }},
      {"pop. correlation MAE",
       [](const metrics::Comparison& c) { return c.population.correlation_mae; }},
  };
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 5;
  Index pool_size = 4000, n = 400, own_max = 40;
  double own_fraction = 0.1;
  std::string bias = "none", data_dir = POPALIGN_DATA_DIR;
  std::vector<std::string> regions{"North America", "Europe", "East Asia"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seeds") {
      seeds = std::stoi(next());
    } else if (a == "--pool") {
      pool_size = std::stol(next());
    } else if (a == "--n") {
      n = std::stol(next());
    } else if (a == "--own-fraction") {
      own_fraction = std::stod(next());
    } else if (a == "--own-max") {
      own_max = std::stol(next());
    } else if (a == "--bias") {
      bias = next();
    } else if (a == "--regions") {
      regions.clear();
      std::string cur;
      for (char c : next() + ";") {
        if (c == ';') {
          if (!cur.empty()) regions.push_back(cur);
          cur.clear();
        } else {
          cur += c;
        }
      }
    } else if (a == "--data-dir") {
      data_dir = next();
    } else if (a == "--quick") {
      seeds = 1;
      pool_size = 1000;
      n = 100;
    } else if (a == "--help" || a == "-h") {
      fmt::print(
          "usage: popalign_validity_groups [--seeds S] [--pool P] [--n N] [--own-fraction F] "
          "[--own-max K] [--bias none|llm|squeezed|shifted|mixed] [--regions \"A;B\"] "
          "[--data-dir D] [--quick]\n");
      return 0;
    } else {
      fmt::print(stderr, "unknown argument {}\n", a);
      return 2;
    }
  }
  std::optional<demo::BiasProfile> profile;
  if (bias != "none") {
    profile = demo::parse_bias_profile(bias);
    if (!profile) {
      fmt::print(stderr, "unknown --bias {}\n", bias);
      return 2;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  namespace ps = popalign::psychometrics;
  ps::ReferenceData data = ps::load_big5(std::filesystem::path(data_dir) / "big5" / "data.csv");
  const ps::Instrument ipip = ps::instrument_by_name("ipip50", data_dir);
  const ps::CleaningReport cleaning = ps::clean_reference(data, ipip);
  const ps::ScoreResult scored = ps::score(ipip, data.responses);
  const RowMatrix<double>& x = scored.scores.values;
  const std::vector<std::string>& traits = scored.scores.traits;
  const ps::RegionMap map =
      ps::RegionMap::load(std::filesystem::path(data_dir) / "regions" / "iso2_regions.csv");
  fmt::print(
      "## Group validity on human data: BIG5 ({} people after cleaning), IPIP-50 domains; pool "
      "{} (others{} + own), N {}, own = min({}, {:.0f}% of the region), {} seed(s); medians\n\n",
      cleaning.rows_out, pool_size, profile ? ", bias " + bias : std::string(), n, own_max,
      100 * own_fraction, seeds);
  const std::vector<std::string> selections{"group", "global", "random", "own", "floor"};
  bool ok = true;
  for (const std::string& region : regions) {
    const auto filter = persona::ReferenceFilter::parse("region:" + region);
    const std::vector<Index> members = persona::group_reference_rows(data, filter, map);
    std::vector<char> in_region(static_cast<std::size_t>(x.rows()), 0);
    for (Index r : members) in_region[static_cast<std::size_t>(r)] = 1;
    std::vector<Index> others;
    for (Index r = 0; r < x.rows(); ++r)
      if (!in_region[static_cast<std::size_t>(r)]) others.push_back(r);
    // metric -> selection -> values over seeds
    std::map<std::string, std::map<std::string, std::vector<double>>> values;
    Index own_n = 0, ref_n = 0, test_n = 0;
    for (int s = 0; s < seeds; ++s) {
      const auto seed = static_cast<std::uint64_t>(s + 1);
      Rng rng(seed * 1000 + 17);
      const std::vector<Index> m = shuffled(members, rng);
      own_n = std::min<Index>(own_max,
                              static_cast<Index>(own_fraction * static_cast<double>(m.size())));
      const Index rest = static_cast<Index>(m.size()) - own_n;
      ref_n = rest / 2;
      test_n = rest - ref_n;
      const std::vector<Index> own(m.begin(), m.begin() + own_n);
      const std::vector<Index> ref_rows(m.begin() + own_n, m.begin() + own_n + ref_n);
      const std::vector<Index> test_rows(m.begin() + own_n + ref_n, m.end());
      // Pool: others (random or biased draw) + own.
      std::vector<Index> pool_rows;
      const Index from_others =
          std::min<Index>(pool_size - own_n, static_cast<Index>(others.size()));
      if (profile) {
        const RowMatrix<double> ox = rows_of(x, others);
        for (Index k : demo::draw_biased_pool(ox, ox, *profile, from_others, seed))
          pool_rows.push_back(others[static_cast<std::size_t>(k)]);
      } else {
        const std::vector<Index> o = shuffled(others, rng);
        pool_rows.assign(o.begin(), o.begin() + from_others);
      }
      pool_rows.insert(pool_rows.end(), own.begin(), own.end());
      // Global reference: a random half of everyone outside R's test part.
      std::vector<char> in_test(static_cast<std::size_t>(x.rows()), 0);
      for (Index r : test_rows) in_test[static_cast<std::size_t>(r)] = 1;
      std::vector<Index> everyone;
      for (Index r = 0; r < x.rows(); ++r)
        if (!in_test[static_cast<std::size_t>(r)]) everyone.push_back(r);
      everyone = shuffled(everyone, rng);
      everyone.resize(everyone.size() / 2);
      const RowMatrix<double> pool = rows_of(x, pool_rows);
      const RowMatrix<double> ref = rows_of(x, ref_rows);
      const RowMatrix<double> test = rows_of(x, test_rows);
      const RowMatrix<double> global_ref = rows_of(x, everyone);
      align::AlignOptions ao;
      ao.n = std::min<Index>(n, pool.rows());
      ao.seed = seed;
      ao.compute_metrics = false;
      metrics::CompareOptions co;
      co.trait_names = traits;
      co.sliced.seed = seed;
      auto measure = [&](const std::string& name, const RowMatrix<double>& sel) {
        const metrics::Comparison c =
            metrics::compare<double>(sel, test, Vector<double>(), Vector<double>(), co);
        for (const Metric& mt : metric_list()) values[mt.name][name].push_back(mt.get(c));
      };
      const align::AlignResult g = align::align<double>(pool, ref, ao);
      measure("group", rows_of(pool, g.indices));
      const align::AlignResult gl = align::align<double>(pool, global_ref, ao);
      measure("global", rows_of(pool, gl.indices));
      align::AlignOptions ro = ao;
      ro.method = align::Method::random;
      measure("random", rows_of(pool, align::align<double>(pool, ref, ro).indices));
      if (own_n >= 2) measure("own", rows_of(x, own));
      measure("floor", ref);
    }
    fmt::print("### {} ({} people: {} own in the pool, reference part {}, test part {}){}\n\n",
               region, members.size(), own_n, ref_n, test_n,
               static_cast<Index>(members.size()) < 500
                   ? " — small group: distances to its test part are noisy"
                   : "");
    fmt::print("| metric (vs the region's test part) |");
    for (const auto& s : selections) fmt::print(" {} |", s);
    fmt::print("\n|---|");
    for (std::size_t k = 0; k < selections.size(); ++k) fmt::print("---|");
    fmt::print("\n");
    for (const Metric& mt : metric_list()) {
      fmt::print("| {} |", mt.name);
      for (const auto& s : selections) {
        const auto& v = values[mt.name][s];
        if (v.empty())
          fmt::print(" — |");
        else
          fmt::print(" {:.4f} |", median(v));
      }
      fmt::print("\n");
    }
    fmt::print("\n");
    // The check (exit code) covers the groups whose reference defines them (>= 500 people, the
    // size below which build_group warns); a smaller group's test part is too noisy to judge.
    if (static_cast<Index>(members.size()) >= 500)
      ok = ok && median(values[metric_list()[0].name]["group"]) <=
                     median(values[metric_list()[0].name]["random"]);
  }
  fmt::print("total {:.1f} s\n",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return ok ? 0 : 1;
}
