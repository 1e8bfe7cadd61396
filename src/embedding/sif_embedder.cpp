#include <Eigen/Eigenvalues>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/core.h>

#include <popalign/core/execution.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/data_dir.hpp>
#include <popalign/io/output.hpp>

namespace popalign::embedding {

SifEmbedder::SifEmbedder(std::shared_ptr<const WordVectors> vectors, SifOptions options)
    : vectors_(std::move(vectors)), options_(options) {
  check_argument(vectors_ != nullptr, "vectors", "must not be null");
  check_argument(vectors_->size() > 0, "vectors", "vocabulary is empty");
  options_.validate();
  set_word_probabilities(zipf_probabilities(vectors_->size()));
}

std::string SifEmbedder::name() const {
  return fmt::format("glove-sif:v{}x{}:a={}:pc={}", vectors_->size(), vectors_->dimension(),
                     options_.a, components_.rows());
}

void SifEmbedder::set_word_probabilities(const Vector<double>& p) {
  check_argument(p.size() == vectors_->size(), "p",
                 "has " + std::to_string(p.size()) + " entries for a vocabulary of " +
                     std::to_string(vectors_->size()));
  double total = 0.0;
  for (Index i = 0; i < p.size(); ++i) {
    check_argument(std::isfinite(p[i]) && p[i] >= 0, "p",
                   "entry " + std::to_string(i) + " is negative or not finite");
    total += p[i];
  }
  check_argument(total > 0, "p", "sums to zero");
  weights_.resize(static_cast<std::size_t>(p.size()));
  for (Index i = 0; i < p.size(); ++i)
    weights_[static_cast<std::size_t>(i)] =
        static_cast<float>(options_.a / (options_.a + p[i] / total));
}

std::vector<Index> SifEmbedder::token_rows(std::string_view text) const {
  std::vector<Index> out;
  for (const auto& tok : tokenize(text)) {
    const Index r = vectors_->find(tok);
    if (r >= 0) out.push_back(r);
  }
  return out;
}

RowMatrix<float> SifEmbedder::embed_weighted_average(const std::vector<std::string>& texts) const {
  const Index d = vectors_->dimension();
  const auto n = static_cast<Index>(texts.size());
  RowMatrix<float> out = RowMatrix<float>::Zero(n, d);
  const int threads =
      n < 256 ? 1
              : Execution{.threads = options_.threads}.resolved_threads();  // capped at the cores
  parallel_for(n, threads, 64, [&](Index b, Index e) {
    Eigen::VectorXd acc(d);
    for (Index i = b; i < e; ++i) {
      acc.setZero();
      Index count = 0;
      for (const std::string& tok : tokenize(texts[static_cast<std::size_t>(i)])) {
        const Index r = vectors_->find(tok);
        if (r < 0) continue;
        const double w = weights_[static_cast<std::size_t>(r)];
        acc += w * vectors_->vectors().row(r).transpose().cast<double>();
        ++count;
      }
      if (count > 0) out.row(i) = (acc / static_cast<double>(count)).transpose().cast<float>();
    }
  });
  return out;
}

RowMatrix<float> SifEmbedder::embed(const std::vector<std::string>& texts) const {
  RowMatrix<float> v = embed_weighted_average(texts);
  if (components_.rows() > 0) {
    // v <- v - (v C^T) C, in double for a fixed, accurate result.
    const Eigen::MatrixXd c = components_.cast<double>();
    for (Index i = 0; i < v.rows(); ++i) {
      Eigen::RowVectorXd row = v.row(i).cast<double>();
      if (row.squaredNorm() == 0.0) continue;
      row -= (row * c.transpose()) * c;
      v.row(i) = row.cast<float>();
    }
  }
  if (options_.normalize) normalize_rows(v);
  return v;
}

void SifEmbedder::fit_common_components(const std::vector<std::string>& corpus) {
  const Index k = options_.components;
  if (k == 0) {
    components_.resize(0, vectors_->dimension());
    return;
  }
  const RowMatrix<float> v = embed_weighted_average(corpus);
  const Index d = v.cols();
  Eigen::MatrixXd gram = Eigen::MatrixXd::Zero(d, d);
  Index used = 0;
  for (Index i = 0; i < v.rows(); ++i) {
    const Eigen::VectorXd x = v.row(i).transpose().cast<double>();
    if (x.squaredNorm() == 0.0) continue;
    gram.selfadjointView<Eigen::Lower>().rankUpdate(x);
    ++used;
  }
  check_argument(used >= k, "corpus",
                 "has " + std::to_string(used) + " texts with known words; need at least " +
                     std::to_string(k) + " to fit the common components");
  gram = gram.selfadjointView<Eigen::Lower>();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(gram);
  RowMatrix<float> comps(k, d);
  for (Index j = 0; j < k; ++j) {
    Eigen::VectorXd u = es.eigenvectors().col(d - 1 - j);  // largest eigenvalues last
    Index arg = 0;
    u.cwiseAbs().maxCoeff(&arg);
    if (u[arg] < 0) u = -u;  // fixed sign
    comps.row(j) = u.transpose().cast<float>();
  }
  components_ = std::move(comps);
}

void SifEmbedder::set_common_components(RowMatrix<float> components) {
  check_argument(components.rows() == 0 || components.cols() == vectors_->dimension(), "components",
                 "has " + std::to_string(components.cols()) +
                     " columns for word vectors of dimension " +
                     std::to_string(vectors_->dimension()));
  for (Index i = 0; i < components.rows(); ++i) {
    check_argument(components.row(i).allFinite(), "components", "contains NaN or Inf");
    const double n = components.row(i).cast<double>().norm();
    check_argument(n > 0, "components", "row " + std::to_string(i) + " is zero");
    components.row(i) /= static_cast<float>(n);
  }
  components_ = std::move(components);
}

namespace {
constexpr char kMagic[8] = {'P', 'A', 'S', 'I', 'F', 'P', 'C', '1'};
void put_u64(std::ostream& out, std::uint64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
  out.write(reinterpret_cast<const char*>(b), 8);
}
std::uint64_t get_u64(std::ifstream& in) {
  unsigned char b[8] = {};
  in.read(reinterpret_cast<char*>(b), 8);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(b[i]) << (8 * i);
  return v;
}
}  // namespace

void SifEmbedder::save_common_components(const std::string& path) const {
  std::ostringstream out(std::ios::binary);
  out.write(kMagic, 8);
  put_u64(out, 1);  // version
  put_u64(out, static_cast<std::uint64_t>(components_.rows()));
  put_u64(out, static_cast<std::uint64_t>(vectors_->dimension()));
  for (Index i = 0; i < components_.rows(); ++i)
    for (Index j = 0; j < components_.cols(); ++j) {
      std::uint32_t u;
      const float f = components_(i, j);
      std::memcpy(&u, &f, 4);
      unsigned char b[4] = {static_cast<unsigned char>(u), static_cast<unsigned char>(u >> 8),
                            static_cast<unsigned char>(u >> 16),
                            static_cast<unsigned char>(u >> 24)};
      out.write(reinterpret_cast<const char*>(b), 4);
    }
  // Atomic for a regular file; through symlinks; streamed to FIFOs and devices.
  io::write_file_atomically(path, std::move(out).str());
}

void SifEmbedder::load_common_components(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path, "cannot open common-component file");
  char magic[8] = {};
  in.read(magic, 8);
  if (!in || std::memcmp(magic, kMagic, 8) != 0)
    throw ParseError(path, 0, "not a popalign SIF component file (bad magic)");
  const std::uint64_t version = get_u64(in);
  if (version != 1) throw ParseError(path, 0, "unsupported version " + std::to_string(version));
  const std::uint64_t rows = get_u64(in), cols = get_u64(in);
  if (!in || rows > 1024 || cols != static_cast<std::uint64_t>(vectors_->dimension()))
    throw ParseError(path, 0,
                     "components are " + std::to_string(rows) + "x" + std::to_string(cols) +
                         ", word vectors have dimension " + std::to_string(vectors_->dimension()));
  RowMatrix<float> c(static_cast<Index>(rows), static_cast<Index>(cols));
  for (Index i = 0; i < c.rows(); ++i)
    for (Index j = 0; j < c.cols(); ++j) {
      unsigned char b[4] = {};
      in.read(reinterpret_cast<char*>(b), 4);
      const std::uint32_t u =
          static_cast<std::uint32_t>(b[0]) | (static_cast<std::uint32_t>(b[1]) << 8) |
          (static_cast<std::uint32_t>(b[2]) << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
      std::memcpy(&c(i, j), &u, 4);
    }
  if (!in) throw ParseError(path, 0, "file truncated");
  set_common_components(std::move(c));
}

std::string default_word_vectors_path() {
  return (io::data_dir() / "models" / "glove6b_100d_top40k.w2v.bin").string();
}

std::string default_common_component_path() {
  return (io::data_dir() / "embedding" / "glove_sif_pc1.bin").string();
}

std::shared_ptr<SifEmbedder> make_sif_embedder(const std::string& vectors_path,
                                               const std::string& components_path,
                                               const std::vector<std::string>& fit_corpus,
                                               SifOptions options) {
  auto wv = std::make_shared<const WordVectors>(load_word_vectors(vectors_path));
  auto sif = std::make_shared<SifEmbedder>(std::move(wv), options);
  if (!components_path.empty())
    sif->load_common_components(components_path);
  else if (!fit_corpus.empty())
    sif->fit_common_components(fit_corpus);
  return sif;
}

}  // namespace popalign::embedding
