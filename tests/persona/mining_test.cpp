// The mining pipeline on the fixture corpus with the scripted TEST DOUBLE backend: every branch
// of the funnel, the output records, resume after a cancellation (no repeated call, same bytes),
// thresholds changed on a rerun without calls, the dry-run estimate.
#include <popalign/persona/mining.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>
#include <popalign/core/error.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/llm/cache.hpp>

#include "persona/scripted_llm.hpp"

namespace pe = popalign::persona;
namespace llm = popalign::llm;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("popalign_mining_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

const popalign::embedding::Embedder& sif() {
  static const auto e = popalign::embedding::make_sif_embedder(
      popalign::embedding::default_word_vectors_path(), "", {});
  return *e;
}

pe::PostCorpus fixture_corpus(const fs::path& dir) {
  popalign::test::write_mining_fixture(dir / "posts.jsonl");
  return pe::read_posts(dir / "posts.jsonl");
}

pe::MiningOptions small_rounds() {
  pe::MiningOptions o;
  o.round_size = 5;
  return o;
}

std::map<std::string, std::string> drops_by_unit(const pe::Funnel& f) {
  std::map<std::string, std::string> m;
  for (const pe::FunnelDrop& d : f.drops) m[d.unit] = d.step + ": " + d.reason;
  return m;
}

std::string output_bytes(const pe::MiningResult& r) {
  std::string s;
  for (const auto& p : r.personas) s += popalign::io::persona_line(p) + "\n";
  return s + r.funnel.to_json().dump();
}

// A TEST DOUBLE decorator that cancels a token after `after` calls have been answered.
class CancelAfter final : public llm::LlmBackend {
 public:
  CancelAfter(std::shared_ptr<llm::LlmBackend> inner, std::size_t after,
              popalign::CancellationToken token)
      : inner_(std::move(inner)), after_(after), token_(std::move(token)) {}
  std::vector<llm::Outcome> complete(std::span<const llm::Request> batch) override {
    std::vector<llm::Outcome> out;
    for (const llm::Request& r : batch) {
      if (token_.cancelled()) {
        out.push_back(llm::Failure{llm::ErrorKind::cancelled, 0, "cancelled", {}});
        continue;
      }
      out.push_back(inner_->complete(std::span(&r, 1))[0]);
      if (++seen_ >= after_) token_.cancel();
    }
    return out;
  }
  std::string default_model() const override { return inner_->default_model(); }

 private:
  std::shared_ptr<llm::LlmBackend> inner_;
  std::size_t after_, seen_ = 0;
  popalign::CancellationToken token_;
};

}  // namespace

