// Reading pipeline.toml with toml++ (see include/popalign/pipeline/config.hpp). Every table is
// walked key by key: a known key is converted and range-checked, an unknown key is an error, so
// a typo never silently falls back to a default. Each key's line is kept for later messages.
#include <popalign/pipeline/config.hpp>

#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include <popalign/core/error.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/data_dir.hpp>
#include <popalign/persona/groups.hpp>

#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

namespace popalign::pipeline {

namespace {

class Reader {
 public:
  Reader(PipelineConfig& c, std::filesystem::path base) : c_(c), base_(std::move(base)) {}

  [[noreturn]] void fail(const toml::node& n, const std::string& key, const std::string& msg) {
    const int line = static_cast<int>(n.source().begin.line);
    throw InvalidArgument(fmt::format("{}:{}: {}", c_.file.string(), line, key), msg);
  }
  void note(const toml::node& n, const std::string& key) {
    c_.lines[key] = static_cast<int>(n.source().begin.line);
  }

  std::string str(const toml::node& n, const std::string& key) {
    note(n, key);
    if (!n.is_string()) fail(n, key, "must be a string");
    return std::string(*n.as_string());
  }
  bool boolean(const toml::node& n, const std::string& key) {
    note(n, key);
    if (!n.is_boolean()) fail(n, key, "must be true or false");
    return n.as_boolean()->get();
  }
  long long integer(const toml::node& n, const std::string& key, long long lo, long long hi) {
    note(n, key);
    if (!n.is_integer()) fail(n, key, "must be an integer");
    const long long v = n.as_integer()->get();
    if (v < lo || v > hi) fail(n, key, fmt::format("must be in [{}, {}] (got {})", lo, hi, v));
    return v;
  }
  double number(const toml::node& n, const std::string& key, double lo, double hi) {
    note(n, key);
    double v = 0;
    if (n.is_integer())
      v = static_cast<double>(n.as_integer()->get());
    else if (n.is_floating_point())
      v = n.as_floating_point()->get();
    else
      fail(n, key, "must be a number");
    if (!(v >= lo && v <= hi))
      fail(n, key, fmt::format("must be in [{:g}, {:g}] (got {:g})", lo, hi, v));
    return v;
  }
  std::filesystem::path path(const toml::node& n, const std::string& key) {
    const std::string s = str(n, key);
    if (s.empty()) fail(n, key, "must not be empty");
    if (s.rfind("data:", 0) == 0) return io::data_dir() / s.substr(5);
    const std::filesystem::path p(s);
    return p.is_absolute() ? p : base_ / p;
  }
  const toml::table& table(const toml::node& n, const std::string& key) {
    note(n, key);
    if (!n.is_table()) fail(n, key, "must be a table ([" + key + "])");
    return *n.as_table();
  }

  // Calls on(key, node) for every member; unknown keys (on returns false) are errors.
  void each(const toml::table& t, const std::string& prefix,
            const std::function<bool(const std::string&, const toml::node&)>& on,
            const std::string& known) {
    for (auto&& [k, v] : t) {
      const std::string name(k.str());
      if (!on(name, v)) fail(v, prefix + name, "unknown key (known here: " + known + ")");
    }
  }

  void endpoint(const toml::table& t, const std::string& prefix, Endpoint& e) {
    each(
        t, prefix,
        [&](const std::string& k, const toml::node& v) {
          const std::string key = prefix + k;
          if (k == "base_url")
            e.base_url = str(v, key);
          else if (k == "model")
            e.model = str(v, key);
          else if (k == "api_key_env")
            e.api_key_env = str(v, key);
          else if (k == "concurrency")
            e.concurrency = static_cast<std::size_t>(integer(v, key, 1, 1024));
          else if (k == "timeout")
            e.timeout_seconds = number(v, key, 0.001, 1e6);
          else if (k == "http_attempts")
            e.http_attempts = static_cast<int>(integer(v, key, 1, 100));
          else if (k == "prompt_price")
            e.prompt_price = number(v, key, 0, 1e9);
          else if (k == "completion_price")
            e.completion_price = number(v, key, 0, 1e9);
          else
            return false;
          return true;
        },
        "base_url, model, api_key_env, concurrency, timeout, http_attempts, prompt_price, "
        "completion_price");
  }

