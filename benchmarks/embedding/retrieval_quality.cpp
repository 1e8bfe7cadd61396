// Retrieval quality on held-out Synthetic-Persona-Chat profiles (docs/retrieval.md).
//
//   popalign_embedding_quality [--epochs N] [--batch B] [--lr X] [--temperature T]
//       [--hard-negatives K] [--filter-threshold T] [--kind linear|mlp] [--seed S]
//       [--holdout F] [--split-seed S] [--write-head FILE] [--write-components FILE] [--dev]
//       [--weight-decay X] [--decay-to-identity] [--symmetric] [--base sif|avg] [--skip-nofilt]
//       [--query-experiments] [--no-token-experiment]
//       [--folds K]
//       [--descriptions N --llm-url URL --llm-model NAME [--llm-cache FILE]
//        [--llm-max-tokens N] [--llm-api-key-env VAR]]
//
// --base avg: the plain GloVe average (uniform word weights, no common component) instead of SIF,
// as the base of the heads (the untrained-scorings tables always use SIF). --skip-nofilt trains
// the filtered head only (the head-nofilt row then repeats it; for dev runs). --description-head
// adds the synthetic-description head experiment (describe_fact below; rejected on dev).
// --folds K: cross-validation over persona groups instead of one split. The groups are shuffled
// (Rng(split seed)) and dealt to K folds, each group to the fold with the fewest profiles so
// far; for every fold the base (SIF component) and the filtered head are fitted on the other
// folds, and inverse cloze is measured on the fold (untrained base, head, and the untrained
// fused scoring). Every persona is a query persona exactly once, so the pooled recall rests on
// all 3,773 profiles instead of one held-out side of ~35 personas. Prints one row per fold and
// the pooled row, then exits.
// --descriptions N with an LLM server: the paper's route measured. The LLM writes N group
// descriptions for one profile per persona of the TRAINING side (description_queries.hpp), a
// head is trained on (description, profile) pairs, and the strict group measure (max-fact, one
// profile per persona) is printed for both sides; the held-out side is the honest number. Use
// --llm-cache: a rerun is then free. (With the tiny test model the numbers mean nothing.)
//
// --dev: tuning mode. The held-out profiles are set aside untouched and the TRAINING profiles
// are split again (persona groups, 25%, seed split-seed + 2) into a dev-train and a dev-test
// side; every number printed is then on dev-test. Choices (temperature, epochs, scoring) are made
// with --dev only; the default run reports them on the held-out profiles.
//
// Split: whole persona groups (profiles sharing a fact, see persona_groups) are held out in
// seeded order (split seed 2026) until 20% of the profiles are; the SIF common component and the
// heads are fitted on the rest only. Rows reported:
//   untrained   GloVe SIF (no head)
//   head        GloVe SIF + head trained with InfoNCE, mined hard negatives, semantic filtering
//   head-nofilt the same head trained without the filter
//   max-sim     word-level late interaction (MaxSimScorer) over the untrained GloVe vectors,
//               best fact / facts pooled (max-sim-profile); no embedding of the document
//   fused       z-score fusion of max-fact and max-sim-profile, no feedback
//   fused+PRF   the same with pseudo-relevance feedback (RetrieverOptions defaults; the default
//               of `retrieve`)
// --no-token-experiment (only with --dev): what `fused` should do for an embedder without token
// vectors (an HTTP embedder, a head). SIF is hidden behind a decorator without the capability
// (and, second, a head trained on dev-train is put on top); on both dev pools (one profile per
// persona) and on dev-test inverse cloze it prints max-fact, whole, and fused (then: z-scores of
// max-fact and the whole-profile cosine) without and with feedback. Then exits.
// --query-experiments (only with --dev): the query-side candidates of docs/retrieval.md
// (feedback grid, GloVe-neighbour expansion, soft max-sim, query SIF smoothing, pool-contrast
// weights) on one profile per persona of the two dev pools, then exits (no head training).
// The untrained-scorings table also prints two fusion alternatives that were considered on the
// dev side (reciprocal-rank fusion, three-way z-score fusion with best-fact max-sim).
// Also: the untrained embedder on one profile per persona group of the whole data set (no
// training involved, so no leakage). --write-head / --write-components save the filtered head
// and a component fitted on ALL profiles (the shipped files in data/embedding/ are made so).
#include <fmt/core.h>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <string>

#include <popalign/embedding.hpp>
#if defined(POPALIGN_HAS_OPENAI_EMBEDDER)
#include <popalign/llm/llm.hpp>
#endif

using namespace popalign;
using namespace popalign::embedding;

namespace {
struct Args {
  ContrastiveOptions train;
  double holdout = 0.2;
  std::uint64_t split_seed = 2026;
  std::string write_head, write_components;
  std::string data_dir = POPALIGN_DATA_DIR;
  bool dev = false;
  bool skip_nofilt = false;
  bool description_head = false;
  bool query_experiments = false;
  bool no_token_experiment = false;
  int descriptions = 0;
  int folds = 0;
  std::string llm_url, llm_model, llm_cache, llm_api_key_env = "OPENAI_API_KEY";
  int llm_max_tokens = 256;
  std::string base = "sif";  // sif | avg (plain GloVe average: uniform weights, no component)
};

Args parse(int argc, char** argv) {
  Args a;
  a.train.epochs = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "missing value for {}\n", k);
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "--epochs")
      a.train.epochs = std::stol(val());
    else if (k == "--batch")
      a.train.batch_size = std::stol(val());
    else if (k == "--lr")
      a.train.learning_rate = std::stod(val());
    else if (k == "--temperature")
      a.train.temperature = std::stod(val());
    else if (k == "--hard-negatives")
      a.train.hard_negatives = std::stol(val());
    else if (k == "--filter-threshold")
      a.train.filter_threshold = std::stod(val());
    else if (k == "--weight-decay")
      a.train.weight_decay = std::stod(val());
    else if (k == "--kind")
      a.train.kind = val() == "mlp" ? HeadKind::mlp : HeadKind::linear;
    else if (k == "--seed")
      a.train.seed = std::stoull(val());
    else if (k == "--holdout")
      a.holdout = std::stod(val());
    else if (k == "--split-seed")
      a.split_seed = std::stoull(val());
    else if (k == "--write-head")
      a.write_head = val();
    else if (k == "--write-components")
      a.write_components = val();
    else if (k == "--data-dir")
      a.data_dir = val();
    else if (k == "--dev")
      a.dev = true;
    else if (k == "--symmetric")
      a.train.symmetric = true;
    else if (k == "--skip-nofilt")
      a.skip_nofilt = true;
    else if (k == "--description-head")
      a.description_head = true;
    else if (k == "--query-experiments")
      a.query_experiments = true;
    else if (k == "--no-token-experiment")
      a.no_token_experiment = true;
    else if (k == "--descriptions")
      a.descriptions = std::stoi(val());
    else if (k == "--folds")
      a.folds = std::stoi(val());
    else if (k == "--llm-url")
      a.llm_url = val();
    else if (k == "--llm-model")
      a.llm_model = val();
    else if (k == "--llm-cache")
      a.llm_cache = val();
    else if (k == "--llm-api-key-env")
      a.llm_api_key_env = val();
    else if (k == "--llm-max-tokens")
      a.llm_max_tokens = std::stoi(val());
    else if (k == "--base") {
      a.base = val();
      if (a.base != "sif" && a.base != "avg") {
        fmt::print(stderr, "--base must be sif or avg\n");
        std::exit(2);
      }
    } else if (k == "--decay-to-identity")
      a.train.decay_to_identity = true;
    else {
      fmt::print(stderr, "unknown option {}\n", k);
      std::exit(2);
    }
  }
  return a;
}

