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
// --approaches: the score-level approaches tried for descriptions without shared words, each at
// its dev-chosen setting (--sweep-approaches: the dev grid): concept expansion (pool words
// closest to the description's sentence vector), a hybrid with a BM25 channel over the
// expansion words, and Rocchio feedback on whole-profile vectors, alone and combined.
//
//   popalign_paraphrase_retrieval [--set dev|test] [--neighbours M] [--min-cosine C]
//                                 [--min-weight W] [--sweep] [--approaches]
//                                 [--sweep-approaches] [--data-dir D]
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
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

// ---- score-level approaches (docs/groups.md, "Retrieval without shared words") -------------

using Scores = Eigen::VectorXd;

Scores zscore(const Scores& s) {
  const double mu = s.mean();
  const double sd = std::sqrt((s.array() - mu).square().mean());
  return sd > 0 ? Scores((s.array() - mu) / sd) : Scores(Scores::Zero(s.size()));
}

/// The k best indices, ties by the lower index.
std::vector<Index> top_k(const Scores& s, Index k) {
  std::vector<Index> order(static_cast<std::size_t>(s.size()));
  for (Index i = 0; i < s.size(); ++i) order[static_cast<std::size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return s[a] > s[b]; });
  order.resize(static_cast<std::size_t>(std::min<Index>(k, s.size())));
  return order;
}

double p_at_10(const Scores& s, const std::vector<io::PersonaRecord>& pool, const GroupSpec& g) {
  Index hits = 0;
  for (Index i : top_k(s, 10))
    hits += profile_matches(pool[static_cast<std::size_t>(i)], g) ? 1 : 0;
  return static_cast<double>(hits) / 10.0;
}

/// Okapi BM25 (k1 1.2, b 0.75) of weighted query words over the profiles' tokenize() tokens.
class Bm25 {
 public:
  explicit Bm25(const std::vector<io::PersonaRecord>& pool) {
    double total = 0;
    for (const auto& p : pool) {
      std::map<std::string, int> tf;
      const auto toks = tokenize(p.facts_text());
      for (const auto& t : toks) ++tf[t];
      for (const auto& [t, c] : tf) ++df_[t];
      len_.push_back(static_cast<double>(toks.size()));
      total += static_cast<double>(toks.size());
      tf_.push_back(std::move(tf));
    }
    avg_ = total / static_cast<double>(std::max<std::size_t>(pool.size(), 1));
  }
  Scores score(const std::vector<std::pair<std::string, double>>& words) const {
    const double n = static_cast<double>(tf_.size());
    Scores s = Scores::Zero(static_cast<Index>(tf_.size()));
    for (const auto& [w, weight] : words) {
      auto d = df_.find(w);
      if (d == df_.end()) continue;
      const double idf = std::log((n - d->second + 0.5) / (d->second + 0.5) + 1.0);
      for (std::size_t i = 0; i < tf_.size(); ++i) {
        auto f = tf_[i].find(w);
        if (f == tf_[i].end()) continue;
        const double tf = f->second;
        s[static_cast<Index>(i)] +=
            weight * idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len_[i] / avg_));
      }
    }
    return s;
  }

 private:
  std::vector<std::map<std::string, int>> tf_;
  std::vector<double> len_;
  std::map<std::string, int> df_;
  double avg_ = 1;
};

/// Neighbour expansion words with their cosine to the query word that brought them (the best
/// one), for the lexical channel.
std::vector<std::pair<std::string, double>> weighted_neighbours(
    const SifEmbedder& sif, const std::string& query, const std::vector<std::string>& words) {
  const WordVectors& wv = sif.word_vectors();
  auto unit = [&](Index r) {
    Eigen::RowVectorXf x = wv.vectors().row(r);
    const float n = x.norm();
    return n > 0 ? Eigen::RowVectorXf(x / n) : x;
  };
  std::vector<std::pair<std::string, double>> out;
  for (const auto& w : words) {
    const Index r = wv.find(w);
    double best = 0;
    for (Index q : sif.token_rows(query))
      if (sif.weight(q) >= 0.7) best = std::max(best, static_cast<double>(unit(r).dot(unit(q))));
    out.emplace_back(w, best);
  }
  return out;
}

/// Concept expansion: the `k` content words of the pool vocabulary closest (cosine) to the
/// description's SIF sentence vector, i.e. to the description as a whole rather than word by
/// word; the description's own words excluded.
std::vector<std::string> concept_words(const SifEmbedder& sif, const std::string& query,
                                       const std::vector<std::string>& pool_texts, Index k) {
  const WordVectors& wv = sif.word_vectors();
  const RowMatrix<float> qv = sif.embed({query});
  if (qv.rows() == 0 || !(qv.row(0).norm() > 0)) return {};
  const Eigen::RowVectorXf q = qv.row(0) / qv.row(0).norm();
  std::set<Index> own;
  for (Index r : sif.token_rows(query)) own.insert(r);
  std::set<Index> vocab;
  for (const auto& t : pool_texts)
    for (Index r : sif.token_rows(t))
      if (own.count(r) == 0 && sif.weight(r) >= 0.7) vocab.insert(r);
  std::vector<std::pair<double, Index>> c;
  for (Index r : vocab) {
    Eigen::RowVectorXf x = wv.vectors().row(r);
    const float n = x.norm();
    if (n > 0) c.emplace_back(-static_cast<double>(x.dot(q) / n), r);
  }
  std::sort(c.begin(), c.end());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < c.size() && static_cast<Index>(i) < k; ++i)
    out.push_back(wv.words()[static_cast<std::size_t>(c[i].second)]);
  return out;
}

