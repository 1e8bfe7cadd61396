// CachedBackend: SQLite (WAL) cache of successful calls keyed by the request hash.
#include <sqlite3.h>

#include <chrono>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <popalign/llm/cache.hpp>

#include "json_io.hpp"

namespace popalign::llm {

void CacheOptions::validate() const {
  check_argument(!path.empty(), "path", "the cache needs a database file path");
  check_argument(busy_timeout.count() >= 0, "busy_timeout", "must be >= 0 ms");
  check_argument(commit_rows >= 1, "commit_rows", "must be >= 1");
  check_argument(commit_interval.count() >= 0, "commit_interval", "must be >= 0 seconds");
}

struct CachedBackend::Impl {
  CacheOptions options;
  std::mutex mutex;
  sqlite3* db = nullptr;
  sqlite3_stmt* select = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* count = nullptr;
  CacheStats stats;
  // Answers not committed yet (commit_rows > 1), in arrival order, and their index by key.
  std::vector<std::tuple<std::string, std::string, std::string>> pending;
  std::unordered_map<std::string, Response> pending_by_key;
  std::chrono::steady_clock::time_point first_pending{};

  [[noreturn]] void fail(const std::string& what) const {
    throw IoError(options.path, what + ": " + (db ? sqlite3_errmsg(db) : "cannot open"));
  }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw IoError(options.path, std::string("SQLite: ") + msg + " (in: " + sql + ")");
    }
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) fail("SQLite prepare");
    return s;
  }

  explicit Impl(CacheOptions o) : options(std::move(o)) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
      std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      db = nullptr;
      throw IoError(options.path, "cannot open the LLM cache database: " + msg);
    }
    try {
      sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
      // WAL: readers never block the writer, a crash (kill -9) rolls back to the last commit.
      exec("PRAGMA journal_mode=WAL");
      exec("PRAGMA synchronous=NORMAL");
      exec(
          "CREATE TABLE IF NOT EXISTS popalign_llm_cache ("
          " key TEXT PRIMARY KEY NOT NULL,"
          " request TEXT NOT NULL,"
          " response TEXT NOT NULL,"
          " created_unix INTEGER NOT NULL)");
      select = prepare("SELECT response FROM popalign_llm_cache WHERE key = ?1");
      insert = prepare(
          "INSERT OR IGNORE INTO popalign_llm_cache (key, request, response, created_unix) "
          "VALUES (?1, ?2, ?3, ?4)");
      count = prepare("SELECT COUNT(*) FROM popalign_llm_cache");
    } catch (...) {
      close();
      throw;
    }
  }
  void close() {
    sqlite3_finalize(select);
    sqlite3_finalize(insert);
    sqlite3_finalize(count);
    select = insert = count = nullptr;
    if (db) sqlite3_close(db);
    db = nullptr;
  }
  ~Impl() {
    try {
      commit_pending();
    } catch (...) {  // a destructor must not throw; the answers are asked again next time
    }
    close();
  }

  std::optional<Response> get(const std::string& key) {
    if (!pending_by_key.empty()) {
      auto it = pending_by_key.find(key);
      if (it != pending_by_key.end()) {
        Response r = it->second;
        r.from_cache = true;
        return r;
      }
    }
    sqlite3_reset(select);
    sqlite3_bind_text(select, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(select);
    if (rc == SQLITE_DONE) return std::nullopt;
    if (rc != SQLITE_ROW) fail("SQLite lookup");
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(select, 0));
    const int len = sqlite3_column_bytes(select, 0);
    std::string json(text ? text : "", static_cast<std::size_t>(len));
    sqlite3_reset(select);
    try {
      Response r = response_from_json(json);
      r.from_cache = true;
      return r;
    } catch (const Error&) {
      return std::nullopt;  // an unreadable entry is a miss; the new answer will not replace it
    }
  }

  /// Queues rows (with their responses, for lookups until committed) and commits when
  /// commit_rows are pending or the oldest is older than commit_interval.
  void put(std::vector<std::tuple<std::string, std::string, std::string>>&& rows,
           std::vector<Response>&& responses) {
    const auto now = std::chrono::steady_clock::now();
    if (options.commit_rows <= 1) {
      commit(rows);
      return;
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (pending.empty()) first_pending = now;
      if (!pending_by_key.emplace(std::get<0>(rows[i]), std::move(responses[i])).second) continue;
      pending.push_back(std::move(rows[i]));
    }
    if (pending.size() >= options.commit_rows ||
        (!pending.empty() && now - first_pending >= options.commit_interval))
      commit_pending();
  }

  void commit_pending() {
    if (pending.empty()) return;
    commit(pending);
    pending.clear();
    pending_by_key.clear();
  }

  void commit(const std::vector<std::tuple<std::string, std::string, std::string>>& rows) {
    if (rows.empty()) return;
    exec("BEGIN IMMEDIATE");
    try {
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      for (const auto& [key, request, response] : rows) {
        sqlite3_reset(insert);
        sqlite3_bind_text(insert, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 2, request.data(), static_cast<int>(request.size()),
                          SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 3, response.data(), static_cast<int>(response.size()),
                          SQLITE_TRANSIENT);
        sqlite3_bind_int64(insert, 4, static_cast<sqlite3_int64>(now));
        if (sqlite3_step(insert) != SQLITE_DONE) fail("SQLite insert");
        if (sqlite3_changes(db) > 0) ++stats.stores;
      }
      sqlite3_reset(insert);
      exec("COMMIT");
    } catch (...) {
      sqlite3_reset(insert);
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
};

CachedBackend::CachedBackend(std::shared_ptr<LlmBackend> inner, CacheOptions options)
    : inner_(std::move(inner)) {
  check_argument(inner_ != nullptr, "inner", "must not be null");
  options.validate();
  impl_ = std::make_unique<Impl>(std::move(options));
}

CachedBackend::~CachedBackend() = default;

namespace {
Request with_model(const Request& r, const std::string& default_model) {
  if (!r.model.empty() || default_model.empty()) return r;
  Request copy = r;
  copy.model = default_model;
  return copy;
}
}  // namespace

namespace {
std::string salted_key(const std::string& salt, const std::string& canonical) {
  if (salt.empty()) return sha256_hex(canonical);
  return sha256_hex(salt + '\n' + canonical);
}
}  // namespace

std::string CachedBackend::key(const Request& request) const {
  return salted_key(impl_->options.key_salt,
                    canonical_request(with_model(request, inner_->default_model())));
}

std::optional<Response> CachedBackend::lookup(const Request& request) {
  const std::string k = key(request);
  std::lock_guard lock(impl_->mutex);
  return impl_->get(k);
}

void CachedBackend::flush() {
  std::lock_guard lock(impl_->mutex);
  impl_->commit_pending();
}

std::uint64_t CachedBackend::size() {
  std::lock_guard lock(impl_->mutex);
  impl_->commit_pending();
  sqlite3_reset(impl_->count);
  if (sqlite3_step(impl_->count) != SQLITE_ROW) impl_->fail("SQLite count");
  const auto n = static_cast<std::uint64_t>(sqlite3_column_int64(impl_->count, 0));
  sqlite3_reset(impl_->count);
  return n;
}

CacheStats CachedBackend::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

std::vector<Outcome> CachedBackend::complete(std::span<const Request> batch) {
  const std::size_t n = batch.size();
  std::vector<std::string> keys(n);
  std::vector<std::string> canonical(n);
  const std::string model = inner_->default_model();
  for (std::size_t i = 0; i < n; ++i) {
    canonical[i] = batch[i].model.empty() && !model.empty()
                       ? canonical_request(with_model(batch[i], model))
                       : canonical_request(batch[i]);
    keys[i] = salted_key(impl_->options.key_salt, canonical[i]);
  }

  std::vector<std::optional<Outcome>> slots(n);
  std::vector<std::size_t> miss_first;                     // one index per distinct missing key
  std::unordered_map<std::string, std::size_t> miss_slot;  // key -> position in miss_first
  std::vector<std::size_t> miss_of(n, SIZE_MAX);
  {
    std::lock_guard lock(impl_->mutex);
    for (std::size_t i = 0; i < n; ++i) {
      if (impl_->options.read) {
        if (auto hit = impl_->get(keys[i])) {
          slots[i].emplace(std::move(*hit));
          ++impl_->stats.hits;
          continue;
        }
      }
      ++impl_->stats.misses;
      auto [it, inserted] = miss_slot.emplace(keys[i], miss_first.size());
      if (inserted) miss_first.push_back(i);
      miss_of[i] = it->second;
    }
  }
  if (!miss_first.empty()) {
    std::vector<Request> to_send;
    to_send.reserve(miss_first.size());
    for (std::size_t i : miss_first) to_send.push_back(batch[i]);
    std::vector<Outcome> out = inner_->complete(to_send);
    if (out.size() != to_send.size())
      throw BackendError(inner_->name() + ": complete() returned " + std::to_string(out.size()) +
                         " outcomes for " + std::to_string(to_send.size()) + " requests");
    if (impl_->options.write) {
      std::vector<std::tuple<std::string, std::string, std::string>> rows;
      std::vector<Response> responses;
      const bool keep = impl_->options.commit_rows > 1;
      for (std::size_t m = 0; m < out.size(); ++m) {
        if (!out[m].ok()) continue;  // never store a failure
        const std::size_t i = miss_first[m];
        Response stored = out[m].value();
        stored.from_cache = false;
        rows.emplace_back(keys[i], std::move(canonical[i]), response_to_json(stored));
        if (keep) responses.push_back(std::move(stored));
      }
      std::lock_guard lock(impl_->mutex);
      impl_->put(std::move(rows), std::move(responses));
    }
    for (std::size_t i = 0; i < n; ++i)
      if (!slots[i]) slots[i].emplace(out[miss_of[i]]);
  }
  std::vector<Outcome> result;
  result.reserve(n);
  for (auto& s : slots) result.push_back(std::move(*s));
  return result;
}

}  // namespace popalign::llm
