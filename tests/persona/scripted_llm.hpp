#pragma once
// TEST DOUBLES for persona mining: a scripted "model" that answers the three mining prompts
// (post quality, persona writing, critique) from markers in the posts, so that a test drives
// every branch of the funnel; an in-process backend and a loopback HTTP server (cpp-httplib,
// OpenAI-compatible chat endpoint) that both answer with it; and a fixture corpus whose authors
// carry those markers.
//
// Markers (in a post's text):
//   quality:  [ad] -> low, [meh] -> medium, [harm] -> harmful, [garbled] -> off-schema at an
//             even seed (valid at seed + 1), [garbled-always] -> always off-schema, [fail] ->
//             the call fails (HTTP 500 / ErrorKind::server)
//   writer:   [cannot] -> refusal, [long] -> 200 words at every ask, [long-once] -> 200 words at
//             an even seed, [same] -> one fixed persona (a duplicate of the other [same] author),
//             [email] -> the persona gives an e-mail address, [writer-garbled] -> off-schema,
//             [judge-low] / [judge-garbled] / [judge-border] -> markers the judge reacts to
//   judge:    JUDGE-LOW -> hallucination 5, overall 6; JUDGE-GARBLED -> off-schema;
//             JUDGE-BORDER -> overall 8 (others 9); else 10/9/9/9/9.
// The default persona names the hobbies, job and city the window's posts mention ("I love X",
// "I work as a Y", "I live in Z"), so different authors give different personas.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <popalign/llm/backend.hpp>

namespace popalign::test {

inline bool has(const std::string& s, const char* m) { return s.find(m) != std::string::npos; }

// Distinct words following `lead` in text, in order of appearance (at most `n`).
inline std::vector<std::string> words_after(const std::string& text, const std::string& lead,
                                            std::size_t n) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (out.size() < n && (at = text.find(lead, at)) != std::string::npos) {
    at += lead.size();
    std::size_t e = at;
    while (e < text.size() && std::isalpha(static_cast<unsigned char>(text[e]))) ++e;
    std::string w = text.substr(at, e - at);
    if (!w.empty() && std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
  }
  return out;
}

/// The scripted answer; *fail = true means "answer with a server error".
inline std::string scripted_mining_answer(const llm::Request& r, bool* fail) {
  *fail = false;
  const std::string user = r.messages.empty() ? r.prompt : r.messages.back().content;
  const std::uint64_t seed = r.seed.value_or(0);
  if (has(user, "Rate the post's quality")) {
    if (has(user, "[fail]")) {
      *fail = true;
      return "";
    }
    if (has(user, "[garbled-always]") || (has(user, "[garbled]") && seed % 2 == 0))
      return "I think this post is rather nice.";
    if (has(user, "[ad]")) return R"({"quality": "low", "harmful": false})";
    if (has(user, "[meh]")) return R"({"quality":"medium","harmful":"no"})";
    if (has(user, "[harm]")) return R"({"quality": "high", "harmful": true})";
    return "```json\n{\"quality\": \"High\", \"harmful\": false}\n```";
  }
  if (has(user, "narrative persona")) {
    if (has(user, "[cannot]")) return R"({"status": "cannot", "persona": ""})";
    if (has(user, "[writer-garbled]")) return "%%%% ####";
    if (has(user, "[long]") || (has(user, "[long-once]") && seed % 2 == 0)) {
      std::string t = "This blogger";
      for (int i = 0; i < 200; ++i) t += " writes";
      return R"({"status": "ok", "persona": ")" + t + ".\"}";
    }
    std::string p;
    if (has(user, "[same]")) {
      p = "This blogger is a cheerful baker who shares recipes, loves quiet mornings and "
          "writes warmly about friends and family.";
    } else {
      const auto hobbies = words_after(user, "I love ", 4);
      const auto jobs = words_after(user, "I work as a ", 1);
      const auto cities = words_after(user, "I live in ", 1);
      p = "This blogger loves";
      for (std::size_t i = 0; i < hobbies.size(); ++i)
        p += (i == 0 ? " " : (i + 1 == hobbies.size() ? " and " : ", ")) + hobbies[i];
      if (!jobs.empty()) p += ", works as a " + jobs[0];
      if (!cities.empty()) p += " and lives in " + cities[0];
      p += ".";
    }
    if (has(user, "[email]")) p += " Reach them at jo.doe@example.com for recipes.";
    if (has(user, "[judge-low]")) p += " JUDGE-LOW";
    if (has(user, "[judge-garbled]")) p += " JUDGE-GARBLED";
    if (has(user, "[judge-border]")) p += " JUDGE-BORDER";
    return R"({"status": "ok", "persona": ")" + p + "\"}";
  }
  if (has(user, "Score the persona")) {
    if (has(user, "JUDGE-GARBLED")) return "The persona is fine, I would say.";
    if (has(user, "JUDGE-LOW"))
      return R"({"hallucination": 5, "coverage": 8, "conciseness": 9, "relevance": 9, "overall": 6, "explanation": "Invents facts."})";
    if (has(user, "JUDGE-BORDER"))
      return R"({"hallucination": 9, "coverage": 9, "conciseness": 9, "relevance": 9, "overall": "8/10", "explanation": "Good."})";
    return R"({"hallucination": 10, "coverage": 9, "conciseness": 9, "relevance": 9, "overall": 9, "explanation": "Faithful and concise."})";
  }
  return "unknown prompt";
}

