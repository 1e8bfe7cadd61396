// OpenAiBackend: the OpenAI-compatible REST API over libcurl's multi interface.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <mutex>

#include <nlohmann/json.hpp>

#include <popalign/llm/openai_client.hpp>

#include "json_io.hpp"

namespace popalign::llm {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

void OpenAiOptions::validate() const {
  check_argument(base_url.rfind("http://", 0) == 0 || base_url.rfind("https://", 0) == 0,
                 "base_url", "must start with http:// or https:// (got '" + base_url + "')");
  check_argument(connect_timeout.count() > 0, "connect_timeout", "must be > 0 ms");
  check_argument(total_timeout.count() > 0, "total_timeout", "must be > 0 ms");
  check_argument(max_in_flight >= 1, "max_in_flight", "must be >= 1");
  check_argument(embedding_batch_size >= 1, "embedding_batch_size", "must be >= 1");
  for (const auto& [k, v] : extra_headers) {
    check_argument(!k.empty() && k.find_first_of(":\r\n") == std::string::npos, "extra_headers",
                   "header name '" + k + "' is empty or contains ':' or a line break");
    check_argument(v.find_first_of("\r\n") == std::string::npos, "extra_headers",
                   "value of header '" + k + "' contains a line break");
  }
}

namespace {

std::once_flag curl_init_flag;

/// One HTTP exchange to run.
struct HttpCall {
  bool post = true;
  std::string url;
  std::string body;
};

/// What came back.
struct HttpResult {
  CURLcode curl = CURLE_OK;
  long status = 0;
  std::string body;
  std::optional<double> retry_after;
  std::string curl_error;
};

struct Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::size_t index = 0;
  HttpResult result;
  char errbuf[CURL_ERROR_SIZE] = {};
  bool retry_after_ms_seen = false;
};

std::size_t write_cb(char* data, std::size_t size, std::size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->result.body.append(data, size * nmemb);
  return size * nmemb;
}

std::optional<double> parse_retry_after(std::string value) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
  std::size_t b = 0;
  while (b < value.size() && std::isspace(static_cast<unsigned char>(value[b]))) ++b;
  value = value.substr(b);
  if (value.empty()) return std::nullopt;
  char* end = nullptr;
  const double secs = std::strtod(value.c_str(), &end);
  if (end && *end == '\0' && std::isfinite(secs)) return std::max(0.0, secs);
  const std::time_t when = curl_getdate(value.c_str(), nullptr);  // an HTTP date
  if (when < 0) return std::nullopt;
  return std::max(0.0, std::difftime(when, std::time(nullptr)));
}

std::size_t header_cb(char* data, std::size_t size, std::size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * nmemb;
  std::string line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after a redirect or 100-continue)
    t->result.retry_after.reset();
    t->retry_after_ms_seen = false;
  }
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    // OpenAI also sends "retry-after-ms", which is more precise; it wins when present.
    if (name == "retry-after" && !t->retry_after_ms_seen)
      t->result.retry_after = parse_retry_after(line.substr(colon + 1));
    if (name == "retry-after-ms") {
      if (auto ms = parse_retry_after(line.substr(colon + 1))) {
        t->result.retry_after = *ms / 1000.0;
        t->retry_after_ms_seen = true;
      }
    }
  }
  return n;
}

Failure failure_from_http(const HttpResult& r) {
  Failure f;
  if (r.curl != CURLE_OK) {
    f.kind = ErrorKind::transport;
    if (r.curl == CURLE_OPERATION_TIMEDOUT) f.kind = ErrorKind::timeout;
    f.message = std::string(curl_easy_strerror(r.curl));
    if (!r.curl_error.empty()) f.message += ": " + r.curl_error;
    f.http_status = static_cast<int>(r.status);
    return f;
  }
  f.http_status = static_cast<int>(r.status);
  const long s = r.status;
  if (s == 429)
    f.kind = ErrorKind::rate_limited;
  else if (s == 408)
    f.kind = ErrorKind::timeout;
  else if (s >= 500)
    f.kind = ErrorKind::server;
  else if (s == 401 || s == 403)
    f.kind = ErrorKind::unauthorized;
  else if (s == 404)
    f.kind = ErrorKind::not_found;
  else if (s == 400 || s == 413 || s == 422)
    f.kind = ErrorKind::bad_request;
  else
    f.kind = ErrorKind::other;
  f.retry_after = r.retry_after;
  // The server's own message, when it sent the usual {"error": {"message": ...}}.
  const auto j = detail::parse_or_discard(r.body);
  std::string msg;
  if (!j.is_discarded() && j.is_object() && j.contains("error")) {
    const auto& e = j["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string())
      msg = e["message"].get<std::string>();
    else if (e.is_string())
      msg = e.get<std::string>();
  }
  if (msg.empty()) msg = r.body.substr(0, 300);
  f.message = "HTTP " + std::to_string(s) + (msg.empty() ? "" : ": " + msg);
  return f;
}

Failure invalid(const std::string& what, const std::string& body) {
  return Failure{
      ErrorKind::invalid_response, 200, what + " (body starts: " + body.substr(0, 200) + ")", {}};
}

}  // namespace

