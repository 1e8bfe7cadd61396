// Retrieval without shared words (docs/groups.md, docs/retrieval.md): group descriptions that
// name a hobby, a calling or a line of work in other words ("a person with a green thumb")
// against the Synthetic-Persona-Chat personas, one profile per persona (173 distinct personas;
// no training is involved, so the whole data set can be the pool without leakage).
//
// Sets: data/embedding/paraphrase_groups_dev.jsonl (8 descriptions, for choosing) and
// data/embedding/paraphrase_groups_test.jsonl (16, held out; measured once per choice). Each
// line: {"name", "description", "keywords"}; relevant = a fact contains a keyword (tokenize()
// rules). The keyword families were written before any retrieval result was seen; the program
// checks that no description shares a token with its keywords.
//
// Modes: every ProfileScoring (fused with and without feedback), the shipped head with max-fact
// and fused, and neighbour query expansion (query_expansion.hpp) on top of fused + feedback.
//
//   popalign_paraphrase_retrieval [--set dev|test] [--neighbours M] [--min-cosine C]
//                                 [--min-weight W] [--sweep] [--data-dir D]
#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <popalign/embedding/evaluation.hpp>
#include <popalign/embedding/projection_head.hpp>
#include <popalign/embedding/query_expansion.hpp>
#include <popalign/embedding/retrieval.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/persona_record.hpp>

using namespace popalign;
using namespace popalign::embedding;

