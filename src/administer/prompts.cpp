// Prompt templates: built-ins, user files, placeholder substitution, rendering.
#include <popalign/administer/prompts.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include <popalign/core/error.hpp>
#include <popalign/io/json.hpp>

namespace popalign::administer {

using psychometrics::Item;
using psychometrics::Scale;

std::string_view to_string(PromptFormat format) noexcept {
  return format == PromptFormat::single ? "single" : "batch";
}

namespace {

/// Splits a template into literal text and placeholder names. Throws InvalidArgument(argument)
/// for an unbalanced brace or an empty name.
struct Piece {
  bool placeholder;
  std::string text;
};

std::vector<Piece> split_template(std::string_view text, const char* argument) {
  std::vector<Piece> out;
  std::string lit;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '{') {
      if (i + 1 < text.size() && text[i + 1] == '{') {
        lit.push_back('{');
        i += 2;
        continue;
      }
      const std::size_t close = text.find('}', i + 1);
      if (close == std::string_view::npos)
        throw InvalidArgument(argument, "unbalanced '{' at offset " + std::to_string(i) +
                                            " (write '{{' for a literal brace)");
      const std::string name(text.substr(i + 1, close - i - 1));
      const bool valid_name = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
      });
      if (!valid_name)
        throw InvalidArgument(argument, "bad placeholder '{" + name + "}' at offset " +
                                            std::to_string(i) +
                                            " (write '{{' and '}}' for literal braces)");
      if (!lit.empty()) out.push_back({false, std::move(lit)});
      lit.clear();
      out.push_back({true, name});
      i = close + 1;
      continue;
    }
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        lit.push_back('}');
        i += 2;
        continue;
      }
      throw InvalidArgument(argument, "unbalanced '}' at offset " + std::to_string(i) +
                                          " (write '}}' for a literal brace)");
    }
    lit.push_back(c);
    ++i;
  }
  if (!lit.empty()) out.push_back({false, std::move(lit)});
  return out;
}

std::set<std::string> placeholders_of(std::string_view text, const char* argument) {
  std::set<std::string> out;
  for (const Piece& p : split_template(text, argument))
    if (p.placeholder) out.insert(p.text);
  return out;
}

void check_allowed(const std::set<std::string>& used, std::initializer_list<const char*> allowed,
                   const char* argument) {
  for (const std::string& name : used) {
    const bool ok =
        std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return name == a; });
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + "{" + a + "}";
      throw InvalidArgument(argument, "unknown placeholder {" + name + "}; allowed here: " + list);
    }
  }
}

std::vector<PromptTemplate> make_builtins() {
  const std::string system =
      "Take on the persona below and answer every question as this person would, in "
      "character.\n\n{persona}";
  PromptTemplate likert{
      .id = "likert-v1",
      .format = PromptFormat::single,
      .system = system,
      .user =
          "Statement: \"{item}\"\n\n"
          "How accurately does this statement describe you? Response options:\n{scale}\n\n"
          "Answer with a single number from {min} to {max} and nothing else.",
  };
  PromptTemplate label{
      .id = "likert-label-v1",
      .format = PromptFormat::single,
      .system = system,
      .user =
          "Statement: \"{item}\"\n\n"
          "How accurately does this statement describe you? Response options:\n{scale}\n\n"
          "Answer with exactly one of the response options above, in words, and nothing "
          "else.",
      .scale_line = "{label}",
  };
  PromptTemplate json{
      .id = "likert-json-v1",
      .format = PromptFormat::batch,
      .system = system,
      .user =
          "Rate how accurately each of the {n_items} statements below describes you.\n\n"
          "Statements:\n{items}\n\n"
          "Response options:\n{scale}\n\n"
          "Answer with a JSON object that has every statement id as a key and your rating, "
          "a number from {min} to {max}, as its value. Write only the JSON object.",
      .item_line = "{id}: {item}",
  };
  return {likert, label, json};
}

const std::vector<PromptTemplate>& builtins() {
  static const std::vector<PromptTemplate> list = make_builtins();
  return list;
}

std::string read_file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string(), "cannot open prompt template file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