struct OpenAiBackend::Impl {
  OpenAiOptions options;
  std::string root;
  std::mutex pool_mutex;
  std::vector<CURLM*> multi_pool;  // idle multi handles; each keeps its connection cache

  ~Impl() {
    for (CURLM* m : multi_pool) curl_multi_cleanup(m);
  }

  CURLM* take_multi() {
    std::lock_guard lock(pool_mutex);
    if (!multi_pool.empty()) {
      CURLM* m = multi_pool.back();
      multi_pool.pop_back();
      return m;
    }
    CURLM* m = curl_multi_init();
    if (!m) throw BackendError("curl_multi_init failed");
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, static_cast<long>(options.max_in_flight));
    return m;
  }
  void give_back(CURLM* m) {
    std::lock_guard lock(pool_mutex);
    multi_pool.push_back(m);
  }

  std::string api_key() const {
    if (options.api_key_env.empty()) return {};
    const char* v = std::getenv(options.api_key_env.c_str());
    return v ? std::string(v) : std::string();
  }

  void setup(Transfer& t, const HttpCall& call, const std::string& key) {
    t.easy = curl_easy_init();
    if (!t.easy) throw BackendError("curl_easy_init failed");
    CURL* e = t.easy;
    curl_easy_setopt(e, CURLOPT_URL, call.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.total_timeout.count()));
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, options.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, options.verify_tls ? 2L : 0L);
    if (!options.ca_bundle.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_bundle.c_str());
    curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
    // gzip only: brotli at its default quality costs a server far more CPU than it saves here.
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    t.headers = curl_slist_append(t.headers, "Accept: application/json");
    if (call.post) {
      t.headers = curl_slist_append(t.headers, "Content-Type: application/json");
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, call.body.c_str());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call.body.size()));
      t.headers = curl_slist_append(t.headers, "Expect:");  // no 100-continue round trip
    } else {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    if (!key.empty()) {
      const std::string h = "Authorization: Bearer " + key;
      t.headers = curl_slist_append(t.headers, h.c_str());
    }
    for (const auto& [k, v] : options.extra_headers) {
      const std::string h = k + ": " + v;
      t.headers = curl_slist_append(t.headers, h.c_str());
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
  }

  /// Runs every call with up to max_in_flight at once; result i for calls[i]. Cancelled
  /// transfers get curl code CURLE_ABORTED_BY_CALLBACK.
  std::vector<HttpResult> run(const std::vector<HttpCall>& calls) {
    std::vector<HttpResult> results(calls.size());
    if (calls.empty()) return results;
    const std::string key = api_key();
    CURLM* multi = take_multi();
    std::deque<Transfer> transfers;  // stable addresses
    std::size_t next = 0;
    int running = 0;
    auto cleanup = [&] {
      for (auto& t : transfers) {
        if (t.easy) {
          curl_multi_remove_handle(multi, t.easy);
          curl_easy_cleanup(t.easy);
          t.easy = nullptr;
        }
        curl_slist_free_all(t.headers);
        t.headers = nullptr;
      }
    };
    try {
      std::size_t active = 0;
      auto start_more = [&] {
        const std::size_t before = next;
        while (active < options.max_in_flight && next < calls.size()) {
          Transfer& t = transfers.emplace_back();
          t.index = next;
          setup(t, calls[next], key);
          if (curl_multi_add_handle(multi, t.easy) != CURLM_OK)
            throw BackendError("curl_multi_add_handle failed");
          ++active;
          ++next;
        }
        return next > before;
      };
      start_more();
      bool cancelled = false;
      while (active > 0) {
        if (options.cancel.cancelled()) {
          cancelled = true;
          break;
        }
        CURLMcode mc = curl_multi_perform(multi, &running);
        if (mc != CURLM_OK) throw BackendError(std::string("curl: ") + curl_multi_strerror(mc));
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
          if (msg->msg != CURLMSG_DONE) continue;
          Transfer* t = nullptr;
          curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
          t->result.curl = msg->data.result;
          curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->result.status);
          t->result.curl_error = t->errbuf;
          curl_multi_remove_handle(multi, t->easy);
          curl_easy_cleanup(t->easy);
          t->easy = nullptr;
          curl_slist_free_all(t->headers);
          t->headers = nullptr;
          results[t->index] = std::move(t->result);
          --active;
        }
        // New transfers are driven at once (they have no socket to wait on yet).
        if (start_more()) continue;
        if (active == 0) break;
        mc = curl_multi_poll(multi, nullptr, 0, 50, nullptr);
        if (mc != CURLM_OK) throw BackendError(std::string("curl: ") + curl_multi_strerror(mc));
      }
      if (cancelled) {
        for (auto& t : transfers)
          if (t.easy) {
            results[t.index].curl = CURLE_ABORTED_BY_CALLBACK;
            results[t.index].curl_error = "cancelled";
          }
        for (std::size_t i = next; i < calls.size(); ++i) {
          results[i].curl = CURLE_ABORTED_BY_CALLBACK;
          results[i].curl_error = "cancelled";
        }
      }
    } catch (...) {
      cleanup();
      curl_multi_cleanup(multi);
      throw;
    }
    cleanup();
    give_back(multi);
    return results;
  }

  std::string request_body(const Request& r) const {
    ojson j = ojson::object();
    j["model"] = r.model.empty() ? options.model : r.model;
    const bool chat = r.prompt.empty();
    if (chat) {
      ojson ms = ojson::array();
      for (const auto& m : r.messages)
        ms.push_back(ojson{{"role", m.role}, {"content", m.content}});
      j["messages"] = std::move(ms);
    } else {
      j["prompt"] = r.prompt;
    }
    if (r.temperature) j["temperature"] = *r.temperature;
    if (r.top_p) j["top_p"] = *r.top_p;
    if (r.max_tokens) j["max_tokens"] = *r.max_tokens;
    if (r.seed) j["seed"] = *r.seed;
    if (!r.stop.empty()) j["stop"] = r.stop;
    if (!r.json_schema.empty()) {
      const auto schema = detail::parse_bounded(r.json_schema);
      if (chat)
        j["response_format"] = {
            {"type", "json_schema"},
            {"json_schema", {{"name", "answer"}, {"schema", schema}, {"strict", true}}}};
      else
        j["json_schema"] = schema;
    }
    if (r.logprobs) {
      if (chat) {
        j["logprobs"] = true;
        if (r.top_logprobs > 0) j["top_logprobs"] = r.top_logprobs;
      } else {
        j["logprobs"] = r.top_logprobs;
      }
    }
    return detail::dump_strict(j, "request");
  }

  static std::vector<TokenLogprob> parse_content_logprobs(const json& content) {
    std::vector<TokenLogprob> out;
    for (const auto& tj : content) {
      TokenLogprob t;
      t.token = tj.at("token").get<std::string>();
      t.logprob = tj.at("logprob").is_number() ? tj.at("logprob").get<double>() : -INFINITY;
      if (tj.contains("top_logprobs") && tj["top_logprobs"].is_array())
        for (const auto& a : tj["top_logprobs"])
          t.top.push_back({a.at("token").get<std::string>(), a.at("logprob").is_number()
                                                                 ? a.at("logprob").get<double>()
                                                                 : -INFINITY});
      out.push_back(std::move(t));
    }
    return out;
  }

  Outcome parse_completion(const HttpResult& h, bool chat) const {
    if (h.curl != CURLE_OK || h.status < 200 || h.status >= 300) return failure_from_http(h);
    const auto j = detail::parse_or_discard(h.body);
    if (j.is_discarded()) return invalid("the response is not valid JSON", h.body);
    try {
      const auto& choices = j.at("choices");
      if (!choices.is_array() || choices.empty())
        return invalid("no choices in the response", h.body);
      const auto& c = choices.at(0);
      Response r;
      if (chat) {
        const auto& m = c.at("message");
        if (m.contains("content") && m["content"].is_string())
          r.text = m["content"].get<std::string>();
      } else {
        r.text = c.at("text").get<std::string>();
      }
      if (c.contains("finish_reason") && c["finish_reason"].is_string())
        r.finish_reason = c["finish_reason"].get<std::string>();
      if (c.contains("logprobs") && c["logprobs"].is_object()) {
        const auto& lp = c["logprobs"];
        if (lp.contains("content") && lp["content"].is_array()) {
          r.logprobs = parse_content_logprobs(lp["content"]);
        } else if (lp.contains("tokens") && lp["tokens"].is_array()) {
          const auto& toks = lp["tokens"];
          const auto& tlp = lp.at("token_logprobs");
          for (std::size_t i = 0; i < toks.size(); ++i) {
            TokenLogprob t;
            t.token = toks[i].get<std::string>();
            t.logprob = tlp.at(i).is_number() ? tlp.at(i).get<double>() : -INFINITY;
            if (lp.contains("top_logprobs") && lp["top_logprobs"].is_array() &&
                i < lp["top_logprobs"].size() && lp["top_logprobs"][i].is_object()) {
              for (const auto& [tok, v] : lp["top_logprobs"][i].items())
                t.top.push_back({tok, v.is_number() ? v.get<double>() : -INFINITY});
              std::stable_sort(
                  t.top.begin(), t.top.end(),
                  [](const TopLogprob& a, const TopLogprob& b) { return a.logprob > b.logprob; });
            }
            r.logprobs.push_back(std::move(t));
          }
        }
      }
      if (j.contains("usage") && j["usage"].is_object()) {
        r.usage.prompt_tokens = j["usage"].value("prompt_tokens", std::int64_t{0});
        r.usage.completion_tokens = j["usage"].value("completion_tokens", std::int64_t{0});
      }
      if (j.contains("model") && j["model"].is_string()) r.model = j["model"].get<std::string>();
      return r;
    } catch (const json::exception& e) {
      return invalid(std::string("unexpected response shape: ") + e.what(), h.body);
    }
  }
};