  void read(const toml::table& root) {
    // models first (judge and respondent inherit the generator's keys).
    if (const toml::node* m = root.get("models")) {
      const toml::table& mt = table(*m, "models");
      each(
          mt, "models.",
          [](const std::string& k, const toml::node&) {
            return k == "generator" || k == "judge" || k == "respondent";
          },
          "generator, judge, respondent");
      if (const toml::node* g = mt.get("generator"))
        endpoint(table(*g, "models.generator"), "models.generator.", c_.generator);
      c_.judge = c_.generator;
      c_.respondent = c_.generator;
      if (const toml::node* j = mt.get("judge"))
        endpoint(table(*j, "models.judge"), "models.judge.", c_.judge);
      if (const toml::node* r = mt.get("respondent"))
        endpoint(table(*r, "models.respondent"), "models.respondent.", c_.respondent);
    }
    each(
        root, "",
        [&](const std::string& k, const toml::node& v) {
          if (k == "models") return true;
          if (k == "run_dir")
            c_.run_dir = path(v, k);
          else if (k == "seed")
            c_.seed =
                static_cast<std::uint64_t>(integer(v, k, 0, std::numeric_limits<long long>::max()));
          else if (k == "input")
            input(table(v, k));
          else if (k == "mining")
            mining(table(v, k));
          else if (k == "instrument")
            instrument(table(v, k));
          else if (k == "reference")
            reference(table(v, k));
          else if (k == "align")
            align(table(v, k));
          else if (k == "groups")
            groups(v);
          else
            return false;
          return true;
        },
        "run_dir, seed, models, input, mining, instrument, reference, align, groups");
  }

