#pragma once
// TEST DOUBLE: a loopback OpenAI-compatible server (cpp-httplib, real HTTP on 127.0.0.1) that
// plays every model of a pipeline run, for `popalign run` end-to-end and resume tests:
//  - post quality: {"quality":"high","harmful":false} ("[ad]" in the post: low);
//  - persona writer: a persona naming the posts' "I love X" hobbies, quoting up to six of the
//    posts' first-person statements ("I am a nurse.", "I love to bake cookies."), and carrying
//    the author's latent traits: copied from the posts' marker "latent: +0.50 -1.20 ..." (one
//    number per instrument trait, in the instrument's trait order) when the posts have one, else
//    drawn from a hash of the prompt (FNV-1a seeding an LCG, Box-Muller normals with the bias of
//    LLM personas: +0.8 on the 2nd trait, -0.6 on the 4th, sd 0.8, clamped to +-2.5), so real
//    posts without markers (data/posts) get fixed, distinct latent traits;
//  - critique: 10/9/9/9/9 (kept);
//  - questionnaire items: answered by administer::GradedResponseRespondent (a graded-response
//    model respondent) with the latent traits found in the persona text of the system message,
//    so scores follow the latent traits;
//  - group revision (template group-revise-v1): the revised persona keeps the original's text and
//    carries the marker moved toward the middle (theta -> (1 - revision_shift) theta + 0.1), so
//    revisions move the latent traits and the re-administered group pool differs from the retrieved
//    one; the revision judge (group-judge-v1) passes every revision.
// The HTTP part, the counting of answers per request body and by kind (what a paid server would
// bill: a test checks that a resumed run repeats no paid call) and the optional delay per answer
// are tests/support/openai_server_double.hpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <popalign/administer/respondent.hpp>
#include <popalign/psychometrics/instrument.hpp>

#include "support/openai_server_double.hpp"

namespace popalign::test {

/// "latent: +0.50 -1.20 +0.30 -0.10 +0.90"
inline std::string latent_marker(const std::vector<double>& theta) {
  std::string s = "latent:";
  char buf[32];
  for (double t : theta) {
    std::snprintf(buf, sizeof buf, " %+.2f", t);
    s += buf;
  }
  return s;
}

/// Latent traits drawn from a hash of `text` (see the file comment): d numbers, deterministic.
inline std::vector<double> latent_from_hash(const std::string& text, std::size_t d) {
  std::uint64_t s = 1469598103934665603ULL;
  for (unsigned char c : text) s = (s ^ c) * 1099511628211ULL;
  auto uni = [&] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (static_cast<double>(s >> 11) + 0.5) / 9007199254740992.0;
  };
  std::vector<double> t;
  for (std::size_t k = 0; k < d; ++k) {
    const double z = std::sqrt(-2 * std::log(uni())) * std::cos(6.283185307179586 * uni());
    const double bias = k == 1 ? 0.8 : k == 3 ? -0.6 : 0.0;
    t.push_back(std::clamp(bias + 0.8 * z, -2.5, 2.5));
  }
  return t;
}

/// The first marker in `text` and its numbers (empty when none).
inline std::pair<std::string, std::vector<double>> find_latent(const std::string& text) {
  static const std::regex re(R"(latent:( [+-][0-9]+\.[0-9]+)+)");
  std::smatch m;
  if (!std::regex_search(text, m, re)) return {};
  std::vector<double> v;
  const std::string s = m.str();
  static const std::regex num(R"([+-][0-9]+\.[0-9]+)");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), num); it != std::sregex_iterator(); ++it)
    v.push_back(std::stod(it->str()));
  return {s, v};
}

class LatentServerDouble {
 public:
  LatentServerDouble(const psychometrics::Instrument& instrument, int delay_ms = 0,
                     double revision_shift = 0.3)
      : instrument_(instrument),
        respondent_(
            instrument, administer::GradedResponseRespondent::random_items(instrument, 7),
            administer::GradedResponseOptions{.seed = 11, .style = administer::AnswerStyle::digit}),
        shift_(revision_shift),
        server_(
            "latent-double",
            [this](const ChatCall& call) {
              const std::string kind = kind_of(call.system, call.user);
              int status = 200;
              std::string text = answer(call.request, kind, call.system, call.user, &status);
              return ChatReply{status, std::move(text), kind};
            },
            delay_ms) {}
  LatentServerDouble(const LatentServerDouble&) = delete;
  LatentServerDouble& operator=(const LatentServerDouble&) = delete;

  std::string url() const { return server_.url(); }
  std::size_t requests() const { return server_.requests(); }
  /// Answers sent, by kind ("quality", "writer", "critique", "item", "revise",
  /// "revision-judge").
  std::size_t answered(const std::string& kind) const { return server_.answered(kind); }
  std::size_t answered_total() const { return server_.answered(); }
  /// Extra answers to request bodies answered before.
  std::size_t repeated_answers() const { return server_.repeated_answers(); }
  void reset() { server_.reset(); }

 private:
  static bool has(const std::string& s, const char* m) { return s.find(m) != std::string::npos; }