OpenAiBackend::OpenAiBackend(OpenAiOptions options) : impl_(std::make_unique<Impl>()) {
  options.validate();
  std::call_once(curl_init_flag, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->options = std::move(options);
  std::string root = impl_->options.base_url;
  while (!root.empty() && root.back() == '/') root.pop_back();
  if (root.size() < 3 || root.compare(root.size() - 3, 3, "/v1") != 0) root += "/v1";
  impl_->root = root;
  if (impl_->options.require_api_key)
    check_argument(!impl_->api_key().empty(), "api_key_env",
                   "environment variable '" + impl_->options.api_key_env +
                       "' is not set or empty (require_api_key = true)");
}

OpenAiBackend::~OpenAiBackend() = default;

const OpenAiOptions& OpenAiBackend::options() const noexcept { return impl_->options; }
const std::string& OpenAiBackend::api_root() const noexcept { return impl_->root; }
std::string OpenAiBackend::name() const { return "openai(" + impl_->root + ")"; }
std::string OpenAiBackend::default_model() const { return impl_->options.model; }

std::vector<Outcome> OpenAiBackend::complete(std::span<const Request> batch) {
  std::vector<HttpCall> calls;
  calls.reserve(batch.size());
  for (const Request& r : batch) {
    r.validate();
    const bool chat = r.prompt.empty();
    calls.push_back({true, impl_->root + (chat ? "/chat/completions" : "/completions"),
                     impl_->request_body(r)});
  }
  if (impl_->options.require_api_key && impl_->api_key().empty()) {
    return std::vector<Outcome>(
        batch.size(), Outcome(Failure{ErrorKind::unauthorized,
                                      0,
                                      "environment variable '" + impl_->options.api_key_env +
                                          "' holding the API key is not set",
                                      {}}));
  }
  const std::vector<HttpResult> results = impl_->run(calls);
  std::vector<Outcome> out;
  out.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (results[i].curl == CURLE_ABORTED_BY_CALLBACK)
      out.push_back(Failure{ErrorKind::cancelled, 0, "cancelled", {}});
    else
      out.push_back(impl_->parse_completion(results[i], batch[i].prompt.empty()));
  }
  return out;
}

