// pipeline::RunOptions's injected backends and embedder (generator, judge, respondent,
// embedder): a run on a ready persona file with one group, answered by in-process TEST DOUBLES
// (a graded-response respondent with known latent traits, a reviser and a revision judge, a
// letter-count embedder) while the config's endpoints point at a port where nothing listens.
// Checked: the overrides answer everything (each double gets exactly its kind of request); every
// call goes through the run's cache on <run_dir>/llm-cache.sqlite (a run from scratch in the same
// directory asks the doubles nothing and writes the same bytes); a rerun skips every stage; and,
// as the negative control, the same config without overrides fails on the unreachable endpoint.
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <popalign/administer/respondent.hpp>
#include <popalign/core/error.hpp>
#include <popalign/embedding/embedder.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/pipeline/config.hpp>
#include <popalign/pipeline/pipeline.hpp>
#include <popalign/psychometrics/instrument.hpp>

namespace fs = std::filesystem;
namespace pl = popalign::pipeline;
namespace llm = popalign::llm;

namespace {

constexpr int kPersonas = 30;
const char* const kHobbies[] = {"hiking", "baking", "chess", "painting", "cycling", "gardening"};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string persona_text(int i) {
  return "Persona number " + std::to_string(i) + " loves " + kHobbies[i % 6] +
         " and keeps a diary about it.";
}

/// Latent traits from a fixed LCG (uniform in [-2, 2]).
std::vector<double> theta_of(int i, std::size_t d) {
  std::uint64_t s = 977 + static_cast<std::uint64_t>(i) * 7919;
  std::vector<double> t;
  for (std::size_t k = 0; k < d; ++k) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    t.push_back(4.0 * (static_cast<double>(s >> 11) / 9007199254740992.0) - 2.0);
  }
  return t;
}

/// TEST DOUBLE respondent: administer::GradedResponseRespondent (finds the persona by its text in
/// the system message; a revised persona keeps the original text) behind a lock, counting calls.
class RespondentDouble final : public llm::LlmBackend {
 public:
  explicit RespondentDouble(const popalign::psychometrics::Instrument& ins)
      : grm_(ins, popalign::administer::GradedResponseRespondent::random_items(ins, 5),
             popalign::administer::GradedResponseOptions{
                 .seed = 3, .style = popalign::administer::AnswerStyle::digit}) {
    for (int i = 0; i < kPersonas; ++i)
      grm_.add_persona("p" + std::to_string(i), persona_text(i), theta_of(i, ins.traits.size()));
  }
  std::vector<llm::Outcome> complete(std::span<const llm::Request> batch) override {
    std::lock_guard lock(mutex_);
    calls_ += batch.size();
    return grm_.complete(batch);
  }
  std::size_t calls() const { return calls_; }

 private:
  popalign::administer::GradedResponseRespondent grm_;
  std::mutex mutex_;
  std::size_t calls_ = 0;
};

/// TEST DOUBLE reviser or revision judge: the reviser keeps the persona's text (the one of
/// kPersonas found in the prompt) and adds a sentence; the judge passes every revision. Counts
/// its calls, and the requests that were not its kind.
class EditorDouble final : public llm::LlmBackend {
 public:
  explicit EditorDouble(bool judge) : judge_(judge) {}
  std::vector<llm::Outcome> complete(std::span<const llm::Request> batch) override {
    std::vector<llm::Outcome> out;
    std::lock_guard lock(mutex_);
    for (const auto& r : batch) {
      ++calls_;
      std::string all;
      for (const auto& m : r.messages) all += m.content + "\n";
      llm::Response resp;
      resp.finish_reason = "stop";
      if (judge_ && all.find("strict reviewer of persona edits") != std::string::npos) {
        resp.text = R"({"verdict": "pass", "reasons": []})";
      } else if (!judge_ && all.find("Rewrite the persona lightly") != std::string::npos) {
        std::string found;
        for (int i = 0; i < kPersonas; ++i)
          if (all.find(persona_text(i)) != std::string::npos &&
              persona_text(i).size() > found.size())
            found = persona_text(i);
        resp.text = "{\"revised\": \"" + found +
                    " They live in Europe now.\", \"changes\": [\"added the region\"]}";
      } else {
        ++wrong_;
        out.emplace_back(llm::Failure{llm::ErrorKind::other, 0, "not my kind of request", {}});
        continue;
      }
      out.emplace_back(std::move(resp));
    }
    return out;
  }
  std::size_t calls() const { return calls_; }
  std::size_t wrong() const { return wrong_; }

