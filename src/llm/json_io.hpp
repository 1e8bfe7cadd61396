#pragma once
// JSON conversions of the llm value types, private to the llm layer (nlohmann::json must not
// appear in public headers).
#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include <popalign/core/error.hpp>
#include <popalign/io/json.hpp>
#include <popalign/llm/types.hpp>

namespace popalign::llm::detail {
nlohmann::ordered_json request_json(const Request& r);
nlohmann::ordered_json response_json(const Response& r);
Response response_from(const nlohmann::json& j);
nlohmann::ordered_json failure_json(const Failure& f);
Failure failure_from(const nlohmann::json& j);
/// dump() that reports invalid UTF-8 as InvalidArgument naming `what`.
std::string dump_strict(const nlohmann::ordered_json& j, const char* what);

/// Every nlohmann parse of text from outside (model responses, cache and record files, request
/// schemas) goes through these: text nesting deeper than io::kMaxJsonDepth would overflow the
/// stack inside nlohmann's parser (100k '[' crash it), so it is refused first.
/// Non-throwing: deeper text is a discarded value, like any invalid JSON.
inline nlohmann::json parse_or_discard(std::string_view text) {
  if (io::json_depth_exceeded_at(text) != 0)
    return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
}
/// Throwing: nlohmann's exceptions as usual, and popalign::Error for too deep a text.
inline nlohmann::json parse_bounded(std::string_view text) {
  if (io::json_depth_exceeded_at(text) != 0)
    throw Error("malformed JSON: nesting deeper than " + std::to_string(io::kMaxJsonDepth));
  return nlohmann::json::parse(text.begin(), text.end());
}
}  // namespace popalign::llm::detail