std::string OpenAiBackend::request_body(const Request& request) const {
  request.validate();
  return impl_->request_body(request);
}

std::string OpenAiBackend::request_path(const Request& request) {
  return request.prompt.empty() ? "/chat/completions" : "/completions";
}

Outcome OpenAiBackend::parse_response_body(std::string_view body, const Request& request) const {
  HttpResult h;
  h.status = 200;
  h.body = std::string(body);
  return impl_->parse_completion(h, request.prompt.empty());
}

std::vector<ModelInfo> OpenAiBackend::list_models() {
  const auto results = impl_->run({HttpCall{false, impl_->root + "/models", {}}});
  const HttpResult& h = results.front();
  if (h.curl != CURLE_OK || h.status < 200 || h.status >= 300) throw LlmError(failure_from_http(h));
  const auto j = detail::parse_or_discard(h.body);
  if (j.is_discarded() || !j.is_object() || !j.contains("data") || !j["data"].is_array())
    throw LlmError(invalid("GET /models: expected {\"data\": [...]}", h.body));
  std::vector<ModelInfo> out;
  for (const auto& m : j["data"]) {
    if (!m.is_object() || !m.contains("id") || !m["id"].is_string())
      throw LlmError(invalid("GET /models: an entry has no string \"id\"", h.body));
    ModelInfo info;
    info.id = m["id"].get<std::string>();
    if (m.contains("owned_by") && m["owned_by"].is_string())
      info.owned_by = m["owned_by"].get<std::string>();
    if (m.contains("created") && m["created"].is_number_integer())
      info.created = m["created"].get<std::int64_t>();
    out.push_back(std::move(info));
  }
  return out;
}

