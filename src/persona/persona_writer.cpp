// Step 4: persona writing. See persona/persona_writer.hpp.
#include <popalign/persona/persona_writer.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include <fmt/core.h>
#include <popalign/core/error.hpp>

#include <popalign/persona/post_readers.hpp>

#include "ask.hpp"

namespace popalign::persona {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool mostly_letters(std::string_view s) {
  std::size_t letters = 0, other = 0;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isspace(u)) continue;
    if (std::isalpha(u) || u >= 0x80)
      ++letters;
    else if (!std::ispunct(u))
      ++other;
    else
      ++letters;  // punctuation belongs to prose
  }
  return letters > 0 && letters >= 4 * other;
}

bool is_refusal(std::string_view text) {
  const std::string l = lower(detail::collapse_spaces(text));
  for (const char* p : {"cannot", "i cannot", "i can't", "i can not", "null", "none"})
    if (l.rfind(p, 0) == 0) return true;
  return false;
}

std::size_t tokens(std::string_view text, double chars_per_token) {
  return static_cast<std::size_t>(std::ceil(static_cast<double>(text.size()) / chars_per_token));
}

// Tokens of one post as rendered in a window (text, time and the "[k] () " around them).
std::size_t post_tokens(const Post& p, double cpt) {
  return tokens(p.time, cpt) + tokens(p.text, cpt) + tokens("[100] () \n", cpt);
}

}  // namespace

void PersonaWriterOptions::validate() const {
  check_argument(temperature >= 0.0 && temperature <= 2.0, "temperature", "must be in [0, 2]");
  check_argument(max_tokens >= 32, "max_tokens", "must be >= 32");
  check_argument(max_attempts >= 1, "max_attempts", "must be >= 1");
  check_argument(max_words >= 10, "max_words", "must be >= 10");
  check_argument(min_posts >= 1, "min_posts", "must be >= 1");
  check_argument(chars_per_token >= 0.5 && chars_per_token <= 16, "chars_per_token",
                 "must be in [0.5, 16]");
  prompt.require("prompt", {"posts", "max_words"});
  check_argument(context_tokens >= 512 && post_budget_tokens() >= 256, "context_tokens",
                 fmt::format("{} leaves {} tokens for the posts after the prompt and max_tokens "
                             "({}); need >= 256",
                             context_tokens, post_budget_tokens(), max_tokens));
  batch.validate();
}

std::size_t PersonaWriterOptions::post_budget_tokens() const {
  const std::vector<std::pair<std::string, std::string>> values = {
      {"posts", ""}, {"max_words", std::to_string(max_words)}};
  const double cpt = chars_per_token >= 0.5 ? chars_per_token : 4.0;
  const std::size_t fixed = tokens(render_prompt(prompt.system, values), cpt) +
                            tokens(render_prompt(prompt.user, values), cpt) + 8;
  const std::size_t used = fixed + static_cast<std::size_t>(std::max(max_tokens, 0));
  return context_tokens > used ? context_tokens - used : 0;
}

std::string AuthorWindow::id() const { return author + "#" + std::to_string(window + 1); }