// Experiment (--description-head): a deterministic rule turning a first-person fact into a
// group-description-like query ("I work at a hospital." -> "someone who works at a hospital"),
// general English morphology only (no list of topics). Facts it cannot rewrite are skipped.
std::string third_person_verb(const std::string& v) {
  static const std::map<std::string, std::string> irregular = {
      {"am", "is"},     {"'m", "is"},         {"have", "has"},    {"'ve", "has"},
      {"do", "does"},   {"was", "was"},       {"had", "had"},     {"can", "can"},
      {"will", "will"}, {"would", "would"},   {"could", "could"}, {"should", "should"},
      {"go", "goes"},   {"don't", "doesn't"}, {"did", "did"},     {"used", "used"},
      {"also", "also"}, {"really", "really"}};
  auto it = irregular.find(v);
  if (it != irregular.end()) return it->second;
  if (v.empty()) return v;
  auto ends = [&](const std::string& e) {
    return v.size() >= e.size() && v.compare(v.size() - e.size(), e.size(), e) == 0;
  };
  if (ends("s") || ends("sh") || ends("ch") || ends("x") || ends("z") || ends("o")) return v + "es";
  if (ends("y") && v.size() > 1 && std::string("aeiou").find(v[v.size() - 2]) == std::string::npos)
    return v.substr(0, v.size() - 1) + "ies";
  return v + "s";
}