/// Score-level pseudo-relevance feedback (Rocchio on the profile side): each persona gains
/// beta times the standardised cosine between its whole-profile SIF vector and the centroid of
/// the first k personas' vectors.
Scores rocchio(const Scores& s, const RowMatrix<float>& profiles, Index k, double beta) {
  if (k == 0 || beta == 0) return s;
  Eigen::RowVectorXf c = Eigen::RowVectorXf::Zero(profiles.cols());
  for (Index i : top_k(s, k)) c += profiles.row(i);
  const float n = c.norm();
  if (!(n > 0)) return s;
  c /= n;
  const Eigen::VectorXf sim = profiles * c.transpose();
  return zscore(s) + beta * zscore(sim.cast<double>());
}

/// One score-level configuration.
struct Approach {
  std::string name;
  bool neighbours = true;  ///< neighbour expansion of the query text (dev-chosen settings)
  Index concepts = 0;      ///< concept-expansion words added to the query text
  double lexical = 0;      ///< weight of z(BM25 of the expansion words)
  Index rocchio_k = 0;     ///< Rocchio feedback personas
  double rocchio_beta = 0;
};

struct Context {
  const std::vector<io::PersonaRecord>* pool;
  const SifEmbedder* sif;
  const std::vector<std::string>* facts;
  const PersonaRetriever* retriever;  // fused + feedback
  const Bm25* bm25;
  RowMatrix<float> profiles;  // whole-profile SIF vectors, unit rows
  NeighbourExpansionOptions ex;
};

std::vector<double> evaluate(const Approach& a, const Context& c,
                             const std::vector<GroupSpec>& groups) {
  std::vector<double> out;
  for (const auto& g : groups) {
    std::vector<std::string> words;
    if (a.neighbours) words = neighbour_expansion(*c.sif, g.description, *c.facts, c.ex);
    if (a.concepts > 0)
      for (const auto& w : concept_words(*c.sif, g.description, *c.facts, a.concepts))
        if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
    const std::string q = expanded_query(g.description, words);
    const RowMatrix<float> dense = c.retriever->score_all({q});
    Scores s = dense.row(0).transpose().cast<double>();
    if (a.lexical > 0) {
      auto lw = weighted_neighbours(*c.sif, g.description, words);
      for (const auto& t : tokenize(g.description)) lw.emplace_back(t, 1.0);
      s = zscore(s) + a.lexical * zscore(c.bm25->score(lw));
    }
    s = rocchio(s, c.profiles, a.rocchio_k, a.rocchio_beta);
    out.push_back(p_at_10(s, *c.pool, g));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string set = "dev", data_dir = POPALIGN_DATA_DIR;
  NeighbourExpansionOptions ex;
  bool sweep = false, approaches = false, sweep_approaches = false;
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
    else if (a == "--approaches")
      approaches = true;
    else if (a == "--sweep-approaches")
      sweep_approaches = true;
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
  if ((sweep || sweep_approaches) && set != "dev") {
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
  if (approaches || sweep_approaches) {
    const PersonaRetriever retriever(sif, pool, opt(ProfileScoring::fused));
    const Bm25 bm25(pool);
    std::vector<std::string> whole;
    for (const auto& p : pool) whole.push_back(p.facts_text());
    Context c{&pool, sif.get(), &facts, &retriever, &bm25, sif->embed(whole), ex};
    if (sweep_approaches) {
      fmt::print("dev sweep of the score-level approaches (mean P@10; base: fused + feedback):\n");
      for (bool nb : {false, true})
        for (Index k : {0, 5, 10, 20})
          for (double lex : {0.0, 0.25, 0.5, 1.0, 2.0})
            for (auto [rk, rb] : {std::pair<Index, double>{0, 0.0},
                                  {3, 0.25},
                                  {3, 0.5},
                                  {5, 0.25},
                                  {5, 0.5},
                                  {5, 1.0},
                                  {10, 0.5},
                                  {10, 1.0}}) {
              const Approach a{"", nb, k, lex, rk, rb};
              fmt::print(
                  "  neighbours {:d}, concept {:>2}, lexical {:.2f}, rocchio {:>2} x {:.2f}: "
                  "{:.3f}\n",
                  nb, k, lex, rk, rb, mean(evaluate(a, c, groups)));
            }
      return 0;
    }
    // Each approach at its best setting of the dev sweep (--sweep-approaches; docs/groups.md).
    const std::vector<Approach> list = {
        {"fused + feedback (no expansion)", false, 0, 0, 0, 0},
        {"+ neighbour expansion (the dev best before)", true, 0, 0, 0, 0},
        {"+ concept expansion (5 words)", false, 5, 0, 0, 0},
        {"+ neighbour + concept expansion (10 words)", true, 10, 0, 0, 0},
        {"hybrid: neighbour expansion + BM25 (weight 0.25)", true, 0, 0.25, 0, 0},
        {"Rocchio on profiles (5 x 0.25)", false, 0, 0, 5, 0.25},
        {"neighbour expansion + Rocchio (5 x 0.25)", true, 0, 0, 5, 0.25},
        {"concept expansion (20) + Rocchio (3 x 0.5)", false, 20, 0, 3, 0.5},
    };
    fmt::print("set {} ({} descriptions): score-level approaches, mean P@10\n\n", set,
               groups.size());
    fmt::print("| approach | mean P@10 | per description |\n|---|---|---|\n");
    for (const auto& a : list) {
      const auto v = evaluate(a, c, groups);
      std::string per;
      for (double x : v) per += fmt::format("{}{:.1f}", per.empty() ? "" : " ", x);
      fmt::print("| {} | {:.3f} | {} |\n", a.name, mean(v), per);
    }
    return 0;
  }
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