  void input(const toml::table& t) {
    each(
        t, "input.",
        [&](const std::string& k, const toml::node& v) {
          if (k == "posts")
            c_.posts = path(v, "input.posts");
          else if (k == "personas")
            c_.personas = path(v, "input.personas");
          else if (k == "format")
            c_.mining.format = str(v, "input.format");
          else if (k == "max_authors")
            c_.mining.max_authors =
                static_cast<std::size_t>(integer(v, "input.max_authors", 0, 1LL << 40));
          else
            return false;
          return true;
        },
        "posts, personas, format, max_authors");
  }
  void mining(const toml::table& t) {
    MiningSettings& m = c_.mining;
    each(
        t, "mining.",
        [&](const std::string& k, const toml::node& v) {
          const std::string key = "mining." + k;
          if (k == "min_tokens")
            m.min_tokens = static_cast<int>(integer(v, key, 0, 100000));
          else if (k == "min_posts")
            m.min_posts = static_cast<std::size_t>(integer(v, key, 1, 100000));
          else if (k == "context_tokens")
            m.context_tokens = static_cast<std::size_t>(integer(v, key, 256, 10000000));
          else if (k == "max_words")
            m.max_words = static_cast<int>(integer(v, key, 5, 100000));
          else if (k == "min_overall")
            m.min_overall = static_cast<int>(integer(v, key, 1, 10));
          else if (k == "min_other")
            m.min_other = static_cast<int>(integer(v, key, 1, 10));
          else if (k == "max_attempts")
            m.max_attempts = static_cast<int>(integer(v, key, 1, 100));
          else if (k == "redact")
            m.redact = boolean(v, key);
          else if (k == "dedup")
            m.dedup = boolean(v, key);
          else if (k == "dedup_cosine")
            m.dedup_cosine = number(v, key, 0, 1);
          else
            return false;
          return true;
        },
        "min_tokens, min_posts, context_tokens, max_words, min_overall, min_other, max_attempts, "
        "redact, dedup, dedup_cosine");
  }
  void instrument(const toml::table& t) {
    AdministerSettings& a = c_.administer;
    each(
        t, "instrument.",
        [&](const std::string& k, const toml::node& v) {
          const std::string key = "instrument." + k;
          if (k == "name") {
            a.instrument = str(v, key);
            // A file next to the config, else a shipped name.
            const std::filesystem::path p = base_ / a.instrument;
            if (a.instrument.find('/') != std::string::npos || a.instrument.ends_with(".json"))
              a.instrument = (std::filesystem::path(a.instrument).is_absolute()
                                  ? std::filesystem::path(a.instrument)
                                  : p)
                                 .string();
          } else if (k == "mode")
            a.mode = str(v, key);
          else if (k == "template")
            a.prompt_template = str(v, key);
          else if (k == "max_retries")
            a.max_retries = static_cast<int>(integer(v, key, 0, 100));
          else if (k == "personas_per_round")
            a.personas_per_round = static_cast<std::size_t>(integer(v, key, 1, 100000));
          else
            return false;
          return true;
        },
        "name, mode, template, max_retries, personas_per_round");
  }
  void reference(const toml::table& t) {
    ReferenceSettings& r = c_.reference;
    each(
        t, "reference.",
        [&](const std::string& k, const toml::node& v) {
          const std::string key = "reference." + k;
          if (k == "path") {
            const std::string s = str(v, key);
            r.path = s == "big5" ? s : path(v, key).string();
          } else if (k == "country_column")
            r.country_column = str(v, key);
          else if (k == "missing_code")
            r.missing_code = number(v, key, -1e300, 1e300);
          else if (k == "clean")
            r.clean = boolean(v, key);
          else
            return false;
          return true;
        },
        "path, country_column, missing_code, clean");
  }
  void align(const toml::table& t) {
    AlignSettings& a = c_.align;
    each(
        t, "align.",
        [&](const std::string& k, const toml::node& v) {
          const std::string key = "align." + k;
          if (k == "n")
            a.n = integer(v, key, 1, 1LL << 40);
          else if (k == "method")
            a.method = str(v, key);
          else if (k == "reg")
            a.reg = number(v, key, 1e-9, 1e6);
          else if (k == "candidate_factor")
            a.candidate_factor = number(v, key, 1, 1e6);
          else
            return false;
          return true;
        },
        "n, method, reg, candidate_factor");
  }
  void groups(const toml::node& v) {
    note(v, "groups");
    if (!v.is_array_of_tables()) fail(v, "groups", "must be an array of tables ([[groups]])");
    const toml::array& arr = *v.as_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const std::string prefix = fmt::format("groups[{}].", i);
      GroupSettings g;
      note(arr[i], fmt::format("groups[{}]", i));
      each(
          *arr[i].as_table(), prefix,
          [&](const std::string& k, const toml::node& n) {
            const std::string key = prefix + k;
            if (k == "name")
              g.name = str(n, key);
            else if (k == "query")
              g.query = str(n, key);
            else if (k == "reference")
              g.reference = str(n, key);
            else if (k == "n")
              g.n = integer(n, key, 1, 1LL << 40);
            else if (k == "depth")
              g.depth = integer(n, key, 0, 1LL << 40);
            else
              return false;
            return true;
          },
          "name, query, reference, n, depth");
      c_.groups.push_back(std::move(g));
    }
  }

 private:
  PipelineConfig& c_;
  std::filesystem::path base_;
};

void check_argument(bool ok, const std::string& key, const std::string& message) {
  if (!ok) throw InvalidArgument(key, message);
}

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-')) return false;
  return true;
}

