// Retrieval quality on held-out Synthetic-Persona-Chat profiles (docs/retrieval.md).
//
//   popalign_embedding_quality [--epochs N] [--batch B] [--lr X] [--temperature T]
//       [--hard-negatives K] [--filter-threshold T] [--kind linear|mlp] [--seed S]
//       [--holdout F] [--split-seed S] [--write-head FILE] [--write-components FILE] [--dev]
//       [--weight-decay X] [--decay-to-identity]
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
// Also: the untrained embedder on one profile per persona group of the whole data set (no
// training involved, so no leakage). --write-head / --write-components save the filtered head
// and a component fitted on ALL profiles (the shipped files in data/embedding/ are made so).
#include <fmt/core.h>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include <popalign/embedding.hpp>

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
    else if (k == "--decay-to-identity")
      a.train.decay_to_identity = true;
    else {
      fmt::print(stderr, "unknown option {}\n", k);
      std::exit(2);
    }
  }
  return a;
}

std::vector<std::string> all_facts(const std::vector<PersonaText>& ps) {
  std::vector<std::string> out;
  for (const auto& p : ps)
    for (const auto& f : p.facts) out.push_back(f);
  return out;
}

void report(const std::string& label, const std::shared_ptr<const Embedder>& e,
            const std::vector<PersonaText>& test, const std::vector<GroupSpec>& groups,
            std::uint64_t seed, std::map<std::string, std::vector<GroupMetrics>>& per_group) {
  const ClozeMetrics whole = evaluate_inverse_cloze(e, test, seed, ProfileScoring::whole);
  const ClozeMetrics maxf = evaluate_inverse_cloze(e, test, seed, ProfileScoring::max_fact);
  const PersonaRetriever rm(e, test, RetrieverOptions{ProfileScoring::max_fact, {}});
  const PersonaRetriever rw(e, test, RetrieverOptions{ProfileScoring::whole, {}});
  const auto gm = evaluate_groups(rm, groups);
  const auto gw = evaluate_groups(rw, groups);
  double p10m = 0, p20m = 0, p10w = 0, p20w = 0;
  for (std::size_t i = 0; i < gm.size(); ++i) {
    p10m += gm[i].precision_at_10;
    p20m += gm[i].precision_at_20;
    p10w += gw[i].precision_at_10;
    p20w += gw[i].precision_at_20;
  }
  const double g = static_cast<double>(groups.size());
  fmt::print(
      "| {:<12} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | "
      "{:.3f} |\n",
      label, whole.recall_at_1, whole.recall_at_10, whole.mrr, maxf.recall_at_1, maxf.recall_at_10,
      maxf.mrr, p10m / g, p20m / g, p10w / g, p20w / g);
  per_group[label + " max_fact"] = gm;
  per_group[label + " whole"] = gw;
}

// Word-level late interaction: ICT and group measures with max-sim (best fact) and
// max-sim-profile (facts pooled); the row's "whole" columns hold max-sim-profile.
void report_max_sim(const std::shared_ptr<const Embedder>& e, const std::vector<PersonaText>& test,
                    const std::vector<GroupSpec>& groups, std::uint64_t seed,
                    std::map<std::string, std::vector<GroupMetrics>>& per_group) {
  const ClozeMetrics prof = evaluate_inverse_cloze(e, test, seed, ProfileScoring::max_sim_profile);
  const ClozeMetrics fact = evaluate_inverse_cloze(e, test, seed, ProfileScoring::max_sim);
  const PersonaRetriever rm(e, test, RetrieverOptions{ProfileScoring::max_sim, {}});
  const PersonaRetriever rp(e, test, RetrieverOptions{ProfileScoring::max_sim_profile, {}});
  const auto gm = evaluate_groups(rm, groups);
  const auto gp = evaluate_groups(rp, groups);
  double a = 0, b = 0, c = 0, d = 0;
  for (std::size_t i = 0; i < gm.size(); ++i) {
    a += gm[i].precision_at_10;
    b += gm[i].precision_at_20;
    c += gp[i].precision_at_10;
    d += gp[i].precision_at_20;
  }
  const double g = static_cast<double>(groups.size());
  fmt::print(
      "| {:<12} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | {:.3f} | "
      "{:.3f} |  (max-sim: 'whole' columns = facts pooled, 'max-fact' = best fact)\n",
      "max-sim", prof.recall_at_1, prof.recall_at_10, prof.mrr, fact.recall_at_1, fact.recall_at_10,
      fact.mrr, a / g, b / g, c / g, d / g);
  per_group["max-sim max_fact"] = gm;
  per_group["max-sim whole"] = gp;
}

