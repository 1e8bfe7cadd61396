#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>

#include <popalign/embedding/retrieval.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/jsonl.hpp>
#include <popalign/io/output.hpp>

namespace popalign::embedding {

namespace {
std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}
}  // namespace

std::vector<TrainingPair> read_pairs(const std::string& path) {
  io::JsonlReader reader(path, io::JsonlReadOptions{.truncated_tail_is_error = true});
  io::JsonlRecord rec;
  std::vector<TrainingPair> out;
  while (reader.next(rec)) {
    TrainingPair p{rec.string_field("query"), rec.string_field("positive")};
    if (trim(p.query).empty()) throw ParseError(path, rec.line, "'query' is empty");
    if (trim(p.positive).empty()) throw ParseError(path, rec.line, "'positive' is empty");
    out.push_back(std::move(p));
  }
  return out;
}

void write_pairs(const std::vector<TrainingPair>& pairs, const std::string& path) {
  // io::OutputFile: atomic for a regular file, through symlinks, streamed to FIFOs and devices.
  io::OutputFile out(path);
  for (const auto& p : pairs) {
    io::JsonValue v = io::JsonValue::object();
    v.set("query", p.query);
    v.set("positive", p.positive);
    out.write(v.dump() + "\n");
  }
  out.commit();
}

std::vector<TrainingPair> make_profile_pairs(const std::vector<io::PersonaRecord>& profiles) {
  std::vector<TrainingPair> out;
  for (const auto& p : profiles) {
    if (p.facts.size() < 2) continue;
    for (std::size_t i = 0; i < p.facts.size(); ++i) {
      std::string rest;
      for (std::size_t j = 0; j < p.facts.size(); ++j) {
        if (j == i) continue;
        if (!rest.empty()) rest.push_back(' ');
        rest += p.facts[j];
      }
      out.push_back({p.facts[i], std::move(rest)});
    }
  }
  return out;
}

PersonaRetriever::PersonaRetriever(std::shared_ptr<const Embedder> embedder,
                                   std::vector<io::PersonaRecord> personas,
                                   RetrieverOptions options)
    : embedder_(std::move(embedder)), personas_(std::move(personas)), options_(options) {
  check_argument(embedder_ != nullptr, "embedder", "must not be null");
  options_.validate();
  const bool fused = options_.scoring == ProfileScoring::fused;
  const bool word_level = options_.scoring == ProfileScoring::max_sim ||
                          options_.scoring == ProfileScoring::max_sim_profile;
  check_argument(!word_level || embedder_->token_vectors() != nullptr, "embedder",
                 to_string(options_.scoring) +
                     " scoring needs token vectors (Embedder::token_vectors(), e.g. a "
                     "SifEmbedder without a head), and '" +
                     embedder_->name() + "' has none; use scoring max-fact, whole or fused");
  if (word_level || (fused && embedder_->token_vectors() != nullptr)) {
    std::vector<std::vector<std::string>> docs;
    if (options_.scoring == ProfileScoring::max_sim) {
      for (std::size_t i = 0; i < personas_.size(); ++i)
        for (const auto& f : personas_[i].facts) {
          docs.push_back({f});
          owner_.push_back(static_cast<Index>(i));
        }
    } else {
      for (const auto& p : personas_) docs.push_back(p.facts);
    }
    max_sim_ = std::make_shared<const MaxSimScorer>(embedder_, docs);
    if (!fused) return;
  }
  std::vector<std::string> texts;
  if (options_.scoring == ProfileScoring::max_fact || fused) {
    for (std::size_t i = 0; i < personas_.size(); ++i)
      for (const auto& f : personas_[i].facts) {
        texts.push_back(f);
        owner_.push_back(static_cast<Index>(i));
      }
  } else {
    for (const auto& p : personas_) texts.push_back(p.facts_text());
  }
  if (fused && !max_sim_) {
    // fused without token vectors: the whole-profile channel. Facts and profiles go to the
    // embedder in one batch (one call for an HTTP embedder).
    const auto n_facts = static_cast<Index>(texts.size());
    for (const auto& p : personas_) texts.push_back(p.facts_text());
    RowMatrix<float> all = embedder_->embed(texts);
    if (!embedder_->normalized()) normalize_rows(all);
    vectors_ = all.topRows(n_facts);
    profile_vectors_ = all.bottomRows(all.rows() - n_facts);
    return;
  }
  vectors_ = embedder_->embed(texts);
  if (!embedder_->normalized()) normalize_rows(vectors_);
  if (fused && options_.feedback_personas > 0) {
    fact_words_.reserve(texts.size());
    for (const auto& t : texts) fact_words_.push_back(max_sim_->weighted_words(t));
  }
}