std::string describe_fact(const std::string& fact) {
  std::vector<std::string> w;
  std::string cur;
  for (char c : fact) {
    if (c == ' ') {
      if (!cur.empty()) w.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  if (!cur.empty()) w.push_back(cur);
  while (!w.empty() && !w.back().empty() &&
         std::ispunct(static_cast<unsigned char>(w.back().back())))
    w.back().pop_back();
  if (w.size() < 2) return {};
  std::string out;
  std::size_t start = 0;
  if (w[0] == "my") {
    out = "someone whose";
    start = 1;
  } else if (w[0] == "i'm") {
    out = "someone who is";
    start = 1;
  } else if (w[0] == "i've") {
    out = "someone who has";
    start = 1;
  } else if (w[0] == "i") {
    std::size_t v = 1;
    out = "someone who";
    // adverbs before the verb stay ("I also like" -> "someone who also likes")
    while (v < w.size() && (w[v] == "also" || w[v] == "really" || w[v] == "just" ||
                            w[v] == "often" || w[v] == "usually" || w[v] == "never")) {
      out += " " + w[v];
      ++v;
    }
    if (v >= w.size()) return {};
    out += " " + third_person_verb(w[v]);
    start = v + 1;
  } else {
    return {};
  }
  for (std::size_t i = start; i < w.size(); ++i) {
    std::string t = w[i];
    if (t == "my")
      t = "their";
    else if (t == "me")
      t = "them";
    else if (t == "i")
      t = "they";
    else if (t == "myself")
      t = "themselves";
    else if (t == "i'm")
      t = "they are";
    else if (t == "mine")
      t = "theirs";
    out += " " + t;
  }
  return out;
}

std::vector<std::string> all_facts(const std::vector<io::PersonaRecord>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps)
    for (const auto& f : p.facts) out.push_back(f);
  return out;
}

// One scoring measured both ways: inverse cloze and the group descriptions.
struct ScoringResult {
  ClozeMetrics ict;
  std::vector<GroupMetrics> groups;
  double p10 = 0, p20 = 0;  ///< mean precision over the groups
};

ScoringResult measure(const std::shared_ptr<const Embedder>& e,
                      const std::vector<io::PersonaRecord>& test,
                      const std::vector<GroupSpec>& groups, std::uint64_t seed,
                      const RetrieverOptions& o) {
  ScoringResult r;
  r.ict = evaluate_inverse_cloze(e, test, seed, o);
  r.groups = evaluate_groups(PersonaRetriever(e, test, o), groups);
  for (const auto& m : r.groups) {
    r.p10 += m.precision_at_10;
    r.p20 += m.precision_at_20;
  }
  r.p10 /= static_cast<double>(groups.size());
  r.p20 /= static_cast<double>(groups.size());
  return r;
}

// A row of the results table: ICT of `whole` then of `fact`, group precision of `fact` then of
// `whole` (the column order of docs/retrieval.md).
void print_row(const std::string& label, const ScoringResult& whole, const ScoringResult& fact,
               const std::string& note = "") {
  fmt::print(
      "| {:<12} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | "
      "{:.3f} |{}\n",
      label, whole.ict.recall_at_1, whole.ict.recall_at_10, whole.ict.mrr, fact.ict.recall_at_1,
      fact.ict.recall_at_10, fact.ict.mrr, fact.p10, fact.p20, whole.p10, whole.p20,
      note.empty() ? "" : "  " + note);
}

void report(const std::string& label, const std::shared_ptr<const Embedder>& e,
            const std::vector<io::PersonaRecord>& test, const std::vector<GroupSpec>& groups,
            std::uint64_t seed, std::map<std::string, std::vector<GroupMetrics>>& per_group) {
  const ScoringResult whole =
      measure(e, test, groups, seed, RetrieverOptions{ProfileScoring::whole, {}});
  const ScoringResult maxf =
      measure(e, test, groups, seed, RetrieverOptions{ProfileScoring::max_fact, {}});
  print_row(label, whole, maxf);
  per_group[label + " max_fact"] = maxf.groups;
  per_group[label + " whole"] = whole.groups;
}

// Word-level late interaction: ICT and group measures with max-sim (best fact) and
// max-sim-profile (facts pooled); the row's "whole" columns hold max-sim-profile.
void report_max_sim(const std::shared_ptr<const Embedder>& e,
                    const std::vector<io::PersonaRecord>& test,
                    const std::vector<GroupSpec>& groups, std::uint64_t seed,
                    std::map<std::string, std::vector<GroupMetrics>>& per_group) {
  const ScoringResult prof =
      measure(e, test, groups, seed, RetrieverOptions{ProfileScoring::max_sim_profile, {}});
  const ScoringResult fact =
      measure(e, test, groups, seed, RetrieverOptions{ProfileScoring::max_sim, {}});
  print_row("max-sim", prof, fact,
            "(max-sim: 'whole' columns = facts pooled, 'max-fact' = best fact)");
  per_group["max-sim max_fact"] = fact.groups;
  per_group["max-sim whole"] = prof.groups;
}

// The plain fusion (no feedback) and the default of `retrieve` (fused with pseudo-relevance
// feedback, RetrieverOptions defaults).
RetrieverOptions plain_fused() {
  RetrieverOptions o{ProfileScoring::fused, {}};
  o.feedback_personas = 0;
  return o;
}

// Score fusion (ProfileScoring::fused): one pool-level scoring, so its ICT numbers go in both
// column sets ("whole" and "max-fact").
void report_fused(const std::shared_ptr<const Embedder>& e,
                  const std::vector<io::PersonaRecord>& test, const std::vector<GroupSpec>& groups,
                  std::uint64_t seed) {
  const ScoringResult f = measure(e, test, groups, seed, plain_fused());
  print_row("fused", f, f, "(fused without feedback: one scoring, repeated)");
  const ScoringResult g =
      measure(e, test, groups, seed, RetrieverOptions{ProfileScoring::fused, {}});
  print_row("fused+PRF", g, g, "(fused with feedback, the default: one scoring, repeated)");
}

// Every untrained scoring of the group tables, in column order.
std::vector<RetrieverOptions> untrained_options() {
  std::vector<RetrieverOptions> out;
  for (auto sc : {ProfileScoring::max_fact, ProfileScoring::whole, ProfileScoring::max_sim,
                  ProfileScoring::max_sim_profile})
    out.push_back(RetrieverOptions{sc, {}});
  out.push_back(plain_fused());
  out.push_back(RetrieverOptions{ProfileScoring::fused, {}});
  return out;
}

// Mean P@10 / P@20 of every untrained scoring on one profile per persona of `pool`.
void untrained_scorings(const std::string& label, const std::shared_ptr<const WordVectors>& wv,
                        const std::vector<io::PersonaRecord>& pool,
                        const std::vector<GroupSpec>& groups) {
  const auto dedup = one_profile_per_persona(pool);
  auto sif = std::make_shared<SifEmbedder>(wv);
  sif->fit_common_components(all_facts(pool));
  fmt::print("| {} ({} personas) |", label, dedup.size());
  for (const auto& o : untrained_options()) {
    const PersonaRetriever r(sif, dedup, o);
    const auto gm = evaluate_groups(r, groups);
    double a = 0, b = 0;
    for (const auto& m : gm) {
      a += m.precision_at_10;
      b += m.precision_at_20;
    }
    const double n = static_cast<double>(gm.size());
    fmt::print(" {:.3f} / {:.3f} |", a / n, b / n);
  }
  // Alternative considered on the dev side: reciprocal-rank fusion (k = 60) of the same two.
  std::vector<std::string> queries;
  for (const auto& g : groups) queries.push_back(g.description);
  const RowMatrix<float> sa =
      PersonaRetriever(sif, dedup, RetrieverOptions{ProfileScoring::max_fact, {}})
          .score_all(queries);
  const RowMatrix<float> sb =
      PersonaRetriever(sif, dedup, RetrieverOptions{ProfileScoring::max_sim_profile, {}})
          .score_all(queries);
  RowMatrix<float> rrf = RowMatrix<float>::Zero(sa.rows(), sa.cols());
  for (const RowMatrix<float>* m : {&sa, &sb}) {
    const auto ranked = top_k_rows(*m, m->cols());
    for (Index q = 0; q < m->rows(); ++q)
      for (std::size_t r = 0; r < ranked[static_cast<std::size_t>(q)].size(); ++r)
        rrf(q, ranked[static_cast<std::size_t>(q)][r].index) +=
            1.0f / (60.0f + static_cast<float>(r + 1));
  }
  const auto top = top_k_rows(rrf, 20);
  double a = 0, b = 0;
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (std::size_t r = 0; r < top[g].size(); ++r)
      if (profile_matches(dedup[static_cast<std::size_t>(top[g][r].index)], groups[g])) {
        if (r < 10) a += 0.1;
        b += 0.05;
      }
  const double n = static_cast<double>(groups.size());
  fmt::print(" {:.3f} / {:.3f} |", a / n, b / n);
  // Alternative considered on the dev side: three-way z-score fusion (adds max-sim, best fact).
  RowMatrix<float> three = PersonaRetriever(sif, dedup, plain_fused()).score_all(queries);
  RowMatrix<float> sc = PersonaRetriever(sif, dedup, RetrieverOptions{ProfileScoring::max_sim, {}})
                            .score_all(queries);
  for (Index q = 0; q < sc.rows(); ++q) {
    const double m = sc.row(q).cast<double>().mean();
    const double sd = std::sqrt((sc.row(q).cast<double>().array() - m).square().mean());
    for (Index j = 0; j < sc.cols(); ++j)
      three(q, j) += sd > 0 ? static_cast<float>((sc(q, j) - m) / sd) : 0.0f;
  }
  const auto top3 = top_k_rows(three, 20);
  a = b = 0;
  for (std::size_t g = 0; g < groups.size(); ++g)
    for (std::size_t r = 0; r < top3[g].size(); ++r)
      if (profile_matches(dedup[static_cast<std::size_t>(top3[g][r].index)], groups[g])) {
        if (r < 10) a += 0.1;
        b += 0.05;
      }
  fmt::print(" {:.3f} / {:.3f} |\n", a / n, b / n);
}

// ---------------------------------------------------------------------------------------------
// --query-experiments (dev only): query-side candidates for the group descriptions, measured
// on one profile per persona of the two dev pools against the fused default. Each candidate
// changes the query of one or both channels of `fused` (max-fact SIF cosine, max-sim-profile
// word-level late interaction); the fusion itself (z-scores, added) is unchanged. None uses the
// keyword families or any topic list. docs/retrieval.md records every configuration tried.
struct Term {
  Index row;
  double w;
};

struct QueryLab {
  std::shared_ptr<const WordVectors> wv;
  std::shared_ptr<SifEmbedder> sif;
  std::vector<io::PersonaRecord> pool;
  RowMatrix<float> unit;                         // all vocabulary rows, unit length
  RowMatrix<float> facts;                        // fact vectors (SIF, unit)
  std::vector<Index> owner;                      // fact -> persona
  std::vector<std::vector<Index>> fact_rows;     // fact -> vocabulary rows (all tokens)
  std::vector<std::vector<Index>> persona_rows;  // persona -> distinct vocabulary rows
  std::vector<GroupSpec> groups;

  QueryLab(std::shared_ptr<const WordVectors> w, const std::vector<io::PersonaRecord>& p,
           std::vector<GroupSpec> g)
      : wv(std::move(w)), pool(one_profile_per_persona(p)), groups(std::move(g)) {
    sif = std::make_shared<SifEmbedder>(wv);
    sif->fit_common_components(all_facts(p));
    unit = wv->vectors();
    normalize_rows(unit);
    std::vector<std::string> texts;
    persona_rows.resize(pool.size());
    for (std::size_t i = 0; i < pool.size(); ++i) {
      for (const auto& f : pool[i].facts) {
        texts.push_back(f);
        owner.push_back(static_cast<Index>(i));
        std::vector<Index> rows;
        for (const auto& t : tokenize(f))
          if (const Index r = wv->find(t); r >= 0) rows.push_back(r);
        persona_rows[i].insert(persona_rows[i].end(), rows.begin(), rows.end());
        fact_rows.push_back(std::move(rows));
      }
      auto& pr = persona_rows[i];
      std::sort(pr.begin(), pr.end());
      pr.erase(std::unique(pr.begin(), pr.end()), pr.end());
    }
    facts = sif->embed(texts);
  }
  // SIF weight of row r with smoothing a_q instead of the embedder's a (same p(w)).
  double weight(Index r, double a_q) const {
    const double w = sif->weight(r), a = sif->options().a;
    const double p = a * (1 - w) / w;
    return a_q / (a_q + p);
  }
  std::vector<Term> query_terms(const std::string& q, double a_q) const {
    std::vector<Term> out;
    for (const auto& t : tokenize(q))
      if (const Index r = wv->find(t); r >= 0) out.push_back({r, weight(r, a_q)});
    return out;
  }
  // SIF vector of weighted terms: weighted sum of raw word vectors, common component removed,
  // unit length (the same as SifEmbedder::embed for the plain query).
  Eigen::VectorXf dense(const std::vector<Term>& terms) const {
    Eigen::VectorXd acc = Eigen::VectorXd::Zero(wv->dimension());
    for (const auto& t : terms) acc += t.w * wv->vectors().row(t.row).transpose().cast<double>();
    const Eigen::MatrixXd c = sif->common_components().cast<double>();
    if (c.rows() > 0) acc -= c.transpose() * (c * acc);
    Eigen::VectorXf v = acc.cast<float>();
    if (v.norm() > 0) v /= v.norm();
    return v;
  }
  // Best-fact cosine per persona and the best fact's index.
  std::vector<double> max_fact(const Eigen::VectorXf& q, std::vector<Index>* best = nullptr) const {
    const Eigen::VectorXf s = facts * q;
    std::vector<double> out(pool.size(), -1e30);
    if (best) best->assign(pool.size(), -1);
    for (Index j = 0; j < s.size(); ++j) {
      const auto o = static_cast<std::size_t>(owner[static_cast<std::size_t>(j)]);
      if (s[j] > out[o]) {
        out[o] = s[j];
        if (best) (*best)[o] = j;
      }
    }
    return out;
  }
  // max-sim-profile with weighted terms; soft: each term matched through its neighbour set
  // (sim(t, e) * best cos(e, u)), nb[i] = neighbours of term i with their cosines.
  std::vector<double> max_sim(const std::vector<Term>& terms,
                              const std::vector<std::vector<Term>>* nb = nullptr) const {
    std::vector<double> out(pool.size(), 0.0);
    double wsum = 0;
    for (const auto& t : terms) wsum += t.w;
    if (!(wsum > 0)) return out;
    for (std::size_t i = 0; i < terms.size(); ++i) {
      std::vector<Term> set = {{terms[i].row, 1.0}};
      if (nb) set.insert(set.end(), (*nb)[i].begin(), (*nb)[i].end());
      for (std::size_t d = 0; d < pool.size(); ++d) {
        double best = -1e30;
        for (const auto& e : set) {
          float m = -2;
          for (Index u : persona_rows[d]) m = std::max(m, unit.row(e.row).dot(unit.row(u)));
          best = std::max(best, e.w * static_cast<double>(m));
        }
        if (!persona_rows[d].empty()) out[d] += terms[i].w * best;
      }
    }
    for (auto& x : out) x /= wsum;
    return out;
  }
  // Nearest vocabulary neighbours of row r (cosine), SIF weight >= min_w, r itself excluded.
  std::vector<Term> neighbours(Index r, int n, double min_w) const {
    const Eigen::VectorXf s = unit * unit.row(r).transpose();
    std::vector<Index> idx;
    for (Index j = 0; j < s.size(); ++j)
      if (j != r && sif->weight(j) >= min_w) idx.push_back(j);
    std::partial_sort(idx.begin(), idx.begin() + n, idx.end(),
                      [&](Index a, Index b) { return s[a] > s[b] || (s[a] == s[b] && a < b); });
    std::vector<Term> out;
    for (int k = 0; k < n; ++k) out.push_back({idx[k], static_cast<double>(s[idx[k]])});
    return out;
  }
  static std::vector<double> z(std::vector<double> x) {
    double m = 0, v = 0;
    for (double a : x) m += a;
    m /= static_cast<double>(x.size());
    for (double a : x) v += (a - m) * (a - m);
    const double sd = std::sqrt(v / static_cast<double>(x.size()));
    for (double& a : x) a = sd > 0 ? (a - m) / sd : 0.0;
    return x;
  }
  static std::vector<double> fuse(const std::vector<double>& a, const std::vector<double>& b) {
    auto za = z(a), zb = z(b);
    for (std::size_t i = 0; i < za.size(); ++i) za[i] += zb[i];
    return za;
  }
  // P@10, P@20 of one score vector per group.
  std::pair<double, double> precision(const std::vector<std::vector<double>>& scores) const {
    double a = 0, b = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      RowMatrix<float> m(1, static_cast<Index>(pool.size()));
      for (std::size_t j = 0; j < pool.size(); ++j)
        m(0, static_cast<Index>(j)) = static_cast<float>(scores[g][j]);
      const auto top = top_k_rows(m, 20)[0];
      for (std::size_t r = 0; r < top.size(); ++r)
        if (profile_matches(pool[static_cast<std::size_t>(top[r].index)], groups[g])) {
          if (r < 10) a += 0.1;
          b += 0.05;
        }
    }
    const double n = static_cast<double>(groups.size());
    return {a / n, b / n};
  }
};

