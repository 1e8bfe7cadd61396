#pragma once
// A projection head: a small trainable map on top of any embedder's vectors, and the embedder
// that applies it.
//
//   linear:  y = x W + b
//   mlp:     y = x W + b + relu(x W1 + b1) W2      (two layers with a residual linear path)
//   output:  z = y / ||y||                          (rows of unit length; zero stays zero)
//
// `identity(d)` (W = I, everything else zero) reproduces the base embedder's cosine geometry, so
// training starts from the untrained embedder and can only move away from it as far as the
// contrastive loss asks. In the mlp head W2 starts at zero for the same reason.
//
// File format (little-endian), version 1:
//   "PAPHEAD1" | u32 version | u32 kind (0 linear, 1 mlp) | u64 in | u64 hidden | u64 out |
//   u64 len + base-embedder name (UTF-8) | float32 W (in x out, row-major) | b (out) |
//   [mlp: W1 (in x hidden) | b1 (hidden) | W2 (hidden x out)] | u64 FNV-1a hash of all previous
//   bytes.  load() checks magic, version, sizes, finiteness and the hash.
#include <memory>
#include <string>

#include <popalign/core/random.hpp>
#include <popalign/core/types.hpp>
#include <popalign/embedding/embedder.hpp>

namespace popalign::embedding {

enum class HeadKind { linear, mlp };

class ProjectionHead {
 public:
  ProjectionHead() = default;

  /// W = I (d x d), b = 0; an mlp head also gets W1 ~ N(0, 1/d) (seeded), b1 = 0, W2 = 0.
  static ProjectionHead identity(Index dim, HeadKind kind = HeadKind::linear, Index hidden = 0,
                                 std::uint64_t seed = 0);

  HeadKind kind() const noexcept { return kind_; }
  Index input_dimension() const noexcept { return w_.rows(); }
  Index output_dimension() const noexcept { return w_.cols(); }
  Index hidden_dimension() const noexcept { return w1_.cols(); }
  bool empty() const noexcept { return w_.size() == 0; }

  /// y before normalisation (n x out).
  RowMatrix<float> forward_raw(MatrixView<float> x) const;
  /// z = y / ||y|| (n x out).
  RowMatrix<float> forward(MatrixView<float> x) const;

  /// Name of the embedder the head was trained on (informational: ProjectedEmbedder checks the
  /// dimension only, since e.g. SIF components fitted on another pool keep the same name).
  const std::string& base_name() const noexcept { return base_name_; }
  void set_base_name(std::string name) { base_name_ = std::move(name); }

  void save(const std::string& path) const;
  /// Throws IoError / ParseError naming the file.
  static ProjectionHead load(const std::string& path);

  // Parameters (read / write access for training code).
  RowMatrix<float>& w() { return w_; }
  Vector<float>& b() { return b_; }
  RowMatrix<float>& w1() { return w1_; }
  Vector<float>& b1() { return b1_; }
  RowMatrix<float>& w2() { return w2_; }
  const RowMatrix<float>& w() const { return w_; }
  const Vector<float>& b() const { return b_; }
  const RowMatrix<float>& w1() const { return w1_; }
  const Vector<float>& b1() const { return b1_; }
  const RowMatrix<float>& w2() const { return w2_; }

 private:
  HeadKind kind_ = HeadKind::linear;
  RowMatrix<float> w_;
  Vector<float> b_;
  RowMatrix<float> w1_;
  Vector<float> b1_;
  RowMatrix<float> w2_;
  std::string base_name_;
};

/// base embedder + head. normalized() is true. Throws InvalidArgument when the head's input
/// dimension differs from the base embedder's dimension.
class ProjectedEmbedder final : public Embedder {
 public:
  ProjectedEmbedder(std::shared_ptr<const Embedder> base, ProjectionHead head);
  RowMatrix<float> embed(const std::vector<std::string>& texts) const override;
  Index dimension() const override { return head_.output_dimension(); }
  bool normalized() const override { return true; }
  std::string name() const override;
  const ProjectionHead& head() const noexcept { return head_; }
  const Embedder& base() const noexcept { return *base_; }

 private:
  std::shared_ptr<const Embedder> base_;
  ProjectionHead head_;
};

}  // namespace popalign::embedding
