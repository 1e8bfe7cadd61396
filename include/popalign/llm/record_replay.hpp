#pragma once
// Record/replay of calls as JSONL, for reproducible pipelines and offline tests.
//
// RecordingBackend appends one line per call (successes and failures) to a JSONL file:
//   {"key": <request key>, "request": <canonical request>, "response": {...}}   or
//   {"key": ..., "request": ..., "failure": {"kind": "server", "http_status": 503, ...}}
// Lines are written whole and flushed under a mutex, so a killed process leaves at most one
// partial last line, which ReplayBackend skips with a warning count (partial_lines()).
//
// ReplayBackend loads such a file and answers requests from it by key (the last success for a
// key wins; recorded failures are replayed only with replay_failures). A request not in the
// file is answered by the fallback backend when one is given, else with
// Failure{ErrorKind::not_found, "not in replay file ..."}.
#include <cstdint>
#include <fstream>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <popalign/llm/backend.hpp>

namespace popalign::llm {

class RecordingBackend final : public LlmBackend {
 public:
  /// Opens `path` for appending (created if missing); throws IoError naming it on failure.
  RecordingBackend(std::shared_ptr<LlmBackend> inner, std::string path);

  std::vector<Outcome> complete(std::span<const Request> batch) override;
  std::string name() const override { return "record(" + inner_->name() + ")"; }
  std::string default_model() const override { return inner_->default_model(); }

 private:
  std::shared_ptr<LlmBackend> inner_;
  std::string path_;
  std::mutex mutex_;
  std::ofstream out_;
};

struct ReplayOptions {
  std::string path;                      ///< the JSONL file written by RecordingBackend
  std::shared_ptr<LlmBackend> fallback;  ///< answers misses; null = misses fail (not_found)
  bool replay_failures = false;          ///< also replay recorded failures
  std::string default_model;             ///< filled into requests with an empty model

  void validate() const;
};

class ReplayBackend final : public LlmBackend {
 public:
  /// Loads the file; throws IoError (missing file) or ParseError naming file and line for a
  /// malformed line that is not the last one.
  explicit ReplayBackend(ReplayOptions options);

  std::vector<Outcome> complete(std::span<const Request> batch) override;
  std::string name() const override { return "replay(" + options_.path + ")"; }
  std::string default_model() const override { return options_.default_model; }

  std::size_t size() const noexcept { return entries_.size(); }
  std::size_t partial_lines() const noexcept { return partial_lines_; }

 private:
  ReplayOptions options_;
  std::unordered_map<std::string, Outcome> entries_;
  std::size_t partial_lines_ = 0;
};

}  // namespace popalign::llm
