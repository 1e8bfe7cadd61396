#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include <popalign/core/random.hpp>
#include <popalign/embedding/evaluation.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/jsonl.hpp>

namespace popalign::embedding {

std::vector<Index> persona_groups(const std::vector<io::PersonaRecord>& profiles) {
  const std::size_t n = profiles.size();
  std::vector<std::size_t> parent(n);
  std::iota(parent.begin(), parent.end(), std::size_t{0});
  auto find = [&](std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  std::unordered_map<std::string, std::size_t> first_with;
  for (std::size_t i = 0; i < n; ++i) {
    for (const auto& f : profiles[i].facts) {
      const std::string key = normalized_text(f);
      if (key.empty()) continue;
      auto [it, inserted] = first_with.emplace(key, i);
      if (!inserted) {
        const std::size_t a = find(i), b = find(it->second);
        if (a != b) parent[std::max(a, b)] = std::min(a, b);
      }
    }
  }
  std::vector<Index> out(n);
  std::unordered_map<std::size_t, Index> ids;
  for (std::size_t i = 0; i < n; ++i) {
    auto [it, inserted] = ids.emplace(find(i), static_cast<Index>(ids.size()));
    out[i] = it->second;
  }
  return out;
}

std::vector<io::PersonaRecord> one_profile_per_persona(
    const std::vector<io::PersonaRecord>& profiles) {
  const std::vector<Index> g = persona_groups(profiles);
  std::vector<io::PersonaRecord> out;
  std::vector<char> seen(profiles.size(), 0);
  for (std::size_t i = 0; i < profiles.size(); ++i)
    if (!seen[static_cast<std::size_t>(g[i])]) {
      seen[static_cast<std::size_t>(g[i])] = 1;
      out.push_back(profiles[i]);
    }
  return out;
}

ProfileSplit split_profiles(const std::vector<io::PersonaRecord>& profiles, double holdout_fraction,
                            std::uint64_t seed) {
  check_argument(holdout_fraction >= 0 && holdout_fraction <= 1, "holdout_fraction",
                 "must be in [0, 1]");
  const std::vector<Index> group = persona_groups(profiles);
  const Index n_groups = group.empty() ? 0 : *std::max_element(group.begin(), group.end()) + 1;
  std::vector<Index> order(static_cast<std::size_t>(n_groups));
  std::iota(order.begin(), order.end(), Index{0});
  Rng rng(seed);
  rng.shuffle(order);
  std::vector<Index> size(static_cast<std::size_t>(n_groups), 0);
  for (Index g : group) ++size[static_cast<std::size_t>(g)];
  const auto want =
      static_cast<Index>(std::llround(holdout_fraction * static_cast<double>(profiles.size())));
  std::vector<char> held(static_cast<std::size_t>(n_groups), 0);
  Index taken = 0;
  for (Index g : order) {
    if (taken >= want) break;
    held[static_cast<std::size_t>(g)] = 1;
    taken += size[static_cast<std::size_t>(g)];
  }
  ProfileSplit out;
  for (std::size_t i = 0; i < profiles.size(); ++i)
    (held[static_cast<std::size_t>(group[i])] ? out.test : out.train).push_back(profiles[i]);
  return out;
}

ClozeMetrics evaluate_inverse_cloze(std::shared_ptr<const Embedder> embedder,
                                    const std::vector<io::PersonaRecord>& profiles,
                                    std::uint64_t seed, ProfileScoring scoring,
                                    const Execution& execution) {
  RetrieverOptions o;
  o.scoring = scoring;
  o.execution = execution;
  return evaluate_inverse_cloze(std::move(embedder), profiles, seed, o);
}

ClozeMetrics evaluate_inverse_cloze(std::shared_ptr<const Embedder> embedder,
                                    const std::vector<io::PersonaRecord>& profiles,
                                    std::uint64_t seed, const RetrieverOptions& options) {
  check_argument(embedder != nullptr, "embedder", "must not be null");
  Rng rng(seed);
  std::vector<std::string> queries;
  std::vector<io::PersonaRecord> docs;
  for (const auto& p : profiles) {
    if (p.facts.size() < 2) continue;
    const auto pick = static_cast<std::size_t>(rng.uniform_int(p.facts.size()));
    io::PersonaRecord d;
    d.id = p.id;
    for (std::size_t j = 0; j < p.facts.size(); ++j)
      if (j != pick) d.facts.push_back(p.facts[j]);
    queries.push_back(p.facts[pick]);
    docs.push_back(std::move(d));
  }
  ClozeMetrics m;
  m.queries = static_cast<Index>(queries.size());
  if (queries.empty()) return m;
  const PersonaRetriever retriever(embedder, docs, options);
  const RowMatrix<float> s = retriever.score_all(queries);
  std::vector<io::PersonaRecord> used;  // the profiles behind `queries`, for their groups
  for (const auto& p : profiles)
    if (p.facts.size() >= 2) used.push_back(p);
  const std::vector<Index> group = persona_groups(used);
  for (Index q = 0; q < s.rows(); ++q) {
    const float own = s(q, q);
    Index rank = 1;
    for (Index j = 0; j < s.cols(); ++j)
      if (j != q && group[static_cast<std::size_t>(j)] != group[static_cast<std::size_t>(q)] &&
          s(q, j) > own)
        ++rank;
    if (rank <= 1) m.recall_at_1 += 1;
    if (rank <= 10) m.recall_at_10 += 1;
    m.mrr += 1.0 / static_cast<double>(rank);
  }
  const auto n = static_cast<double>(s.rows());
  m.recall_at_1 /= n;
  m.recall_at_10 /= n;
  m.mrr /= n;
  return m;
}

std::vector<GroupSpec> read_groups(const std::string& path) {
  io::JsonlReader reader(path, io::JsonlReadOptions{.truncated_tail_is_error = true});
  io::JsonlRecord rec;
  std::vector<GroupSpec> out;
  while (reader.next(rec)) {
    GroupSpec g{rec.string_field("name"), rec.string_field("description"), {}};
    const io::JsonValue& kw = rec.field("keywords");
    if (!kw.is_array() || kw.size() == 0)
      throw ParseError(path, rec.line, "'keywords' must be a non-empty array of strings");
    for (const auto& k : kw.as_array()) {
      if (!k.is_string() || tokenize(k.as_string()).empty())
        throw ParseError(path, rec.line, "'keywords' must hold non-empty strings");
      g.keywords.push_back(k.as_string());
    }
    out.push_back(std::move(g));
  }
  return out;
}

bool profile_matches(const io::PersonaRecord& profile, const GroupSpec& group) {
  std::vector<std::vector<std::string>> kws;
  for (const auto& k : group.keywords) kws.push_back(tokenize(k));
  for (const auto& fact : profile.facts) {
    const auto toks = tokenize(fact);
    for (const auto& kw : kws) {
      if (kw.empty() || kw.size() > toks.size()) continue;
      for (std::size_t s = 0; s + kw.size() <= toks.size(); ++s)
        if (std::equal(kw.begin(), kw.end(), toks.begin() + static_cast<std::ptrdiff_t>(s)))
          return true;
    }
  }
  return false;
}

std::vector<GroupMetrics> evaluate_groups(const PersonaRetriever& retriever,
                                          const std::vector<GroupSpec>& groups) {
  std::vector<std::string> queries;
  for (const auto& g : groups) queries.push_back(g.description);
  const auto hits = retriever.search(queries, 20);
  const std::vector<Index> persona_group = persona_groups(retriever.personas());
  std::vector<GroupMetrics> out;
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    GroupMetrics m;
    m.name = groups[gi].name;
    for (const auto& p : retriever.personas())
      if (profile_matches(p, groups[gi])) ++m.relevant;
    Index rel10 = 0, rel20 = 0;
    for (std::size_t j = 0; j < hits[gi].size(); ++j) {
      const bool r = profile_matches(
          retriever.personas()[static_cast<std::size_t>(hits[gi][j].index)], groups[gi]);
      if (r && j < 10) ++rel10;
      if (r && j < 20) ++rel20;
    }
    std::vector<Index> seen;
    for (std::size_t j = 0; j < hits[gi].size() && j < 10; ++j) {
      const Index g = persona_group[static_cast<std::size_t>(hits[gi][j].index)];
      if (std::find(seen.begin(), seen.end(), g) == seen.end()) seen.push_back(g);
    }
    m.distinct_at_10 = static_cast<Index>(seen.size());
    m.precision_at_10 = static_cast<double>(rel10) / 10.0;
    m.precision_at_20 = static_cast<double>(rel20) / 20.0;
    out.push_back(m);
  }
  return out;
}

}  // namespace popalign::embedding