 private:
  bool judge_;
  std::mutex mutex_;
  std::size_t calls_ = 0, wrong_ = 0;
};

/// TEST DOUBLE embedder: letter counts (26 dimensions); counts the texts it embedded.
class LetterEmbedderDouble final : public popalign::embedding::Embedder {
 public:
  popalign::RowMatrix<float> embed(const std::vector<std::string>& texts) const override {
    texts_ += texts.size();
    popalign::RowMatrix<float> out =
        popalign::RowMatrix<float>::Zero(static_cast<popalign::Index>(texts.size()), 26);
    for (std::size_t i = 0; i < texts.size(); ++i)
      for (char c : texts[i])
        if (c >= 'a' && c <= 'z') out(static_cast<popalign::Index>(i), c - 'a') += 1;
    return out;
  }
  popalign::Index dimension() const override { return 26; }
  bool normalized() const override { return false; }
  std::size_t texts() const { return texts_; }

 private:
  mutable std::atomic<std::size_t> texts_{0};
};

struct Doubles {
  explicit Doubles(const popalign::psychometrics::Instrument& ins)
      : respondent(std::make_shared<RespondentDouble>(ins)),
        reviser(std::make_shared<EditorDouble>(false)),
        judge(std::make_shared<EditorDouble>(true)),
        embedder(std::make_shared<LetterEmbedderDouble>()) {}
  pl::RunOptions options() const {
    pl::RunOptions o;
    o.generator = reviser;
    o.judge = judge;
    o.respondent = respondent;
    o.embedder = embedder;
    return o;
  }
  std::size_t calls() const { return respondent->calls() + reviser->calls() + judge->calls(); }
  std::shared_ptr<RespondentDouble> respondent;
  std::shared_ptr<EditorDouble> reviser, judge;
  std::shared_ptr<LetterEmbedderDouble> embedder;
};

class BackendOverride : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / "popalign_pipeline_backend_override";
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    {
      std::ofstream out(dir_ / "personas.jsonl", std::ios::binary);
      for (int i = 0; i < kPersonas; ++i)
        out << "{\"id\": \"p" << i << "\", \"persona\": \"" << persona_text(i) << "\"}\n";
    }
    // A small reference (the first 300 BIG5 people plus 60 from Great Britain and Germany) keeps
    // the reference, align and report stages fast.
    {
      std::ifstream in(fs::path(POPALIGN_DATA_DIR) / "big5" / "data.csv", std::ios::binary);
      std::ofstream out(dir_ / "reference.csv", std::ios::binary);
      std::string line;
      int rows = 0, europe = 0;
      std::getline(in, line);
      out << line << "\n";
      while (std::getline(in, line)) {
        const bool eu =
            line.find("\tGB\t") != std::string::npos || line.find("\tDE\t") != std::string::npos;
        if (rows < 300 || (eu && europe < 60)) {
          out << line << "\n";
          europe += eu;
        }
        ++rows;
      }
    }
    // Port 9 (discard): nothing listens, so only the overrides can answer.
    const std::string text =
        "run_dir = \"run\"\nseed = 4\n[models.generator]\nbase_url = "
        "\"http://127.0.0.1:9/v1\"\nmodel = \"reviser-double\"\nconcurrency = 2\n"
        "http_attempts = 1\ntimeout = 5\n[models.judge]\nmodel = \"judge-double\"\n"
        "[models.respondent]\nmodel = \"respondent-double\"\n[input]\npersonas = "
        "\"personas.jsonl\"\n[instrument]\nname = \"mini_ipip\"\nmax_retries = 1\n[reference]\n"
        "path = \"reference.csv\"\nmissing_code = 0\n[align]\nn = "
        "10\n[[groups]]\nname = \"europe\"\nquery = \"people who love hiking\"\nreference = "
        "\"region:Europe\"\nn = 3\ndepth = 6\n";
    std::ofstream(dir_ / "run.toml") << text;
    config_ = pl::load_config(dir_ / "run.toml");
    instrument_ = popalign::psychometrics::resolve_instrument("mini_ipip");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  pl::PipelineConfig config_;
  popalign::psychometrics::Instrument instrument_;
};