std::vector<PersonaText> one_per_persona(const std::vector<PersonaText>& profiles) {
  const auto g = persona_groups(profiles);
  std::vector<PersonaText> dedup;
  std::vector<char> seen(profiles.size(), 0);
  for (std::size_t i = 0; i < profiles.size(); ++i)
    if (!seen[static_cast<std::size_t>(g[i])]) {
      seen[static_cast<std::size_t>(g[i])] = 1;
      dedup.push_back(profiles[i]);
    }
  return dedup;
}

// Mean P@10 / P@20 of every untrained scoring on one profile per persona of `pool`.
void untrained_scorings(const std::string& label, const std::shared_ptr<const WordVectors>& wv,
                        const std::vector<PersonaText>& pool,
                        const std::vector<GroupSpec>& groups) {
  const auto dedup = one_per_persona(pool);
  auto sif = std::make_shared<SifEmbedder>(wv);
  sif->fit_common_components(all_facts(pool));
  fmt::print("| {} ({} personas) |", label, dedup.size());
  for (auto sc : {ProfileScoring::max_fact, ProfileScoring::whole, ProfileScoring::max_sim,
                  ProfileScoring::max_sim_profile}) {
    const PersonaRetriever r(sif, dedup, RetrieverOptions{sc, {}});
    const auto gm = evaluate_groups(r, groups);
    double a = 0, b = 0;
    for (const auto& m : gm) {
      a += m.precision_at_10;
      b += m.precision_at_20;
    }
    const double n = static_cast<double>(gm.size());
    fmt::print(" {:.3f} / {:.3f} |", a / n, b / n);
  }
  fmt::print("\n");
}
}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  const auto t0 = std::chrono::steady_clock::now();
  auto wv = std::make_shared<const WordVectors>(
      load_word_vectors(args.data_dir + "/models/glove6b_100d_top40k.w2v.bin"));
  const auto profiles =
      read_personas(args.data_dir + "/personas/synthetic_persona_chat_valid_test.jsonl");
  const auto groups = read_groups(args.data_dir + "/embedding/groups.jsonl");
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

  auto sif = std::make_shared<SifEmbedder>(wv);
  sif->fit_common_components(all_facts(split.train));
  std::shared_ptr<const Embedder> base = sif;

  const auto pairs = make_profile_pairs(split.train);
  fmt::print("training pairs {} (epochs {}, batch {}, lr {}, tau {}, hard {}, threshold {}, {})\n",
             pairs.size(), args.train.epochs, args.train.batch_size, args.train.learning_rate,
             args.train.temperature, args.train.hard_negatives, args.train.filter_threshold,
             args.train.kind == HeadKind::mlp ? "mlp" : "linear");
  ContrastiveOptions with = args.train;
  with.filter_negatives = true;
  ContrastiveOptions without = args.train;
  without.filter_negatives = false;
  const auto r1 = train_projection_head(*base, pairs, with);
  const auto r2 = train_projection_head(*base, pairs, without);
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

  // Untrained scorings on distinct personas (one profile per persona group); no training is
  // involved, so the training side doubles as the dev set for choosing among them.
  fmt::print(
      "\nuntrained scorings, one profile per persona, mean P@10 / P@20:\n| pool | max-fact | "
      "whole | max-sim | max-sim-profile |\n|---|---|---|---|---|\n");
  untrained_scorings(args.dev ? "dev-train" : "train (dev)", wv, split.train, groups);
  untrained_scorings(args.dev ? "dev-test" : "held-out", wv, split.test, groups);
  if (!args.dev) untrained_scorings("all", wv, profiles, groups);

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
    const auto g = persona_groups(profiles);
    std::vector<PersonaText> dedup;
    std::vector<char> seen(profiles.size(), 0);
    for (std::size_t i = 0; i < profiles.size(); ++i)
      if (!seen[static_cast<std::size_t>(g[i])]) {
        seen[static_cast<std::size_t>(g[i])] = 1;
        dedup.push_back(profiles[i]);
      }
    auto sif_all = std::make_shared<SifEmbedder>(wv);
    sif_all->fit_common_components(all_facts(profiles));
    fmt::print("\nuntrained GloVe SIF on one profile per persona group ({} personas):\n",
               dedup.size());
    fmt::print(
        "| group | relevant | P@10 max-fact | P@20 | P@10 whole | P@20 | P@10 max-sim | P@20 | "
        "P@10 max-sim-profile | P@20 |\n|---|---|---|---|---|---|---|---|---|---|\n");
    std::vector<std::vector<GroupMetrics>> all;
    for (auto sc : {ProfileScoring::max_fact, ProfileScoring::whole, ProfileScoring::max_sim,
                    ProfileScoring::max_sim_profile})
      all.push_back(
          evaluate_groups(PersonaRetriever(sif_all, dedup, RetrieverOptions{sc, {}}), groups));
    std::vector<double> mean(8, 0.0);
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
