#include <popalign/io/persona_record.hpp>

#include <cctype>
#include <unordered_map>

#include <popalign/core/error.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/jsonl.hpp>

namespace popalign::io {

namespace {

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out.push_back(' ');
    out += p;
  }
  return out;
}

/// The strings of an array value, or false when some element is not a string.
bool string_array(const JsonValue& v, std::vector<std::string>& out) {
  out.clear();
  for (const JsonValue& part : v.as_array()) {
    if (!part.is_string()) return false;
    out.push_back(part.as_string());
  }
  return true;
}

std::vector<std::string> trimmed_nonempty(const std::vector<std::string>& parts) {
  std::vector<std::string> out;
  for (const std::string& p : parts) {
    std::string t = trim(p);
    if (!t.empty()) out.push_back(std::move(t));
  }
  return out;
}

PersonaFile from_jsonl(JsonlReadResult rr, const PersonaReadOptions& options,
                       const std::string& source) {
  const bool skip = options.on_bad_line == OnBadLine::skip;
  PersonaFile pf;
  auto bad = [&](std::size_t line, const std::string& message) {
    if (!skip) throw ParseError(source, line, message);
    ++pf.malformed;
    if (options.log)
      options.log(source + ":" + std::to_string(line) + ": " + message + " (line skipped)");
  };
  for (const MalformedLine& m : rr.malformed) bad(m.line, m.message);
  if (rr.truncated_tail) {
    pf.truncated_tail = true;
    ++pf.malformed;
    if (options.log) options.log(source + ": the last line is incomplete (no newline); skipped");
  }

  std::unordered_map<std::string, std::size_t> first_line;
  std::vector<std::string> parts;
  for (JsonlRecord& rec : rr.records) {
    PersonaRecord p;
    p.line = rec.line;
    const JsonValue* idv = rec.value.find(options.id_field);
    if (idv && idv->is_string()) {
      p.id = idv->as_string();
    } else if (idv && idv->is_number()) {
      p.id = rec.id_field(options.id_field);
    } else {
      bad(rec.line, "no string or number field \"" + options.id_field + "\"");
      continue;
    }
    if (p.id.empty()) {
      bad(rec.line, "empty \"" + options.id_field + "\"");
      continue;
    }

    const JsonValue* tv = rec.value.find(options.text_field);
    if (tv && tv->is_null()) tv = nullptr;
    const JsonValue* fv =
        options.facts_field.empty() ? nullptr : rec.value.find(options.facts_field);
    if (fv && fv->is_null()) fv = nullptr;
    if (!tv && !fv) {
      bad(rec.line, "no field \"" + options.text_field + "\" (a string or an array of strings)" +
                        (options.facts_field.empty()
                             ? std::string()
                             : " or \"" + options.facts_field + "\" (an array of strings)") +
                        " holding the persona text");
      continue;
    }
    bool ok = true;
    std::vector<std::string> text_parts;
    bool text_is_array = false;
    if (tv) {
      if (tv->is_string()) {
        p.text = tv->as_string();
      } else if (tv->is_array() && string_array(*tv, parts)) {
        text_parts = parts;
        text_is_array = true;
        p.text = join(parts);
      } else {
        bad(rec.line, "\"" + options.text_field + "\" must be a string or an array of strings");
        ok = false;
      }
    }
    if (!ok) continue;
    if (fv) {
      if (!fv->is_array() || !string_array(*fv, parts)) {
        bad(rec.line, "\"" + options.facts_field + "\" must be an array of strings");
        continue;
      }
      p.facts = trimmed_nonempty(parts);
      if (!tv) p.text = join(parts);
    } else if (text_is_array) {
      p.facts = trimmed_nonempty(text_parts);
    } else {
      p.facts = split_sentences(p.text);
    }
    if (trim(p.text).empty() || p.facts.empty()) {
      bad(rec.line, "persona '" + p.id + "' has an empty text");
      continue;
    }
    if (options.unique_ids) {
      auto [it, inserted] = first_line.emplace(p.id, rec.line);
      if (!inserted) {
        bad(rec.line,
            "duplicate id '" + p.id + "' (first on line " + std::to_string(it->second) + ")");
        continue;
      }
    }
    if (options.keep_fields) {
      for (auto& [key, value] : rec.value.as_object())
        if (key != options.id_field && key != options.text_field &&
            (options.facts_field.empty() || key != options.facts_field))
          p.fields.set(key, std::move(value));
    }
    pf.personas.push_back(std::move(p));
  }
  return pf;
}

JsonlReadOptions jsonl_options(const PersonaReadOptions& options) {
  JsonlReadOptions ro;
  ro.on_malformed = options.on_bad_line == OnBadLine::skip ? OnMalformed::skip : OnMalformed::fail;
  ro.require_object = true;
  return ro;
}

}  // namespace

std::string PersonaRecord::facts_text() const { return join(facts); }

std::vector<std::string> split_sentences(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '.' && c != '!' && c != '?') continue;
    std::size_t j = i + 1;
    while (j < text.size() && (text[j] == '.' || text[j] == '!' || text[j] == '?')) ++j;
    if (j == text.size() || std::isspace(static_cast<unsigned char>(text[j]))) {
      std::string s = trim(text.substr(start, j - start));
      if (!s.empty()) out.push_back(std::move(s));
      start = j;
    }
    i = j - 1;
  }
  std::string s = trim(text.substr(std::min(start, text.size())));
  if (!s.empty()) out.push_back(std::move(s));
  return out;
}

void PersonaReadOptions::validate() const {
  check_argument(!id_field.empty(), "id_field", "must not be empty");
  check_argument(!text_field.empty(), "text_field", "must not be empty");
  check_argument(id_field != text_field && id_field != facts_field, "id_field",
                 "must differ from text_field and facts_field");
  check_argument(text_field != facts_field, "facts_field", "must differ from text_field");
}

PersonaFile read_personas(const std::filesystem::path& path, const PersonaReadOptions& options) {
  options.validate();
  return from_jsonl(read_jsonl(path, jsonl_options(options)), options, path.string());
}

PersonaFile parse_personas(std::string_view text, const PersonaReadOptions& options,
                           const std::string& source) {
  options.validate();
  return from_jsonl(parse_jsonl(text, jsonl_options(options), source), options, source);
}

JsonValue to_json(const PersonaRecord& persona, bool with_facts) {
  JsonValue v = JsonValue::object();
  v.set("id", persona.id);
  v.set("persona", persona.text);
  if (with_facts) {
    JsonValue facts = JsonValue::array();
    for (const std::string& f : persona.facts) facts.push_back(f);
    v.set("facts", std::move(facts));
  }
  if (persona.fields.is_object())
    for (const auto& [key, value] : persona.fields.as_object()) {
      if (key == "id" || key == "persona" || (with_facts && key == "facts")) continue;
      v.set(key, value);
    }
  return v;
}

std::string persona_line(const PersonaRecord& persona, bool with_facts) {
  return to_json(persona, with_facts).dump();
}

void write_personas(const std::filesystem::path& path, std::span<const PersonaRecord> personas,
                    bool with_facts) {
  std::string content;
  for (const PersonaRecord& p : personas) {
    to_json(p, with_facts).dump_to(content);
    content.push_back('\n');
  }
  write_file_atomically(path, content);
}

}  // namespace popalign::io
