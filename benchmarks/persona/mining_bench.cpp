// The mining funnel's throughput and overhead, and the fact recall of mined personas.
//
// Throughput (default): `popalign mine`'s library pipeline (mine_personas) over the shipped
// posts (data/posts/spc_posts.jsonl, the first --authors authors) against a loopback
// OpenAI-compatible TEST DOUBLE server (tests/persona/scripted_server.hpp) that answers every
// call after --delay-ms (200) with the scripted mining answers, through the CLI's stack
// (OpenAiBackend with --concurrency transfers -> RetryBackend -> CachedBackend on a fresh SQLite
// file), one request per complete() call on --concurrency threads (what `popalign mine` does).
// Reported: wall time, calls, calls/s and posts/s (posts entering the LLM steps per second of
// the whole run), and the overhead against the ideal time calls x delay / concurrency.
//
// Fact recall (--base-url URL --model M [--judge-model M2]): mines personas from the shipped
// posts with any OpenAI-compatible server, then scores each mined persona against its author's
// true facts (data/posts/spc_authors.jsonl): a fact is recalled when its SIF embedding (shipped
// GloVe vectors, common component fitted on all facts) has cosine >= --threshold (0.75) with
// some sentence of the persona. Recall = recalled facts / facts of the authors that got a
// persona; the control scores each persona against another author's facts (a rotation), so the
// gap shows what the match measures. With the tiny test model (stories260K) nearly everything is
// dropped at the quality and critique steps: this measures plumbing only.
//
//   popalign_persona_mining_bench [--authors N] [--delay-ms D] [--concurrency K]
//   popalign_persona_mining_bench --base-url URL --model M [--judge-model M2] [--authors N]
//                                 [--threshold T] [--context-tokens C] [--cache FILE]
//                                 [--tiny-model (short prompts, 512-token context: stories260K)]
#include <Eigen/Dense>  // before httplib.h (see scripted_server.hpp)

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include <fmt/core.h>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/jsonl.hpp>
#include <popalign/io/persona_record.hpp>
#include <popalign/llm/cache.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>
#include <popalign/persona/mining.hpp>

#include "persona/scripted_server.hpp"

namespace pe = popalign::persona;
namespace llm = popalign::llm;
namespace fs = std::filesystem;

namespace {

struct Args {
  std::size_t authors = 40;
  int delay_ms = 200;
  std::size_t concurrency = 16;
  std::string base_url, model, judge_model, cache;
  double threshold = 0.75;
  std::size_t context_tokens = 8192;
  bool tiny = false;  ///< short templates and a 512-token context (the test model's)
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--tiny-model") {
      a.tiny = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) throw std::runtime_error("flag " + k + " needs a value");
    const std::string v = argv[i + 1];
    if (k == "--authors")
      a.authors = std::stoul(v);
    else if (k == "--delay-ms")
      a.delay_ms = std::stoi(v);
    else if (k == "--concurrency")
      a.concurrency = std::stoul(v);
    else if (k == "--base-url")
      a.base_url = v;
    else if (k == "--model")
      a.model = v;
    else if (k == "--judge-model")
      a.judge_model = v;
    else if (k == "--cache")
      a.cache = v;
    else if (k == "--threshold")
      a.threshold = std::stod(v);
    else if (k == "--context-tokens")
      a.context_tokens = std::stoul(v);
    else
      throw std::runtime_error("unknown flag " + k);
  }
  return a;
}

std::shared_ptr<llm::LlmBackend> stack(const std::string& url, const std::string& model,
                                       std::size_t concurrency, const std::string& cache) {
  llm::OpenAiOptions http;
  http.base_url = url;
  http.model = model;
  http.max_in_flight = concurrency;
  std::shared_ptr<llm::LlmBackend> b = std::make_shared<llm::OpenAiBackend>(http);
  b = std::make_shared<llm::RetryBackend>(b, llm::RetryOptions{});
  llm::CacheOptions co;
  co.path = cache;
  return std::make_shared<llm::CachedBackend>(b, co);
}

pe::MiningOptions options(const Args& a) {
  pe::MiningOptions o;
  for (llm::BatchOptions* b : {&o.quality.batch, &o.writer.batch, &o.critique.batch}) {
    b->chunk_size = 1;
    b->parallel_chunks = static_cast<int>(a.concurrency);
  }
  o.round_size = 4 * a.concurrency;
  o.writer.context_tokens = a.context_tokens;
  o.quality.model = o.writer.model = a.model;
  o.critique.model = a.judge_model.empty() ? a.model : a.judge_model;
  if (a.tiny) {  // stories260K: 512 tokens of context
    o.quality.prompt = {"tiny-quality-v1", "", "Post: {post}\nJSON:"};
    o.quality.max_tokens = 64;
    o.quality.max_post_chars = 400;
    o.writer.prompt = {"tiny-writer-v1", "", "Posts:\n{posts}\nPersona ({max_words} words):"};
    o.writer.context_tokens = 512;
    o.writer.max_tokens = 160;  // reserves room for the critique of the same window
    o.writer.max_words = 30;
    o.writer.min_posts = 1;
    o.writer.chars_per_token = 1.5;
    o.critique.prompt = {"tiny-critique-v1", "", "Posts:\n{posts}\nPersona: {persona}\nScores:"};
    o.critique.max_tokens = 96;
  }
  return o;
}

std::size_t total_calls(const pe::MiningResult& r) {
  std::size_t n = 0;
  for (const auto& c : r.calls) n += c.calls.calls;
  return n;
}

