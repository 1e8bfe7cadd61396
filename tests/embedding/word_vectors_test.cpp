#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <popalign/embedding/word_vectors.hpp>

using namespace popalign;
using namespace popalign::embedding;

namespace {
const std::string kDir = std::string(POPALIGN_TEST_DATA_DIR) + "/embedding/";
const std::string kGlove = std::string(POPALIGN_DATA_DIR) + "/models/glove6b_100d_top40k.w2v.bin";

std::shared_ptr<const WordVectors> glove() {
  static auto wv = std::make_shared<const WordVectors>(load_word_vectors(kGlove));
  return wv;
}
std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("popalign_emb_" + name)).string();
}
}  // namespace

TEST(WordVectors, BinaryAndTextFormatsLoadIdentically) {
  const WordVectors bin = load_word_vectors(kDir + "tiny.w2v.bin");
  const WordVectors txt = load_word_vectors(kDir + "tiny.w2v.txt");
  const WordVectors glv = load_word_vectors(kDir + "tiny.glove.txt");
  const WordVectors forced = load_word_vectors(kDir + "tiny.w2v.bin", WordVectorFormat::binary);
  ASSERT_EQ(bin.size(), 6);
  ASSERT_EQ(bin.dimension(), 4);
  EXPECT_EQ(bin.words(), txt.words());
  EXPECT_EQ(bin.words(), glv.words());
  EXPECT_EQ(bin.vectors(), txt.vectors());
  EXPECT_EQ(bin.vectors(), glv.vectors());
  EXPECT_EQ(bin.vectors(), forced.vectors());
  EXPECT_EQ(bin.find("nurse"), 1);
  EXPECT_FLOAT_EQ(bin.vectors()(1, 2), 0.5f);
  EXPECT_FLOAT_EQ(bin.vectors()(4, 1), 0.625f);
  EXPECT_EQ(bin.find("zebra"), -1);
  const WordVectors first3 =
      load_word_vectors(kDir + "tiny.w2v.bin", WordVectorFormat::automatic, 3);
  EXPECT_EQ(first3.size(), 3);
}

TEST(WordVectors, SaveRoundTripsBothFormats) {
  const WordVectors src = load_word_vectors(kDir + "tiny.w2v.txt");
  for (auto fmt : {WordVectorFormat::binary, WordVectorFormat::text}) {
    const std::string p = temp_path(fmt == WordVectorFormat::binary ? "rt.bin" : "rt.txt");
    save_word_vectors(src, p, fmt);
    const WordVectors back = load_word_vectors(p);
    EXPECT_EQ(back.words(), src.words());
    EXPECT_EQ(back.vectors(), src.vectors());
    std::remove(p.c_str());
  }
}

TEST(WordVectors, ErrorsNameTheFileAndPlace) {
  try {
    load_word_vectors(kDir + "tiny_truncated.w2v.bin");
    FAIL() << "expected ParseError";
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("tiny_truncated.w2v.bin"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("record 3"), std::string::npos) << e.what();
  }
  try {
    load_word_vectors(kDir + "tiny_bad.w2v.txt");
    FAIL() << "expected ParseError";
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 4u);
    EXPECT_NE(std::string(e.what()).find("zero"), std::string::npos) << e.what();
  }
  EXPECT_THROW(load_word_vectors(kDir + "does_not_exist.bin"), IoError);
  EXPECT_THROW(load_word_vectors(kDir + "tiny.w2v.bin", WordVectorFormat::automatic, -1),
               InvalidArgument);
  EXPECT_THROW(WordVectors({"a", "a"}, RowMatrix<float>::Zero(2, 2)), InvalidArgument);
}

TEST(Tokenize, LowercasesSplitsAndHandlesApostrophes) {
  using V = std::vector<std::string>;
  EXPECT_EQ(tokenize("I'm a NURSE, and I don't hate dogs!"),
            (V{"i", "'m", "a", "nurse", "and", "i", "do", "n't", "hate", "dogs"}));
  EXPECT_EQ(tokenize("my dogs' toys; she's 21"), (V{"my", "dogs", "toys", "she", "'s", "21"}));
  EXPECT_EQ(tokenize("'quoted' rock'n'roll"), (V{"quoted", "rock", "n", "roll"}));
  EXPECT_EQ(tokenize("caf\xc3\xa9 ok"), (V{"caf", "ok"}));
  EXPECT_TRUE(tokenize("  ... ''' ").empty());
  EXPECT_EQ(tokenize("can't"), (V{"ca", "n't"}));
}

