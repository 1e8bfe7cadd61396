#include <cmath>
#include <cstring>
#include <fstream>

#include <popalign/embedding/projection_head.hpp>
#include <popalign/io/output.hpp>

#include "serial_eigen.hpp"

namespace popalign::embedding {

ProjectionHead ProjectionHead::identity(Index dim, HeadKind kind, Index hidden,
                                        std::uint64_t seed) {
  check_argument(dim >= 1, "dim", "must be >= 1");
  check_argument(hidden >= 0, "hidden", "must be >= 0 (0 = input dimension)");
  ProjectionHead h;
  h.kind_ = kind;
  h.w_ = RowMatrix<float>::Identity(dim, dim);
  h.b_ = Vector<float>::Zero(dim);
  if (kind == HeadKind::mlp) {
    const Index hd = hidden > 0 ? hidden : dim;
    Rng rng(seed);
    h.w1_.resize(dim, hd);
    const double sd = 1.0 / std::sqrt(static_cast<double>(dim));
    for (Index i = 0; i < dim; ++i)
      for (Index j = 0; j < hd; ++j) h.w1_(i, j) = static_cast<float>(rng.normal() * sd);
    h.b1_ = Vector<float>::Zero(hd);
    h.w2_ = RowMatrix<float>::Zero(hd, dim);
  }
  return h;
}

RowMatrix<float> ProjectionHead::forward_raw(MatrixView<float> x) const {
  const detail::SerialEigenScope serial;  // row results independent of the thread count
  check_argument(!empty(), "head", "is empty (not trained or loaded)");
  check_argument(
      x.cols() == w_.rows(), "x",
      "has " + std::to_string(x.cols()) + " columns, head expects " + std::to_string(w_.rows()));
  RowMatrix<float> y = x * w_;
  y.rowwise() += b_.transpose();
  if (kind_ == HeadKind::mlp) {
    RowMatrix<float> a = x * w1_;
    a.rowwise() += b1_.transpose();
    a = a.cwiseMax(0.0f);
    y.noalias() += a * w2_;
  }
  return y;
}

RowMatrix<float> ProjectionHead::forward(MatrixView<float> x) const {
  RowMatrix<float> y = forward_raw(x);
  normalize_rows(y);
  return y;
}

namespace {
constexpr char kMagic[8] = {'P', 'A', 'P', 'H', 'E', 'A', 'D', '1'};
constexpr std::uint32_t kVersion = 1;

struct Writer {
  std::string bytes;
  void raw(const void* p, std::size_t n) { bytes.append(static_cast<const char*>(p), n); }
  void u32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(v >> (8 * i)));
  }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>(v >> (8 * i)));
  }
  void f32(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    u32(u);
  }
  template <class M>
  void mat(const M& m) {
    for (Index i = 0; i < m.rows(); ++i)
      for (Index j = 0; j < m.cols(); ++j) f32(m(i, j));
  }
};

struct Reader {
  const std::string& path;
  const std::string& bytes;
  std::size_t pos = 0;
  void need(std::size_t n) {
    if (bytes.size() - pos < n) throw ParseError(path, 0, "projection-head file truncated");
  }
  std::uint32_t u32() {
    need(4);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[pos + i])) << (8 * i);
    pos += 4;
    return v;
  }
  std::uint64_t u64() {
    need(8);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i)
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[pos + i])) << (8 * i);
    pos += 8;
    return v;
  }
  float f32() {
    const std::uint32_t u = u32();
    float f;
    std::memcpy(&f, &u, 4);
    if (!std::isfinite(f)) throw ParseError(path, 0, "projection-head parameter is not finite");
    return f;
  }
  template <class M>
  void mat(M& m) {
    need(static_cast<std::size_t>(m.size()) * 4);
    for (Index i = 0; i < m.rows(); ++i)
      for (Index j = 0; j < m.cols(); ++j) m(i, j) = f32();
  }
};

std::uint64_t fnv1a(const std::string& s, std::size_t n) {
  std::uint64_t h = 14695981039346656037ULL;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(s[i]);
    h *= 1099511628211ULL;
  }
  return h;
}
}  // namespace

