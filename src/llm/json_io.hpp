#pragma once
// JSON conversions of the llm value types, private to the llm layer (nlohmann::json must not
// appear in public headers).
#include <nlohmann/json.hpp>

#include <popalign/llm/types.hpp>

namespace popalign::llm::detail {
nlohmann::ordered_json request_json(const Request& r);
nlohmann::ordered_json response_json(const Response& r);
Response response_from(const nlohmann::json& j);
nlohmann::ordered_json failure_json(const Failure& f);
Failure failure_from(const nlohmann::json& j);
/// dump() that reports invalid UTF-8 as InvalidArgument naming `what`.
std::string dump_strict(const nlohmann::ordered_json& j, const char* what);
}  // namespace popalign::llm::detail
