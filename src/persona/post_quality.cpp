// Step 3: post quality. See persona/post_quality.hpp.
#include <popalign/persona/post_quality.hpp>

#include <algorithm>
#include <cctype>

#include <popalign/core/error.hpp>

#include "ask.hpp"

namespace popalign::persona {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return detail::collapse_spaces(out);
}

}  // namespace

std::string_view to_string(Quality q) noexcept {
  switch (q) {
    case Quality::high:
      return "high";
    case Quality::medium:
      return "medium";
    case Quality::low:
      return "low";
  }
  return "low";
}

Quality quality_from_string(std::string_view s) {
  const std::string l = lower(s);
  if (l == "high") return Quality::high;
  if (l == "medium") return Quality::medium;
  if (l == "low") return Quality::low;
  throw InvalidArgument("quality", "must be high, medium or low, not '" + std::string(s) + "'");
}

void PostQualityOptions::validate() const {
  check_argument(temperature >= 0.0 && temperature <= 2.0, "temperature", "must be in [0, 2]");
  check_argument(max_tokens >= 8, "max_tokens", "must be >= 8");
  check_argument(max_attempts >= 1, "max_attempts", "must be >= 1");
  check_argument(max_post_chars >= 100, "max_post_chars", "must be >= 100");
  prompt.require("prompt", {"post"});
  batch.validate();
}

std::string post_quality_schema() {
  return R"({"type":"object","properties":{"quality":{"type":"string","enum":["high","medium","low"]},"harmful":{"type":"boolean"}},"required":["quality","harmful"],"additionalProperties":false})";
}

llm::Request post_quality_request(const Post& post, const PostQualityOptions& options,
                                  int attempt) {
  check_argument(attempt >= 0, "attempt", "must be >= 0");
  const std::string text =
      detail::collapse_spaces(detail::utf8_prefix(post.text, options.max_post_chars));
  llm::Request r;
  const std::vector<std::pair<std::string, std::string>> values = {{"post", text}};
  if (!options.prompt.system.empty())
    r.messages.push_back({"system", render_prompt(options.prompt.system, values)});
  r.messages.push_back({"user", render_prompt(options.prompt.user, values)});
  r.model = options.model;
  r.temperature = options.temperature;
  r.max_tokens = options.max_tokens;
  r.seed = options.seed + static_cast<std::uint64_t>(attempt);
  if (options.json_schema) r.json_schema = post_quality_schema();
  return r;
}

std::optional<PostVerdict> parse_post_quality(std::string_view answer) {
  const io::JsonValue j = detail::find_json_object(answer);
  if (!j.is_object()) return std::nullopt;
  const io::JsonValue* q = j.find("quality");
  const io::JsonValue* h = j.find("harmful");
  if (q == nullptr || h == nullptr || !q->is_string()) return std::nullopt;
  PostVerdict v;
  const std::string ql = lower(q->as_string());
  if (ql == "high")
    v.quality = Quality::high;
  else if (ql == "medium")
    v.quality = Quality::medium;
  else if (ql == "low")
    v.quality = Quality::low;
  else
    return std::nullopt;
  if (h->is_bool()) {
    v.harmful = h->as_bool();
  } else if (h->is_string()) {
    const std::string hl = lower(h->as_string());
    if (hl == "yes" || hl == "true")
      v.harmful = true;
    else if (hl == "no" || hl == "false")
      v.harmful = false;
    else
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  return v;
}

std::string post_drop_reason(const PostVerdict& verdict, const PostQualityOptions& options) {
  if (verdict.harmful && !options.keep_harmful) return "harmful";
  if (static_cast<int>(verdict.quality) < static_cast<int>(options.min_quality))
    return std::string(to_string(verdict.quality)) + " quality";
  return "";
}

PostQualityResult assess_posts(llm::LlmBackend& backend, std::span<const Post> posts,
                               const PostQualityOptions& options) {
  options.validate();
  PostQualityResult result;
  result.assessments.resize(posts.size());
  detail::AskTotals totals;
  const std::vector<detail::UnitState> state = detail::ask_all(
      backend, posts.size(), options.max_attempts,
      [&](std::size_t i, int attempt) { return post_quality_request(posts[i], options, attempt); },
      detail::parse_into(
          [&](std::size_t i) -> auto& { return result.assessments[i].verdict; },
          parse_post_quality),
      options.batch, [&](std::size_t i) { return "post " + posts[i].id; }, totals);
  for (std::size_t i = 0; i < posts.size(); ++i) {
    PostAssessment& a = result.assessments[i];
    const detail::UnitState& s = state[i];
    a.attempts = s.attempts;
    a.finished = s.finished;
    a.reason = detail::unit_failure(s, a.verdict.has_value(), a.detail);
    if (a.reason.empty()) {
      a.reason = post_drop_reason(*a.verdict, options);
      a.kept = a.reason.empty();
      if (a.kept) ++result.kept;
    }
  }
  result.report = totals.step_calls();
  return result;
}

}  // namespace popalign::persona