int throughput(const Args& a, const pe::PostCorpus& corpus,
               const popalign::embedding::Embedder& sif) {
  popalign::test::ScriptedMiningServerDouble server(a.delay_ms, 64);
  const fs::path cache = fs::temp_directory_path() / "popalign_mining_bench.sqlite";
  fs::remove(cache);
  fs::remove(cache.string() + "-wal");
  fs::remove(cache.string() + "-shm");
  auto backend = stack(server.url(), "scripted", a.concurrency, cache.string());
  const pe::MiningOptions o = options(a);
  const auto t0 = std::chrono::steady_clock::now();
  const pe::MiningResult r = pe::mine_personas(*backend, &sif, corpus, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::size_t calls = total_calls(r);
  const std::size_t posts = r.funnel.step("quality").in;
  // Ideal: every round of a step keeps `concurrency` calls in flight all the time.
  const double ideal =
      static_cast<double>(calls) * a.delay_ms / 1000.0 / static_cast<double>(a.concurrency);
  fmt::print("{}", r.funnel.table());
  fmt::print(
      "throughput: {} posts into the LLM steps, {} calls in {:.2f} s at concurrency {} with a "
      "{} ms server: {:.1f} posts/s, {:.1f} calls/s (ceiling {:.0f}); ideal {:.2f} s, overhead "
      "{:.1f}%\n",
      posts, calls, secs, a.concurrency, a.delay_ms, posts / secs, calls / secs,
      a.concurrency * 1000.0 / a.delay_ms, ideal, 100.0 * (secs - ideal) / ideal);
  fmt::print(
      R"({{"bench":"mining_throughput","authors":{},"posts":{},"calls":{},"seconds":{:.3f},"posts_per_s":{:.2f},"calls_per_s":{:.2f},"ideal_seconds":{:.3f},"overhead_pct":{:.2f},"concurrency":{},"delay_ms":{}}})"
      "\n",
      a.authors, posts, calls, secs, posts / secs, calls / secs, ideal,
      100.0 * (secs - ideal) / ideal, a.concurrency, a.delay_ms);
  fs::remove(cache);
  return 0;
}

int recall(const Args& a, const pe::PostCorpus& corpus, const fs::path& authors_file) {
  const std::string cache =
      a.cache.empty() ? (fs::temp_directory_path() / "popalign_mining_recall.sqlite").string()
                      : a.cache;
  auto backend = stack(a.base_url, a.model, a.concurrency, cache);
  // True facts per author.
  std::map<std::string, std::vector<std::string>> facts;
  std::vector<std::string> all_facts;
  for (const auto& rec : popalign::io::read_jsonl(authors_file).records) {
    const std::string author = rec.string_field("author");
    for (const auto& f : rec.field("facts").as_array()) {
      facts[author].push_back(f.as_string());
      all_facts.push_back(f.as_string());
    }
  }
  const auto sif = popalign::embedding::make_sif_embedder(
      popalign::embedding::default_word_vectors_path(), "", all_facts);
  const pe::MiningResult r = pe::mine_personas(*backend, sif.get(), corpus, options(a));
  fmt::print("{}", r.funnel.table());
  // Score persona p against author q's facts.
  auto score = [&](const popalign::io::PersonaRecord& p, const std::string& author,
                   std::size_t& recalled) {
    const auto& fs_ = facts[author];
    const auto sentences = popalign::io::split_sentences(p.text);
    if (fs_.empty() || sentences.empty()) return fs_.size();
    const auto F = sif->embed(fs_);
    const auto S = sif->embed(sentences);
    for (Eigen::Index i = 0; i < F.rows(); ++i) {
      double best = -1;
      for (Eigen::Index j = 0; j < S.rows(); ++j) {
        const double d = F.row(i).dot(S.row(j)) / (F.row(i).norm() * S.row(j).norm() + 1e-12);
        best = std::max(best, d);
      }
      if (best >= a.threshold) ++recalled;
    }
    return fs_.size();
  };
  std::size_t total = 0, hit = 0, ctotal = 0, chit = 0;
  std::vector<std::string> authors;
  for (const auto& [k, v] : facts) authors.push_back(k);
  for (std::size_t i = 0; i < r.personas.size(); ++i) {
    const auto& p = r.personas[i];
    const std::string author = p.fields.find("author")->as_string();
    total += score(p, author, hit);
    // Control: the next author in id order.
    auto it = std::find(authors.begin(), authors.end(), author);
    const std::string other =
        it == authors.end() || std::next(it) == authors.end() ? authors.front() : *std::next(it);
    ctotal += score(p, other, chit);
  }
  const double rec = total ? static_cast<double>(hit) / total : 0.0;
  const double ctl = ctotal ? static_cast<double>(chit) / ctotal : 0.0;
  fmt::print(
      "fact recall: {} personas, {} of {} true facts recalled ({:.3f}); control (another "
      "author's facts) {:.3f}; threshold {:.2f}\n",
      r.personas.size(), hit, total, rec, ctl, a.threshold);
  fmt::print(
      R"({{"bench":"mining_fact_recall","model":"{}","personas":{},"facts":{},"recalled":{},"recall":{:.4f},"control":{:.4f},"threshold":{}}})"
      "\n",
      a.model, r.personas.size(), total, hit, rec, ctl, a.threshold);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args a = parse(argc, argv);
    const fs::path dir = fs::path(POPALIGN_DATA_DIR) / "posts";
    pe::PostReadOptions ro;
    ro.max_authors = a.authors;
    const pe::PostCorpus corpus = pe::read_posts(dir / "spc_posts.jsonl", ro);
    if (a.base_url.empty()) {
      const auto sif = popalign::embedding::make_sif_embedder(
          popalign::embedding::default_word_vectors_path(), "", {});
      return throughput(a, corpus, *sif);
    }
    return recall(a, corpus, dir / "spc_authors.jsonl");
  } catch (const std::exception& e) {
    fmt::print(stderr, "popalign_persona_mining_bench: {}\n", e.what());
    return 1;
  }
}
