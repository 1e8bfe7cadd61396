// Near-duplicate personas by embedding cosine: see include/popalign/persona/dedup.hpp.
//
// The embeddings are L2-normalized (unless the embedder says they are), then processed in
// blocks of kBlock rows: S = E[block] * E[0 : block end]^T (one matrix product), and the rows of
// the block are decided in order against the kept personas before them, so the whole Gram
// matrix is never held at once and the first occurrence always wins.
#include <popalign/persona/dedup.hpp>

#include <algorithm>
#include <cmath>

#include <popalign/core/error.hpp>

namespace popalign::persona {

void PersonaDedupOptions::validate() const {
  check_argument(std::isfinite(max_cosine) && max_cosine > -1.0 && max_cosine <= 1.0, "max_cosine",
                 "must be in (-1, 1]");
}

PersonaDedupResult dedup_personas(const embedding::Embedder& embedder,
                                  std::span<const std::string> texts,
                                  const PersonaDedupOptions& options) {
  options.validate();
  PersonaDedupResult result;
  const std::size_t n = texts.size();
  result.similarity.assign(n, 0.0);
  if (n == 0) return result;
  RowMatrix<float> e = embedder.embed(std::vector<std::string>(texts.begin(), texts.end()));
  if (e.rows() != static_cast<Index>(n))
    throw BackendError("embedder '" + embedder.name() + "' returned " + std::to_string(e.rows()) +
                       " rows for " + std::to_string(n) + " texts");
  if (!embedder.normalized()) {
    for (Index i = 0; i < e.rows(); ++i) {
      const float norm = e.row(i).norm();
      if (norm > 0.0f && std::isfinite(norm))
        e.row(i) /= norm;
      else
        e.row(i).setZero();
    }
  }
  constexpr Index kBlock = 512;
  std::vector<char> kept(n, 0);
  for (Index b = 0; b < static_cast<Index>(n); b += kBlock) {
    const Index rows = std::min<Index>(kBlock, static_cast<Index>(n) - b);
    const Index cols = b + rows;
    const RowMatrix<float> s = e.middleRows(b, rows) * e.topRows(cols).transpose();
    for (Index r = 0; r < rows; ++r) {
      const std::size_t i = static_cast<std::size_t>(b + r);
      double best = 0.0;
      std::size_t best_j = n;
      for (std::size_t j = 0; j < i; ++j) {
        if (!kept[j]) continue;
        const double c = static_cast<double>(s(r, static_cast<Index>(j)));
        if (best_j == n || c > best) {
          best = c;
          best_j = j;
        }
      }
      result.similarity[i] = best_j == n ? 0.0 : best;
      if (best_j != n && best >= options.max_cosine) {
        result.removed.emplace_back(i, best_j);
      } else {
        kept[i] = 1;
        result.kept.push_back(i);
      }
    }
  }
  return result;
}

}  // namespace popalign::persona
