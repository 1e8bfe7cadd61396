#pragma once
// TEST DOUBLE for group construction: one llm::LlmBackend that plays the reviser, the judge and
// the respondents, so that build_group's every branch can be driven without a model.
//
//  - Respondents carry latent traits: every registered persona text is a respondent of an
//    administer::GradedResponseRespondent (the GRM test double) with its own theta.
//  - Revisions move them: the revised text of persona p is its text + " They now belong to the
//    target group." (+ " (second revision)" from the second round on, request seed % 1000 >= 100),
//    registered with theta + `shift`, so re-administering a revised persona measures moved
//    traits, as a real revision toward a group might.
//  - Markers in a persona's text: [nonsense] -> the reviser answers without JSON; [fail-call] ->
//    the revise call fails (ErrorKind::server); [reject] -> the judge always fails the revision;
//    [reject-once] -> the judge fails the first-round revision and passes the second;
//    [bad-verdict] -> the judge answers without a verdict.
// Every answer is a pure function of the request, like a cached model. Counts requests by kind
// and how many distinct requests it saw (to prove that a resume repeats no call).
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <popalign/administer/respondent.hpp>
#include <popalign/io/json.hpp>
#include <popalign/llm/backend.hpp>

namespace popalign::test {

class GroupTestDouble final : public llm::LlmBackend {
 public:
  GroupTestDouble(const psychometrics::Instrument& instrument, std::vector<double> shift,
                  std::uint64_t seed = 7)
      : grm_(instrument, administer::GradedResponseRespondent::random_items(instrument, seed),
             administer::GradedResponseOptions{.seed = seed,
                                               .style = administer::AnswerStyle::digit}),
        shift_(std::move(shift)) {}

  static constexpr const char* kSuffix = " They now belong to the target group.";
  static constexpr const char* kSecond = " (second revision)";

  /// Registers a pool persona and its two possible revisions (theta + shift).
  void add_persona(const std::string& id, const std::string& text, std::vector<double> theta) {
    grm_.add_persona(id, text, theta);
    std::vector<double> moved = theta;
    for (std::size_t k = 0; k < moved.size() && k < shift_.size(); ++k) moved[k] += shift_[k];
    grm_.add_persona(id + "/r1", text + kSuffix, moved);
    grm_.add_persona(id + "/r2", text + kSuffix + kSecond, moved);
  }
  /// A respondent that is not a pool persona (e.g. a synthetic human of the reference).
  void add_respondent(const std::string& id, const std::string& text, std::vector<double> theta) {
    grm_.add_persona(id, text, std::move(theta));
  }

  std::vector<llm::Outcome> complete(std::span<const llm::Request> batch) override {
    std::vector<llm::Outcome> out;
    for (const llm::Request& r : batch) {
      const std::string user = r.messages.empty() ? "" : r.messages.back().content;
      {
        std::lock_guard lock(mutex_);
        ++total_;
        std::string key = r.model + "|" + std::to_string(r.seed.value_or(0)) + "|";
        for (const auto& m : r.messages) key += m.role + ":" + m.content + "|";
        distinct_.insert(key);
      }
      if (user.find("Rewrite the persona lightly") != std::string::npos) {
        count("revise");
        out.push_back(revise(user, r.seed.value_or(0)));
      } else if (user.find("Revised persona:") != std::string::npos) {
        count("judge");
        out.push_back(judge(user));
      } else {
        count("administer");
        const llm::Request one[1] = {r};
        out.push_back(grm_.complete(one)[0]);
      }
    }
    return out;
  }
  std::string name() const override { return "group-test-double"; }
  std::string default_model() const override { return "group-test-double"; }

  std::size_t calls(const std::string& kind) const {
    std::lock_guard lock(mutex_);
    const auto it = by_kind_.find(kind);
    return it == by_kind_.end() ? 0 : it->second;
  }
  std::size_t total() const {
    std::lock_guard lock(mutex_);
    return total_;
  }
  std::size_t distinct() const {
    std::lock_guard lock(mutex_);
    return distinct_.size();
  }

 private:
  static std::string between(const std::string& s, const std::string& open) {
    const std::size_t b = s.find(open);
    if (b == std::string::npos) return "";
    const std::size_t from = b + open.size();
    const std::size_t e = s.find("\n\"\"\"", from);
    return s.substr(from, e == std::string::npos ? std::string::npos : e - from);
  }
  static llm::Response text(std::string t) {
    llm::Response r;
    r.text = std::move(t);
    r.finish_reason = "stop";
    r.model = "group-test-double";
    return r;
  }
  llm::Outcome revise(const std::string& user, std::uint64_t seed) const {
    const std::string persona = between(user, "Persona:\n\"\"\"\n");
    if (persona.find("[fail-call]") != std::string::npos)
      return llm::Failure{llm::ErrorKind::server, 500, "scripted failure", std::nullopt};
    if (persona.find("[nonsense]") != std::string::npos) return text("I would rather not.");
    std::string revised = persona + kSuffix;
    if (seed % 1000 >= 100) revised += kSecond;
    io::JsonValue j = io::JsonValue::object();
    j.set("revised", revised);
    io::JsonValue c = io::JsonValue::array();
    c.push_back("placed the person in the target group");
    j.set("changes", std::move(c));
    return text("```json\n" + j.dump() + "\n```");
  }
  llm::Outcome judge(const std::string& user) const {
    const std::string revised = between(user, "Revised persona:\n\"\"\"\n");
    if (revised.find("[bad-verdict]") != std::string::npos) return text("Looks fine to me.");
    bool pass = true;
    std::string reason = "consistent with the original";
    if (revised.find("[reject]") != std::string::npos) {
      pass = false;
      reason = "adds a stereotype as a fact";
    } else if (revised.find("[reject-once]") != std::string::npos &&
               revised.find(kSecond) == std::string::npos) {
      pass = false;
      reason = "contradicts the original";
    }
    return text(std::string("{\"verdict\": \"") + (pass ? "pass" : "FAIL") +
                "\", \"reasons\": [\"" + reason + "\"]}");
  }
  void count(const std::string& kind) {
    std::lock_guard lock(mutex_);
    ++by_kind_[kind];
  }

  administer::GradedResponseRespondent grm_;
  std::vector<double> shift_;
  mutable std::mutex mutex_;
  std::map<std::string, std::size_t> by_kind_;
  std::size_t total_ = 0;
  std::set<std::string> distinct_;
};

}  // namespace popalign::test