Windowing make_windows(std::span<const Post> posts, const PersonaWriterOptions& options) {
  options.validate();
  Windowing out;
  struct AuthorOrder {
    bool operator()(const std::string& a, const std::string& b) const {
      return author_before(a, b);
    }
  };
  std::map<std::string, std::vector<Post>, AuthorOrder> by_author;
  for (const Post& p : posts) by_author[p.author].push_back(p);
  out.authors = by_author.size();
  const std::size_t budget = options.post_budget_tokens();
  for (auto& [author, list] : by_author) {
    if (list.size() < options.min_posts) {
      out.dropped.push_back(
          {author, list.size(), fmt::format("fewer than {} posts", options.min_posts)});
      continue;
    }
    std::sort(list.begin(), list.end(), time_before);
    std::vector<std::vector<Post>> groups(1);
    std::vector<std::size_t> cost(1, 0);
    for (Post& p : list) {
      std::size_t t = post_tokens(p, options.chars_per_token);
      if (t > budget) {
        // Cut the text to the budget (what the 4-bytes-per-token estimate allows).
        const double cpt = options.chars_per_token;
        const std::size_t room = budget - tokens(p.time, cpt) - tokens("[100] () \n", cpt);
        const auto keep = static_cast<std::size_t>(static_cast<double>(room) * cpt);
        p.text = std::string(detail::utf8_prefix(p.text, keep));
        t = post_tokens(p, options.chars_per_token);
        ++out.cut_posts;
      }
      if (!groups.back().empty() && cost.back() + t > budget) {
        groups.emplace_back();
        cost.push_back(0);
      }
      groups.back().push_back(std::move(p));
      cost.back() += t;
    }
    // A short last window: first try an even split of the history into as many windows (sizes
    // differ by at most one, each within the budget); else the last window takes posts from
    // the end of the one before while that one keeps min_posts.
    if (groups.size() > 1 && groups.back().size() < options.min_posts) {
      const std::size_t g = groups.size();
      std::vector<Post> all;
      for (auto& grp : groups)
        for (Post& p : grp) all.push_back(std::move(p));
      const std::size_t n = all.size();
      std::vector<std::vector<Post>> even(g);
      std::vector<std::size_t> even_cost(g, 0);
      bool fits = n / g >= options.min_posts;
      for (std::size_t k = 0, at = 0; k < g; ++k) {
        const std::size_t size = n / g + (k < n % g ? 1 : 0);
        for (std::size_t j = 0; j < size; ++j, ++at) {
          even_cost[k] += post_tokens(all[at], options.chars_per_token);
          even[k].push_back(all[at]);
        }
        fits = fits && even_cost[k] <= budget;
      }
      if (fits) {
        groups = std::move(even);
        cost = std::move(even_cost);
      } else {
        groups.assign(1, {});
        cost.assign(1, 0);
        for (Post& p : all) {
          const std::size_t t = post_tokens(p, options.chars_per_token);
          if (!groups.back().empty() && cost.back() + t > budget) {
            groups.emplace_back();
            cost.push_back(0);
          }
          groups.back().push_back(std::move(p));
          cost.back() += t;
        }
      }
    }
    while (groups.size() > 1 && groups.back().size() < options.min_posts) {
      auto& prev = groups[groups.size() - 2];
      const std::size_t t = post_tokens(prev.back(), options.chars_per_token);
      if (prev.size() <= options.min_posts || cost.back() + t > budget) break;
      groups.back().insert(groups.back().begin(), std::move(prev.back()));
      prev.pop_back();
      cost.back() += t;
      cost[cost.size() - 2] -= t;
    }
    std::vector<AuthorWindow> ws;
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
      auto& g = groups[gi];
      if (g.size() < options.min_posts) {
        out.dropped.push_back(
            {fmt::format("{} (time window {} of {})", author, gi + 1, groups.size()), g.size(),
             fmt::format("window with fewer than {} posts", options.min_posts)});
        continue;
      }
      AuthorWindow w;
      w.author = author;
      w.posts = std::move(g);
      ws.push_back(std::move(w));
    }
    for (std::size_t k = 0; k < ws.size(); ++k) {
      ws[k].window = k;
      ws[k].windows = ws.size();
      out.windows.push_back(std::move(ws[k]));
    }
  }
  return out;
}

std::string persona_schema(const PersonaWriterOptions& options) {
  return fmt::format(
      R"({{"type":"object","properties":{{"status":{{"type":"string","enum":["ok","cannot"]}},"persona":{{"type":"string","maxLength":{}}}}},"required":["status","persona"],"additionalProperties":false}})",
      options.max_words * 12);
}

llm::Request persona_request(const AuthorWindow& window, const PersonaWriterOptions& options,
                             int attempt) {
  check_argument(attempt >= 0, "attempt", "must be >= 0");
  const std::vector<std::pair<std::string, std::string>> values = {
      {"posts", detail::render_posts(window.posts)},
      {"max_words", std::to_string(options.max_words)}};
  llm::Request r;
  if (!options.prompt.system.empty())
    r.messages.push_back({"system", render_prompt(options.prompt.system, values)});
  r.messages.push_back({"user", render_prompt(options.prompt.user, values)});
  r.model = options.model;
  r.temperature = options.temperature;
  r.max_tokens = options.max_tokens;
  r.seed = options.seed + static_cast<std::uint64_t>(attempt);
  if (options.json_schema) r.json_schema = persona_schema(options);
  return r;
}