void PromptTemplate::validate() const {
  check_argument(!id.empty(), "template.id", "must not be empty");
  const bool single = format == PromptFormat::single;
  const auto sys = placeholders_of(system, "template.system");
  const auto usr = placeholders_of(user, "template.user");
  if (single) {
    check_allowed(sys, {"persona", "item", "item_id", "scale", "min", "max"}, "template.system");
    check_allowed(usr, {"persona", "item", "item_id", "scale", "min", "max"}, "template.user");
    check_argument(usr.count("item") || sys.count("item"), "template.user",
                   "a single-item template must contain {item}");
  } else {
    check_allowed(sys, {"persona", "items", "n_items", "scale", "min", "max"}, "template.system");
    check_allowed(usr, {"persona", "items", "n_items", "scale", "min", "max"}, "template.user");
    check_argument(usr.count("items") || sys.count("items"), "template.user",
                   "a batch template must contain {items}");
  }
  check_argument(sys.count("persona") || usr.count("persona"), "template.system",
                 "the template must contain {persona} (in system or user)");
  check_allowed(placeholders_of(item_line, "template.item_line"), {"id", "item", "n"},
                "template.item_line");
  check_argument(single || placeholders_of(item_line, "template.item_line").count("item"),
                 "template.item_line", "must contain {item}");
  check_allowed(placeholders_of(scale_line, "template.scale_line"), {"value", "label"},
                "template.scale_line");
}

std::vector<std::string> builtin_template_ids() {
  std::vector<std::string> out;
  for (const PromptTemplate& t : builtins()) out.push_back(t.id);
  return out;
}

const PromptTemplate& builtin_template(std::string_view id) {
  for (const PromptTemplate& t : builtins())
    if (t.id == id) return t;
  std::string list;
  for (const PromptTemplate& t : builtins()) list += (list.empty() ? "" : ", ") + t.id;
  throw InvalidArgument("template", "unknown template '" + std::string(id) +
                                        "' (built-in: " + list + "; or give a template file)");
}

PromptTemplate load_prompt_template(const std::filesystem::path& path) {
  const std::string file = path.string();
  const io::JsonValue doc = io::parse_json(read_file_text(path), file);
  if (!doc.is_object()) throw ParseError(file, "a prompt template file must hold a JSON object");
  auto get = [&](const char* key, bool required) -> std::string {
    const io::JsonValue* v = doc.find(key);
    if (!v || v->is_null()) {
      if (required) throw ParseError(file, std::string("missing string field \"") + key + "\"");
      return {};
    }
    if (!v->is_string())
      throw ParseError(file, std::string("field \"") + key + "\" must be a string");
    return v->as_string();
  };
  for (const auto& [key, value] : doc.as_object()) {
    static const std::set<std::string> known = {"id",        "format",     "system",     "user",
                                                "item_line", "scale_line", "description"};
    if (!known.count(key))
      throw ParseError(file, "unknown field \"" + key +
                                 "\" (known: id, format, system, user, item_line, scale_line, "
                                 "description)");
  }
  PromptTemplate t;
  t.id = get("id", true);
  const std::string format = get("format", false);
  if (format.empty() || format == "single") {
    t.format = PromptFormat::single;
  } else if (format == "batch") {
    t.format = PromptFormat::batch;
  } else {
    throw ParseError(file,
                     "field \"format\" must be \"single\" or \"batch\", got \"" + format + "\"");
  }
  t.system = get("system", false);
  t.user = get("user", true);
  if (doc.contains("item_line")) t.item_line = get("item_line", false);
  if (doc.contains("scale_line")) t.scale_line = get("scale_line", false);
  try {
    t.validate();
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(e.argument(), std::string(e.what()) + " (in " + file + ")");
  }
  return t;
}

PromptTemplate resolve_prompt_template(const std::string& spec) {
  for (const PromptTemplate& t : builtins())
    if (t.id == spec) return t;
  std::error_code ec;
  if (std::filesystem::is_regular_file(spec, ec)) return load_prompt_template(spec);
  return builtin_template(spec);  // throws, listing the built-ins
}