TEST(Mining, EveryBranchOfTheFunnel) {
  const fs::path dir = temp_dir("branches");
  const pe::PostCorpus corpus = fixture_corpus(dir);
  popalign::test::ScriptedMiningBackendDouble backend;
  const pe::MiningResult r = pe::mine_personas(backend, &sif(), corpus, small_rounds());
  ASSERT_EQ(r.status, "ok");
  const auto drops = drops_by_unit(r.funnel);
  const std::map<std::string, std::string> expected = {
      {"good1-short", "prefilter: too_short"},
      {"good1-3rd", "prefilter: no_first_person"},
      {"good2-dup", "prefilter: exact_duplicate"},
      {"mixed-1", "quality: low quality"},
      {"mixed-3", "quality: medium quality"},
      {"mixed-5", "quality: harmful"},
      {"mixed-7", "quality: call failed"},
      {"garbled-4", "quality: off-schema answer"},
      {"few", "windows: fewer than 6 posts"},
      {"refuses#1", "personas: cannot"},
      {"toolong#1", "personas: too long"},
      {"judgelow#1", "critique: low hallucination score"},
      {"judgegarbled#1", "critique: off-schema answer"},
      {"border#1", "critique: low overall score"},
      {"same2#1", "dedup: near-duplicate"}};
  EXPECT_EQ(drops, expected);
  std::vector<std::string> ids;
  for (const auto& p : r.personas) ids.push_back(p.id);
  EXPECT_EQ(ids,
            (std::vector<std::string>{"email#1", "garbled#1", "good1#1", "good2#1", "good3#1",
                                      "good4#1", "history#1", "longonce#1", "mixed#1", "same1#1"}));
  // Funnel counts: in = out + dropped at every step, and each step feeds the next.
  const auto& steps = r.funnel.steps;
  ASSERT_EQ(steps.size(), 8u);
  const std::vector<std::string> names = {"read",     "prefilter", "quality", "windows",
                                          "personas", "critique",  "privacy", "dedup"};
  for (std::size_t k = 0; k < steps.size(); ++k) {
    EXPECT_EQ(steps[k].name, names[k]);
    std::size_t dropped = 0;
    for (const auto& [reason, n] : steps[k].dropped) dropped += n;
    if (steps[k].name != "windows") {
      EXPECT_EQ(steps[k].in, steps[k].out + dropped) << names[k];
    }
    if (k > 0 && steps[k].in_unit == steps[k - 1].out_unit) {
      EXPECT_EQ(steps[k].in, steps[k - 1].out) << names[k];
    }
  }
  EXPECT_EQ(steps[0].in, 133u);
  EXPECT_EQ(steps[6].changed.at("email"), 1u);
  // The records: text, author, source posts, scores, window, provenance, redactions.
  const auto& email = r.personas[0];
  EXPECT_NE(email.text.find("[email]"), std::string::npos);
  EXPECT_EQ(email.text.find("example.com"), std::string::npos);
  const std::string line = popalign::io::persona_line(email);
  EXPECT_NE(line.find(R"("author":"email")"), std::string::npos);
  EXPECT_NE(
      line.find(
          R"("source_posts":["email-0","email-1","email-2","email-3","email-4","email-5","email-6"])"),
      std::string::npos);
  EXPECT_NE(
      line.find(
          R"("scores":{"hallucination":10,"coverage":9,"conciseness":9,"relevance":9,"overall":9,"explanation":"Faithful and concise."})"),
      std::string::npos);
  EXPECT_NE(line.find(R"("window":{"index":1,"of":1,"first":"2004-05-01","last":"2004-05-07"})"),
            std::string::npos);
  EXPECT_NE(line.find(R"("gender":"female")"), std::string::npos);
  EXPECT_NE(line.find(R"("redactions":[{"kind":"email")"), std::string::npos);
  // The calls: 4 re-asks in quality (garbled twice, the failed... no: failures are not re-asked)
  ASSERT_EQ(r.calls.size(), 3u);
  EXPECT_EQ(r.calls[0].calls.failed_calls, 1u);
  EXPECT_EQ(r.calls[0].calls.reasks, 2u);  // [garbled] and [garbled-always]
  EXPECT_EQ(r.calls[1].calls.reasks, 2u);  // [long] and [long-once]
  EXPECT_EQ(r.calls[2].calls.reasks, 1u);  // JUDGE-GARBLED
  EXPECT_EQ(backend.max_repeats(), 1u);
  // The persona file reads back as administer reads it.
  popalign::io::write_personas(dir / "out.jsonl", r.personas);
  const auto back = popalign::io::read_personas(dir / "out.jsonl");
  EXPECT_EQ(back.personas.size(), r.personas.size());
  fs::remove_all(dir);
}

TEST(Mining, SeveralWindowsPerAuthorWithASmallContext) {
  const fs::path dir = temp_dir("windows");
  const pe::PostCorpus corpus = fixture_corpus(dir);
  popalign::test::ScriptedMiningBackendDouble backend;
  pe::MiningOptions o = small_rounds();
  o.writer.context_tokens = 1450;
  const pe::MiningResult r = pe::mine_personas(backend, &sif(), corpus, o);
  std::vector<std::string> history;
  for (const auto& p : r.personas)
    if (p.id.rfind("history#", 0) == 0) history.push_back(p.id);
  EXPECT_EQ(history, (std::vector<std::string>{"history#1", "history#2"}));
  fs::remove_all(dir);
}