namespace {
// Per row: (x - mean) / standard deviation over the personas (a constant row becomes 0).
void standardize_rows(RowMatrix<float>& s) {
  for (Index q = 0; q < s.rows(); ++q) {
    const double n = static_cast<double>(s.cols());
    if (n == 0) continue;
    double mean = 0;
    for (Index j = 0; j < s.cols(); ++j) mean += s(q, j);
    mean /= n;
    double var = 0;
    for (Index j = 0; j < s.cols(); ++j) var += (s(q, j) - mean) * (s(q, j) - mean);
    const double sd = std::sqrt(var / n);
    for (Index j = 0; j < s.cols(); ++j)
      s(q, j) = sd > 0 ? static_cast<float>((s(q, j) - mean) / sd) : 0.0f;
  }
}
}  // namespace

RowMatrix<float> PersonaRetriever::fused_scores(const std::vector<std::string>& queries) const {
  RowMatrix<float> qv = embedder_->embed(queries);
  if (!embedder_->normalized()) normalize_rows(qv);
  Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> best;
  RowMatrix<float> a = dense_scores(qv, &best);
  // Second channel: max-sim-profile with token vectors, else the whole-profile cosine.
  RowMatrix<float> b = max_sim_ ? max_sim_->score(queries, options_.execution)
                                : dense_scores(qv, profile_vectors_, false);
  standardize_rows(a);
  standardize_rows(b);
  a += b;
  const auto np = static_cast<Index>(personas_.size());
  const Index m = std::min(options_.feedback_personas, np);
  if (m == 0) return a;
  // Pseudo-relevance feedback (retrieval.hpp): the best facts of the m best fused personas.
  const auto top = top_k_rows(a, m);
  const auto beta = options_.feedback_weight;
  RowMatrix<float> q2 = qv;
  std::vector<WeightedQuery> w2(queries.size());
  for (Index q = 0; q < qv.rows(); ++q) {
    auto& wq = w2[static_cast<std::size_t>(q)];
    if (max_sim_) wq = max_sim_->weighted_words(queries[static_cast<std::size_t>(q)]);
    if (qv.row(q).squaredNorm() == 0) continue;  // no known words: no feedback
    double wsum = 0;
    for (double w : wq.weights) wsum += w;
    Eigen::RowVectorXd centroid = Eigen::RowVectorXd::Zero(qv.cols());
    for (const auto& hit : top[static_cast<std::size_t>(q)]) {
      const Index fact = best(q, hit.index);
      centroid += vectors_.row(fact).cast<double>();
      if (!max_sim_) continue;
      const WeightedQuery& fw = fact_words_[static_cast<std::size_t>(fact)];
      double fsum = 0;
      for (double w : fw.weights) fsum += w;
      if (!(fsum > 0)) continue;
      for (std::size_t i = 0; i < fw.rows.size(); ++i) {
        wq.rows.push_back(fw.rows[i]);
        wq.weights.push_back(beta * wsum * fw.weights[i] / fsum / static_cast<double>(m));
      }
    }
    Eigen::RowVectorXd v = qv.row(q).cast<double>() + beta * centroid / static_cast<double>(m);
    const double n = v.norm();
    q2.row(q) =
        n > 0 ? Eigen::RowVectorXf((v / n).cast<float>()) : Eigen::RowVectorXf(v.cast<float>());
  }
  RowMatrix<float> a2 = dense_scores(q2);
  RowMatrix<float> b2 = max_sim_ ? max_sim_->score_weighted(w2, options_.execution)
                                 : dense_scores(q2, profile_vectors_, false);
  standardize_rows(a2);
  standardize_rows(b2);
  a2 += b2;
  return a2;
}

RowMatrix<float> PersonaRetriever::score_all(const std::vector<std::string>& queries) const {
  if (options_.scoring == ProfileScoring::fused) return fused_scores(queries);
  if (max_sim_) {  // max_sim, max_sim_profile
    const RowMatrix<float> s = max_sim_->score(queries, options_.execution);
    if (options_.scoring == ProfileScoring::max_sim_profile) return s;
    RowMatrix<float> out(s.rows(), static_cast<Index>(personas_.size()));
    out.setConstant(-std::numeric_limits<float>::infinity());
    for (Index q = 0; q < s.rows(); ++q)
      for (Index j = 0; j < s.cols(); ++j) {
        float& best = out(q, owner_[static_cast<std::size_t>(j)]);
        best = std::max(best, s(q, j));
      }
    return out;
  }
  return dense_scores(queries);
}

