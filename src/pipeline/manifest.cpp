// The run manifest (see include/popalign/pipeline/manifest.hpp).
#include <popalign/pipeline/manifest.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include <popalign/core/error.hpp>
#include <popalign/io/csv.hpp>
#include <popalign/io/json.hpp>
#include <popalign/io/limits.hpp>
#include <popalign/llm/types.hpp>

namespace popalign::pipeline {

namespace {

using ojson = nlohmann::ordered_json;

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw IoError(p.string(), "cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class Map>
ojson map_json(const Map& m) {
  ojson o = ojson::object();
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

/// The stages of a parsed manifest; nlohmann exceptions for members of the wrong type.
std::vector<StageEntry> read_stages(const ojson& stages, const std::string& file) {
  std::vector<StageEntry> out;
  for (const auto& s : stages) {
    if (!s.is_object())
      throw ParseError(file, 1,
                       "not a popalign run manifest (a stage is not a JSON object; delete it to "
                       "start over)");
    StageEntry e;
    e.name = s.value("name", "");
    e.status = s.value("status", "running");
    e.key = s.value("key", "");
    e.options = s.contains("options") ? s["options"].dump() : "{}";
    if (s.contains("inputs"))
      for (const auto& [k, v] : s["inputs"].items()) e.inputs[k] = v.get<std::string>();
    if (s.contains("outputs"))
      for (const auto& [k, v] : s["outputs"].items()) e.outputs[k] = v.get<std::string>();
    if (s.contains("counts"))
      for (const auto& [k, v] : s["counts"].items()) e.counts[k] = v.get<double>();
    e.seconds = s.value("seconds", 0.0);
    e.calls = s.value("calls", std::uint64_t{0});
    e.cached_calls = s.value("cached_calls", std::uint64_t{0});
    e.failed_calls = s.value("failed_calls", std::uint64_t{0});
    e.prompt_tokens = s.value("prompt_tokens", std::int64_t{0});
    e.completion_tokens = s.value("completion_tokens", std::int64_t{0});
    e.cost = s.value("cost", 0.0);
    if (!e.name.empty()) out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::string hash_path(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(path))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::string all;
    for (const auto& f : files) all += f.filename().string() + "\t" + hash_path(f) + "\n";
    return llm::sha256_hex(all);
  }
  if (!std::filesystem::exists(path, ec)) throw IoError(path.string(), "no such file");
  return llm::sha256_hex(read_all(path));
}

std::string stage_key(const std::string& name, const std::string& options,
                      const std::map<std::string, std::string>& inputs) {
  std::string s = name + "\n" + options + "\n";
  for (const auto& [k, v] : inputs) s += k + "\t" + v + "\n";
  return llm::sha256_hex(s);
}

Manifest Manifest::load(const std::filesystem::path& run_dir) {
  Manifest m;
  m.run_dir_ = run_dir;
  const auto file = run_dir / "manifest.json";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return m;
  // Bounded like every input (docs/cli.md): at most io::kMaxConfigBytes, JSON nesting at most
  // io::kMaxJsonDepth (dump() below recurses per level), and a member of the wrong type is a
  // ParseError naming the file, never an nlohmann exception.
  const std::string text = io::read_file(file, io::kMaxConfigBytes);
  const auto not_a_manifest = [&](const std::string& why) {
    return ParseError(file.string(), 1,
                      "not a popalign run manifest (" + why + "; delete it to start over)");
  };
  if (io::json_depth_exceeded_at(text) != 0)
    throw not_a_manifest("JSON nested deeper than " + std::to_string(io::kMaxJsonDepth));
  const ojson j = ojson::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("format") || !j["format"].is_string() ||
      j["format"] != "popalign-run-manifest/1" || !j.contains("stages") || !j["stages"].is_array())
    throw ParseError(file.string(), 1, "not a popalign run manifest (delete it to start over)");
  try {
    m.stages_ = read_stages(j["stages"], file.string());
  } catch (const ojson::exception& e) {
    throw not_a_manifest(std::string("a stage entry is malformed: ") + e.what());
  }
  return m;
}

const StageEntry* Manifest::find(const std::string& name) const {
  for (const auto& s : stages_)
    if (s.name == name) return &s;
  return nullptr;
}

void Manifest::put(const StageEntry& entry) {
  for (auto& s : stages_)
    if (s.name == entry.name) {
      s = entry;
      return;
    }
  stages_.push_back(entry);
}

void Manifest::save() const {
  ojson j = ojson::object();
  j["format"] = "popalign-run-manifest/1";
  j["stages"] = ojson::array();
  for (const auto& s : stages_) {
    ojson o = ojson::object();
    o["name"] = s.name;
    o["status"] = s.status;
    o["key"] = s.key;
    o["options"] = ojson::parse(s.options.empty() ? "{}" : s.options);
    o["inputs"] = map_json(s.inputs);
    o["outputs"] = map_json(s.outputs);
    o["counts"] = map_json(s.counts);
    o["seconds"] = s.seconds;
    o["calls"] = s.calls;
    o["cached_calls"] = s.cached_calls;
    o["failed_calls"] = s.failed_calls;
    o["prompt_tokens"] = s.prompt_tokens;
    o["completion_tokens"] = s.completion_tokens;
    o["cost"] = s.cost;
    j["stages"].push_back(std::move(o));
  }
  io::write_file_atomically(run_dir_ / "manifest.json", j.dump(2) + "\n");
}

}  // namespace popalign::pipeline
