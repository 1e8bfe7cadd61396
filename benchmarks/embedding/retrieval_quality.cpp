// Retrieval quality on held-out Synthetic-Persona-Chat profiles (docs/retrieval.md).
//
//   popalign_embedding_quality [--epochs N] [--batch B] [--lr X] [--temperature T]
//       [--hard-negatives K] [--filter-threshold T] [--kind linear|mlp] [--seed S]
//       [--holdout F] [--split-seed S] [--write-head FILE] [--write-components FILE]
//
// Split: whole persona groups (profiles sharing a fact, see persona_groups) are held out in
// seeded order (split seed 2026) until 20% of the profiles are; the SIF common component and the
// heads are fitted on the rest only. Rows reported:
//   untrained   GloVe SIF (no head)
//   head        GloVe SIF + head trained with InfoNCE, mined hard negatives, semantic filtering
//   head-nofilt the same head trained without the filter
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
}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  const auto t0 = std::chrono::steady_clock::now();
  auto wv = std::make_shared<const WordVectors>(
      load_word_vectors(args.data_dir + "/models/glove6b_100d_top40k.w2v.bin"));
  const auto profiles =
      read_personas(args.data_dir + "/personas/synthetic_persona_chat_valid_test.jsonl");
  const auto groups = read_groups(args.data_dir + "/embedding/groups.jsonl");
  const ProfileSplit split = split_profiles(profiles, args.holdout, args.split_seed);
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

  // Distinct personas in the top 10 (variants of one persona collapse).
  fmt::print("\ndistinct personas among the top 10 (max-fact), per group:");
  for (const auto& label : {"untrained", "head", "head-nofilt"}) {
    fmt::print("\n  {:<12}", label);
    for (const auto& m : per_group[std::string(label) + " max_fact"])
      fmt::print(" {}", m.distinct_at_10);
  }
  fmt::print("\n");

  // The untrained embedder involves no training, so it can be measured on the whole data set
  // without leakage: one profile per persona group (the first in file order).
  {
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
        "| group | relevant | P@10 max-fact | P@20 | P@10 whole | P@20 "
        "|\n|---|---|---|---|---|---|\n");
    const PersonaRetriever rm(sif_all, dedup, RetrieverOptions{ProfileScoring::max_fact, {}});
    const PersonaRetriever rw(sif_all, dedup, RetrieverOptions{ProfileScoring::whole, {}});
    const auto gm = evaluate_groups(rm, groups);
    const auto gw = evaluate_groups(rw, groups);
    double a = 0, b = 0, c = 0, d = 0;
    for (std::size_t i = 0; i < gm.size(); ++i) {
      fmt::print("| {} | {} | {:.1f} | {:.2f} | {:.1f} | {:.2f} |\n", gm[i].name, gm[i].relevant,
                 gm[i].precision_at_10, gm[i].precision_at_20, gw[i].precision_at_10,
                 gw[i].precision_at_20);
      a += gm[i].precision_at_10;
      b += gm[i].precision_at_20;
      c += gw[i].precision_at_10;
      d += gw[i].precision_at_20;
    }
    const double n = static_cast<double>(gm.size());
    fmt::print("| mean | | {:.3f} | {:.3f} | {:.3f} | {:.3f} |\n", a / n, b / n, c / n, d / n);
  }

  fmt::print("\nper group (max-fact scoring), P@10 / P@20, relevant held-out profiles:\n");
  fmt::print("| group | relevant | untrained | head | head-nofilt |\n|---|---|---|---|---|\n");
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const auto& u = per_group["untrained max_fact"][g];
    const auto& h = per_group["head max_fact"][g];
    const auto& n = per_group["head-nofilt max_fact"][g];
    fmt::print("| {} | {} | {:.1f} / {:.2f} | {:.1f} / {:.2f} | {:.1f} / {:.2f} |\n", u.name,
               u.relevant, u.precision_at_10, u.precision_at_20, h.precision_at_10,
               h.precision_at_20, n.precision_at_10, n.precision_at_20);
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
