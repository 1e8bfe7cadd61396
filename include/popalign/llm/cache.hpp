#pragma once
// CachedBackend: a persistent SQLite cache of successful calls.
//
// Key: SHA-256 of the canonical request (llm/types.hpp request_hash) after an empty model is
// replaced by the inner backend's default_model(), so the key covers model, seed, sampling
// settings, schema and every message. The API key is never part of a request, so never stored.
//
// Only successes are stored: a Failure is passed through and never written, so a rerun retries
// it. A hit returns the stored Response with from_cache = true.
//
// Durability and concurrency: the database runs in WAL mode with synchronous=NORMAL, so a
// process killed at any moment (kill -9) leaves a consistent database (at worst the last
// transactions are lost, never a corrupt file). New answers are committed in batches (INSERT
// OR IGNORE: the first answer stored for a key wins, so concurrent writers agree): with the
// default commit_rows = 1 every complete() call's answers are one transaction at its end; with
// commit_rows = R they wait in memory (served to lookups of this object meanwhile) until R
// are pending or the oldest has waited commit_interval, then go in one transaction, so a
// kill -9 loses at most the pending ones (asked again on the rerun) and a run of 10^6 calls
// pays 10^6 / R commits instead of 10^6. flush() and the destructor commit what is pending.
// Several CachedBackend objects, threads and processes may use one file at the same time; a
// busy database is waited for up to busy_timeout. Each CachedBackend holds one connection
// guarded by a mutex.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <popalign/llm/backend.hpp>

namespace popalign::llm {

struct CacheOptions {
  std::string path;   ///< SQLite file (created if missing); required
  bool read = true;   ///< serve hits
  bool write = true;  ///< store new successes
  std::chrono::milliseconds busy_timeout{30'000};
  /// Extra text mixed into every key (e.g. a prompt-template version), "" = none.
  std::string key_salt;
  /// New answers per transaction (>= 1); 1 = commit at the end of every complete() call.
  std::size_t commit_rows = 1;
  /// Pending answers older than this are committed at the next complete() call (>= 0 s).
  std::chrono::duration<double> commit_interval{1.0};

  void validate() const;
};

/// Cache statistics since construction.
struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t stores = 0;
};

class CachedBackend final : public LlmBackend {
 public:
  /// Opens (creating if needed) the database; throws popalign::IoError naming the file when it
  /// cannot be opened or is not a popalign cache.
  CachedBackend(std::shared_ptr<LlmBackend> inner, CacheOptions options);
  ~CachedBackend() override;
  CachedBackend(const CachedBackend&) = delete;
  CachedBackend& operator=(const CachedBackend&) = delete;

  std::vector<Outcome> complete(std::span<const Request> batch) override;
  std::string name() const override { return "cache(" + inner_->name() + ")"; }
  std::string default_model() const override { return inner_->default_model(); }

  /// The key used for a request (after filling the default model, with the salt).
  std::string key(const Request& request) const;
  /// Looks a request up without calling the backend.
  std::optional<Response> lookup(const Request& request);
  /// Number of stored entries (commits pending ones first).
  std::uint64_t size();
  /// Commits the pending answers now.
  void flush();
  CacheStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<LlmBackend> inner_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace popalign::llm