RowMatrix<float> OpenAiBackend::embeddings(const std::vector<std::string>& texts,
                                           const std::string& model) {
  if (texts.empty()) return RowMatrix<float>(0, 0);
  std::string m = model;
  if (m.empty()) m = impl_->options.embedding_model;
  if (m.empty()) m = impl_->options.model;
  const std::size_t chunk = impl_->options.embedding_batch_size;
  std::vector<HttpCall> calls;
  for (std::size_t b = 0; b < texts.size(); b += chunk) {
    ojson j = ojson::object();
    j["model"] = m;
    ojson input = ojson::array();
    for (std::size_t i = b; i < std::min(texts.size(), b + chunk); ++i) input.push_back(texts[i]);
    j["input"] = std::move(input);
    j["encoding_format"] = "float";
    calls.push_back({true, impl_->root + "/embeddings", detail::dump_strict(j, "texts")});
  }
  const auto results = impl_->run(calls);
  RowMatrix<float> out;
  Index dim = -1;
  for (std::size_t c = 0; c < calls.size(); ++c) {
    const HttpResult& h = results[c];
    if (h.curl == CURLE_ABORTED_BY_CALLBACK)
      throw LlmError(Failure{ErrorKind::cancelled, 0, "cancelled", {}});
    if (h.curl != CURLE_OK || h.status < 200 || h.status >= 300)
      throw LlmError(failure_from_http(h));
    const auto j = detail::parse_or_discard(h.body);
    if (j.is_discarded() || !j.is_object() || !j.contains("data") || !j["data"].is_array())
      throw LlmError(invalid("POST /embeddings: expected {\"data\": [...]}", h.body));
    const std::size_t b = c * chunk;
    const std::size_t n = std::min(texts.size(), b + chunk) - b;
    const auto& data = j["data"];
    if (data.size() != n)
      throw LlmError(invalid("POST /embeddings: " + std::to_string(data.size()) +
                                 " embeddings for " + std::to_string(n) + " inputs",
                             h.body));
    try {
      for (std::size_t k = 0; k < n; ++k) {
        const auto& item = data[k];
        std::size_t idx = k;
        if (item.is_object() && item.contains("index")) {
          const auto i = io::json_integer<std::size_t>(item["index"]);
          if (!i || *i >= n)
            throw LlmError(invalid(
                "POST /embeddings: index is not an integer in [0, " + std::to_string(n) + ")",
                h.body));
          idx = *i;
        }
        const auto& vec = item.at("embedding");
        if (!vec.is_array() || vec.empty())
          throw LlmError(invalid("POST /embeddings: embedding is not a non-empty array", h.body));
        if (dim < 0) {
          dim = static_cast<Index>(vec.size());
          out.resize(static_cast<Index>(texts.size()), dim);
        }
        if (static_cast<Index>(vec.size()) != dim)
          throw LlmError(invalid("POST /embeddings: embeddings of different dimensions (" +
                                     std::to_string(vec.size()) + " vs " + std::to_string(dim) +
                                     ")",
                                 h.body));
        for (Index d = 0; d < dim; ++d)
          out(static_cast<Index>(b + idx), d) = vec[static_cast<std::size_t>(d)].get<float>();
      }
    } catch (const json::exception& e) {
      throw LlmError(
          invalid(std::string("POST /embeddings: unexpected shape: ") + e.what(), h.body));
    }
  }
  return out;
}

}  // namespace popalign::llm