void check_endpoint(const Endpoint& e, const std::string& prefix) {
  check_argument(!e.base_url.empty(), prefix + "base_url",
                 "is required (an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1)");
  check_argument(!e.model.empty(), prefix + "model", "is required");
  check_argument(e.concurrency >= 1, prefix + "concurrency", "must be >= 1");
  check_argument(e.timeout_seconds > 0, prefix + "timeout", "must be > 0");
  check_argument(e.http_attempts >= 1, prefix + "http_attempts", "must be >= 1");
  check_argument(e.prompt_price >= 0, prefix + "prompt_price", "must be >= 0");
  check_argument(e.completion_price >= 0, prefix + "completion_price", "must be >= 0");
}

}  // namespace

std::string PipelineConfig::where(const std::string& key) const {
  auto it = lines.find(key);
  // A missing key is reported at its table's line when that is known.
  std::string k = key;
  while (it == lines.end()) {
    const auto dot = k.find_last_of('.');
    if (dot == std::string::npos) break;
    k = k.substr(0, dot);
    it = lines.find(k);
  }
  if (file.empty()) return key;
  if (it == lines.end()) return file.string() + ": " + key;
  return fmt::format("{}:{}: {}", file.string(), it->second, key);
}

void PipelineConfig::validate() const {
  check_argument(!run_dir.empty(), "run_dir", "is required");
  check_argument(posts.empty() != personas.empty(), "input",
                 "give exactly one of input.posts (posts to mine) and input.personas (a ready "
                 "persona file)");
  if (!posts.empty()) {
    check_endpoint(generator, "models.generator.");
    check_endpoint(judge, "models.judge.");
    static const std::set<std::string> formats{"auto", "automatic", "jsonl", "blog-csv",
                                               "blog-xml"};
    check_argument(formats.count(mining.format) == 1, "input.format",
                   "must be auto, jsonl, blog-csv or blog-xml (got '" + mining.format + "')");
  }
  check_endpoint(respondent, "models.respondent.");
  check_argument(
      administer.mode == "generate" || administer.mode == "logprobs" || administer.mode == "batch",
      "instrument.mode", "must be generate, logprobs or batch (got '" + administer.mode + "')");
  check_argument(!administer.instrument.empty(), "instrument.name", "must not be empty");
  check_argument(align.method == "resample" || align.method == "is" || align.method == "ot" ||
                     align.method == "random",
                 "align.method", "must be resample, is, ot or random (got '" + align.method + "')");
  check_argument(align.n >= 1, "align.n", "must be >= 1");
  std::set<std::string> names;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const GroupSettings& g = groups[i];
    const std::string p = fmt::format("groups[{}].", i);
    check_argument(valid_name(g.name), p + "name",
                   "must be 1-64 letters, digits, '_' or '-' (it names the output files; got '" +
                       g.name + "')");
    check_argument(names.insert(g.name).second, p + "name", "'" + g.name + "' is used twice");
    check_argument(g.name != "global", p + "name", "'global' is the global set's name");
    check_argument(!g.query.empty(), p + "query", "is required (e.g. \"adults living in Europe\")");
    check_argument(!g.reference.empty(), p + "reference",
                   "is required (\"region:Europe\", \"country:US,CA\" or \"column=value\")");
    try {
      persona::ReferenceFilter::parse(g.reference).validate();
    } catch (const InvalidArgument& e) {
      std::string m = e.what();
      const std::string prefix = "invalid argument '" + e.argument() + "': ";
      if (m.rfind(prefix, 0) == 0) m.erase(0, prefix.size());
      throw InvalidArgument(p + "reference", m);
    }
    check_argument(g.n >= 1, p + "n", "must be >= 1");
    check_argument(g.depth == 0 || g.depth >= g.n, p + "depth", "must be 0 (3 x n) or >= n");
  }
}

