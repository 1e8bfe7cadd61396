#pragma once
// The run manifest (<run_dir>/manifest.json): one entry per stage with the content hashes of its
// inputs, its options, the hashes of its outputs, counts, timing, calls and cost.
//
// A stage's key is the SHA-256 of its name, its canonical options text and its inputs' hashes.
// On the next run a stage is skipped when the manifest holds an entry with status "done", the
// same key, and every output file still has the recorded hash; an entry with status "running"
// and the same key is a stage a killed run left unfinished: it is run again and resumes from its
// partial files (and the LLM cache); any other key means the stage's folder is cleared first.
//
// JSON (one object, keys in a fixed order, written atomically after every change):
//   {"format": "popalign-run-manifest/1",
//    "stages": [{"name", "status": "running"|"done", "key", "options": {...},
//                "inputs": {path: sha256}, "outputs": {path: sha256},
//                "counts": {name: number}, "seconds", "calls", "cached_calls", "failed_calls",
//                "prompt_tokens", "completion_tokens", "cost"}, ...]}
// Paths inside the run directory are written relative to it. Timings and call counts differ
// between an interrupted and an uninterrupted run; the output files themselves do not.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace popalign::pipeline {

struct StageEntry {
  std::string name;
  std::string status = "running";  ///< "running" | "done"
  std::string key;
  std::string options;                         ///< canonical JSON text of the stage's options
  std::map<std::string, std::string> inputs;   ///< path -> sha256
  std::map<std::string, std::string> outputs;  ///< path -> sha256
  std::map<std::string, double> counts;
  double seconds = 0;
  std::uint64_t calls = 0, cached_calls = 0, failed_calls = 0;
  std::int64_t prompt_tokens = 0, completion_tokens = 0;
  double cost = 0;
};

class Manifest {
 public:
  /// Reads <run_dir>/manifest.json when it exists (ParseError naming the file when it is not a
  /// manifest), else an empty manifest.
  static Manifest load(const std::filesystem::path& run_dir);

  const StageEntry* find(const std::string& name) const;
  /// Inserts or replaces the entry of that name (stage order: first insertion).
  void put(const StageEntry& entry);
  /// Writes the manifest atomically.
  void save() const;
  const std::vector<StageEntry>& stages() const noexcept { return stages_; }
  const std::filesystem::path& run_dir() const noexcept { return run_dir_; }

 private:
  std::filesystem::path run_dir_;
  std::vector<StageEntry> stages_;
};

/// SHA-256 (hex) of a file's bytes; of a directory: of its regular files' names and hashes in
/// name order (not recursive). IoError when missing.
std::string hash_path(const std::filesystem::path& path);

/// The stage key: SHA-256 over name, options and the inputs' hashes.
std::string stage_key(const std::string& name, const std::string& options,
                      const std::map<std::string, std::string>& inputs);

}  // namespace popalign::pipeline