struct QueryConfig {
  std::string name;
  double a_q = 1e-3;
  int prf_m = 0;        // pseudo-relevance feedback: top m personas of the fused ranking
  double prf_beta = 0;  // ... weight of their best facts
  bool prf_dense = true, prf_sim = true;
  int nb_n = 0;           // neighbour expansion: n neighbours per content query word
  double nb_gamma = 0;    // ... additive weight factor (0 with nb_n > 0: soft max-sim)
  double nb_min_w = 0.5;  // content words and neighbours: SIF weight >= this
  bool contrast = false;  // query word weight w(t) * (1 - mean over the pool of its best match)
};

std::vector<double> run_query(const QueryLab& lab, const std::string& q, const QueryConfig& c) {
  std::vector<Term> terms = lab.query_terms(q, c.a_q);
  if (c.contrast)
    for (auto& t : terms) {
      const auto m = lab.max_sim({{t.row, 1.0}});
      double mean = 0;
      for (double x : m) mean += x;
      t.w *= 1 - mean / static_cast<double>(m.size());
    }
  Eigen::VectorXf qd = lab.dense(terms);
  std::vector<std::vector<Term>> nb;
  const bool soft = c.nb_n > 0 && c.nb_gamma == 0;
  if (c.nb_n > 0) {
    std::vector<Term> extra;
    for (const auto& t : terms) {
      nb.push_back(lab.sif->weight(t.row) >= c.nb_min_w ? lab.neighbours(t.row, c.nb_n, c.nb_min_w)
                                                        : std::vector<Term>{});
      for (const auto& e : nb.back()) extra.push_back({e.row, c.nb_gamma * t.w * e.w});
    }
    if (!soft) {
      terms.insert(terms.end(), extra.begin(), extra.end());
      qd = lab.dense(terms);
    }
  }
  std::vector<double> a = lab.max_fact(qd);
  std::vector<double> b = lab.max_sim(terms, soft ? &nb : nullptr);
  if (c.prf_m == 0) return QueryLab::fuse(a, b);
  std::vector<Index> best;
  lab.max_fact(qd, &best);
  const std::vector<double> f = QueryLab::fuse(a, b);
  std::vector<Index> order(f.size());
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Index x, Index y) {
    return f[static_cast<std::size_t>(x)] > f[static_cast<std::size_t>(y)];
  });
  const int m = std::min<int>(c.prf_m, static_cast<int>(order.size()));
  Eigen::VectorXf centroid = Eigen::VectorXf::Zero(qd.size());
  std::map<Index, double> dist;  // mean over the m facts of their SIF-weighted word distribution
  for (int k = 0; k < m; ++k) {
    const Index fact = best[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])];
    centroid += lab.facts.row(fact).transpose();
    double ws = 0;
    for (Index r : lab.fact_rows[static_cast<std::size_t>(fact)]) ws += lab.weight(r, c.a_q);
    if (ws > 0)
      for (Index r : lab.fact_rows[static_cast<std::size_t>(fact)])
        dist[r] += lab.weight(r, c.a_q) / ws / m;
  }
  if (c.prf_dense) {
    Eigen::VectorXf q2 = qd + c.prf_beta * centroid / static_cast<float>(m);
    if (q2.norm() > 0) q2 /= q2.norm();
    a = lab.max_fact(q2);
  }
  if (c.prf_sim) {
    double wq = 0;
    for (const auto& t : terms) wq += t.w;
    std::vector<Term> t2 = terms;
    for (const auto& [r, p] : dist) t2.push_back({r, c.prf_beta * wq * p});
    b = lab.max_sim(t2, soft ? nullptr : nullptr);
  }
  return QueryLab::fuse(a, b);
}

