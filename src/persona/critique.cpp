// Step 5: the critique. See persona/critique.hpp.
#include <popalign/persona/critique.hpp>

#include <cmath>
#include <cstdlib>

#include <fmt/core.h>
#include <popalign/core/error.hpp>

#include "ask.hpp"

namespace popalign::persona {

namespace {

constexpr const char* kScoreNames[] = {"hallucination", "coverage", "conciseness", "relevance",
                                       "overall"};

int* score_field(CritiqueScores& s, int k) {
  switch (k) {
    case 0:
      return &s.hallucination;
    case 1:
      return &s.coverage;
    case 2:
      return &s.conciseness;
    case 3:
      return &s.relevance;
    default:
      return &s.overall;
  }
}

std::optional<int> read_score(const io::JsonValue* v) {
  if (v == nullptr) return std::nullopt;
  double x = 0;
  if (v->is_number()) {
    x = v->as_number();
  } else if (v->is_string()) {
    const std::string& s = v->as_string();
    char* end = nullptr;
    x = std::strtod(s.c_str(), &end);
    if (end == s.c_str()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(x)) return std::nullopt;
  const long r = std::lround(x);
  if (r < 1 || r > 10) return std::nullopt;
  return static_cast<int>(r);
}

}  // namespace

void CritiqueOptions::validate() const {
  check_argument(temperature >= 0.0 && temperature <= 2.0, "temperature", "must be in [0, 2]");
  check_argument(max_tokens >= 32, "max_tokens", "must be >= 32");
  check_argument(max_attempts >= 1, "max_attempts", "must be >= 1");
  check_argument(min_overall >= 1 && min_overall <= 10, "min_overall", "must be in 1..10");
  check_argument(min_other >= 1 && min_other <= 10, "min_other", "must be in 1..10");
  prompt.require("prompt", {"posts", "persona"});
  batch.validate();
}

std::string critique_schema() {
  std::string props;
  for (const char* n : kScoreNames)
    props += fmt::format(R"("{}":{{"type":"integer","minimum":1,"maximum":10}},)", n);
  return R"({"type":"object","properties":{)" + props +
         R"("explanation":{"type":"string","maxLength":400}},"required":["hallucination","coverage","conciseness","relevance","overall","explanation"],"additionalProperties":false})";
}

llm::Request critique_request(const CritiqueInput& input, const CritiqueOptions& options,
                              int attempt) {
  check_argument(attempt >= 0, "attempt", "must be >= 0");
  const std::vector<std::pair<std::string, std::string>> values = {
      {"posts", detail::render_posts(input.posts)}, {"persona", input.persona}};
  llm::Request r;
  if (!options.prompt.system.empty())
    r.messages.push_back({"system", render_prompt(options.prompt.system, values)});
  r.messages.push_back({"user", render_prompt(options.prompt.user, values)});
  r.model = options.model;
  r.temperature = options.temperature;
  r.max_tokens = options.max_tokens;
  r.seed = options.seed + static_cast<std::uint64_t>(attempt);
  if (options.json_schema) r.json_schema = critique_schema();
  return r;
}

std::optional<CritiqueScores> parse_critique(std::string_view answer) {
  const io::JsonValue j = detail::find_json_object(answer);
  if (!j.is_object()) return std::nullopt;
  CritiqueScores s;
  for (int k = 0; k < 5; ++k) {
    const std::optional<int> v = read_score(j.find(kScoreNames[k]));
    if (!v) return std::nullopt;
    *score_field(s, k) = *v;
  }
  if (const io::JsonValue* e = j.find("explanation"); e != nullptr && e->is_string())
    s.explanation = detail::collapse_spaces(e->as_string());
  return s;
}

std::string critique_drop_reason(const CritiqueScores& scores, const CritiqueOptions& options,
                                 std::string* detail) {
  std::string reason, all;
  CritiqueScores s = scores;
  for (int k = 0; k < 5; ++k) {
    const int v = *score_field(s, k);
    const int min = k == 4 ? options.min_overall : options.min_other;
    if (v >= min) continue;
    if (reason.empty()) reason = fmt::format("low {} score", kScoreNames[k]);
    all += fmt::format("{}{} {} < {}", all.empty() ? "" : "; ", kScoreNames[k], v, min);
  }
  if (detail != nullptr) *detail = all;
  return reason;
}

CritiqueResult critique_personas(llm::LlmBackend& backend, std::span<const CritiqueInput> inputs,
                                 const CritiqueOptions& options) {
  options.validate();
  CritiqueResult result;
  result.critiques.resize(inputs.size());
  detail::AskTotals totals;
  const std::vector<detail::UnitState> state = detail::ask_all(
      backend, inputs.size(), options.max_attempts,
      [&](std::size_t i, int attempt) { return critique_request(inputs[i], options, attempt); },
      detail::parse_into(
          [&](std::size_t i) -> auto& { return result.critiques[i].scores; }, parse_critique),
      options.batch, [&](std::size_t i) { return "persona " + inputs[i].id; }, totals);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    PersonaCritique& c = result.critiques[i];
    const detail::UnitState& s = state[i];
    c.id = inputs[i].id;
    c.attempts = s.attempts;
    c.finished = s.finished;
    c.reason = detail::unit_failure(s, c.scores.has_value(), c.detail);
    if (c.reason.empty()) {
      c.reason = critique_drop_reason(*c.scores, options, &c.detail);
      c.kept = c.reason.empty();
      if (c.kept) ++result.kept;
    }
  }
  result.report = totals.step_calls();
  return result;
}

}  // namespace popalign::persona
