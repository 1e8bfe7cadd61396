#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <popalign/core/random.hpp>
#include <popalign/embedding/projection_head.hpp>

using namespace popalign;
using namespace popalign::embedding;

namespace {
RowMatrix<float> random_rows(Index n, Index d, std::uint64_t seed) {
  Rng rng(seed);
  RowMatrix<float> m(n, d);
  for (Index i = 0; i < n; ++i)
    for (Index j = 0; j < d; ++j) m(i, j) = static_cast<float>(rng.normal());
  return m;
}
std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("popalign_emb_" + name)).string();
}
}  // namespace

TEST(ProjectionHead, IdentityReproducesNormalisedInput) {
  const RowMatrix<float> x = random_rows(5, 6, 1);
  for (auto kind : {HeadKind::linear, HeadKind::mlp}) {
    const ProjectionHead h = ProjectionHead::identity(6, kind, 9, 3);
    const RowMatrix<float> z = h.forward(x);
    for (Index i = 0; i < 5; ++i) EXPECT_TRUE(z.row(i).isApprox(x.row(i).normalized(), 1e-6f));
  }
  EXPECT_THROW(ProjectionHead::identity(0), InvalidArgument);
  EXPECT_THROW(ProjectionHead::identity(4).forward(random_rows(2, 3, 1)), InvalidArgument);
}

TEST(ProjectionHead, SaveLoadRoundTrip) {
  for (auto kind : {HeadKind::linear, HeadKind::mlp}) {
    ProjectionHead h = ProjectionHead::identity(6, kind, 4, 7);
    h.w() += random_rows(6, 6, 2) * 0.1f;
    h.b().setConstant(0.25f);
    if (kind == HeadKind::mlp) h.w2() = random_rows(4, 6, 3);
    h.set_base_name("glove-sif:test");
    const std::string p = temp_path("head.bin");
    h.save(p);
    const ProjectionHead back = ProjectionHead::load(p);
    EXPECT_EQ(back.kind(), kind);
    EXPECT_EQ(back.base_name(), "glove-sif:test");
    EXPECT_EQ(back.w(), h.w());
    EXPECT_EQ(back.b(), h.b());
    EXPECT_EQ(back.w1(), h.w1());
    EXPECT_EQ(back.w2(), h.w2());
    const RowMatrix<float> x = random_rows(3, 6, 4);
    EXPECT_EQ(back.forward(x), h.forward(x));
    std::remove(p.c_str());
  }
}

TEST(ProjectionHead, CorruptFilesAreRejected) {
  ProjectionHead h = ProjectionHead::identity(5);
  const std::string p = temp_path("corrupt.bin");
  h.save(p);
  std::string bytes;
  {
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  std::string flipped = bytes;
  flipped[60] ^= 0x10;  // a parameter byte: checksum must catch it
  write(flipped);
  EXPECT_THROW(ProjectionHead::load(p), ParseError);
  write(bytes.substr(0, bytes.size() - 20));
  EXPECT_THROW(ProjectionHead::load(p), ParseError);
  write("PAPHEAD2 not really");
  EXPECT_THROW(ProjectionHead::load(p), ParseError);
  write(bytes);
  EXPECT_NO_THROW(ProjectionHead::load(p));
  std::remove(p.c_str());
  EXPECT_THROW(ProjectionHead::load(p), IoError);
}

TEST(ProjectionHead, ProjectedEmbedderChecksDimensions) {
  struct Const {
    RowMatrix<float> embed(const std::vector<std::string>& t) const {
      return RowMatrix<float>::Ones(static_cast<Index>(t.size()), 3);
    }
    Index dimension() const { return 3; }
    bool normalized() const { return false; }
  };
  auto base = make_embedder(Const{}, "const");
  EXPECT_THROW(ProjectedEmbedder(base, ProjectionHead::identity(4)), InvalidArgument);
  ProjectedEmbedder pe(base, ProjectionHead::identity(3));
  EXPECT_TRUE(pe.normalized());
  const RowMatrix<float> z = pe.embed({"a", "b"});
  EXPECT_NEAR(z.row(0).norm(), 1.0f, 1e-6f);
  EXPECT_EQ(pe.name(), "const+head");
}