PipelineConfig parse_config(std::string_view text, const std::filesystem::path& path) {
  PipelineConfig c;
  c.file = path;
  const std::filesystem::path base = path.has_parent_path()
                                         ? std::filesystem::absolute(path).parent_path()
                                         : std::filesystem::current_path();
  toml::table root;
  try {
    root = toml::parse(text, path.string());
  } catch (const toml::parse_error& e) {
    throw InvalidArgument(fmt::format("{}:{}", path.string(), e.source().begin.line),
                          std::string("not valid TOML: ") + std::string(e.description()));
  }
  Reader(c, base).read(root);
  try {
    c.validate();
  } catch (const InvalidArgument& e) {
    std::string m = e.what();
    const std::string prefix = "invalid argument '" + e.argument() + "': ";
    if (m.rfind(prefix, 0) == 0) m.erase(0, prefix.size());
    throw InvalidArgument(c.where(e.argument()), m);
  }
  c.run_dir = std::filesystem::absolute(c.run_dir).lexically_normal();
  return c;
}

PipelineConfig load_config(const std::filesystem::path& path) {
  // IoError for a missing file, a directory or more than io::kMaxConfigBytes (docs/cli.md).
  return parse_config(io::read_file(path, io::kMaxConfigBytes), path);
}

std::string example_config(std::string_view base_url, std::string_view model) {
  return fmt::format(
      R"(# popalign pipeline: posts -> personas -> questionnaire answers -> traits -> a set aligned to
# human people -> group sets -> report.html. Run it with `popalign run pipeline.toml`
# (`--dry-run` prints the plan, calls and tokens per stage, and the cost estimate first).
# Every key is documented in docs/pipeline.md. Relative paths are relative to this file;
# "data:..." is a file shipped with popalign. `popalign init` writes this file; it is also
# shipped as examples/pipeline/three_regions.toml: the shipped posts, the shipped BIG5 people and
# three regional groups (East Asia has only 176 reference people: it works, with a warning).

run_dir = "popalign-run"   # every stage's output, the manifest and the LLM cache
seed = 1                   # same inputs + seed = same output bytes

# Model endpoints (OpenAI-compatible). judge and respondent take every key they do not set
# from the generator, so one [models.generator] table is enough.
[models.generator]         # mining: post quality and persona writing; group revisions
base_url = "{}"
model = "{}"
api_key_env = "OPENAI_API_KEY"   # the variable holding the key (never written anywhere)
concurrency = 8
timeout = 120              # seconds per request
http_attempts = 5
prompt_price = 0.0         # per 1M prompt tokens (for the cost meter and the estimate)
completion_price = 0.0     # per 1M completion tokens

[models.judge]             # the critique of mined personas and of group revisions
# model = "a-stronger-model"

[models.respondent]        # answers the questionnaire as each persona
# model = "..."

[input]
posts = "data:posts/spc_posts.jsonl"    # posts to mine (JSONL, Blog CSV or Blog XML) ...
# personas = "my_personas.jsonl"        # ... or a ready persona file (id + persona), no mining
format = "auto"
max_authors = 40           # 0 = every author

[mining]                   # the method's thresholds (docs/persona.md)
min_posts = 6
min_overall = 9
min_other = 8
dedup = true

[instrument]
name = "ipip50"            # or mini_ipip, neo120, neo300, or a JSON file
mode = "generate"          # generate | logprobs | batch
max_retries = 2

[reference]
path = "big5"              # the shipped BIG5 people, or a CSV with the instrument's item columns
country_column = "country"
missing_code = 0           # BIG5: 0 means "not answered"
clean = true

[align]
n = 24                     # personas in the global set
method = "resample"

# Target groups: retrieved from the global set by their description (depth, default 3 x n,
# personas), lightly revised by the generator, checked by the judge, measured again and aligned
# to their part of the reference. reference: "region:<name>" (data/regions), "country:US,CA",
# "column:<column>=<value>" (a column of the reference file) or a bare region name.
[[groups]]
name = "north_america"
query = "adults living in North America"
reference = "region:North America"
n = 8

[[groups]]
name = "europe"
query = "adults living in Europe"
reference = "region:Europe"
n = 8

[[groups]]
name = "east_asia"
query = "adults living in East Asia"
reference = "region:East Asia"
n = 8
)",
      base_url, model);
}

}  // namespace popalign::pipeline