/// TEST DOUBLE: an in-process backend answering with scripted_mining_answer; counts calls per
/// request (canonical bytes). Thread-safe.
class ScriptedMiningBackendDouble final : public llm::LlmBackend {
 public:
  std::vector<llm::Outcome> complete(std::span<const llm::Request> batch) override {
    std::vector<llm::Outcome> out;
    for (const llm::Request& r : batch) {
      bool fail = false;
      std::string text = scripted_mining_answer(r, &fail);
      {
        std::lock_guard lock(mutex_);
        ++total_;
        if (!fail) {
          ++calls_[llm::canonical_request(r)];
          ++answered_;
        }
      }
      if (fail) {
        out.push_back(llm::Failure{llm::ErrorKind::server, 500, "scripted failure", {}});
        continue;
      }
      llm::Response resp;
      resp.text = std::move(text);
      resp.finish_reason = "stop";
      resp.model = "scripted";
      resp.usage = {static_cast<std::int64_t>(r.messages.back().content.size() / 4), 20};
      out.push_back(std::move(resp));
    }
    return out;
  }
  std::string name() const override { return "scripted-double"; }
  std::string default_model() const override { return "scripted"; }
  std::size_t total() const {
    std::lock_guard lock(mutex_);
    return total_;
  }
  /// Calls answered (not failed): the ones a paid server would bill.
  std::size_t answered() const {
    std::lock_guard lock(mutex_);
    return answered_;
  }
  /// The most times one request was answered.
  std::size_t max_repeats() const {
    std::lock_guard lock(mutex_);
    std::size_t m = 0;
    for (const auto& [k, n] : calls_) m = std::max(m, n);
    return m;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::size_t> calls_;
  std::size_t total_ = 0;
  std::size_t answered_ = 0;
};

/// Writes the fixture corpus (JSONL) and returns the number of posts written. Authors:
///   good1..good4: 7 plain posts each (personas that pass)
///   few: 5 posts (fewer than 6)
///   mixed: 10 posts, one [ad], one [meh], one [harm], one [fail] -> 6 kept
///   garbled: 7 posts, one [garbled] (re-asked), plus one [garbled-always] post (dropped)
///   refuses: [cannot]; toolong: [long]; longonce: [long-once]; judgelow: [judge-low];
///   judgegarbled: [judge-garbled]; border: [judge-border]; same1, same2: [same];
///   email: [email]; history: 16 posts (several windows with a small context)
///   plus noise posts: a short one, one without first person, an exact duplicate.
inline std::size_t write_mining_fixture(const std::filesystem::path& path) {
  static const char* vocab[] = {
      "river",    "window",   "garden",  "morning", "coffee",  "letter",   "market",   "winter",
      "summer",   "mountain", "kitchen", "bicycle", "library", "concert",  "painting", "station",
      "harbor",   "forest",   "candle",  "blanket", "teacher", "neighbor", "holiday",  "weekend",
      "journey",  "picture",  "village", "orchard", "meadow",  "thunder",  "evening",  "notebook",
      "festival", "bakery",   "theater", "museum",  "cottage", "lantern",  "compass",  "violin"};
  static const char* hobbies[] = {
      "gardening", "chess",   "surfing",     "painting", "knitting", "hiking",       "baking",
      "cycling",   "fishing", "photography", "pottery",  "climbing", "birdwatching", "sailing",
      "skating",   "dancing", "archery",     "camping",  "rowing",   "singing"};
  static const char* jobs[] = {
      "nurse",   "teacher",   "plumber",     "librarian",    "chef",        "pilot",    "farmer",
      "dentist", "carpenter", "journalist",  "pharmacist",   "firefighter", "mechanic", "architect",
      "baker",   "tailor",    "electrician", "veterinarian", "lawyer",      "gardener", "engineer"};
  static const char* cities[] = {"Leeds",    "Boston",  "Dublin", "Denver",  "Lyon",    "Austin",
                                 "Oslo",     "Perth",   "Quebec", "Porto",   "Seattle", "Toronto",
                                 "Glasgow",  "Phoenix", "Madrid", "Chicago", "Vienna",  "Houston",
                                 "Portland", "Atlanta", "Memphis"};
  std::uint64_t state = 12345;
  auto next = [&]() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<std::size_t>(state >> 33);
  };
  struct Author {
    std::string id;
    int posts;
    std::vector<std::pair<int, std::string>> markers;  // (post index, marker)
  };
  const std::vector<Author> authors = {
      {"good1", 7, {}},
      {"good2", 7, {}},
      {"good3", 7, {}},
      {"good4", 7, {}},
      {"few", 5, {}},
      {"mixed", 10, {{1, "[ad]"}, {3, "[meh]"}, {5, "[harm]"}, {7, "[fail]"}}},
      {"garbled", 8, {{2, "[garbled]"}, {4, "[garbled-always]"}}},
      {"refuses", 7, {{0, "[cannot]"}}},
      {"toolong", 7, {{0, "[long]"}}},
      {"longonce", 7, {{0, "[long-once]"}}},
      {"judgelow", 7, {{0, "[judge-low]"}}},
      {"judgegarbled", 7, {{0, "[judge-garbled]"}}},
      {"border", 7, {{0, "[judge-border]"}}},
      {"same1", 7, {{0, "[same]"}}},
      {"same2", 7, {{0, "[same]"}}},
      {"email", 7, {{0, "[email]"}}},
      {"history", 16, {}}};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  std::size_t written = 0;
  std::string duplicate;
  for (std::size_t a = 0; a < authors.size(); ++a) {
    const Author& au = authors[a];
    for (int k = 0; k < au.posts; ++k) {
      std::string text = "Today I wrote about";
      for (int w = 0; w < 40; ++w) text += std::string(" ") + vocab[next() % 40];
      text += ". I love " + std::string(hobbies[(a * 3 + k) % 20]) + ". I work as a " +
              jobs[a % 21] + ". I live in " + cities[a % 21] + ".";
      for (const auto& [idx, m] : au.markers)
        if (idx == k) text += " " + m;
      const std::string line = R"({"author": ")" + au.id + R"(", "id": ")" + au.id + "-" +
                               std::to_string(k) + R"(", "time": "2004-05-)" +
                               (k + 1 < 10 ? "0" : "") + std::to_string(k + 1) + R"(", "text": ")" +
                               text + "\", \"gender\": \"female\"}";
      out << line << "\n";
      ++written;
      if (a == 0 && k == 0) duplicate = text;
    }
  }
  // Noise the pre-filter drops.
  out << R"({"author": "good1", "id": "good1-short", "time": "2004-06-01", "text": "I am tired."})"
      << "\n";
  out << R"({"author": "good1", "id": "good1-3rd", "time": "2004-06-02", "text": "The weather was grey all week and the trains were late again, the market closed early on Friday and the river rose over the old stone wall near the station while the shops sold umbrellas and boots to everyone passing by."})"
      << "\n";
  out << R"({"author": "good2", "id": "good2-dup", "time": "2004-06-03", "text": ")" << duplicate
      << "\"}\n";
  return written + 3;
}

}  // namespace popalign::test