void query_experiments(const std::shared_ptr<const WordVectors>& wv, const ProfileSplit& split,
                       const std::vector<GroupSpec>& groups) {
  const QueryLab dev_train(wv, split.train, groups), dev_test(wv, split.test, groups);
  std::vector<QueryConfig> configs;
  configs.push_back({"fused (re-implemented baseline)"});
  for (double a : {3e-4, 1e-4}) configs.push_back({fmt::format("query SIF a = {}", a), a});
  for (int m : {3, 5, 10})
    for (double beta : {0.25, 0.5, 1.0}) {
      QueryConfig c{fmt::format("PRF m={} beta={}", m, beta)};
      c.prf_m = m;
      c.prf_beta = beta;
      configs.push_back(c);
    }
  for (int n : {5, 10})
    for (double g : {0.5, 1.0}) {
      QueryConfig c{fmt::format("neighbours n={} gamma={}", n, g)};
      c.nb_n = n;
      c.nb_gamma = g;
      configs.push_back(c);
    }
  for (int m : {3, 5})
    for (int side = 0; side < 2; ++side) {
      QueryConfig c{fmt::format("PRF m={} beta=0.25, {} channel only", m,
                                side == 0 ? "max-fact" : "max-sim-profile")};
      c.prf_m = m;
      c.prf_beta = 0.25;
      c.prf_dense = side == 0;
      c.prf_sim = side == 1;
      configs.push_back(c);
    }
  {
    QueryConfig c{"pool-contrast query word weights"};
    c.contrast = true;
    configs.push_back(c);
  }
  for (int n : {5, 10}) {
    QueryConfig c{fmt::format("soft max-sim n={}", n)};
    c.nb_n = n;
    configs.push_back(c);
  }
  // The library's fused scoring without and with feedback (its defaults), to check the
  // re-implementation here against the first row and the "PRF m=3 beta=0.25" row.
  std::vector<std::string> queries;
  for (const auto& g : groups) queries.push_back(g.description);
  for (const QueryLab* lab : {&dev_train, &dev_test})
    for (const auto& o : {plain_fused(), RetrieverOptions{ProfileScoring::fused, {}}}) {
      const auto gm = evaluate_groups(PersonaRetriever(lab->sif, lab->pool, o), groups);
      double a = 0, b = 0;
      for (const auto& m : gm) {
        a += m.precision_at_10;
        b += m.precision_at_20;
      }
      fmt::print("library fused (feedback m={} beta={}) on {} personas: {:.3f} / {:.3f}\n",
                 o.feedback_personas, o.feedback_weight, lab->pool.size(),
                 a / static_cast<double>(gm.size()), b / static_cast<double>(gm.size()));
    }
  fmt::print("| query-side config | dev-train ({}) P@10 / P@20 | dev-test ({}) P@10 / P@20 |\n",
             dev_train.pool.size(), dev_test.pool.size());
  fmt::print("|---|---|---|\n");
  for (const auto& c : configs) {
    fmt::print("| {} |", c.name);
    for (const QueryLab* lab : {&dev_train, &dev_test}) {
      std::vector<std::vector<double>> s;
      for (const auto& q : queries) s.push_back(run_query(*lab, q, c));
      const auto [p10, p20] = lab->precision(s);
      fmt::print(" {:.3f} / {:.3f} |", p10, p20);
    }
    fmt::print("\n");
    std::fflush(stdout);
  }
}
// --no-token-experiment: an embedder as an HTTP one looks to retrieval (embed() only).
class WithoutTokenVectors final : public Embedder {
 public:
  explicit WithoutTokenVectors(std::shared_ptr<const Embedder> inner) : inner_(std::move(inner)) {}
  RowMatrix<float> embed(const std::vector<std::string>& t) const override {
    return inner_->embed(t);
  }
  Index dimension() const override { return inner_->dimension(); }
  bool normalized() const override { return inner_->normalized(); }
  std::string name() const override { return inner_->name() + "-no-tokens"; }

 private:
  std::shared_ptr<const Embedder> inner_;
};

