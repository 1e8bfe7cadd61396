#pragma once
// Prompt templates for administering questionnaire items to a persona.
//
// A template is two texts with placeholders: `system` (where the persona goes: the persona is
// the system prompt) and `user` (the item or items, the response scale with its labels, and the
// instruction). Each template has an id that is written into every output line, so answers from
// different wordings are never mixed up.
//
// Placeholders (a literal brace is written "{{" or "}}"):
//   {persona}   the persona text, verbatim
//   {item}      the item text, verbatim              (single-item templates)
//   {item_id}   the item id                          (single-item templates)
//   {items}     one line per item, rendered with item_line, in the presented order
//               (batch templates)
//   {n_items}   number of items                      (batch templates)
//   {scale}     one line per response option, rendered with scale_line, in presented order
//   {min} {max} the lowest and highest presented numbers
// item_line may use {id}, {item} and {n} (1-based position); scale_line may use {value} and
// {label} (a scale without labels lists the bare numbers).
//
// Reversed scales (to measure order bias): the options are listed with the same numbers but the
// labels in the opposite order ("1 = Very Accurate ... 5 = Very Inaccurate"), so the number a
// model writes means the opposite; the administrator maps answers back (answer_parsing.hpp).
//
// Built-in templates (builtin_template_ids()):
//   "likert-v1"        single item; answer with one number       (modes generate, logprobs)
//   "likert-label-v1"  single item; answer with one option label (mode generate)
//   "likert-json-v1"   all items at once; answer with a JSON object {item_id: number}, with a
//                      JSON schema sent along (mode batch)
// User templates are JSON files:
//   {"id": "my-v1", "format": "single" | "batch", "system": "...", "user": "...",
//    "item_line": "{id}: {item}", "scale_line": "{value} = {label}"}
// (item_line and scale_line optional). Placeholders are checked when a template is loaded.
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <popalign/psychometrics/instrument.hpp>

namespace popalign::administer {

/// Whether a template asks one item per call or all items in one call.
enum class PromptFormat { single, batch };

std::string_view to_string(PromptFormat format) noexcept;

struct PromptTemplate {
  std::string id;
  PromptFormat format = PromptFormat::single;
  std::string system;  ///< must contain {persona} unless `user` does
  std::string user;    ///< single: must contain {item}; batch: must contain {items}
  std::string item_line = "{id}: {item}";
  std::string scale_line = "{value} = {label}";

  /// Throws InvalidArgument naming the field ("template.user", ...): empty id, unknown or
  /// misplaced placeholders, unbalanced braces, a missing required placeholder.
  void validate() const;
};

/// A rendered prompt: the system message (persona) and the user message.
struct RenderedPrompt {
  std::string system;
  std::string user;
};

/// Ids of the built-in templates.
std::vector<std::string> builtin_template_ids();
/// A built-in template; InvalidArgument("template") listing the ids for an unknown one.
const PromptTemplate& builtin_template(std::string_view id);
/// Reads a user template file (see the file comment). IoError / ParseError naming the file;
/// InvalidArgument for an invalid template (the message names the file).
PromptTemplate load_prompt_template(const std::filesystem::path& path);
/// `spec` names a built-in template, or else is the path of a template file.
PromptTemplate resolve_prompt_template(const std::string& spec);

/// Substitutes {name} placeholders from (name, value) pairs; "{{" and "}}" become braces.
/// InvalidArgument(argument) for an unknown placeholder or an unbalanced brace.
std::string substitute_placeholders(
    std::string_view text, std::span<const std::pair<std::string_view, std::string_view>> values,
    const char* argument = "template");

/// The {scale} block: one scale_line per option, "\n"-separated, min first (reversed: the
/// labels listed in opposite order against the same numbers).
std::string render_scale(const PromptTemplate& tmpl, const psychometrics::Scale& scale,
                         bool reversed);

/// A single-item prompt. InvalidArgument when tmpl is a batch template.
RenderedPrompt render_item_prompt(const PromptTemplate& tmpl, std::string_view persona,
                                  const psychometrics::Item& item,
                                  const psychometrics::Scale& scale, bool reversed);

/// A batch prompt over `items` in the given (presented) order. InvalidArgument when tmpl is a
/// single-item template or items is empty.
RenderedPrompt render_batch_prompt(const PromptTemplate& tmpl, std::string_view persona,
                                   std::span<const psychometrics::Item* const> items,
                                   const psychometrics::Scale& scale, bool reversed);

/// JSON Schema text for a batch answer: an object with one required integer property per item
/// id, minimum scale.min, maximum scale.max, no other properties.
std::string batch_answer_schema(std::span<const psychometrics::Item* const> items,
                                const psychometrics::Scale& scale);

}  // namespace popalign::administer