  std::string kind_of(const std::string& system, const std::string& user) const {
    const std::string all = system + "\n" + user;
    if (has(all, "Rate the post's quality")) return "quality";
    if (has(all, "narrative persona")) return "writer";
    if (has(all, "Score the persona")) return "critique";
    if (has(all, "strict reviewer of persona edits")) return "revision-judge";
    if (has(all, "Rewrite the persona lightly")) return "revise";
    for (const auto& it : instrument_.items)
      if (has(user, it.text.c_str())) return "item";
    return "other";
  }

  std::string answer(const llm::Request& r, const std::string& kind, const std::string& system,
                     const std::string& user, int* status) {
    *status = 200;
    if (kind == "quality")
      return has(user, "[ad]") ? R"({"quality": "low", "harmful": false})"
                               : R"({"quality": "high", "harmful": false})";
    if (kind == "writer") {
      auto [marker, theta] = find_latent(user);
      if (marker.empty()) marker = latent_marker(latent_from_hash(user, instrument_.traits.size()));
      std::vector<std::string> hobbies;
      static const std::regex love(R"(I love (?:to )?([a-z]+))");
      for (auto it = std::sregex_iterator(user.begin(), user.end(), love);
           it != std::sregex_iterator() && hobbies.size() < 3; ++it)
        if (std::find(hobbies.begin(), hobbies.end(), (*it)[1].str()) == hobbies.end())
          hobbies.push_back((*it)[1].str());
      std::string p = "They love";
      for (std::size_t i = 0; i < hobbies.size(); ++i) p += (i ? ", " : " ") + hobbies[i];
      p = hobbies.empty() ? std::string() : p + ".";
      // Up to six distinct first-person statements of the posts: most of the persona is the
      // author's own content, so that personas of different authors are not near-duplicates.
      static const std::regex fact(R"(I (?:am|work|have|enjoy|like|love)[a-z ,']{4,80}[.!])");
      std::vector<std::string> seen;
      for (auto it = std::sregex_iterator(user.begin(), user.end(), fact);
           it != std::sregex_iterator() && seen.size() < 6; ++it)
        if (std::find(seen.begin(), seen.end(), it->str()) == seen.end()) {
          seen.push_back(it->str());
          p += (p.empty() ? "" : " ") + it->str();
        }
      if (p.empty()) p = "They write about daily life.";
      p += " (" + marker + ")";
      return nlohmann::json{{"status", "ok"}, {"persona", p}}.dump();
    }
    if (kind == "critique")
      return R"({"hallucination": 10, "coverage": 9, "conciseness": 9, "relevance": 9, "overall": 9, "explanation": "Faithful."})";
    if (kind == "revision-judge") return R"({"verdict": "pass", "reasons": []})";
    if (kind == "revise") {
      auto [marker, theta] = find_latent(user);
      if (marker.empty()) std::tie(marker, theta) = find_latent(system);
      if (marker.empty()) return R"({"persona": "", "changes": []})";
      for (double& t : theta) t = std::clamp((1 - shift_) * t + 0.1, -3.0, 3.0);
      // The original persona (between the template's quotes) without its marker, kept.
      std::string original;
      const std::string open = "Persona:\n\"\"\"\n";
      if (const auto a = user.find(open); a != std::string::npos) {
        const auto b = user.find("\n\"\"\"", a + open.size());
        original = user.substr(a + open.size(), b == std::string::npos ? 0 : b - a - open.size());
        if (const auto m = original.find(marker); m != std::string::npos)
          original.erase(m, marker.size());
        static const std::regex leftovers(R"(\s*\(\)|\s*Their profile reads \.)");
        original = std::regex_replace(original, leftovers, "");
      }
      const std::string p = "This person, revised for the group, keeps their interests." +
                            (original.empty() ? std::string() : " " + original) + " (" +
                            latent_marker(theta) + ")";
      return nlohmann::json{{"revised", p}, {"changes", {"moved toward the group"}}}.dump();
    }
    if (kind == "item") {
      const auto [marker, theta] = find_latent(system);
      if (marker.empty() || theta.size() != instrument_.traits.size()) {
        *status = 400;
        return R"({"error":{"message":"no latent marker in the persona"}})";
      }
      std::lock_guard lock(respondent_mutex_);
      if (!known_.count(marker)) {
        respondent_.add_persona(marker, marker, theta);
        known_.insert({marker, true});
      }
      const std::vector<llm::Outcome> out = respondent_.complete(std::span(&r, 1));
      if (!out[0].ok()) {
        *status = 400;
        return R"({"error":{"message":"respondent failed"}})";
      }
      return out[0].value().text;
    }
    *status = 400;
    return R"({"error":{"message":"unknown prompt"}})";
  }

  psychometrics::Instrument instrument_;
  administer::GradedResponseRespondent respondent_;
  std::mutex respondent_mutex_;
  std::map<std::string, bool> known_;
  double shift_ = 0.3;
  OpenAiServerDouble server_;  // last: its thread calls answer(), which uses the members above
};

}  // namespace popalign::test