TEST(Sif, ZipfProbabilitiesSumToOneAndDecrease) {
  const Vector<double> p = zipf_probabilities(1000);
  EXPECT_NEAR(p.sum(), 1.0, 1e-12);
  EXPECT_NEAR(p[0] / p[9], 10.0, 1e-9);
  EXPECT_THROW(zipf_probabilities(0), InvalidArgument);
}

TEST(Sif, WeightsFollowFrequencyRank) {
  const SifEmbedder sif(glove());
  // "the" (rank 1) weighs far less than "nurse" (rank ~6400).
  EXPECT_LT(sif.weight(glove()->find("the")), 0.05);
  EXPECT_GT(sif.weight(glove()->find("nurse")), 0.9);
}

TEST(Sif, DeterministicAndThreadCountIndependent) {
  auto wv = glove();
  std::vector<std::string> corpus;
  for (int i = 0; i < 600; ++i)
    corpus.push_back("I have " + std::to_string(i % 7) + " dogs and I work as a nurse number " +
                     std::to_string(i));
  SifEmbedder a(wv, SifOptions{.threads = 1});
  SifEmbedder b(wv, SifOptions{.threads = 2});
  a.fit_common_components(corpus);
  b.fit_common_components(corpus);
  EXPECT_EQ(a.common_components(), b.common_components());
  const RowMatrix<float> ea = a.embed(corpus), eb = b.embed(corpus);
  EXPECT_EQ(ea, eb);  // bit-identical
  EXPECT_EQ(a.embed(corpus), ea);
}

TEST(Sif, RemovesCommonComponentAndNormalises) {
  auto wv = glove();
  std::vector<std::string> corpus = {"I love my dog.", "I am a nurse.", "I hate the winter.",
                                     "My father was a pilot.", "I like to bake cookies."};
  SifEmbedder sif(wv);
  sif.fit_common_components(corpus);
  ASSERT_EQ(sif.common_components().rows(), 1);
  EXPECT_NEAR(sif.common_components().row(0).norm(), 1.0f, 1e-5f);
  const RowMatrix<float> e = sif.embed(corpus);
  for (Index i = 0; i < e.rows(); ++i) {
    EXPECT_NEAR(e.row(i).norm(), 1.0f, 1e-5f);
    EXPECT_NEAR(e.row(i).dot(sif.common_components().row(0)), 0.0f, 1e-5f);
  }
  // Text without a known word: zero row.
  const RowMatrix<float> z = sif.embed({"qwxzv ###"});
  EXPECT_EQ(z.row(0).norm(), 0.0f);
  // Related sentences are closer than unrelated ones.
  const RowMatrix<float> s = sif.embed({"I work as a nurse in a hospital.",
                                        "I am a doctor at the clinic.", "I collect vintage cars."});
  EXPECT_GT(s.row(0).dot(s.row(1)), s.row(0).dot(s.row(2)));
}

TEST(Sif, ComponentsSaveAndLoad) {
  auto wv = glove();
  SifEmbedder sif(wv);
  sif.fit_common_components({"I love my dog.", "I am a nurse.", "I hate winter."});
  const std::string p = temp_path("pc.bin");
  sif.save_common_components(p);
  SifEmbedder other(wv);
  other.load_common_components(p);
  EXPECT_EQ(other.common_components(), sif.common_components());
  EXPECT_EQ(other.embed({"I am a nurse."}), sif.embed({"I am a nurse."}));
  // Dimension mismatch and garbage are errors naming the file.
  auto tiny = std::make_shared<const WordVectors>(load_word_vectors(kDir + "tiny.w2v.bin"));
  SifEmbedder small(tiny);
  EXPECT_THROW(small.load_common_components(p), ParseError);
  EXPECT_THROW(small.load_common_components(kDir + "tiny.w2v.txt"), ParseError);
  std::remove(p.c_str());
  SifEmbedder c(tiny, SifOptions{.components = 2});
  EXPECT_THROW(c.fit_common_components({"nurse"}), InvalidArgument);
  EXPECT_THROW(SifEmbedder(tiny, SifOptions{.a = 0}), InvalidArgument);
}
