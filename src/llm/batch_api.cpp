// BatchApiBackend: the OpenAI Batch API (files + batches) with a state file for resumption.
#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include <popalign/io/output.hpp>
#include <popalign/llm/batch_api.hpp>

#include "json_io.hpp"

namespace popalign::llm {

using json = nlohmann::json;

void BatchApiOptions::validate() const {
  http.validate();
  check_argument(!state_file.empty(), "state_file", "the Batch API needs a state file");
  check_argument(max_requests_per_batch >= 1, "max_requests_per_batch", "must be >= 1");
  check_argument(max_bytes_per_batch >= 1024, "max_bytes_per_batch", "must be >= 1024");
  check_argument(!completion_window.empty(), "completion_window", "must not be empty");
  check_argument(std::isfinite(poll_initial.count()) && poll_initial.count() >= 0, "poll_initial",
                 "must be >= 0 seconds");
  check_argument(std::isfinite(poll_multiplier) && poll_multiplier >= 1, "poll_multiplier",
                 "must be >= 1");
  check_argument(std::isfinite(poll_max.count()) && poll_max.count() >= 0, "poll_max",
                 "must be >= 0 seconds");
  check_argument(max_rounds >= 1, "max_rounds", "must be >= 1");
}

namespace {

struct Reply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::string error;
};

std::size_t append_cb(char* data, std::size_t size, std::size_t nmemb, void* user) {
  static_cast<std::string*>(user)->append(data, size * nmemb);
  return size * nmemb;
}

bool terminal(const std::string& status) {
  return status == "completed" || status == "failed" || status == "expired" ||
         status == "cancelled";
}
bool failed_status(const std::string& status) {
  return status == "failed" || status == "expired" || status == "cancelled";
}

struct BatchRecord {
  std::string input_file_id;
  std::string batch_id;  // "" = uploaded, creation not recorded
  std::string status;    // last status seen ("uploaded", "validating", ..., "completed")
  std::string endpoint;  // "/v1/chat/completions" or "/v1/completions"
  std::vector<std::string> ids;
};

}  // namespace

struct BatchApiBackend::Impl {
  BatchApiOptions options;
  OpenAiBackend online_format;  // request bodies and response parsing of the online path
  std::string root;
  mutable std::mutex mutex;
  BatchApiStats stats;
  std::vector<BatchRecord> records;

  explicit Impl(BatchApiOptions o) : options(std::move(o)), online_format(options.http) {
    root = online_format.api_root();
  }

  void log(const std::string& m) const {
    if (options.log) options.log(m);
  }

  std::string api_key() const {
    if (options.http.api_key_env.empty()) return {};
    const char* v = std::getenv(options.http.api_key_env.c_str());
    return v ? std::string(v) : std::string();
  }

