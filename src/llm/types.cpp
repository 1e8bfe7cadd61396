// Request validation, canonical serialisation and JSON round trips of the llm value types.
#include <charconv>
#include <cmath>
#include <string>

#include <popalign/llm/types.hpp>

#include "json_io.hpp"

namespace popalign::llm {

void Request::validate() const {
  check_argument(!messages.empty() || !prompt.empty(), "messages",
                 "a request needs messages (chat) or a prompt (completion)");
  check_argument(messages.empty() || prompt.empty(), "prompt",
                 "set either messages (chat) or prompt (completion), not both");
  for (std::size_t i = 0; i < messages.size(); ++i)
    check_argument(!messages[i].role.empty(), "messages",
                   "message " + std::to_string(i) + " has an empty role");
  if (temperature)
    check_argument(std::isfinite(*temperature) && *temperature >= 0 && *temperature <= 2,
                   "temperature", "must be in [0, 2]");
  if (top_p)
    check_argument(std::isfinite(*top_p) && *top_p > 0 && *top_p <= 1, "top_p",
                   "must be in (0, 1]");
  if (max_tokens) check_argument(*max_tokens >= 1, "max_tokens", "must be >= 1");
  for (const auto& s : stop) check_argument(!s.empty(), "stop", "stop strings must not be empty");
  check_argument(top_logprobs >= 0 && top_logprobs <= 20, "top_logprobs", "must be in [0, 20]");
  check_argument(top_logprobs == 0 || logprobs, "top_logprobs", "needs logprobs = true");
  if (!json_schema.empty()) {
    const auto parsed = detail::parse_or_discard(json_schema);
    check_argument(!parsed.is_discarded() && parsed.is_object(), "json_schema",
                   "must be a JSON object (a JSON Schema)");
  }
}

bool retryable(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::transport:
    case ErrorKind::timeout:
    case ErrorKind::rate_limited:
    case ErrorKind::server:
    case ErrorKind::invalid_response:
      return true;
    default:
      return false;
  }
}

std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::transport:
      return "transport";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::rate_limited:
      return "rate_limited";
    case ErrorKind::server:
      return "server";
    case ErrorKind::bad_request:
      return "bad_request";
    case ErrorKind::unauthorized:
      return "unauthorized";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::invalid_response:
      return "invalid_response";
    case ErrorKind::cancelled:
      return "cancelled";
    case ErrorKind::other:
      return "other";
  }
  return "other";
}

ErrorKind error_kind_from_string(std::string_view name) noexcept {
  for (ErrorKind k : {ErrorKind::transport, ErrorKind::timeout, ErrorKind::rate_limited,
                      ErrorKind::server, ErrorKind::bad_request, ErrorKind::unauthorized,
                      ErrorKind::not_found, ErrorKind::invalid_response, ErrorKind::cancelled})
    if (to_string(k) == name) return k;
  return ErrorKind::other;
}

namespace detail {
using ojson = nlohmann::ordered_json;

std::string dump_strict(const ojson& j, const char* what) {
  try {
    return j.dump();
  } catch (const nlohmann::json::type_error& e) {
    throw InvalidArgument(what,
                          std::string("contains text that is not valid UTF-8 (") + e.what() + ")");
  }
}

ojson request_json(const Request& r) {
  ojson j = ojson::object();
  j["v"] = 1;  // version of the canonical form; bump to invalidate every key
  j["model"] = r.model;
  if (!r.prompt.empty()) {
    j["prompt"] = r.prompt;
  } else {
    ojson ms = ojson::array();
    for (const auto& m : r.messages) {
      ojson mj = ojson::object();
      mj["role"] = m.role;
      mj["content"] = m.content;
      ms.push_back(std::move(mj));
    }
    j["messages"] = std::move(ms);
  }
  if (r.temperature) j["temperature"] = *r.temperature;
  if (r.top_p) j["top_p"] = *r.top_p;
  if (r.max_tokens) j["max_tokens"] = *r.max_tokens;
  if (r.seed) j["seed"] = *r.seed;
  if (!r.stop.empty()) j["stop"] = r.stop;
  if (!r.json_schema.empty()) {
    // Re-serialised so that whitespace and key order of the schema text do not change the key.
    const auto schema = detail::parse_or_discard(r.json_schema);
    if (schema.is_discarded()) throw InvalidArgument("json_schema", "is not valid JSON");
    j["json_schema"] = schema.dump();  // nlohmann::json sorts object keys
  }
  if (r.logprobs) {
    j["logprobs"] = true;
    j["top_logprobs"] = r.top_logprobs;
  }
  return j;
}

ojson response_json(const Response& r) {
  ojson j = ojson::object();
  j["text"] = r.text;
  j["finish_reason"] = r.finish_reason;
  j["model"] = r.model;
  j["usage"] = {{"prompt_tokens", r.usage.prompt_tokens},
                {"completion_tokens", r.usage.completion_tokens}};
  if (!r.logprobs.empty()) {
    ojson lp = ojson::array();
    for (const auto& t : r.logprobs) {
      ojson tj = ojson::object();
      tj["token"] = t.token;
      tj["logprob"] = t.logprob;
      ojson top = ojson::array();
      for (const auto& a : t.top) top.push_back(ojson{{"token", a.token}, {"logprob", a.logprob}});
      tj["top"] = std::move(top);
      lp.push_back(std::move(tj));
    }
    j["logprobs"] = std::move(lp);
  }
  return j;
}

Response response_from(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("response JSON is not an object");
  Response r;
  r.text = j.at("text").get<std::string>();
  r.finish_reason = j.value("finish_reason", std::string());
  r.model = j.value("model", std::string());
  if (j.contains("usage")) {
    const auto& u = j.at("usage");
    r.usage.prompt_tokens = u.value("prompt_tokens", std::int64_t{0});
    r.usage.completion_tokens = u.value("completion_tokens", std::int64_t{0});
  }
  if (j.contains("logprobs")) {
    for (const auto& tj : j.at("logprobs")) {
      TokenLogprob t;
      t.token = tj.at("token").get<std::string>();
      t.logprob = tj.at("logprob").get<double>();
      if (tj.contains("top"))
        for (const auto& a : tj.at("top"))
          t.top.push_back({a.at("token").get<std::string>(), a.at("logprob").get<double>()});
      r.logprobs.push_back(std::move(t));
    }
  }
  return r;
}

ojson failure_json(const Failure& f) {
  ojson j = ojson::object();
  j["kind"] = std::string(to_string(f.kind));
  j["http_status"] = f.http_status;
  j["message"] = f.message;
  if (f.retry_after) j["retry_after"] = *f.retry_after;
  return j;
}

Failure failure_from(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("failure JSON is not an object");
  Failure f;
  f.kind = error_kind_from_string(j.at("kind").get<std::string>());
  if (const auto it = j.find("http_status"); it != j.end()) {
    const auto status = io::json_integer<int>(*it);
    if (!status) throw Error("failure JSON: http_status is not an integer in range");
    f.http_status = *status;
  }
  f.message = j.value("message", std::string());
  if (j.contains("retry_after") && j.at("retry_after").is_number())
    f.retry_after = j.at("retry_after").get<double>();
  return f;
}
}  // namespace detail

