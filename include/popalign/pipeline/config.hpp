#pragma once
// The configuration of a whole pipeline run (`popalign run pipeline.toml`): model endpoints,
// the input (posts to mine, or a ready persona file), the instrument, the human reference, N,
// the target groups, the seed and the prices.
//
// The file is TOML (parsed with toml++ in src/pipeline/config.cpp; no TOML type appears here).
// Every key is checked: an unknown key, a value of the wrong type or a value outside its range
// is an InvalidArgument whose argument names the file, line and key
// ("run.toml:14: models.respondent.concurrency") and whose message says what is wrong.
// Relative paths are resolved against the config file's folder; a path written "data:<rest>"
// is <rest> under the shipped data directory (io::data_dir()). docs/pipeline.md is the
// reference of every key; example_config() is the commented example `popalign init` writes.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace popalign::pipeline {

/// One OpenAI-compatible model endpoint. The judge and the respondent default to the generator
/// (each key separately).
struct Endpoint {
  std::string base_url;  ///< e.g. http://127.0.0.1:8080/v1
  std::string model;
  std::string api_key_env = "OPENAI_API_KEY";  ///< environment variable with the key
  std::size_t concurrency = 8;                 ///< requests in flight
  double timeout_seconds = 120;                ///< per request
  int http_attempts = 5;                       ///< tries per request on transient errors
  double prompt_price = 0;                     ///< per 1M prompt tokens
  double completion_price = 0;                 ///< per 1M completion tokens
};

struct MiningSettings {
  std::string format = "auto";  ///< auto | jsonl | blog-csv | blog-xml
  std::size_t max_authors = 0;  ///< 0 = all
  int min_tokens = 30;
  std::size_t min_posts = 6;
  std::size_t context_tokens = 8192;
  int max_words = 150;
  int min_overall = 9;
  int min_other = 8;
  int max_attempts = 2;
  bool redact = true;
  bool dedup = true;
  double dedup_cosine = 0.95;
};

struct AdministerSettings {
  std::string instrument = "ipip50";  ///< shipped name or JSON file
  std::string mode = "generate";      ///< generate | logprobs | batch
  std::string prompt_template;        ///< empty = the mode's default
  int max_retries = 2;
  std::size_t personas_per_round = 16;
};

struct ReferenceSettings {
  std::string path = "big5";               ///< "big5" = the shipped BIG5 sample, else a CSV/TSV
  std::string country_column = "country";  ///< for region and country group filters
  std::optional<double> missing_code;      ///< answer meaning "not answered" (BIG5: 0)
  bool clean = true;                       ///< the cleaning rules of docs/data.md
};

struct AlignSettings {
  long long n = 1000;
  std::string method = "resample";  ///< resample | is | ot | random
  double reg = 0.01;
  double candidate_factor = 6.0;
};

/// One target group (mapped to persona::GroupSpec).
struct GroupSettings {
  std::string name;       ///< [A-Za-z0-9_-]+, names the output files
  std::string query;      ///< natural-language description, e.g. "adults living in Europe"
  std::string reference;  ///< filter of the reference rows: "region:Europe", "country:US,CA",
                          ///< a bare region name, or "column=value"
  long long n = 1000;
  long long depth = 0;  ///< retrieval depth; 0 = 3 x n
};

struct PipelineConfig {
  std::filesystem::path file;     ///< the config file (empty when built in code)
  std::filesystem::path run_dir;  ///< the run directory (absolute after load_config)
  std::uint64_t seed = 0;
  Endpoint generator, judge, respondent;
  std::filesystem::path posts;     ///< posts to mine, or
  std::filesystem::path personas;  ///< a ready persona file (JSONL: id + persona)
  MiningSettings mining;
  AdministerSettings administer;
  ReferenceSettings reference;
  AlignSettings align;
  std::vector<GroupSettings> groups;
  /// The line of every key read from the file ("models.judge.model" -> 12), for messages.
  std::map<std::string, int> lines;

  /// Throws InvalidArgument naming the key ("align.n", "groups[1].name").
  void validate() const;
  /// The key as a message location: "file:line: key" when the line is known.
  std::string where(const std::string& key) const;
};

/// Reads and validates a config file. InvalidArgument naming file, line and key on any error;
/// IoError when the file cannot be read.
PipelineConfig load_config(const std::filesystem::path& path);
/// The same from text; `path` names the file in messages and anchors relative paths.
PipelineConfig parse_config(std::string_view text, const std::filesystem::path& path);

/// The commented example written by `popalign init`: mines the shipped posts, administers the
/// IPIP-50, aligns to the shipped BIG5 people and builds three regional groups. `base_url` and
/// `model` fill the generator endpoint.
std::string example_config(std::string_view base_url = "http://127.0.0.1:8080/v1",
                           std::string_view model = "my-model");

}  // namespace popalign::pipeline
