#pragma once
// Internal: what the three LLM steps of mining share (not installed).
//
// ask_all() asks one request per unit, parses each answer, and asks again (attempt + 1, which
// the steps turn into seed + 1) while an answer is unusable and attempts remain. A failed call
// (after the backend's own retries) ends its unit with "call failed"; a cancelled call leaves
// the unit unfinished. When every call of a run failed the backend is unusable: BackendError
// with the first failure.
#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/io/json.hpp>
#include <popalign/llm/backend.hpp>
#include <popalign/persona/post.hpp>
#include <popalign/persona/step_calls.hpp>

namespace popalign::persona::detail {

/// How one unit ended.
struct UnitState {
  bool finished = false;     ///< answered usably, or out of attempts, or the call failed
  bool call_failed = false;  ///< ended by a failed call
  bool cancelled = false;    ///< its call was cancelled (unfinished)
  int attempts = 0;          ///< calls made for it
  std::size_t cached = 0;    ///< of which answered from a cache
  std::string problem;       ///< the last unusable answer's problem, or the failure message
};

struct AskTotals {
  std::size_t calls = 0, cached_calls = 0, failed_calls = 0, reasks = 0;
  bool cancelled = false;
  std::vector<std::string> messages;  ///< at most 20
  void note(std::string m);
  StepCalls step_calls() const;
};

/// The answer's parse: an empty optional = unusable (problem says why).
using ParseFn =
    std::function<bool(std::size_t unit, const llm::Response& response, std::string& problem)>;
using RequestFn = std::function<llm::Request(std::size_t unit, int attempt)>;

/// Asks every unit (see the file comment); `names[i]` names unit i in messages.
std::vector<UnitState> ask_all(llm::LlmBackend& backend, std::size_t units, int max_attempts,
                               const RequestFn& request, const ParseFn& parse,
                               const llm::BatchOptions& batch,
                               const std::function<std::string(std::size_t)>& name,
                               AskTotals& totals);

/// The ParseFn of a step whose answer parses into an optional: slot(i) = parse(text); an empty
/// result is an "off-schema answer" with an excerpt of the text.
template <class Slot, class Parse>
ParseFn parse_into(Slot slot, Parse parse);

/// How a unit ended before the step's own rules apply: "cancelled" (unfinished), "call failed"
/// or, when `usable` is false, "off-schema answer", with `detail` = the unit's problem; "" when
/// the unit has a usable answer.
std::string unit_failure(const UnitState& state, bool usable, std::string& detail);

/// The first JSON object in an answer (the text between the first '{' and the last '}',
/// shrinking from the right until it parses), or null. Markdown fences are ignored this way.
io::JsonValue find_json_object(std::string_view answer);

/// ceil(bytes / 4): the estimate of tokens used everywhere in mining (English averages about
/// 4 characters per token).
std::size_t estimate_tokens(std::string_view text);
/// The longest prefix of at most `bytes` bytes that does not split a UTF-8 character.
std::string_view utf8_prefix(std::string_view text, std::size_t bytes);
/// Runs of white space collapsed to single spaces, trimmed.
std::string collapse_spaces(std::string_view s);
/// Words (runs of non-space characters).
std::size_t word_count(std::string_view s);
/// "'first 60 characters...'" for messages.
std::string excerpt(std::string_view s, std::size_t n = 60);

/// The posts as the writer and the judge see them: "[k] (time) text" lines, oldest first,
/// each post's text white-space-collapsed.
std::string render_posts(std::span<const Post> posts);

template <class Slot, class Parse>
ParseFn parse_into(Slot slot, Parse parse) {
  return [slot, parse](std::size_t i, const llm::Response& r, std::string& problem) {
    auto& out = slot(i);
    out = parse(r.text);
    if (out) return true;
    problem = "off-schema answer " + excerpt(r.text);
    return false;
  };
}

}  // namespace popalign::persona::detail