ParsedPersona parse_persona(std::string_view answer, const PersonaWriterOptions& options) {
  ParsedPersona out;
  using Kind = ParsedPersona::Kind;
  const io::JsonValue j = detail::find_json_object(answer);
  std::string text;
  if (j.is_object()) {
    const io::JsonValue* status = j.find("status");
    const io::JsonValue* persona = j.find("persona");
    const std::string st =
        status != nullptr && status->is_string() ? lower(status->as_string()) : "";
    const std::string said = persona != nullptr && persona->is_string()
                                 ? detail::collapse_spaces(persona->as_string())
                                 : "";
    if (st == "cannot" || (st.empty() && persona != nullptr && persona->is_null())) {
      out.kind = Kind::cannot;
      out.detail = said.empty() ? "the model said it cannot" : detail::excerpt(said, 200);
      return out;
    }
    if (!st.empty() && st != "ok") {
      out.detail = "status '" + st + "' is neither ok nor cannot";
      return out;
    }
    if (said.empty()) {
      out.detail = "no persona in the answer " + detail::excerpt(answer);
      return out;
    }
    if (is_refusal(said) && detail::word_count(said) < 40) {
      out.kind = Kind::cannot;
      out.detail = detail::excerpt(said, 200);
      return out;
    }
    text = said;
  } else {
    const std::string plain = detail::collapse_spaces(answer);
    if (is_refusal(plain)) {
      out.kind = Kind::cannot;
      out.detail = detail::excerpt(plain, 200);
      return out;
    }
    if (detail::word_count(plain) < 5 || !mostly_letters(plain)) {
      out.detail = "off-schema answer " + detail::excerpt(answer);
      return out;
    }
    text = plain;
  }
  const std::size_t words = detail::word_count(text);
  out.text = std::move(text);
  if (words > static_cast<std::size_t>(options.max_words)) {
    out.kind = Kind::too_long;
    out.detail = fmt::format("{} words > {}", words, options.max_words);
    return out;
  }
  out.kind = Kind::ok;
  return out;
}

PersonaDraft draft_for(const AuthorWindow& w) {
  PersonaDraft d;
  d.id = w.id();
  d.author = w.author;
  d.window = w.window;
  d.windows = w.windows;
  for (const Post& p : w.posts) d.post_ids.push_back(p.id);
  if (!w.posts.empty()) {
    d.first_time = w.posts.front().time;
    d.last_time = w.posts.back().time;
  }
  return d;
}

PersonaWritingResult draft_personas(llm::LlmBackend& backend, std::span<const AuthorWindow> windows,
                                    const PersonaWriterOptions& options) {
  options.validate();
  PersonaWritingResult result;
  std::vector<ParsedPersona> parsed(windows.size());
  detail::AskTotals totals;
  const std::vector<detail::UnitState> state = detail::ask_all(
      backend, windows.size(), options.max_attempts,
      [&](std::size_t i, int attempt) { return persona_request(windows[i], options, attempt); },
      [&](std::size_t i, const llm::Response& r, std::string& problem) {
        parsed[i] = parse_persona(r.text, options);
        const auto k = parsed[i].kind;
        if (k == ParsedPersona::Kind::ok || k == ParsedPersona::Kind::cannot) return true;
        problem = (k == ParsedPersona::Kind::too_long ? "too long: " : "") + parsed[i].detail;
        return false;
      },
      options.batch, [&](std::size_t i) { return "window " + windows[i].id(); }, totals);
  result.drafts.reserve(windows.size());
  for (std::size_t i = 0; i < windows.size(); ++i) {
    PersonaDraft d = draft_for(windows[i]);
    const detail::UnitState& s = state[i];
    d.attempts = s.attempts;
    d.finished = s.finished;
    d.reason = detail::unit_failure(s, /*usable=*/true, d.detail);
    if (d.reason.empty()) {
      switch (parsed[i].kind) {
        case ParsedPersona::Kind::ok:
          d.kept = true;
          d.text = parsed[i].text;
          ++result.kept;
          break;
        case ParsedPersona::Kind::cannot:
          d.reason = "cannot";
          break;
        case ParsedPersona::Kind::too_long:
          d.reason = "too long";
          break;
        case ParsedPersona::Kind::off_schema:
          d.reason = "off-schema answer";
          break;
      }
      if (!d.kept) d.detail = parsed[i].detail;
    }
    result.drafts.push_back(std::move(d));
  }
  result.report = totals.step_calls();
  return result;
}

}  // namespace popalign::persona
