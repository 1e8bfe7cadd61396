// Query expansion by word-vector neighbours in the pool's vocabulary. See
// embedding/query_expansion.hpp.
#include <popalign/embedding/query_expansion.hpp>

#include <algorithm>
#include <set>

namespace popalign::embedding {

std::vector<std::string> neighbour_expansion(const SifEmbedder& sif, std::string_view query,
                                             const std::vector<std::string>& pool_texts,
                                             const NeighbourExpansionOptions& options) {
  options.validate();
  const WordVectors& wv = sif.word_vectors();
  const RowMatrix<float>& v = wv.vectors();
  auto unit = [&](Index r) {
    Eigen::RowVectorXf x = v.row(r);
    const float n = x.norm();
    if (n > 0) x /= n;
    return x;
  };
  std::vector<Index> query_rows;
  std::set<Index> in_query;
  for (Index r : sif.token_rows(query)) {
    if (!in_query.insert(r).second) continue;
    if (sif.weight(r) >= options.min_query_weight) query_rows.push_back(r);
  }
  std::set<Index> vocab_set;
  for (const auto& t : pool_texts)
    for (Index r : sif.token_rows(t))
      if (in_query.count(r) == 0 && sif.weight(r) >= options.min_query_weight) vocab_set.insert(r);
  const std::vector<Index> vocab(vocab_set.begin(), vocab_set.end());
  RowMatrix<float> cand(static_cast<Index>(vocab.size()), v.cols());
  for (std::size_t i = 0; i < vocab.size(); ++i) cand.row(static_cast<Index>(i)) = unit(vocab[i]);
  std::vector<std::string> out;
  std::set<Index> added;
  for (Index q : query_rows) {
    const Eigen::VectorXf cos = cand * unit(q).transpose();
    std::vector<Index> order(vocab.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<Index>(i);
    std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return cos[a] > cos[b]; });
    Index taken = 0;
    for (Index i : order) {
      if (taken >= options.neighbours || cos[i] < options.min_cosine) break;
      ++taken;
      if (added.insert(vocab[static_cast<std::size_t>(i)]).second)
        out.push_back(wv.words()[static_cast<std::size_t>(vocab[static_cast<std::size_t>(i)])]);
    }
  }
  return out;
}

std::string expanded_query(std::string_view query, const std::vector<std::string>& words) {
  std::string s(query);
  for (const auto& w : words) s += " " + w;
  return s;
}

}  // namespace popalign::embedding
