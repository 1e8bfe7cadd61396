// LLM-written group descriptions as training queries. See description_queries.hpp.
#include <popalign/embedding/description_queries.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <popalign/core/error.hpp>
#include <popalign/embedding/word_vectors.hpp>
#include <popalign/io/json.hpp>

namespace popalign::embedding {

namespace {

constexpr std::size_t kMaxMessages = 20;

std::string collapse_spaces(std::string_view s) {
  std::string out;
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

// Trims, strips surrounding quotes and Markdown emphasis ("**...**", "_..._") and one final
// period.
std::string clean_candidate(std::string_view raw) {
  std::string s = collapse_spaces(raw);
  auto is_wrapper = [](char c) {
    return c == '"' || c == '\'' || c == '`' || c == '*' || c == '_';
  };
  while (s.size() >= 2 && is_wrapper(s.front()) && s.back() == s.front())
    s = collapse_spaces(std::string_view(s).substr(1, s.size() - 2));
  if (!s.empty() && s.back() == '.') s.pop_back();
  return collapse_spaces(s);
}

// Removes a list marker: "-", "*", "•" (UTF-8), "1.", "1)", "(1)".
std::string strip_list_marker(std::string_view line) {
  std::string s = collapse_spaces(line);
  if (s.empty()) return s;
  std::size_t i = 0;
  if (s.rfind("\xE2\x80\xA2", 0) == 0) {
    i = 3;
  } else if (!s.empty() && (s[0] == '-' || s[0] == '*')) {
    i = 1;
  } else {
    std::size_t j = s[0] == '(' ? 1 : 0;
    std::size_t k = j;
    while (k < s.size() && std::isdigit(static_cast<unsigned char>(s[k]))) ++k;
    if (k > j && k < s.size() && (s[k] == '.' || s[k] == ')') &&
        (k + 1 == s.size() || s[k + 1] == ' '))
      i = k + 1;
  }
  return collapse_spaces(std::string_view(s).substr(std::min(i, s.size())));
}

// The candidates of an answer: the strings of a JSON object's "descriptions" array (or of any
// array of strings it holds), else of a top-level JSON array, else the complete strings of a
// JSON array cut short (an answer truncated at max_tokens), else one per non-empty line.
std::vector<std::string> candidates(std::string_view answer, bool& json, bool& truncated) {
  json = false;
  truncated = false;
  std::vector<std::string> out;
  auto take_array = [&](const nlohmann::json& a) {
    if (!a.is_array()) return false;
    bool any = false;
    for (const auto& v : a)
      if (v.is_string()) {
        out.push_back(v.get<std::string>());
        any = true;
      }
    return any || a.empty();
  };
  for (const char open : {'{', '['}) {
    const std::size_t b = answer.find(open);
    const std::size_t e = answer.rfind(open == '{' ? '}' : ']');
    if (b == std::string_view::npos || e == std::string_view::npos || e < b) continue;
    // Bounded nesting first: nlohmann's parser overflows the stack on 100k '['.
    const std::string_view text = answer.substr(b, e - b + 1);
    if (io::json_depth_exceeded_at(text) != 0) continue;
    const nlohmann::json j =
        nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) continue;
    if (j.is_object()) {
      if (j.contains("descriptions") && take_array(j["descriptions"])) {
        json = true;
        return out;
      }
      for (const auto& [key, value] : j.items())
        if (take_array(value)) {
          json = true;
          return out;
        }
    } else if (take_array(j)) {
      json = true;
      return out;
    }
    out.clear();
  }
  // A JSON answer cut short (max_tokens): the complete string literals after the first '['.
  if (const std::size_t b = answer.find('['); b != std::string_view::npos) {
    std::size_t i = b + 1;
    bool complete_any = false;
    for (;;) {
      while (i < answer.size() &&
             (std::isspace(static_cast<unsigned char>(answer[i])) || answer[i] == ','))
        ++i;
      if (i >= answer.size() || answer[i] != '"') break;
      // Find the closing quote (skipping escapes) and let the JSON parser unescape.
      std::size_t k = i + 1;
      while (k < answer.size() && answer[k] != '"') k += answer[k] == '\\' ? 2 : 1;
      if (k >= answer.size()) break;  // unterminated: the cut
      const nlohmann::json str = nlohmann::json::parse(answer.substr(i, k - i + 1), nullptr, false);
      if (!str.is_string()) break;
      out.push_back(str.get<std::string>());
      complete_any = true;
      i = k + 1;
    }
    if (complete_any) {
      json = truncated = true;
      return out;
    }
    out.clear();
  }
  std::size_t start = 0;
  while (start <= answer.size()) {
    std::size_t end = answer.find('\n', start);
    if (end == std::string_view::npos) end = answer.size();
    std::string line = strip_list_marker(answer.substr(start, end - start));
    if (!line.empty()) out.push_back(std::move(line));
    start = end + 1;
  }
  return out;
}

int word_count(std::string_view s) {
  int n = 0;
  bool in_word = false;
  for (const char c : s) {
    const bool space = std::isspace(static_cast<unsigned char>(c));
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

bool mostly_letters(std::string_view s) {
  std::size_t letters = 0, other = 0;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isspace(u)) continue;
    // Bytes of multi-byte UTF-8 characters count as letters (accented words are prose).
    if (std::isalpha(u) || u >= 0x80)
      ++letters;
    else
      ++other;
  }
  return letters > 0 && letters >= 4 * other;  // >= 80% letters
}

bool several_sentences(std::string_view s) {
  for (std::size_t i = 0; i + 1 < s.size(); ++i)
    if (s[i] == '.' || s[i] == '!' || s[i] == '?') {
      // "e.g." and decimals are not sentence breaks: a break is a mark followed by a space
      // and more text.
      if (s[i + 1] == ' ' && i + 2 < s.size()) return true;
    }
  return false;
}

std::string excerpt(std::string_view s) {
  std::string t(s.substr(0, 60));
  if (s.size() > 60) t += "...";
  return "'" + t + "'";
}

}  // namespace

void DescriptionQueryOptions::validate() const {
  check_argument(per_persona >= 1 && per_persona <= 10, "per_persona", "must be in 1..10");
  check_argument(temperature >= 0.0 && temperature <= 2.0, "temperature", "must be in [0, 2]");
  check_argument(max_tokens >= 16, "max_tokens", "must be >= 16");
  check_argument(max_attempts >= 1, "max_attempts", "must be >= 1");
  check_argument(max_words >= 2, "max_words", "must be >= 2");
  check_argument(max_characters >= 16, "max_characters", "must be >= 16");
  batch.validate();
}

std::string_view description_system_prompt() {
  return "You read short persona profiles and describe the groups of people a persona belongs "
         "to, the way someone searching a population for such people would phrase it. Answer "
         "with JSON only.";
}

llm::Request description_request(const io::PersonaRecord& persona,
                                 const DescriptionQueryOptions& options, int attempt) {
  options.validate();
  check_argument(attempt >= 0, "attempt", "must be >= 0");
  std::string user = "Persona:\n";
  for (const std::string& f : persona.facts) user += "- " + collapse_spaces(f) + "\n";
  user += fmt::format(
      "\nWrite {} short descriptions of different groups of people this persona belongs to, "
      "each a single phrase of at most {} words, such as \"someone who works in healthcare\" or "
      "\"a parent of young children\". Describe the group, not this individual: do not copy the "
      "persona's sentences. Answer as JSON: {{\"descriptions\": [\"...\"]}}",
      options.per_persona, options.max_words);
  llm::Request r;
  r.messages = {{"system", std::string(description_system_prompt())}, {"user", user}};
  r.model = options.model;
  r.temperature = options.temperature;
  r.max_tokens = options.max_tokens;
  r.seed = options.seed + static_cast<std::uint64_t>(attempt);
  if (options.json_schema) {
    nlohmann::json item = {{"type", "string"}, {"maxLength", options.max_characters}};
    nlohmann::json schema = {{"type", "object"},
                             {"properties",
                              {{"descriptions",
                                {{"type", "array"},
                                 {"items", item},
                                 {"minItems", options.per_persona},
                                 {"maxItems", options.per_persona}}}}},
                             {"required", {"descriptions"}},
                             {"additionalProperties", false}};
    r.json_schema = schema.dump();
  }
  return r;
}

ParsedDescriptions parse_descriptions(std::string_view answer, const io::PersonaRecord& persona,
                                      const DescriptionQueryOptions& options) {
  ParsedDescriptions out;
  std::set<std::string> facts;
  for (const std::string& f : persona.facts) facts.insert(normalized_text(f));
  std::set<std::string> seen;
  for (const std::string& raw : candidates(answer, out.json, out.truncated)) {
    std::string c = clean_candidate(raw);
    const std::string tokens = normalized_text(c);
    const int words = word_count(c);
    std::string reason;
    if (c.empty())
      reason = "empty";
    else if (words < 2)
      reason = "too short";
    else if (words > options.max_words)
      reason = "too long";
    else if (!mostly_letters(c))
      reason = "not prose";
    else if (several_sentences(c))
      reason = "several sentences";
    else if (facts.count(tokens))
      reason = "copies a fact";
    else if (!seen.insert(tokens).second)
      reason = "duplicate";
    else if (static_cast<int>(out.accepted.size()) >= options.per_persona)
      reason = "beyond per_persona";
    if (reason.empty())
      out.accepted.push_back(std::move(c));
    else
      out.rejected.push_back({std::move(c), std::move(reason)});
  }
  return out;
}

DescriptionPairs generate_description_pairs(llm::LlmBackend& backend,
                                            std::span<const io::PersonaRecord> personas,
                                            const DescriptionQueryOptions& options) {
  options.validate();
  DescriptionPairs result;
  DescriptionQueryReport& rep = result.report;
  rep.personas = personas.size();
  auto note = [&](std::string m) {
    if (rep.messages.size() < kMaxMessages) rep.messages.push_back(std::move(m));
  };

  std::vector<std::vector<std::string>> accepted(personas.size());
  std::vector<std::size_t> pending;  // personas still without an accepted description
  for (std::size_t i = 0; i < personas.size(); ++i) {
    if (personas[i].facts.empty())
      note("persona " + personas[i].id + ": no facts, skipped");
    else
      pending.push_back(i);
  }
  std::string first_failure;
  for (int attempt = 0; attempt < options.max_attempts && !pending.empty(); ++attempt) {
    std::vector<llm::Request> requests;
    requests.reserve(pending.size());
    for (const std::size_t i : pending)
      requests.push_back(description_request(personas[i], options, attempt));
    llm::BatchOptions batch = options.batch;
    const std::vector<llm::Outcome> outcomes = llm::complete_batch(backend, requests, batch);
    std::vector<std::size_t> again;
    for (std::size_t k = 0; k < pending.size(); ++k) {
      const std::size_t i = pending[k];
      const io::PersonaRecord& p = personas[i];
      const llm::Outcome& o = outcomes[k];
      if (!o.ok()) {
        if (o.error().kind == llm::ErrorKind::cancelled) {
          rep.status = "cancelled";
          continue;
        }
        ++rep.calls;
        ++rep.failed_calls;
        const std::string what = fmt::format(
            "call failed ({}{}): {}", llm::to_string(o.error().kind),
            o.error().http_status ? fmt::format(", HTTP {}", o.error().http_status) : "",
            o.error().message);
        if (first_failure.empty()) first_failure = "persona " + p.id + ": " + what;
        note("persona " + p.id + ": " + what);
        continue;
      }
      ++rep.calls;
      if (o.value().from_cache) ++rep.cached_calls;
      ParsedDescriptions parsed = parse_descriptions(o.value().text, p, options);
      if (o.value().finish_reason == "length" && (parsed.truncated || !parsed.json))
        note(fmt::format("persona {} (attempt {}): answer cut at max_tokens ({})", p.id,
                         attempt + 1, options.max_tokens));
      rep.rejected += parsed.rejected.size();
      for (const RejectedDescription& r : parsed.rejected)
        note(fmt::format("persona {} (attempt {}): rejected {} ({})", p.id, attempt + 1,
                         excerpt(r.text), r.reason));
      if (parsed.accepted.empty()) {
        if (parsed.rejected.empty())
          note(fmt::format("persona {} (attempt {}): no description in the answer {}", p.id,
                           attempt + 1, excerpt(o.value().text)));
        again.push_back(i);
      } else {
        accepted[i] = std::move(parsed.accepted);
      }
    }
    if (rep.status == "cancelled") break;
    pending = std::move(again);
  }
  if (rep.calls > 0 && rep.failed_calls == rep.calls)
    throw BackendError("every description call failed; the first: " + first_failure);

  for (std::size_t i = 0; i < personas.size(); ++i) {
    if (accepted[i].empty()) {
      ++rep.personas_without_pairs;
      continue;
    }
    const std::string positive = personas[i].facts_text();
    for (std::string& d : accepted[i]) result.pairs.push_back({std::move(d), positive});
  }
  rep.accepted = result.pairs.size();
  return result;
}

}  // namespace popalign::embedding