  /// One HTTP exchange; `file` (name, content) makes it a multipart upload with purpose=batch.
  Reply exchange(const std::string& method, const std::string& path, const std::string* body,
                 const std::pair<std::string, const std::string*>* file = nullptr) const {
    Reply r;
    CURL* e = curl_easy_init();
    if (!e) throw BackendError("curl_easy_init failed");
    curl_slist* headers = nullptr;
    curl_mime* mime = nullptr;
    char errbuf[CURL_ERROR_SIZE] = {};
    const std::string url = root + path;
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.http.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.http.total_timeout.count()));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options.http.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options.http.verify_tls ? 2L : 0L);
    if (!options.http.ca_bundle.empty())
      curl_easy_setopt(e, CURLOPT_CAINFO, options.http.ca_bundle.c_str());
    curl_easy_setopt(e, CURLOPT_USERAGENT, options.http.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, append_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    headers = curl_slist_append(headers, "Expect:");
    const std::string key = api_key();
    if (!key.empty())
      headers = curl_slist_append(headers, ("Authorization: Bearer " + key).c_str());
    for (const auto& [k, v] : options.http.extra_headers)
      headers = curl_slist_append(headers, (k + ": " + v).c_str());
    if (file) {
      mime = curl_mime_init(e);
      curl_mimepart* part = curl_mime_addpart(mime);
      curl_mime_name(part, "purpose");
      curl_mime_data(part, "batch", CURL_ZERO_TERMINATED);
      part = curl_mime_addpart(mime);
      curl_mime_name(part, "file");
      curl_mime_filename(part, file->first.c_str());
      curl_mime_type(part, "application/jsonl");
      curl_mime_data(part, file->second->data(), file->second->size());
      curl_easy_setopt(e, CURLOPT_MIMEPOST, mime);
    } else if (method == "POST") {
      headers = curl_slist_append(headers, "Content-Type: application/json");
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body->c_str() : "");
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(body ? body->size() : 0));
    } else {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    r.code = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
    r.error = errbuf;
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    curl_easy_cleanup(e);
    return r;
  }

  /// exchange() with up to 5 tries on transient errors; throws LlmError otherwise; the JSON.
  std::string call(const std::string& method, const std::string& path,
                   const std::string* body = nullptr,
                   const std::pair<std::string, const std::string*>* file = nullptr) {
    Failure last;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (attempt) wait(std::chrono::duration<double>(std::min(0.2 * std::pow(2.0, attempt), 5.0)));
      const Reply r = exchange(method, path, body, file);
      if (r.code == CURLE_OK && r.status >= 200 && r.status < 300) return r.body;
      if (r.code != CURLE_OK) {
        last =
            Failure{r.code == CURLE_OPERATION_TIMEDOUT ? ErrorKind::timeout : ErrorKind::transport,
                    0,
                    method + " " + path + ": " + curl_easy_strerror(r.code) + " " + r.error,
                    {}};
      } else {
        last = Failure{error_kind_of_http_status(r.status),
                       static_cast<int>(r.status),
                       method + " " + path + ": HTTP " + std::to_string(r.status) + ": " +
                           r.body.substr(0, 300),
                       {}};
      }
      if (!retryable(last.kind)) break;
    }
    throw LlmError(last);
  }

  void wait(std::chrono::duration<double> d) const {
    if (options.sleep)
      options.sleep(d);
    else
      std::this_thread::sleep_for(d);
  }

  // ---- State file ----

  void load_state() {
    records.clear();
    std::ifstream in(options.state_file, std::ios::binary);
    if (!in) return;
    std::ostringstream ss;
    ss << in.rdbuf();
    const json j = detail::parse_or_discard(ss.str());
    const std::string file = options.state_file.string();
    if (j.is_discarded() || !j.is_object() || !j.contains("batches") || !j["batches"].is_array())
      throw ParseError(file, "not a popalign Batch API state file (expected {\"batches\": [...]})");
    for (const auto& b : j["batches"]) {
      BatchRecord r;
      try {
        r.input_file_id = b.at("input_file_id").get<std::string>();
        r.batch_id = b.value("batch_id", std::string());
        r.status = b.value("status", std::string());
        r.endpoint = b.value("endpoint", std::string("/v1/chat/completions"));
        r.ids = b.at("custom_ids").get<std::vector<std::string>>();
      } catch (const json::exception& e) {
        throw ParseError(file, std::string("a batch record is malformed: ") + e.what());
      }
      records.push_back(std::move(r));
    }
  }

  void save_state() const {
    json batches = json::array();
    for (const auto& r : records)
      batches.push_back({{"input_file_id", r.input_file_id},
                         {"batch_id", r.batch_id},
                         {"status", r.status},
                         {"endpoint", r.endpoint},
                         {"custom_ids", r.ids}});
    const json j = {{"format", "popalign-batch-state-1"}, {"batches", std::move(batches)}};
    // io::OutputFile: atomic for a regular file, written through a symlink (docs/cli.md).
    io::write_file_atomically(options.state_file, j.dump() + "\n");
  }

  // ---- Provider calls ----

  std::string upload(const std::string& jsonl, std::size_t part) {
    const std::string name = "popalign-batch-" + std::to_string(part) + ".jsonl";
    const std::pair<std::string, const std::string*> file{name, &jsonl};
    const json j = detail::parse_or_discard(call("POST", "/files", nullptr, &file));
    if (j.is_discarded() || !j.contains("id") || !j["id"].is_string())
      throw LlmError(Failure{ErrorKind::invalid_response, 200, "POST /files: no file id", {}});
    std::lock_guard lock(mutex);
    ++stats.files_uploaded;
    return j["id"].get<std::string>();
  }

  std::string create(const std::string& file_id, const std::string& endpoint) {
    const std::string body = json{{"input_file_id", file_id},
                                  {"endpoint", endpoint},
                                  {"completion_window", options.completion_window},
                                  {"metadata", {{"created_by", "popalign"}}}}
                                 .dump();
    const json j = detail::parse_or_discard(call("POST", "/batches", &body));
    if (j.is_discarded() || !j.contains("id") || !j["id"].is_string())
      throw LlmError(Failure{ErrorKind::invalid_response, 200, "POST /batches: no batch id", {}});
    std::lock_guard lock(mutex);
    ++stats.batches_created;
    return j["id"].get<std::string>();
  }

  /// The provider's batch made from `file_id`, if any (GET /batches, newest first, paged).
  std::string find_batch(const std::string& file_id) {
    std::string after;
    for (int page = 0; page < 100; ++page) {
      const std::string path = "/batches?limit=100" + (after.empty() ? "" : "&after=" + after);
      const json j = detail::parse_or_discard(call("GET", path));
      if (j.is_discarded() || !j.contains("data") || !j["data"].is_array()) return {};
      for (const auto& b : j["data"])
        if (b.value("input_file_id", std::string()) == file_id) return b.value("id", std::string());
      if (!j.value("has_more", false) || j["data"].empty()) return {};
      after = j["data"].back().value("id", std::string());
    }
    return {};
  }

  // ---- One run ----

  /// Polls every record in `active` until each has ended; fills `answers` from the files.
  /// Returns false when cancelled.
  bool wait_for(const std::vector<std::size_t>& active,
                const std::unordered_map<std::string, const Request*>& request_of,
                std::unordered_map<std::string, Outcome>& answers) {
    std::vector<std::size_t> open = active;
    int round = 0;
    while (!open.empty()) {
      std::vector<std::size_t> still;
      for (std::size_t k : open) {
        BatchRecord& rec = records[k];
        const json b = detail::parse_or_discard(call("GET", "/batches/" + rec.batch_id));
        if (b.is_discarded() || !b.is_object())
          throw LlmError(Failure{
              ErrorKind::invalid_response, 200, "GET /batches/" + rec.batch_id + ": not JSON", {}});
        const std::string status = b.value("status", std::string());
        if (status != rec.status) {
          log("batch " + rec.batch_id + " (" + std::to_string(rec.ids.size()) +
              " requests): " + status);
          rec.status = status;
          save_state();
        }
        if (!terminal(status)) {
          still.push_back(k);
          continue;
        }
        if (failed_status(status)) {
          std::lock_guard lock(mutex);
          ++stats.batches_failed;
        }
        for (const char* field : {"output_file_id", "error_file_id"}) {
          if (!b.contains(field) || !b[field].is_string()) continue;
          const std::string content =
              call("GET", "/files/" + b[field].get<std::string>() + "/content");
          for (BatchResultLine& line : parse_batch_results(content)) {
            auto it = request_of.find(line.custom_id);
            if (it == request_of.end()) continue;  // another run's request in a reused batch
            Outcome o = line.ok ? online_format.parse_response_body(line.body, *it->second)
                                : Outcome(std::move(line.failure));
            auto have = answers.find(line.custom_id);
            if (have != answers.end() && have->second.ok()) continue;
            {
              std::lock_guard lock(mutex);
              ++(o.ok() ? stats.answered : stats.errors);
            }
            answers.insert_or_assign(line.custom_id, std::move(o));
          }
        }
      }
      open = std::move(still);
      if (open.empty()) break;
      if (options.cancel.cancelled()) return false;
      const double w = std::min(
          options.poll_max.count(),
          options.poll_initial.count() * std::pow(options.poll_multiplier, std::min(round, 60)));
      wait(std::chrono::duration<double>(w));
      ++round;
      if (options.cancel.cancelled()) return false;
    }
    return true;
  }

  /// Uploads and creates batches for `ids`, split at the limits; returns their record indices.
  std::vector<std::size_t> submit(
      const std::vector<std::string>& ids,
      const std::unordered_map<std::string, const Request*>& request_of) {
    std::vector<std::size_t> made;
    // One endpoint per batch (the Batch API requires it): chat and completions apart.
    for (const bool chat : {true, false}) {
      std::string jsonl;
      std::vector<std::string> part_ids;
      const std::string url = std::string("/v1") + (chat ? "/chat/completions" : "/completions");
      auto flush = [&] {
        if (part_ids.empty()) return;
        BatchRecord rec;
        rec.ids = part_ids;
        rec.status = "uploaded";
        rec.endpoint = url;
        rec.input_file_id = upload(jsonl, records.size());
        records.push_back(rec);
        save_state();  // the upload is known before the batch exists: never created twice
        BatchRecord& r = records.back();
        r.batch_id = create(r.input_file_id, url);
        r.status = "created";
        save_state();
        log("batch " + r.batch_id + " created with " + std::to_string(r.ids.size()) +
            " requests (" + std::to_string(jsonl.size()) + " bytes)");
        made.push_back(records.size() - 1);
        jsonl.clear();
        part_ids.clear();
      };
      for (const std::string& id : ids) {
        const Request& r = *request_of.at(id);
        if (r.prompt.empty() != chat) continue;
        const std::string line = R"({"custom_id":")" + id + R"(","method":"POST","url":")" + url +
                                 R"(","body":)" + online_format.request_body(r) + "}\n";
        if (!part_ids.empty() && (part_ids.size() >= options.max_requests_per_batch ||
                                  jsonl.size() + line.size() > options.max_bytes_per_batch))
          flush();
        if (line.size() > options.max_bytes_per_batch)
          throw InvalidArgument("max_bytes_per_batch", "one request's line is " +
                                                           std::to_string(line.size()) +
                                                           " bytes, more than the limit");
        jsonl += line;
        part_ids.push_back(id);
      }
      flush();
    }
    return made;
  }
};