void ProjectionHead::save(const std::string& path) const {
  check_argument(!empty(), "head", "is empty");
  Writer w;
  w.raw(kMagic, 8);
  w.u32(kVersion);
  w.u32(kind_ == HeadKind::mlp ? 1u : 0u);
  w.u64(static_cast<std::uint64_t>(w_.rows()));
  w.u64(static_cast<std::uint64_t>(w1_.cols()));
  w.u64(static_cast<std::uint64_t>(w_.cols()));
  w.u64(base_name_.size());
  w.raw(base_name_.data(), base_name_.size());
  w.mat(w_);
  w.mat(b_);
  if (kind_ == HeadKind::mlp) {
    w.mat(w1_);
    w.mat(b1_);
    w.mat(w2_);
  }
  w.u64(fnv1a(w.bytes, w.bytes.size()));
  // Atomic for a regular file; through symlinks; streamed to FIFOs and devices.
  io::write_file_atomically(path, std::string_view(w.bytes.data(), w.bytes.size()));
}

ProjectionHead ProjectionHead::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path, "cannot open projection-head file");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw ParseError(path, 0, "not a popalign projection-head file (bad magic)");
  if (bytes.size() < 16) throw ParseError(path, 0, "projection-head file truncated");
  {
    Reader tail{path, bytes, bytes.size() - 8};
    if (tail.u64() != fnv1a(bytes, bytes.size() - 8))
      throw ParseError(path, 0, "checksum mismatch (file corrupted or truncated)");
  }
  Reader r{path, bytes, 8};
  const std::uint32_t version = r.u32();
  if (version != kVersion)
    throw ParseError(path, 0, "unsupported projection-head version " + std::to_string(version));
  const std::uint32_t kind = r.u32();
  if (kind > 1) throw ParseError(path, 0, "unknown head kind " + std::to_string(kind));
  const std::uint64_t in_dim = r.u64(), hidden = r.u64(), out_dim = r.u64();
  const std::uint64_t limit = 1u << 16;
  if (in_dim == 0 || out_dim == 0 || in_dim > limit || out_dim > limit || hidden > limit ||
      (kind == 1 && hidden == 0) || (kind == 0 && hidden != 0))
    throw ParseError(path, 0, "implausible head sizes");
  const std::uint64_t name_len = r.u64();
  if (name_len > 4096) throw ParseError(path, 0, "implausible name length");
  r.need(name_len);
  ProjectionHead h;
  h.base_name_ = bytes.substr(r.pos, name_len);
  r.pos += name_len;
  h.kind_ = kind == 1 ? HeadKind::mlp : HeadKind::linear;
  h.w_.resize(static_cast<Index>(in_dim), static_cast<Index>(out_dim));
  h.b_.resize(static_cast<Index>(out_dim));
  r.mat(h.w_);
  r.mat(h.b_);
  if (h.kind_ == HeadKind::mlp) {
    h.w1_.resize(static_cast<Index>(in_dim), static_cast<Index>(hidden));
    h.b1_.resize(static_cast<Index>(hidden));
    h.w2_.resize(static_cast<Index>(hidden), static_cast<Index>(out_dim));
    r.mat(h.w1_);
    r.mat(h.b1_);
    r.mat(h.w2_);
  }
  if (r.pos != bytes.size() - 8) throw ParseError(path, 0, "trailing bytes after the parameters");
  return h;
}

ProjectedEmbedder::ProjectedEmbedder(std::shared_ptr<const Embedder> base, ProjectionHead head)
    : base_(std::move(base)), head_(std::move(head)) {
  check_argument(base_ != nullptr, "base", "must not be null");
  check_argument(!head_.empty(), "head", "is empty");
  check_argument(head_.input_dimension() == base_->dimension(), "head",
                 "expects inputs of dimension " + std::to_string(head_.input_dimension()) +
                     ", the base embedder '" + base_->name() + "' gives " +
                     std::to_string(base_->dimension()));
}

RowMatrix<float> ProjectedEmbedder::embed(const std::vector<std::string>& texts) const {
  const RowMatrix<float> x = base_->embed(texts);
  if (x.rows() == 0) return RowMatrix<float>(0, dimension());
  return head_.forward(x);
}

std::string ProjectedEmbedder::name() const { return base_->name() + "+head"; }

}  // namespace popalign::embedding