std::uint64_t new_calls(const pl::RunResult& r) {
  std::uint64_t n = 0;
  for (const auto& s : r.stages) n += s.calls - s.cached_calls;
  return n;
}

TEST_F(BackendOverride, OverridesAnswerEverythingThroughTheRunCache) {
  Doubles first(instrument_);
  const pl::RunResult a = pl::run_pipeline(config_, first.options());
  ASSERT_EQ(a.status, "ok");
  for (const auto& s : a.stages)
    std::cerr << "[ measured ] " << s.name << " " << s.seconds << " s, " << s.calls << " calls\n";
  ASSERT_EQ(a.stages.size(), 6u);  // administer score reference align group report
  for (const auto& s : a.stages) EXPECT_EQ(s.action, "ran") << s.name;
  EXPECT_EQ(a.stages[0].calls, static_cast<std::uint64_t>(kPersonas * 20));
  EXPECT_EQ(first.reviser->calls(), 6u);  // depth: every retrieved persona revised once
  EXPECT_EQ(first.judge->calls(), 6u);
  EXPECT_EQ(first.reviser->wrong() + first.judge->wrong(), 0u);
  EXPECT_GT(first.respondent->calls(), static_cast<std::size_t>(kPersonas * 20));  // + group
  EXPECT_GT(first.embedder->texts(), 0u);  // group retrieval used the injected embedder
  EXPECT_EQ(new_calls(a), first.calls());  // the run's meter saw every call the doubles got
  ASSERT_EQ(a.persona_files.size(), 2u);
  const std::string global = slurp(a.persona_files[0]), group = slurp(a.persona_files[1]);
  EXPECT_NE(group.find("They live in Europe now."), std::string::npos);

  // Every answer is in <run_dir>/llm-cache.sqlite: a run from scratch (no manifest, no outputs)
  // in the same directory asks the doubles nothing and writes the same bytes.
  for (const auto& e : fs::directory_iterator(config_.run_dir))
    if (e.path().filename() != "llm-cache.sqlite") fs::remove_all(e.path());
  Doubles second(instrument_);
  const pl::RunResult b = pl::run_pipeline(config_, second.options());
  ASSERT_EQ(b.status, "ok");
  EXPECT_EQ(second.calls(), 0u);
  EXPECT_EQ(new_calls(b), 0u);
  EXPECT_EQ(b.stages[0].cached_calls, static_cast<std::uint64_t>(kPersonas * 20));
  EXPECT_EQ(slurp(b.persona_files[0]), global);
  EXPECT_EQ(slurp(b.persona_files[1]), group);

  // A rerun with unchanged inputs skips every stage (the report is redone).
  Doubles third(instrument_);
  const pl::RunResult c = pl::run_pipeline(config_, third.options());
  for (std::size_t i = 0; i + 1 < c.stages.size(); ++i)
    EXPECT_EQ(c.stages[i].action, "skipped") << c.stages[i].name;
  EXPECT_EQ(third.calls(), 0u);
}

TEST_F(BackendOverride, WithoutOverridesTheConfiguredEndpointIsUsed) {
  // Negative control: nothing listens on the endpoint, so the run fails there.
  EXPECT_THROW(pl::run_pipeline(config_, pl::RunOptions{}), popalign::BackendError);
  // Only the respondent and the embedder injected: administer is answered by the double; the
  // group's reviser is the dead endpoint, where every revision fails.
  Doubles d(instrument_);
  pl::RunOptions o;
  o.respondent = d.respondent;
  o.embedder = d.embedder;
  try {
    pl::run_pipeline(config_, o);
    ADD_FAILURE() << "the group's revisions cannot have succeeded";
  } catch (const popalign::BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("port 9"), std::string::npos) << e.what();
  }
  EXPECT_EQ(d.respondent->calls(), static_cast<std::size_t>(kPersonas * 20));
  EXPECT_EQ(d.reviser->calls() + d.judge->calls(), 0u);
}

}  // namespace
