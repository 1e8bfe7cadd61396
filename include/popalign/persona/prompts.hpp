#pragma once
// Prompt templates of the LLM steps of persona mining (post quality, persona writing, critique).
//
// A template is a system message and a user message with {placeholders}, and an id that is
// part of every request (so the LLM cache never serves an answer to another template) and of the
// mined records' provenance. The built-in templates:
//   "post-quality-v1"    placeholders {post}
//   "persona-writer-v1"  placeholders {posts}, {max_words}
//   "critique-v1"        placeholders {posts}, {persona}
// A user's own template is a JSON file {"id": "...", "system": "...", "user": "..."}; the step
// that uses it checks that its required placeholders are present (InvalidArgument naming the
// file and the missing placeholder). "{{" and "}}" stand for literal braces.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace popalign::persona {

struct PromptTemplate {
  std::string id;
  std::string system;
  std::string user;

  /// InvalidArgument naming the field ("prompt.id", "prompt.user") when the id or the user
  /// message is empty, or a placeholder is unterminated.
  void validate() const;
  /// validate(), then InvalidArgument(field, ...) when one of `placeholders` is missing from
  /// the system and user messages or an unknown placeholder is used.
  void require(std::string_view field, const std::vector<std::string>& placeholders) const;
};

/// A built-in template by id; InvalidArgument("prompt") listing the ids when unknown.
const PromptTemplate& builtin_prompt(std::string_view id);
/// The ids of the built-in templates.
std::vector<std::string> builtin_prompt_ids();

/// A built-in id, or a JSON file {"id", "system", "user"} (IoError / ParseError naming the file).
PromptTemplate resolve_prompt(const std::string& spec);

/// Replaces every {name} in `text` by its value; "{{" / "}}" become "{" / "}". InvalidArgument
/// ("prompt") for a placeholder without a value.
std::string render_prompt(std::string_view text,
                          const std::vector<std::pair<std::string, std::string>>& values);

}  // namespace popalign::persona