std::string substitute_placeholders(
    std::string_view text, std::span<const std::pair<std::string_view, std::string_view>> values,
    const char* argument) {
  std::string out;
  out.reserve(text.size() + 256);
  for (const Piece& p : split_template(text, argument)) {
    if (!p.placeholder) {
      out += p.text;
      continue;
    }
    auto it = std::find_if(values.begin(), values.end(),
                           [&](const auto& kv) { return kv.first == p.text; });
    if (it == values.end()) throw InvalidArgument(argument, "unknown placeholder {" + p.text + "}");
    out += it->second;
  }
  return out;
}

std::string render_scale(const PromptTemplate& tmpl, const Scale& scale, bool reversed) {
  std::string out;
  const int n = scale.num_options();
  const bool labelled = static_cast<int>(scale.labels.size()) == n;
  for (int k = 0; k < n; ++k) {
    const std::string value = std::to_string(scale.min + k);
    if (!out.empty()) out += "\n";
    if (!labelled) {
      out += value;
      continue;
    }
    const int label_index = reversed ? n - 1 - k : k;
    const std::string& label = scale.labels[static_cast<std::size_t>(label_index)];
    const std::pair<std::string_view, std::string_view> vals[] = {{"value", value},
                                                                  {"label", label}};
    out += substitute_placeholders(tmpl.scale_line, vals, "template.scale_line");
  }
  return out;
}

RenderedPrompt render_item_prompt(const PromptTemplate& tmpl, std::string_view persona,
                                  const Item& item, const Scale& scale, bool reversed) {
  check_argument(tmpl.format == PromptFormat::single, "template",
                 "'" + tmpl.id + "' is a batch template; single-item prompts need a single one");
  const std::string scale_text = render_scale(tmpl, scale, reversed);
  const std::string lo = std::to_string(scale.min), hi = std::to_string(scale.max);
  const std::pair<std::string_view, std::string_view> vals[] = {
      {"persona", persona},  {"item", item.text}, {"item_id", item.id},
      {"scale", scale_text}, {"min", lo},         {"max", hi}};
  return {substitute_placeholders(tmpl.system, vals, "template.system"),
          substitute_placeholders(tmpl.user, vals, "template.user")};
}

RenderedPrompt render_batch_prompt(const PromptTemplate& tmpl, std::string_view persona,
                                   std::span<const Item* const> items, const Scale& scale,
                                   bool reversed) {
  check_argument(tmpl.format == PromptFormat::batch, "template",
                 "'" + tmpl.id + "' is a single-item template; batch prompts need a batch one");
  check_argument(!items.empty(), "items", "must not be empty");
  std::string list;
  for (std::size_t k = 0; k < items.size(); ++k) {
    const std::string n = std::to_string(k + 1);
    const std::pair<std::string_view, std::string_view> vals[] = {
        {"id", items[k]->id}, {"item", items[k]->text}, {"n", n}};
    if (k) list += "\n";
    list += substitute_placeholders(tmpl.item_line, vals, "template.item_line");
  }
  const std::string scale_text = render_scale(tmpl, scale, reversed);
  const std::string lo = std::to_string(scale.min), hi = std::to_string(scale.max);
  const std::string count = std::to_string(items.size());
  const std::pair<std::string_view, std::string_view> vals[] = {
      {"persona", persona},  {"items", list}, {"n_items", count},
      {"scale", scale_text}, {"min", lo},     {"max", hi}};
  return {substitute_placeholders(tmpl.system, vals, "template.system"),
          substitute_placeholders(tmpl.user, vals, "template.user")};
}

std::string batch_answer_schema(std::span<const Item* const> items, const Scale& scale) {
  check_argument(!items.empty(), "items", "must not be empty");
  std::string props, req;
  for (const Item* item : items) {
    if (!props.empty()) {
      props += ",";
      req += ",";
    }
    io::append_json_string(props, item->id);
    props += ":{\"type\":\"integer\",\"minimum\":" + std::to_string(scale.min) +
             ",\"maximum\":" + std::to_string(scale.max) + "}";
    io::append_json_string(req, item->id);
  }
  return "{\"type\":\"object\",\"properties\":{" + props + "},\"required\":[" + req +
         "],\"additionalProperties\":false}";
}

}  // namespace popalign::administer
