#pragma once
// Prompt templates, schemas, requests and lenient answer readers of group construction's two LLM
// steps (groups.hpp): the revision and the judge. Kept apart from the mining prompts
// (prompts.hpp) so that the two can change independently; the same PromptTemplate type.
//
//   "group-revise-v1"  placeholders {group}, {persona}, {max_words}
//       answer (JSON schema): {"revised": "text", "changes": ["what changed", ...]}
//   "group-judge-v1"   placeholders {group}, {original}, {revised}
//       answer (JSON schema): {"verdict": "pass" | "fail", "reasons": ["...", ...]}
//
// Lenient reading (as in mining): the first JSON object of the answer (Markdown fences and
// chatter ignored). Revision: "revised" a non-empty string (also "persona" or "text"), of at most
// max_words words and at least 5; "changes" an array of strings, or one string, or missing
// (empty). Verdict: "verdict" "pass"/"fail" in any case (also "ok"/"accept"/"yes" and
// "reject"/"no"), or a boolean member "pass"; "reasons" an array of strings or one string.
// Anything else is off-schema (nullopt, with the problem in *problem).
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/llm/types.hpp>
#include <popalign/persona/prompts.hpp>

namespace popalign::persona {

/// The built-in templates.
const PromptTemplate& group_revise_template();
const PromptTemplate& group_judge_template();

/// The JSON schemas sent with the requests.
std::string group_revision_schema();
std::string group_verdict_schema();

struct GroupRevision {
  std::string revised;
  std::vector<std::string> changes;
};
struct GroupVerdict {
  bool pass = false;
  std::vector<std::string> reasons;
};

/// See the file comment. `problem` (may be null) receives why an answer is unusable.
std::optional<GroupRevision> parse_group_revision(std::string_view answer, std::size_t max_words,
                                                  std::string* problem = nullptr);
std::optional<GroupVerdict> parse_group_verdict(std::string_view answer,
                                                std::string* problem = nullptr);

}  // namespace popalign::persona