void no_token_experiment(const Args& args, const std::shared_ptr<const WordVectors>& wv,
                         const ProfileSplit& split, const std::vector<GroupSpec>& groups) {
  auto sif = std::make_shared<SifEmbedder>(wv);
  sif->fit_common_components(all_facts(split.train));
  ContrastiveOptions o = args.train;
  o.filter_negatives = true;
  const auto head = train_projection_head(*sif, make_profile_pairs(split.train), o).head;
  const std::vector<std::pair<std::string, std::shared_ptr<const Embedder>>> embedders = {
      {"SIF, token vectors hidden", std::make_shared<WithoutTokenVectors>(sif)},
      {"SIF + head (dev-train)", std::make_shared<ProjectedEmbedder>(sif, head)}};
  RetrieverOptions fused_plain = plain_fused();
  const std::vector<std::pair<std::string, RetrieverOptions>> scorings = {
      {"max-fact", RetrieverOptions{ProfileScoring::max_fact, {}}},
      {"whole", RetrieverOptions{ProfileScoring::whole, {}}},
      {"fused, no feedback", fused_plain},
      {"fused + feedback", RetrieverOptions{ProfileScoring::fused, {}}}};
  fmt::print(
      "| embedder | scoring | dev-train P@10 / P@20 | dev-test P@10 / P@20 | dev-test ICT R@10 "
      "| MRR |\n|---|---|---|---|---|---|\n");
  const auto train1 = one_profile_per_persona(split.train);
  const auto test1 = one_profile_per_persona(split.test);
  for (const auto& [ename, e] : embedders)
    for (const auto& [sname, so] : scorings) {
      fmt::print("| {} | {} |", ename, sname);
      for (const auto* pool : {&train1, &test1}) {
        double a = 0, b = 0;
        for (const auto& m : evaluate_groups(PersonaRetriever(e, *pool, so), groups)) {
          a += m.precision_at_10;
          b += m.precision_at_20;
        }
        const auto n = static_cast<double>(groups.size());
        fmt::print(" {:.3f} / {:.3f} |", a / n, b / n);
      }
      const ClozeMetrics c = evaluate_inverse_cloze(e, split.test, args.split_seed + 1, so);
      fmt::print(" {:.3f} | {:.3f} |\n", c.recall_at_10, c.mrr);
      std::fflush(stdout);
    }
}

// --folds K: inverse cloze, cross-validated over persona groups (file comment).
int cross_validate(const Args& args, std::shared_ptr<const WordVectors> wv,
                   const std::vector<io::PersonaRecord>& profiles) {
  const std::vector<Index> g = persona_groups(profiles);
  const Index n_groups = *std::max_element(g.begin(), g.end()) + 1;
  std::vector<Index> group_size(static_cast<std::size_t>(n_groups), 0);
  for (const Index x : g) ++group_size[static_cast<std::size_t>(x)];
  std::vector<Index> order(static_cast<std::size_t>(n_groups));
  std::iota(order.begin(), order.end(), Index{0});
  Rng rng(args.split_seed);
  rng.shuffle(order);
  const auto k = static_cast<std::size_t>(args.folds);
  std::vector<Index> fold_of_group(static_cast<std::size_t>(n_groups), 0);
  std::vector<Index> fold_profiles(k, 0), fold_personas(k, 0);
  for (const Index grp : order) {
    const auto f = static_cast<std::size_t>(
        std::min_element(fold_profiles.begin(), fold_profiles.end()) - fold_profiles.begin());
    fold_of_group[static_cast<std::size_t>(grp)] = static_cast<Index>(f);
    fold_profiles[f] += group_size[static_cast<std::size_t>(grp)];
    ++fold_personas[f];
  }
  fmt::print("cross-validation: {} folds over {} persona groups, base {}\n", k, n_groups,
             args.base == "avg" ? "plain GloVe average" : "GloVe SIF");
  fmt::print(
      "| fold | personas | queries | untrained R@10 | head R@10 | ratio | head-nofilt R@10 | "
      "untrained MRR | head MRR | fused (untrained) R@10 "
      "|\n|---|---|---|---|---|---|---|---|---|---|\n");
  double q_sum = 0, base_hits = 0, head_hits = 0, nofilt_hits = 0, base_rr = 0, head_rr = 0,
         fused_hits = 0;
  for (std::size_t f = 0; f < k; ++f) {
    std::vector<io::PersonaRecord> train, test;
    for (std::size_t i = 0; i < profiles.size(); ++i)
      (fold_of_group[static_cast<std::size_t>(g[i])] == static_cast<Index>(f) ? test : train)
          .push_back(profiles[i]);
    std::shared_ptr<SifEmbedder> sif;
    if (args.base == "avg") {
      sif = std::make_shared<SifEmbedder>(wv, SifOptions{.components = 0});
      sif->set_word_probabilities(Vector<double>::Ones(wv->size()));
    } else {
      sif = std::make_shared<SifEmbedder>(wv);
      sif->fit_common_components(all_facts(train));
    }
    ContrastiveOptions o = args.train;
    o.filter_negatives = true;
    const auto pairs = make_profile_pairs(train);
    const auto r = train_projection_head(*sif, pairs, o);
    const std::uint64_t eval_seed = args.split_seed + 1;
    const ClozeMetrics b = evaluate_inverse_cloze(sif, test, eval_seed);
    const ClozeMetrics h =
        evaluate_inverse_cloze(std::make_shared<ProjectedEmbedder>(sif, r.head), test, eval_seed);
    ClozeMetrics hn = h;
    if (!args.skip_nofilt) {
      o.filter_negatives = false;
      const auto rn = train_projection_head(*sif, pairs, o);
      hn = evaluate_inverse_cloze(std::make_shared<ProjectedEmbedder>(sif, rn.head), test,
                                  eval_seed);
    }
    // fused needs SIF word weights: on the avg base a SIF embedder fitted the same way.
    std::shared_ptr<SifEmbedder> sif_test = sif;
    if (args.base == "avg") {
      sif_test = std::make_shared<SifEmbedder>(wv);
      sif_test->fit_common_components(all_facts(train));
    }
    const ClozeMetrics fu = evaluate_inverse_cloze(sif_test, test, eval_seed,
                                                   RetrieverOptions{ProfileScoring::fused, {}});
    fmt::print("| {} | {} | {} | {:.3f} | {:.3f} | {:.2f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} |\n",
               f + 1, fold_personas[f], b.queries, b.recall_at_10, h.recall_at_10,
               b.recall_at_10 > 0 ? h.recall_at_10 / b.recall_at_10 : 0.0, hn.recall_at_10, b.mrr,
               h.mrr, fu.recall_at_10);
    const auto q = static_cast<double>(b.queries);
    q_sum += q;
    base_hits += b.recall_at_10 * q;
    head_hits += h.recall_at_10 * q;
    nofilt_hits += hn.recall_at_10 * q;
    base_rr += b.mrr * q;
    head_rr += h.mrr * q;
    fused_hits += fu.recall_at_10 * q;
  }
  fmt::print(
      "| pooled | {} | {:.0f} | {:.3f} | {:.3f} | {:.2f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} |\n",
      n_groups, q_sum, base_hits / q_sum, head_hits / q_sum,
      base_hits > 0 ? head_hits / base_hits : 0.0, nofilt_hits / q_sum, base_rr / q_sum,
      head_rr / q_sum, fused_hits / q_sum);
  return 0;
}

