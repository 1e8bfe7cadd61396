// The lines of a Batch API output or error file mapped to outcomes (see llm/batch_api.hpp).
// Apart from batch_api.cpp (which needs libcurl) so that the libFuzzer target fuzz_batch_results
// builds it alone. The provider's file is untrusted: every member is type-checked, nesting and
// line length are bounded (io/limits.hpp, io::kMaxJsonDepth), and nothing here throws for bad
// content; a line it cannot use is skipped and counted.
#include <popalign/io/limits.hpp>
#include <popalign/llm/batch_api.hpp>

#include "json_io.hpp"

namespace popalign::llm {

ErrorKind error_kind_of_http_status(long s) noexcept {
  if (s == 429) return ErrorKind::rate_limited;
  if (s == 408) return ErrorKind::timeout;
  if (s >= 500) return ErrorKind::server;
  if (s == 401 || s == 403) return ErrorKind::unauthorized;
  if (s == 404) return ErrorKind::not_found;
  if (s == 400 || s == 413 || s == 422) return ErrorKind::bad_request;
  return ErrorKind::other;
}

namespace {

using json = nlohmann::json;

/// The string member `key` of object `o`, or "" when it is absent or not a string.
std::string string_member(const json& o, const char* key) {
  if (!o.is_object()) return {};
  const auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

std::vector<BatchResultLine> parse_batch_results(std::string_view content, std::size_t* skipped) {
  std::vector<BatchResultLine> out;
  std::size_t bad = 0, pos = 0, line = 0;
  while (pos < content.size()) {
    std::size_t nl = content.find('\n', pos);
    if (nl == std::string_view::npos) nl = content.size();
    const std::string_view text = content.substr(pos, nl - pos);
    pos = nl + 1;
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const json j = text.size() > io::kMaxLineBytes ? json(json::value_t::discarded)
                                                   : detail::parse_or_discard(text);
    const auto cid = j.is_object() ? j.find("custom_id") : j.end();
    if (j.is_discarded() || !j.is_object() || cid == j.end() || !cid->is_string()) {
      ++bad;
      continue;
    }
    BatchResultLine r;
    r.line = line;
    r.custom_id = cid->get<std::string>();
    const auto resp = j.find("response");
    if (resp != j.end() && resp->is_object()) {
      const auto sc = resp->find("status_code");
      // A number in [0, 1000) (200 and 200.0 alike); anything else reads as 0 (no status).
      const double sd = sc != resp->end() && sc->is_number() ? sc->get<double>() : 0.0;
      const long status = sd >= 0 && sd < 1000 ? static_cast<long>(sd) : 0;
      const auto body = resp->find("body");
      r.body = body != resp->end() ? dump(*body) : std::string();
      if (status >= 200 && status < 300) {
        r.ok = true;
      } else {
        std::string msg = r.body.substr(0, 300);
        if (body != resp->end() && body->is_object()) {
          const auto err = body->find("error");
          if (err != body->end() && err->is_object()) {
            const auto m = err->find("message");
            if (m != err->end() && m->is_string()) msg = m->get<std::string>();
          }
        }
        r.failure = Failure{error_kind_of_http_status(status),
                            static_cast<int>(status),
                            "batch: HTTP " + std::to_string(status) + ": " + msg,
                            {}};
      }
    } else {
      const auto err = j.find("error");
      const std::string code = err != j.end() ? string_member(*err, "code") : std::string();
      const std::string msg = err != j.end() ? string_member(*err, "message") : std::string();
      // An expired request was never run: worth another try, like a timeout.
      const ErrorKind kind = code == "batch_expired" ? ErrorKind::timeout : ErrorKind::server;
      r.failure = Failure{
          kind, 0, "batch: " + (code.empty() ? std::string("error") : code) + ": " + msg, {}};
    }
    out.push_back(std::move(r));
  }
  if (skipped) *skipped = bad;
  return out;
}

}  // namespace popalign::llm
