// Prompt templates of the mining steps. See persona/prompts.hpp.
#include <popalign/persona/prompts.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <popalign/core/error.hpp>
#include <popalign/io/json.hpp>

namespace popalign::persona {

namespace {

const std::vector<PromptTemplate>& builtins() {
  static const std::vector<PromptTemplate> list = {
      {"post-quality-v1",
       "You are a careful annotator of blog posts. You judge whether a post tells us about the "
       "person who wrote it. Answer with JSON only.",
       "Post:\n\"\"\"\n{post}\n\"\"\"\n\n"
       "Rate the post's quality:\n"
       "- high: concrete events, social behaviour, opinions or thoughts of the writer;\n"
       "- medium: some personal content, but mostly generic, very short or hard to follow;\n"
       "- low: advertisements, reposted or quoted material, fiction, lyrics, lists, spam or "
       "random text.\n"
       "Also say whether the post is harmful (hate, harassment, sexual content involving minors, "
       "instructions for violence or self-harm).\n"
       "Answer as JSON: {{\"quality\": \"high\" | \"medium\" | \"low\", \"harmful\": true | "
       "false}}"},
      {"persona-writer-v1",
       "You write short, faithful persona descriptions of real people from their own blog posts. "
       "You never add anything the posts do not support. Answer with JSON only.",
       "Blog posts by one author, oldest first:\n{posts}\n\n"
       "Write a third-person narrative persona of this author in at most {max_words} words. Use "
       "only what the posts support: demographics, personality traits, values, interests, life "
       "events and tone of voice. Do not invent names, ages, places or facts, and do not quote "
       "the posts. If the posts do not say enough about the author to describe them, answer "
       "{{\"status\": \"cannot\", \"persona\": \"\"}}. Otherwise answer {{\"status\": \"ok\", "
       "\"persona\": \"...\"}}."},
      {"critique-v1",
       "You are a strict judge of persona descriptions written from a person's blog posts. "
       "Answer with JSON only.",
       "Blog posts, oldest first:\n{posts}\n\n"
       "Persona written from them:\n\"\"\"\n{persona}\n\"\"\"\n\n"
       "Score the persona from 1 (worst) to 10 (best) on:\n"
       "- hallucination: 10 = every statement is explicitly supported by the posts, 1 = mostly "
       "invented;\n"
       "- coverage: how much of what the posts reveal about the author (traits, values, "
       "interests, life events, tone) it captures;\n"
       "- conciseness: no filler, no repetition;\n"
       "- relevance: it describes the author as a person, not the topics of the posts;\n"
       "- overall.\n"
       "Answer as JSON: {{\"hallucination\": n, \"coverage\": n, \"conciseness\": n, "
       "\"relevance\": n, \"overall\": n, \"explanation\": \"one or two sentences\"}}"},
  };
  return list;
}

// The placeholder names used in `text`; InvalidArgument(field) for an unterminated one.
std::set<std::string> placeholders(std::string_view text, const std::string& field) {
  std::set<std::string> out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{') {
      if (i + 1 < text.size() && text[i + 1] == '{') {
        ++i;
        continue;
      }
      const std::size_t e = text.find('}', i);
      check_argument(e != std::string_view::npos, field.c_str(),
                     "unterminated placeholder at offset " + std::to_string(i));
      out.insert(std::string(text.substr(i + 1, e - i - 1)));
      i = e;
    } else if (text[i] == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      ++i;
    }
  }
  return out;
}

}  // namespace

void PromptTemplate::validate() const {
  check_argument(!id.empty(), "prompt.id", "must not be empty");
  check_argument(!user.empty(), "prompt.user", "must not be empty");
  placeholders(system, "prompt.system");
  placeholders(user, "prompt.user");
}

void PromptTemplate::require(std::string_view field, const std::vector<std::string>& names) const {
  validate();
  std::set<std::string> used = placeholders(system, "prompt.system");
  used.merge(placeholders(user, "prompt.user"));
  const std::string f(field);
  for (const std::string& n : names)
    check_argument(used.count(n) > 0, f.c_str(),
                   "template '" + id + "' lacks the placeholder {" + n + "}");
  for (const std::string& u : used)
    check_argument(std::find(names.begin(), names.end(), u) != names.end(), f.c_str(),
                   "template '" + id + "' uses the unknown placeholder {" + u + "}");
}

const PromptTemplate& builtin_prompt(std::string_view id) {
  for (const PromptTemplate& t : builtins())
    if (t.id == id) return t;
  std::string known;
  for (const std::string& k : builtin_prompt_ids()) known += (known.empty() ? "" : ", ") + k;
  throw InvalidArgument("prompt", "unknown template '" + std::string(id) + "' (built in: " + known +
                                      "; or a JSON file)");
}

std::vector<std::string> builtin_prompt_ids() {
  std::vector<std::string> ids;
  for (const PromptTemplate& t : builtins()) ids.push_back(t.id);
  return ids;
}

PromptTemplate resolve_prompt(const std::string& spec) {
  for (const PromptTemplate& t : builtins())
    if (t.id == spec) return t;
  std::ifstream in(spec, std::ios::binary);
  if (!in) throw IoError(spec, "cannot open the prompt template (not a built-in id either)");
  std::ostringstream ss;
  ss << in.rdbuf();
  const io::JsonValue j = io::parse_json(ss.str(), spec);
  if (!j.is_object()) throw ParseError(spec, 1, "a prompt template must be a JSON object");
  PromptTemplate t;
  auto get = [&](const char* key, std::string& out, bool required) {
    const io::JsonValue* v = j.find(key);
    if (v == nullptr || v->is_null()) {
      if (required) throw ParseError(spec, 1, std::string("missing \"") + key + "\"");
      return;
    }
    if (!v->is_string()) throw ParseError(spec, 1, std::string("\"") + key + "\" must be a string");
    out = v->as_string();
  };
  get("id", t.id, true);
  get("system", t.system, false);
  get("user", t.user, true);
  try {
    t.validate();
  } catch (const InvalidArgument& e) {
    std::string message = e.what();
    const std::string prefix = "invalid argument '" + e.argument() + "': ";
    if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
    throw InvalidArgument(e.argument(), spec + ": " + message);
  }
  return t;
}

std::string render_prompt(std::string_view text,
                          const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out;
  out.reserve(text.size() + 256);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      const std::size_t e = text.find('}', i);
      check_argument(e != std::string_view::npos, "prompt", "unterminated placeholder");
      const std::string_view name = text.substr(i + 1, e - i - 1);
      const auto it = std::find_if(values.begin(), values.end(),
                                   [&](const auto& kv) { return kv.first == name; });
      check_argument(it != values.end(), "prompt",
                     "no value for the placeholder {" + std::string(name) + "}");
      out += it->second;
      i = e;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace popalign::persona