RowMatrix<float> PersonaRetriever::dense_scores(const std::vector<std::string>& queries) const {
  RowMatrix<float> q = embedder_->embed(queries);
  if (!embedder_->normalized()) normalize_rows(q);
  return dense_scores(q);
}

RowMatrix<float> PersonaRetriever::dense_scores(
    const RowMatrix<float>& q,
    Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>* best_fact) const {
  return dense_scores(q, vectors_, options_.scoring != ProfileScoring::whole, best_fact);
}

RowMatrix<float> PersonaRetriever::dense_scores(
    const RowMatrix<float>& q, const RowMatrix<float>& vectors, bool per_fact,
    Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>* best_fact) const {
  const auto np = static_cast<Index>(personas_.size());
  RowMatrix<float> out(q.rows(), np);
  if (best_fact) best_fact->setConstant(q.rows(), np, -1);
  const Index block = 32;
  parallel_for(
      (q.rows() + block - 1) / block, options_.execution.resolved_threads(), 1,
      [&](Index b, Index e) {
        for (Index blk = b; blk < e; ++blk) {
          const Index q0 = blk * block, q1 = std::min(q.rows(), q0 + block);
          Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor, 32, Eigen::Dynamic>
              s = q.middleRows(q0, q1 - q0) * vectors.transpose();
          if (!per_fact) {
            out.middleRows(q0, q1 - q0) = s;
            continue;
          }
          out.middleRows(q0, q1 - q0).setConstant(-std::numeric_limits<float>::infinity());
          for (Index r = 0; r < q1 - q0; ++r)
            for (Index j = 0; j < s.cols(); ++j) {
              const Index o = owner_[static_cast<std::size_t>(j)];
              float& best = out(q0 + r, o);
              if (s(r, j) > best || (best_fact && (*best_fact)(q0 + r, o) < 0)) {
                best = std::max(best, s(r, j));
                if (best_fact) (*best_fact)(q0 + r, o) = j;
              }
            }
        }
      });
  return out;
}

std::string to_string(ProfileScoring scoring) {
  switch (scoring) {
    case ProfileScoring::max_fact:
      return "max-fact";
    case ProfileScoring::whole:
      return "whole";
    case ProfileScoring::max_sim:
      return "max-sim";
    case ProfileScoring::max_sim_profile:
      return "max-sim-profile";
    case ProfileScoring::fused:
      return "fused";
  }
  return "?";
}

ProfileScoring parse_profile_scoring(const std::string& name) {
  for (auto s : {ProfileScoring::max_fact, ProfileScoring::whole, ProfileScoring::max_sim,
                 ProfileScoring::max_sim_profile, ProfileScoring::fused})
    if (to_string(s) == name) return s;
  throw InvalidArgument(
      "scoring", "must be max-fact, whole, max-sim, max-sim-profile or fused, not '" + name + "'");
}

std::vector<std::vector<RetrievalHit>> top_k_rows(const RowMatrix<float>& scores, Index k) {
  check_argument(k >= 1, "k", "must be >= 1");
  std::vector<std::vector<RetrievalHit>> out(static_cast<std::size_t>(scores.rows()));
  const Index kk = std::min(k, scores.cols());
  std::vector<Index> idx(static_cast<std::size_t>(scores.cols()));
  for (Index q = 0; q < scores.rows(); ++q) {
    for (Index j = 0; j < scores.cols(); ++j) idx[static_cast<std::size_t>(j)] = j;
    std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](Index a, Index b) {
      return scores(q, a) > scores(q, b) || (scores(q, a) == scores(q, b) && a < b);
    });
    auto& hits = out[static_cast<std::size_t>(q)];
    for (Index j = 0; j < kk; ++j)
      hits.push_back(
          {idx[static_cast<std::size_t>(j)], scores(q, idx[static_cast<std::size_t>(j)])});
  }
  return out;
}

std::vector<std::vector<RetrievalHit>> PersonaRetriever::search(
    const std::vector<std::string>& queries, Index k) const {
  check_argument(k >= 1, "k", "must be >= 1");
  return top_k_rows(score_all(queries), k);
}

}  // namespace popalign::embedding