// --descriptions: LLM-written group descriptions of the given (training-side) personas.
std::vector<TrainingPair> llm_description_pairs(const Args& args,
                                                const std::vector<io::PersonaRecord>& personas) {
#if defined(POPALIGN_HAS_OPENAI_EMBEDDER)
  if (args.llm_url.empty() || args.llm_model.empty()) {
    fmt::print(stderr, "--descriptions needs --llm-url and --llm-model\n");
    std::exit(2);
  }
  llm::OpenAiOptions http;
  http.base_url = args.llm_url;
  http.model = args.llm_model;
  http.api_key_env = args.llm_api_key_env;
  std::shared_ptr<llm::LlmBackend> backend = std::make_shared<llm::OpenAiBackend>(http);
  backend = std::make_shared<llm::RetryBackend>(backend);
  if (!args.llm_cache.empty()) {
    llm::CacheOptions cache;
    cache.path = args.llm_cache;
    backend = std::make_shared<llm::CachedBackend>(backend, cache);
  }
  DescriptionQueryOptions o;
  o.per_persona = args.descriptions;
  o.max_tokens = args.llm_max_tokens;
  o.batch.chunk_size = 1;
  o.batch.parallel_chunks = 4;
  const DescriptionPairs d = generate_description_pairs(*backend, personas, o);
  const auto& r = d.report;
  fmt::print(
      "LLM descriptions ({}): {} personas, {} calls ({} from cache, {} failed), {} accepted, {} "
      "rejected, {} personas without a description\n",
      args.llm_model, r.personas, r.calls, r.cached_calls, r.failed_calls, r.accepted, r.rejected,
      r.personas_without_pairs);
  for (std::size_t i = 0; i < std::min<std::size_t>(5, r.messages.size()); ++i)
    fmt::print("  {}\n", r.messages[i]);
  return d.pairs;
#else
  (void)personas;
  (void)args;
  fmt::print(stderr, "--descriptions needs the llm layer (this build has none)\n");
  std::exit(2);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  const auto t0 = std::chrono::steady_clock::now();
  auto wv = std::make_shared<const WordVectors>(
      load_word_vectors(args.data_dir + "/models/glove6b_100d_top40k.w2v.bin"));
  const auto profiles =
      io::read_personas(args.data_dir + "/personas/synthetic_persona_chat_valid_test.jsonl")
          .personas;
  const auto groups = read_groups(args.data_dir + "/embedding/groups.jsonl");
  if (args.folds > 0) {
    if (args.folds < 2 || args.dev || args.query_experiments) {
      fmt::print(stderr, "--folds needs K >= 2 and goes without --dev / --query-experiments\n");
      return 2;
    }
    return cross_validate(args, wv, profiles);
  }
  ProfileSplit split = split_profiles(profiles, args.holdout, args.split_seed);
  if (args.dev) {
    fmt::print(
        "DEV MODE: held-out profiles ({}) set aside; numbers are on a dev split of the "
        "training profiles\n",
        split.test.size());
    split = split_profiles(split.train, 0.25, args.split_seed + 2);
  }
  fmt::print("profiles {} (train {}, held out {}), groups {}, split seed {}\n", profiles.size(),
             split.train.size(), split.test.size(), groups.size(), args.split_seed);
  if (args.query_experiments) {
    if (!args.dev) {
      fmt::print(stderr, "--query-experiments chooses among configurations: use it with --dev\n");
      return 2;
    }
    query_experiments(wv, split, groups);
    return 0;
  }
  if (args.no_token_experiment) {
    if (!args.dev) {
      fmt::print(stderr, "--no-token-experiment chooses among configurations: use it with --dev\n");
      return 2;
    }
    no_token_experiment(args, wv, split, groups);
    return 0;
  }

  std::shared_ptr<SifEmbedder> sif;
  if (args.base == "avg") {
    // Plain GloVe average: every word weighs the same, no common component removed.
    sif = std::make_shared<SifEmbedder>(wv, SifOptions{.components = 0});
    sif->set_word_probabilities(Vector<double>::Ones(wv->size()));
  } else {
    sif = std::make_shared<SifEmbedder>(wv);
    sif->fit_common_components(all_facts(split.train));
  }
  std::shared_ptr<const Embedder> base = sif;
  fmt::print("base embedder: {} ({})\n", args.base == "avg" ? "plain GloVe average" : "GloVe SIF",
             base->name());

  const auto pairs = make_profile_pairs(split.train);
  fmt::print(
      "training pairs {} (epochs {}, batch {}, lr {}, tau {}, hard {}, threshold {}, {}, decay "
      "{}{}, "
      "{})\n",
      pairs.size(), args.train.epochs, args.train.batch_size, args.train.learning_rate,
      args.train.temperature, args.train.hard_negatives, args.train.filter_threshold,
      args.train.kind == HeadKind::mlp ? "mlp" : "linear", args.train.weight_decay,
      args.train.decay_to_identity ? " toward I" : " toward 0",
      args.train.symmetric ? "symmetric" : "one-way");
  ContrastiveOptions with = args.train;
  with.filter_negatives = true;
  ContrastiveOptions without = args.train;
  without.filter_negatives = false;
  const auto r1 = train_projection_head(*base, pairs, with);
  const auto r2 = args.skip_nofilt ? r1 : train_projection_head(*base, pairs, without);
  fmt::print("filtered: loss {:.3f} -> {:.3f}, dropped in-batch {}, dropped mined {}, mined {}\n",
             r1.epoch_loss.front(), r1.epoch_loss.back(), r1.dropped_in_batch, r1.dropped_mined,
             r1.mined);
  fmt::print("unfiltered: loss {:.3f} -> {:.3f}, mined {}\n\n", r2.epoch_loss.front(),
             r2.epoch_loss.back(), r2.mined);

  fmt::print(
      "| embedder | ICT R@1 (whole) | R@10 | MRR | ICT R@1 (max-fact) | R@10 | MRR | "
      "groups P@10 (max-fact) | P@20 | groups P@10 (whole) | P@20 |\n");
  fmt::print("|---|---|---|---|---|---|---|---|---|---|---|\n");
  std::map<std::string, std::vector<GroupMetrics>> per_group;
  const std::uint64_t eval_seed = args.split_seed + 1;
  report("untrained", base, split.test, groups, eval_seed, per_group);
  report("head", std::make_shared<ProjectedEmbedder>(base, r1.head), split.test, groups, eval_seed,
         per_group);
  report("head-nofilt", std::make_shared<ProjectedEmbedder>(base, r2.head), split.test, groups,
         eval_seed, per_group);
  report_max_sim(base, split.test, groups, eval_seed, per_group);
  report_fused(base, split.test, groups, eval_seed);

  // Untrained scorings on distinct personas (one profile per persona group); no training is
  // involved, so the training side doubles as the dev set for choosing among them.
  fmt::print(
      "\nuntrained scorings, one profile per persona, mean P@10 / P@20:\n| pool | max-fact | "
      "whole | max-sim | max-sim-profile | fused (z-score, no feedback) | fused + feedback "
      "(default) | fused (RRF) | fused 3-way |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  untrained_scorings(args.dev ? "dev-train" : "train (dev)", wv, split.train, groups);
  untrained_scorings(args.dev ? "dev-test" : "held-out", wv, split.test, groups);
  if (!args.dev) untrained_scorings("all", wv, profiles, groups);

  if (args.description_head || args.descriptions > 0) {
    // Head trained on description pairs of the training side only: rule-made descriptions of
    // training facts (--description-head: (description, fact)) or LLM-written descriptions of
    // one profile per training persona (--descriptions: (description, profile)); scored with
    // max-fact on one profile per persona (the strict group measure).
    std::vector<TrainingPair> dp;
    if (args.descriptions > 0) {
      dp = llm_description_pairs(args, one_profile_per_persona(split.train));
    } else {
      std::map<std::string, bool> seen_fact;
      for (const auto& p : split.train)
        for (const auto& f : p.facts) {
          const std::string d = describe_fact(f);
          if (d.empty() || seen_fact[f]) continue;
          seen_fact[f] = true;
          dp.push_back({d, f});
        }
    }
    if (dp.size() < 2) {
      fmt::print(stderr, "description pairs: {} (need at least 2 to train)\n", dp.size());
      return 1;
    }
    fmt::print("\ndescription pairs {} (e.g. '{}' -> '{}')\n", dp.size(), dp[0].query,
               dp[0].positive);
    ContrastiveOptions o = args.train;
    o.filter_negatives = true;
    const auto rd = train_projection_head(*base, dp, o);
    fmt::print("description head: loss {:.3f} -> {:.3f}\n", rd.epoch_loss.front(),
               rd.epoch_loss.back());
    for (int side = 0; side < 2; ++side) {
      const auto& pool = side == 0 ? split.train : split.test;
      const auto dedup = one_profile_per_persona(pool);
      auto sp = std::make_shared<SifEmbedder>(wv);
      sp->fit_common_components(all_facts(pool));
      auto pe = std::make_shared<ProjectedEmbedder>(sp, rd.head);
      double a = 0, b = 0;
      for (const auto& m : evaluate_groups(
               PersonaRetriever(pe, dedup, RetrieverOptions{ProfileScoring::max_fact, {}}),
               groups)) {
        a += m.precision_at_10;
        b += m.precision_at_20;
      }
      fmt::print("description head, max-fact, {} ({} personas): P@10 {:.3f} P@20 {:.3f}\n",
                 side == 0 ? "training side (trained on)" : "held-out side", dedup.size(),
                 a / static_cast<double>(groups.size()), b / static_cast<double>(groups.size()));
    }
  }

  // Distinct personas in the top 10 (variants of one persona collapse).
  fmt::print("\ndistinct personas among the top 10 (max-fact), per group:");
  for (const auto& label : {"untrained", "head", "head-nofilt"}) {
    fmt::print("\n  {:<12}", label);
    for (const auto& m : per_group[std::string(label) + " max_fact"])
      fmt::print(" {}", m.distinct_at_10);
  }
  fmt::print("\n");

  // The untrained embedder involves no training, so it can be measured on the whole data set
  // without leakage: one profile per persona group (the first in file order). Not in --dev mode
  // (it would show the held-out personas).
  if (!args.dev) {
    const std::vector<io::PersonaRecord> dedup = one_profile_per_persona(profiles);
    auto sif_all = std::make_shared<SifEmbedder>(wv);
    sif_all->fit_common_components(all_facts(profiles));
    fmt::print("\nuntrained GloVe SIF on one profile per persona group ({} personas):\n",
               dedup.size());
    fmt::print(
        "| group | relevant | P@10 max-fact | P@20 | P@10 whole | P@20 | P@10 max-sim | P@20 | "
        "P@10 max-sim-profile | P@20 | P@10 fused (no feedback) | P@20 | P@10 fused + feedback "
        "(default) | P@20 |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    std::vector<std::vector<GroupMetrics>> all;
    for (const auto& o : untrained_options())
      all.push_back(evaluate_groups(PersonaRetriever(sif_all, dedup, o), groups));
    std::vector<double> mean(2 * all.size(), 0.0);
    for (std::size_t i = 0; i < groups.size(); ++i) {
      fmt::print("| {} | {} |", all[0][i].name, all[0][i].relevant);
      for (std::size_t s = 0; s < all.size(); ++s) {
        fmt::print(" {:.1f} | {:.2f} |", all[s][i].precision_at_10, all[s][i].precision_at_20);
        mean[2 * s] += all[s][i].precision_at_10;
        mean[2 * s + 1] += all[s][i].precision_at_20;
      }
      fmt::print("\n");
    }
    const double n = static_cast<double>(groups.size());
    fmt::print("| mean | |");
    for (double m : mean) fmt::print(" {:.3f} |", m / n);
    fmt::print("\n");
  }

  fmt::print("\nper group (max-fact scoring), P@10 / P@20, relevant held-out profiles:\n");
  fmt::print(
      "| group | relevant | untrained | head | head-nofilt | max-sim "
      "|\n|---|---|---|---|---|---|\n");
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& u = per_group["untrained max_fact"][g];
    const auto& h = per_group["head max_fact"][g];
    const auto& n = per_group["head-nofilt max_fact"][g];
    const auto& x = per_group["max-sim max_fact"][g];
    fmt::print(
        "| {} | {} | {:.1f} / {:.2f} | {:.1f} / {:.2f} | {:.1f} / {:.2f} | {:.1f} / {:.2f} |\n",
        u.name, u.relevant, u.precision_at_10, u.precision_at_20, h.precision_at_10,
        h.precision_at_20, n.precision_at_10, n.precision_at_20, x.precision_at_10,
        x.precision_at_20);
  }

  if (!args.write_components.empty() || !args.write_head.empty()) {
    // Shipped files: component fitted on all profiles, head trained on the training split
    // (so the numbers above describe the shipped head on data it never saw).
    auto sif_all = std::make_shared<SifEmbedder>(wv);
    sif_all->fit_common_components(all_facts(profiles));
    if (!args.write_components.empty()) sif_all->save_common_components(args.write_components);
    if (!args.write_head.empty()) {
      ProjectionHead h = r1.head;
      h.set_base_name(base->name());
      h.save(args.write_head);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("\ntotal {:.1f} s\n", secs);
  return 0;
}