namespace {

struct Mode {
  std::string name;
  std::shared_ptr<const Embedder> embedder;
  RetrieverOptions options;
  bool expand = false;
  NeighbourExpansionOptions expansion{};
};

// Mean P@10 (and per group) of a mode.
std::vector<double> precision(const Mode& m, const std::vector<io::PersonaRecord>& pool,
                              const std::vector<GroupSpec>& groups, const SifEmbedder& sif,
                              const std::vector<std::string>& pool_texts) {
  std::vector<GroupSpec> g = groups;
  if (m.expand)
    for (auto& x : g)
      x.description = expanded_query(
          x.description, neighbour_expansion(sif, x.description, pool_texts, m.expansion));
  const PersonaRetriever r(m.embedder, pool, m.options);
  std::vector<double> out;
  for (const auto& gm : evaluate_groups(r, g)) out.push_back(gm.precision_at_10);
  return out;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::string set = "dev", data_dir = POPALIGN_DATA_DIR;
  NeighbourExpansionOptions ex;
  bool sweep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--set")
      set = next();
    else if (a == "--neighbours")
      ex.neighbours = std::stol(next());
    else if (a == "--min-cosine")
      ex.min_cosine = std::stod(next());
    else if (a == "--min-weight")
      ex.min_query_weight = std::stod(next());
    else if (a == "--sweep")
      sweep = true;
    else if (a == "--data-dir")
      data_dir = next();
    else {
      fmt::print(stderr, "unknown argument {}\n", a);
      return 2;
    }
  }
  if (set != "dev" && set != "test") {
    fmt::print(stderr, "--set must be dev or test\n");
    return 2;
  }
  if (sweep && set != "dev") {
    fmt::print(stderr, "--sweep chooses among configurations: dev set only\n");
    return 2;
  }
  const auto groups = read_groups(data_dir + "/embedding/paraphrase_groups_" + set + ".jsonl");
  for (const auto& g : groups) {
    const auto q = tokenize(g.description);
    const std::set<std::string> qs(q.begin(), q.end());
    for (const auto& k : g.keywords)
      for (const auto& t : tokenize(k))
        if (qs.count(t) != 0) {
          fmt::print(stderr, "group {}: the description shares the word '{}' with its keywords\n",
                     g.name, t);
          return 2;
        }
  }
  const auto profiles =
      io::read_personas(data_dir + "/personas/synthetic_persona_chat_valid_test.jsonl").personas;
  const auto pool = one_profile_per_persona(profiles);
  std::vector<std::string> facts;
  for (const auto& p : pool) facts.insert(facts.end(), p.facts.begin(), p.facts.end());
  auto wv = std::make_shared<const WordVectors>(
      load_word_vectors(data_dir + "/models/glove6b_100d_top40k.w2v.bin"));
  auto sif = std::make_shared<SifEmbedder>(wv);
  sif->fit_common_components(facts);
  std::shared_ptr<const Embedder> headed = std::make_shared<ProjectedEmbedder>(
      sif, ProjectionHead::load(data_dir + "/embedding/glove_sif_head.bin"));
  auto opt = [](ProfileScoring s, Index fb = 3) {
    RetrieverOptions o;
    o.scoring = s;
    o.feedback_personas = fb;
    return o;
  };
  std::vector<Mode> modes = {
      {"max-fact", sif, opt(ProfileScoring::max_fact)},
      {"whole", sif, opt(ProfileScoring::whole)},
      {"max-sim", sif, opt(ProfileScoring::max_sim)},
      {"max-sim-profile", sif, opt(ProfileScoring::max_sim_profile)},
      {"fused, no feedback", sif, opt(ProfileScoring::fused, 0)},
      {"fused + feedback (retrieve default)", sif, opt(ProfileScoring::fused)},
      {"head, max-fact", headed, opt(ProfileScoring::max_fact)},
      {"head, fused", headed, opt(ProfileScoring::fused)},
      {"fused + feedback + neighbour expansion", sif, opt(ProfileScoring::fused), true, ex},
      {"fused, no feedback + neighbour expansion", sif, opt(ProfileScoring::fused, 0), true, ex},
      {"max-sim-profile + neighbour expansion", sif, opt(ProfileScoring::max_sim_profile), true,
       ex},
  };
  if (sweep) {
    fmt::print("dev sweep of neighbour expansion on fused + feedback (mean P@10):\n");
    for (Index m : {3, 5, 10, 20})
      for (double c : {0.4, 0.5, 0.6})
        for (double w : {0.3, 0.5, 0.7}) {
          Mode md{
              "", sif, opt(ProfileScoring::fused), true,
              NeighbourExpansionOptions{.neighbours = m, .min_cosine = c, .min_query_weight = w}};
          Mode mn = md;
          mn.options = opt(ProfileScoring::fused, 0);
          fmt::print(
              "  neighbours {:>2}, min cosine {:.1f}, min weight {:.1f}: {:.3f} (no feedback "
              "{:.3f})\n",
              m, c, w, mean(precision(md, pool, groups, *sif, facts)),
              mean(precision(mn, pool, groups, *sif, facts)));
        }
    return 0;
  }
  fmt::print(
      "set {} ({} descriptions), pool {} personas (one profile per persona); expansion: "
      "{} neighbours, min cosine {}, min query weight {}\n\n",
      set, groups.size(), pool.size(), ex.neighbours, ex.min_cosine, ex.min_query_weight);
  std::vector<std::vector<double>> per_mode;
  for (const auto& m : modes) per_mode.push_back(precision(m, pool, groups, *sif, facts));
  fmt::print("| group | relevant | description | expansion words |");
  for (const auto& m : modes) fmt::print(" {} |", m.name);
  fmt::print("\n|---|---|---|---|");
  for (std::size_t k = 0; k < modes.size(); ++k) fmt::print("---|");
  fmt::print("\n");
  for (std::size_t g = 0; g < groups.size(); ++g) {
    Index relevant = 0;
    for (const auto& p : pool) relevant += profile_matches(p, groups[g]) ? 1 : 0;
    std::string words;
    for (const auto& w : neighbour_expansion(*sif, groups[g].description, facts, ex))
      words += (words.empty() ? "" : " ") + w;
    fmt::print("| {} | {} | {} | {} |", groups[g].name, relevant, groups[g].description, words);
    for (const auto& v : per_mode) fmt::print(" {:.1f} |", v[g]);
    fmt::print("\n");
  }
  fmt::print("| **mean P@10** | | | |");
  for (const auto& v : per_mode) fmt::print(" **{:.3f}** |", mean(v));
  fmt::print("\n");
  Index zero = 0;
  for (double x : per_mode[5]) zero += x == 0 ? 1 : 0;
  fmt::print("\ndescriptions with nothing relevant in the top 10 under the retrieve default: {}\n",
             zero);
  return 0;
}
