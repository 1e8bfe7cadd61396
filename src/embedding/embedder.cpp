#include <popalign/embedding/embedder.hpp>

#include <cmath>

namespace popalign::embedding {

void normalize_rows(RowMatrix<float>& m) {
  for (Index i = 0; i < m.rows(); ++i) {
    const double n = m.row(i).cast<double>().norm();
    if (n > 0.0) m.row(i) /= static_cast<float>(n);
  }
}

CachingEmbedder::CachingEmbedder(std::shared_ptr<const Embedder> inner, CacheOptions options)
    : inner_(std::move(inner)), options_(options) {
  check_argument(inner_ != nullptr, "inner", "must not be null");
  options_.validate();
}

void CachingEmbedder::insert_locked(const std::string& text, std::vector<float> row) const {
  auto it = table_.find(text);
  if (it != table_.end()) return;
  lru_.push_front(text);
  table_.emplace(text, Entry{std::move(row), lru_.begin()});
  if (options_.max_entries > 0) {
    while (table_.size() > options_.max_entries) {
      table_.erase(lru_.back());
      lru_.pop_back();
    }
  }
}

RowMatrix<float> CachingEmbedder::embed(const std::vector<std::string>& texts) const {
  const Index d = inner_->dimension();
  RowMatrix<float> out(static_cast<Index>(texts.size()), d);
  std::vector<std::string> missing;
  std::unordered_map<std::string, Index> missing_pos;  // text -> row in `missing`
  std::vector<std::pair<Index, Index>> fill;           // (out row, missing row)
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      auto it = table_.find(texts[i]);
      if (it != table_.end()) {
        ++hits_;
        lru_.splice(lru_.begin(), lru_, it->second.position);
        out.row(static_cast<Index>(i)) =
            Eigen::Map<const Eigen::RowVectorXf>(it->second.row.data(), d);
        continue;
      }
      ++misses_;
      auto [pos, inserted] = missing_pos.emplace(texts[i], static_cast<Index>(missing.size()));
      if (inserted) missing.push_back(texts[i]);
      fill.emplace_back(static_cast<Index>(i), pos->second);
    }
  }
  if (missing.empty()) return out;
  RowMatrix<float> fresh = inner_->embed(missing);
  if (fresh.rows() != static_cast<Index>(missing.size()) || fresh.cols() != d)
    throw BackendError("embedder '" + inner_->name() + "' returned a " +
                       std::to_string(fresh.rows()) + "x" + std::to_string(fresh.cols()) +
                       " matrix for " + std::to_string(missing.size()) + " texts");
  for (auto [row, m] : fill) out.row(row) = fresh.row(m);
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t m = 0; m < missing.size(); ++m) {
    const float* p = fresh.row(static_cast<Index>(m)).data();
    insert_locked(missing[m], std::vector<float>(p, p + d));
  }
  return out;
}

std::size_t CachingEmbedder::hits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return hits_;
}
std::size_t CachingEmbedder::misses() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return misses_;
}
std::size_t CachingEmbedder::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return table_.size();
}
void CachingEmbedder::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  table_.clear();
  lru_.clear();
  hits_ = misses_ = 0;
}

}  // namespace popalign::embedding