namespace {
// Appends s as a JSON string literal; throws InvalidArgument(what) on invalid UTF-8.
void append_json_string(std::string& out, std::string_view s, const char* what) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
      continue;
    }
    // Validate one UTF-8 sequence (no overlongs, no surrogates, <= U+10FFFF).
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      throw InvalidArgument(
          what, "contains text that is not valid UTF-8 (byte " + std::to_string(i) + ")");
    }
    if (i + len > s.size())
      throw InvalidArgument(what, "contains text that is not valid UTF-8 (truncated sequence)");
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80)
        throw InvalidArgument(
            what, "contains text that is not valid UTF-8 (byte " + std::to_string(i + k) + ")");
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      throw InvalidArgument(
          what, "contains text that is not valid UTF-8 (byte " + std::to_string(i) + ")");
    out.append(s.data() + i, len);
    i += len;
  }
  out += '"';
}

void append_double(std::string& out, double v) {
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  out.append(buf, res.ptr);
}

template <class Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}
}  // namespace

// Hand-written (not nlohmann) because it is on the hot path of every cache lookup. The layout
// matches detail::request_json: {"v":1,"model":...,"messages"|"prompt":...,optional fields}.
std::string canonical_request(const Request& r) {
  std::string out;
  out.reserve(96 + r.prompt.size() + [&] {
    std::size_t n = 0;
    for (const auto& m : r.messages) n += m.content.size() + m.role.size() + 24;
    return n;
  }());
  out += "{\"v\":1,\"model\":";
  append_json_string(out, r.model, "model");
  if (!r.prompt.empty()) {
    out += ",\"prompt\":";
    append_json_string(out, r.prompt, "prompt");
  } else {
    out += ",\"messages\":[";
    for (std::size_t i = 0; i < r.messages.size(); ++i) {
      if (i) out += ',';
      out += "{\"role\":";
      append_json_string(out, r.messages[i].role, "messages");
      out += ",\"content\":";
      append_json_string(out, r.messages[i].content, "messages");
      out += '}';
    }
    out += ']';
  }
  if (r.temperature) {
    out += ",\"temperature\":";
    append_double(out, *r.temperature);
  }
  if (r.top_p) {
    out += ",\"top_p\":";
    append_double(out, *r.top_p);
  }
  if (r.max_tokens) {
    out += ",\"max_tokens\":";
    append_int(out, *r.max_tokens);
  }
  if (r.seed) {
    out += ",\"seed\":";
    append_int(out, *r.seed);
  }
  if (!r.stop.empty()) {
    out += ",\"stop\":[";
    for (std::size_t i = 0; i < r.stop.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, r.stop[i], "stop");
    }
    out += ']';
  }
  if (!r.json_schema.empty()) {
    // Re-serialised so that whitespace and key order of the schema text do not change the key.
    const auto schema = detail::parse_or_discard(r.json_schema);
    if (schema.is_discarded()) throw InvalidArgument("json_schema", "is not valid JSON");
    out += ",\"json_schema\":";
    append_json_string(out, schema.dump(), "json_schema");  // nlohmann::json sorts keys
  }
  if (r.logprobs) {
    out += ",\"logprobs\":true,\"top_logprobs\":";
    append_int(out, r.top_logprobs);
  }
  out += '}';
  return out;
}

std::string request_hash(const Request& request) { return sha256_hex(canonical_request(request)); }

std::string response_to_json(const Response& response) {
  return detail::dump_strict(detail::response_json(response), "response");
}

Response response_from_json(std::string_view json) {
  try {
    return detail::response_from(detail::parse_bounded(json));
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed response JSON: ") + e.what());
  }
}

std::string failure_to_json(const Failure& failure) {
  return detail::dump_strict(detail::failure_json(failure), "failure");
}

Failure failure_from_json(std::string_view json) {
  try {
    return detail::failure_from(detail::parse_bounded(json));
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed failure JSON: ") + e.what());
  }
}

}  // namespace popalign::llm
