// Group construction's prompt templates and answer readers. See persona/group_prompts.hpp.
#include <popalign/persona/group_prompts.hpp>

#include <cctype>

#include <popalign/io/json.hpp>

#include "ask.hpp"

namespace popalign::persona {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// An array of strings, one string, or nothing -> the non-empty strings (collapsed).
std::optional<std::vector<std::string>> string_list(const io::JsonValue* v) {
  std::vector<std::string> out;
  if (v == nullptr || v->is_null()) return out;
  if (v->is_string()) {
    std::string s = detail::collapse_spaces(v->as_string());
    if (!s.empty()) out.push_back(std::move(s));
    return out;
  }
  if (!v->is_array()) return std::nullopt;
  for (const io::JsonValue& e : v->as_array()) {
    if (!e.is_string()) return std::nullopt;
    std::string s = detail::collapse_spaces(e.as_string());
    if (!s.empty()) out.push_back(std::move(s));
  }
  return out;
}

void set_problem(std::string* problem, std::string what) {
  if (problem != nullptr) *problem = std::move(what);
}

}  // namespace

const PromptTemplate& group_revise_template() {
  static const PromptTemplate t{
      "group-revise-v1",
      "You adapt persona descriptions of real people to a target group for a social simulation. "
      "You make light, careful edits. Answer with JSON only.",
      "Target group: {group}\n\n"
      "Persona:\n\"\"\"\n{persona}\n\"\"\"\n\n"
      "Rewrite the persona lightly so that this person is plausible as a member of the target "
      "group. Rules:\n"
      "- keep every fact of the persona (personality, interests, life events, values, tone); "
      "never contradict or drop one;\n"
      "- change only what must change for the group (e.g. where the person lives, the setting of "
      "daily life), and say so in \"changes\";\n"
      "- never add stereotypes about the group as facts about the person; add no new traits, "
      "names or ages;\n"
      "- third person, at most {max_words} words.\n"
      "Answer as JSON: {{\"revised\": \"...\", \"changes\": [\"...\"]}}"};
  return t;
}

const PromptTemplate& group_judge_template() {
  static const PromptTemplate t{
      "group-judge-v1", "You are a strict reviewer of persona edits. Answer with JSON only.",
      "Target group: {group}\n\n"
      "Original persona:\n\"\"\"\n{original}\n\"\"\"\n\n"
      "Revised persona:\n\"\"\"\n{revised}\n\"\"\"\n\n"
      "The revision was meant to make the person plausible for the target group with light "
      "edits. It fails if it contradicts or drops a fact of the original, changes the person's "
      "personality, or adds stereotypes about the group as facts about the person. Otherwise it "
      "passes.\n"
      "Answer as JSON: {{\"verdict\": \"pass\" | \"fail\", \"reasons\": [\"...\"]}}"};
  return t;
}

std::string group_revision_schema() {
  return R"({"type":"object","properties":{"revised":{"type":"string","minLength":1},)"
         R"("changes":{"type":"array","items":{"type":"string"},"maxItems":10}},)"
         R"("required":["revised","changes"],"additionalProperties":false})";
}

std::string group_verdict_schema() {
  return R"({"type":"object","properties":{"verdict":{"type":"string","enum":["pass","fail"]},)"
         R"("reasons":{"type":"array","items":{"type":"string"},"maxItems":10}},)"
         R"("required":["verdict","reasons"],"additionalProperties":false})";
}

std::optional<GroupRevision> parse_group_revision(std::string_view answer, std::size_t max_words,
                                                  std::string* problem) {
  const io::JsonValue j = detail::find_json_object(answer);
  if (!j.is_object()) {
    set_problem(problem, "no JSON object " + detail::excerpt(answer));
    return std::nullopt;
  }
  const io::JsonValue* text = j.find("revised");
  if (text == nullptr) text = j.find("persona");
  if (text == nullptr) text = j.find("text");
  if (text == nullptr || !text->is_string()) {
    set_problem(problem, "no \"revised\" text " + detail::excerpt(answer));
    return std::nullopt;
  }
  GroupRevision r;
  r.revised = detail::collapse_spaces(text->as_string());
  const std::size_t words = detail::word_count(r.revised);
  if (words < 5) {
    set_problem(problem, "revision too short (" + std::to_string(words) + " words)");
    return std::nullopt;
  }
  if (words > max_words) {
    set_problem(problem, "revision too long (" + std::to_string(words) + " words > " +
                             std::to_string(max_words) + ")");
    return std::nullopt;
  }
  auto changes = string_list(j.find("changes"));
  if (!changes) {
    set_problem(problem, "\"changes\" is not a list of strings " + detail::excerpt(answer));
    return std::nullopt;
  }
  r.changes = std::move(*changes);
  return r;
}

std::optional<GroupVerdict> parse_group_verdict(std::string_view answer, std::string* problem) {
  const io::JsonValue j = detail::find_json_object(answer);
  if (!j.is_object()) {
    set_problem(problem, "no JSON object " + detail::excerpt(answer));
    return std::nullopt;
  }
  GroupVerdict v;
  bool known = false;
  if (const io::JsonValue* s = j.find("verdict"); s != nullptr && s->is_string()) {
    const std::string w = lower(detail::collapse_spaces(s->as_string()));
    if (w == "pass" || w == "ok" || w == "accept" || w == "accepted" || w == "yes") {
      v.pass = known = true;
    } else if (w == "fail" || w == "reject" || w == "rejected" || w == "no") {
      known = true;
    }
  } else if (const io::JsonValue* b = j.find("pass"); b != nullptr && b->is_bool()) {
    v.pass = b->as_bool();
    known = true;
  }
  if (!known) {
    set_problem(problem, "no pass/fail verdict " + detail::excerpt(answer));
    return std::nullopt;
  }
  auto reasons = string_list(j.find("reasons"));
  if (!reasons) {
    set_problem(problem, "\"reasons\" is not a list of strings " + detail::excerpt(answer));
    return std::nullopt;
  }
  v.reasons = std::move(*reasons);
  return v;
}

}  // namespace popalign::persona