TEST(Mining, ResumesAfterACancellationWithoutRepeatingACall) {
  const fs::path dir = temp_dir("resume");
  const pe::PostCorpus corpus = fixture_corpus(dir);
  // The uninterrupted run.
  popalign::test::ScriptedMiningBackendDouble plain;
  pe::MiningOptions o = small_rounds();
  const std::string expected = output_bytes(pe::mine_personas(plain, &sif(), corpus, o));
  // Interrupted runs (after 7, then 60, then 140 calls), each resumed from the work directory
  // and the cache, until one finishes.
  auto scripted = std::make_shared<popalign::test::ScriptedMiningBackendDouble>();
  llm::CacheOptions cache_options;
  cache_options.path = (dir / "cache.sqlite").string();
  auto cached = std::make_shared<llm::CachedBackend>(scripted, cache_options);
  o.work_dir = dir / "work";
  int runs = 0;
  for (const std::size_t after : {7, 60, 130, 100000}) {
    popalign::CancellationToken token;
    CancelAfter cancelling(cached, after, token);
    o.cancel = token;
    const pe::MiningResult r = pe::mine_personas(cancelling, &sif(), corpus, o);
    ++runs;
    if (r.status == "ok") {
      EXPECT_EQ(output_bytes(r), expected);
      std::size_t resumed = 0;
      for (const auto& c : r.calls) resumed += c.resumed;
      EXPECT_GT(resumed, 0u);
      break;
    }
    EXPECT_EQ(r.status, "cancelled");
    EXPECT_TRUE(r.personas.empty());
  }
  EXPECT_GE(runs, 3);
  EXPECT_EQ(scripted->max_repeats(), 1u);  // no request was answered twice
  EXPECT_EQ(scripted->answered(), plain.answered());
  // A rerun of a finished run makes no call at all (the work files), not even a cached one.
  const std::size_t before = scripted->total();
  popalign::test::ScriptedMiningBackendDouble untouched;
  const pe::MiningResult again = pe::mine_personas(untouched, &sif(), corpus, o);
  EXPECT_EQ(untouched.total(), 1u);  // only the [fail] post, which was never written
  EXPECT_EQ(output_bytes(again), expected);
  EXPECT_EQ(scripted->total(), before);
  // Changing a keep threshold needs no call: the border persona (overall 8) is now kept.
  o.critique.min_overall = 8;
  popalign::test::ScriptedMiningBackendDouble none;
  const pe::MiningResult looser = pe::mine_personas(none, &sif(), corpus, o);
  EXPECT_EQ(none.total(), 1u);
  EXPECT_EQ(looser.personas.size(), 11u);
  // A partial last line in a work file (a killed writer) is repaired and its unit asked again.
  {
    std::ofstream f(o.work_dir / "critique.jsonl", std::ios::app | std::ios::binary);
    f << R"({"unit": "good1#1", "key": "abc)";
  }
  popalign::test::ScriptedMiningBackendDouble after_kill;
  o.critique.min_overall = 9;
  EXPECT_EQ(output_bytes(pe::mine_personas(after_kill, &sif(), corpus, o)), expected);
  fs::remove_all(dir);
}

TEST(Mining, DryRunEstimate) {
  const fs::path dir = temp_dir("estimate");
  const pe::PostCorpus corpus = fixture_corpus(dir);
  pe::MiningOptions o = small_rounds();
  const pe::MiningEstimate e = pe::estimate_mining(corpus, o, "scripted");
  ASSERT_EQ(e.steps.size(), 3u);
  EXPECT_EQ(e.steps[0].calls, 130u);  // the posts the pre-filter keeps
  EXPECT_EQ(e.steps[1].calls, 16u);   // every author with >= 6 prefiltered posts
  EXPECT_EQ(e.steps[2].calls, 16u);
  EXPECT_GT(e.steps[0].prompt_tokens, 130u * 100);
  EXPECT_EQ(e.steps[0].max_completion_tokens, 130u * 32);
  // With a finished run in the work directory, nothing is left for the quality step.
  o.work_dir = dir / "work";
  popalign::test::ScriptedMiningBackendDouble backend;
  pe::mine_personas(backend, &sif(), corpus, o);
  const pe::MiningEstimate after = pe::estimate_mining(corpus, o, "scripted");
  EXPECT_EQ(after.steps[0].calls, 1u);  // the failed call
  EXPECT_EQ(after.steps[0].done, 129u);
  fs::remove_all(dir);
}

TEST(Mining, OptionsNameTheStepAndField) {
  auto field = [](auto mutate) {
    pe::MiningOptions o;
    mutate(o);
    try {
      o.validate();
    } catch (const popalign::InvalidArgument& e) {
      return e.argument();
    }
    return std::string("valid");
  };
  EXPECT_EQ(field([](auto&) {}), "valid");
  EXPECT_EQ(field([](auto& o) { o.quality.max_tokens = 1; }), "quality.max_tokens");
  EXPECT_EQ(field([](auto& o) { o.writer.context_tokens = 10; }), "writer.context_tokens");
  EXPECT_EQ(field([](auto& o) { o.critique.min_other = 0; }), "critique.min_other");
  EXPECT_EQ(field([](auto& o) { o.prefilter.min_tokens = -1; }), "prefilter.min_tokens");
  EXPECT_EQ(field([](auto& o) { o.dedup.max_cosine = 2; }), "dedup.max_cosine");
  EXPECT_EQ(field([](auto& o) { o.round_size = 0; }), "round_size");
  popalign::test::ScriptedMiningBackendDouble backend;
  EXPECT_THROW(pe::mine_personas(backend, nullptr, pe::PostCorpus{}, pe::MiningOptions{}),
               popalign::InvalidArgument);
  pe::MiningOptions no_dedup;
  no_dedup.deduplicate = false;
  EXPECT_EQ(pe::mine_personas(backend, nullptr, pe::PostCorpus{}, no_dedup).status, "ok");
}