BatchApiBackend::BatchApiBackend(BatchApiOptions options) {
  options.validate();
  impl_ = std::make_unique<Impl>(std::move(options));
}

BatchApiBackend::~BatchApiBackend() = default;

std::string BatchApiBackend::name() const { return "batch_api(" + impl_->root + ")"; }
std::string BatchApiBackend::default_model() const { return impl_->options.http.model; }

BatchApiStats BatchApiBackend::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

std::string BatchApiBackend::custom_id(const Request& request) const {
  if (!request.model.empty() || impl_->options.http.model.empty()) return request_hash(request);
  Request copy = request;
  copy.model = impl_->options.http.model;
  return request_hash(copy);
}

std::vector<Outcome> BatchApiBackend::complete(std::span<const Request> batch) {
  Impl& im = *impl_;
  const std::size_t n = batch.size();
  std::vector<std::string> ids(n);
  std::unordered_map<std::string, const Request*> request_of;
  std::vector<std::string> distinct;
  for (std::size_t i = 0; i < n; ++i) {
    batch[i].validate();
    ids[i] = custom_id(batch[i]);
    if (request_of.emplace(ids[i], &batch[i]).second) distinct.push_back(ids[i]);
  }
  std::unordered_map<std::string, Outcome> answers;
  bool cancelled = false;
  std::optional<Failure> provider_failure;  // a files / batches call that failed for good
  if (n) try {
      im.load_state();
      // Batches of earlier runs that hold some of these requests: used again, never resubmitted.
      std::unordered_set<std::string> covered;
      std::vector<std::size_t> active;
      for (std::size_t k = 0; k < im.records.size(); ++k) {
        BatchRecord& rec = im.records[k];
        if (failed_status(rec.status)) continue;
        bool ours = false;
        for (const auto& id : rec.ids) ours = ours || request_of.count(id);
        if (!ours) continue;
        if (rec.batch_id.empty()) {
          rec.batch_id = im.find_batch(rec.input_file_id);
          if (rec.batch_id.empty()) {
            rec.batch_id = im.create(rec.input_file_id, rec.endpoint);
            im.log("batch " + rec.batch_id + " created from the upload of an interrupted run");
          } else {
            im.log("batch " + rec.batch_id + " of an interrupted run found by its input file");
          }
          rec.status = "created";
          im.save_state();
        } else {
          im.log("batch " + rec.batch_id + " of an earlier run resumed (" + rec.status + ")");
        }
        {
          std::lock_guard lock(im.mutex);
          ++im.stats.batches_resumed;
        }
        for (const auto& id : rec.ids) covered.insert(id);
        active.push_back(k);
      }
      std::vector<std::string> todo;
      for (const auto& id : distinct)
        if (!covered.count(id)) todo.push_back(id);
      for (int round = 0; round < im.options.max_rounds; ++round) {
        for (std::size_t k : im.submit(todo, request_of)) active.push_back(k);
        if (!im.wait_for(active, request_of, answers)) {
          cancelled = true;
          break;
        }
        active.clear();
        todo.clear();
        for (const auto& id : distinct) {
          auto it = answers.find(id);
          if (it == answers.end() || (!it->second.ok() && retryable(it->second.error().kind)))
            todo.push_back(id);
        }
        if (todo.empty()) break;
        if (im.options.online) {
          std::vector<Request> again;
          for (const auto& id : todo) again.push_back(*request_of.at(id));
          std::vector<Outcome> out = im.options.online->complete(again);
          for (std::size_t k = 0; k < todo.size() && k < out.size(); ++k)
            answers.insert_or_assign(todo[k], std::move(out[k]));
          std::lock_guard lock(im.mutex);
          im.stats.retried_online += todo.size();
          break;
        }
        if (round + 1 < im.options.max_rounds) {
          std::lock_guard lock(im.mutex);
          im.stats.retried_in_batch += todo.size();
        }
      }
    } catch (const LlmError& e) {
      provider_failure = e.failure();
      im.log("batch: " + std::string(e.what()));
    } catch (const json::exception& e) {
      // A member of the wrong type in a provider's answer (files, batches): an invalid answer.
      provider_failure =
          Failure{ErrorKind::invalid_response,
                  200,
                  std::string("batch: a malformed answer of the provider: ") + e.what(),
                  {}};
      im.log(provider_failure->message);
    }
  std::vector<Outcome> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto it = answers.find(ids[i]);
    if (it != answers.end())
      out.push_back(it->second);
    else if (provider_failure)
      out.push_back(*provider_failure);
    else if (cancelled)
      out.push_back(Failure{
          ErrorKind::cancelled, 0, "cancelled while waiting for the batch (rerun to resume)", {}});
    else
      out.push_back(Failure{ErrorKind::server, 0, "batch: no answer for this request", {}});
  }
  return out;
}

}  // namespace popalign::llm
