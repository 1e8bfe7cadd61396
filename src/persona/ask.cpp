// Internal helpers of the mining steps. See ask.hpp.
#include "ask.hpp"

#include <cctype>

#include <fmt/core.h>
#include <popalign/core/error.hpp>

namespace popalign::persona::detail {

void AskTotals::note(std::string m) {
  if (messages.size() < 20) messages.push_back(std::move(m));
}

StepCalls AskTotals::step_calls() const {
  StepCalls r;
  r.status = cancelled ? "cancelled" : "ok";
  r.calls = calls;
  r.cached_calls = cached_calls;
  r.failed_calls = failed_calls;
  r.reasks = reasks;
  r.messages = messages;
  return r;
}

std::vector<UnitState> ask_all(llm::LlmBackend& backend, std::size_t units, int max_attempts,
                               const RequestFn& request, const ParseFn& parse,
                               const llm::BatchOptions& batch,
                               const std::function<std::string(std::size_t)>& name,
                               AskTotals& totals) {
  std::vector<UnitState> state(units);
  std::vector<std::size_t> pending(units);
  for (std::size_t i = 0; i < units; ++i) pending[i] = i;
  std::size_t calls = 0, failed = 0;
  std::string first_failure;
  for (int attempt = 0; attempt < max_attempts && !pending.empty(); ++attempt) {
    std::vector<llm::Request> requests;
    requests.reserve(pending.size());
    for (const std::size_t i : pending) requests.push_back(request(i, attempt));
    const std::vector<llm::Outcome> outcomes = llm::complete_batch(backend, requests, batch);
    std::vector<std::size_t> again;
    for (std::size_t k = 0; k < pending.size(); ++k) {
      const std::size_t i = pending[k];
      UnitState& s = state[i];
      const llm::Outcome& o = outcomes[k];
      if (!o.ok() && o.error().kind == llm::ErrorKind::cancelled) {
        s.cancelled = true;
        totals.cancelled = true;
        continue;
      }
      ++s.attempts;
      ++calls;
      ++totals.calls;
      if (attempt > 0) ++totals.reasks;
      if (!o.ok()) {
        ++failed;
        ++totals.failed_calls;
        const llm::Failure& f = o.error();
        s.finished = s.call_failed = true;
        s.problem =
            fmt::format("{}{}: {}", llm::to_string(f.kind),
                        f.http_status ? fmt::format(", HTTP {}", f.http_status) : "", f.message);
        if (first_failure.empty()) first_failure = name(i) + ": " + s.problem;
        totals.note(name(i) + ": call failed (" + s.problem + ")");
        continue;
      }
      if (o.value().from_cache) {
        ++s.cached;
        ++totals.cached_calls;
      }
      std::string problem;
      if (parse(i, o.value(), problem)) {
        s.finished = true;
        s.problem.clear();
        continue;
      }
      s.problem = problem;
      totals.note(fmt::format("{} (attempt {}): {}", name(i), attempt + 1, problem));
      if (attempt + 1 >= max_attempts)
        s.finished = true;
      else
        again.push_back(i);
    }
    if (totals.cancelled) break;
    pending = std::move(again);
  }
  if (calls > 0 && failed == calls)
    throw BackendError("every call failed; the first: " + first_failure);
  return state;
}

io::JsonValue find_json_object(std::string_view answer) {
  const std::size_t b = answer.find('{');
  if (b == std::string_view::npos) return {};
  std::size_t e = answer.rfind('}');
  while (e != std::string_view::npos && e > b) {
    try {
      io::JsonValue v = io::parse_json(answer.substr(b, e - b + 1));
      if (v.is_object()) return v;
    } catch (const Error&) {
    }
    e = answer.rfind('}', e - 1);
  }
  return {};
}

std::string unit_failure(const UnitState& state, bool usable, std::string& detail) {
  if (!state.finished) return "cancelled";
  if (state.call_failed || !usable) {
    detail = state.problem;
    return state.call_failed ? "call failed" : "off-schema answer";
  }
  return "";
}

std::size_t estimate_tokens(std::string_view text) { return (text.size() + 3) / 4; }

std::string_view utf8_prefix(std::string_view text, std::size_t bytes) {
  if (text.size() <= bytes) return text;
  std::size_t n = bytes;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

std::string collapse_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (const char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::size_t word_count(std::string_view s) {
  std::size_t n = 0;
  bool in_word = false;
  for (const char c : s) {
    const bool space = std::isspace(static_cast<unsigned char>(c));
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

std::string excerpt(std::string_view s, std::size_t n) {
  std::string t = collapse_spaces(utf8_prefix(s, n));
  if (s.size() > n) t += "...";
  return "'" + t + "'";
}

std::string render_posts(std::span<const Post> posts) {
  std::string out;
  for (std::size_t k = 0; k < posts.size(); ++k) {
    out += fmt::format("[{}]", k + 1);
    if (!posts[k].time.empty()) out += " (" + posts[k].time + ")";
    out += " " + collapse_spaces(posts[k].text) + "\n";
  }
  if (!out.empty()) out.pop_back();
  return out;
}

}  // namespace popalign::persona::detail
