// The fault-injecting loopback server (see fault_server.hpp).
#include "fault_server.hpp"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

namespace popalign::test {

namespace {
std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, '/'))
    if (!part.empty()) out.push_back(part);
  return out;
}

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string ok_body(const std::string& endpoint, const std::string& request_body,
                    bool likert = false) {
  using nlohmann::json;
  const json req = json::parse(request_body, nullptr, false);
  if (endpoint == "models")
    return json{{"object", "list"},
                {"data", json::array({json{{"id", "fault-model"},
                                           {"object", "model"},
                                           {"owned_by", "popalign-test"},
                                           {"created", 1}}})}}
        .dump();
  if (endpoint == "embeddings") {
    json data = json::array();
    std::vector<std::string> inputs;
    if (!req.is_discarded() && req.contains("input")) {
      if (req["input"].is_string())
        inputs.push_back(req["input"].get<std::string>());
      else
        for (const auto& s : req["input"]) inputs.push_back(s.get<std::string>());
    }
    for (std::size_t i = 0; i < inputs.size(); ++i)
      data.push_back({{"object", "embedding"},
                      {"index", i},
                      {"embedding", {static_cast<double>(inputs[i].size()), 1.0, -0.5, 0.25}}});
    return json{{"object", "list"}, {"data", data}, {"model", "fault-model"}}.dump();
  }
  std::string last;
  if (!req.is_discarded()) {
    if (req.contains("prompt") && req["prompt"].is_string())
      last = req["prompt"].get<std::string>();
    else if (req.contains("messages") && req["messages"].is_array() && !req["messages"].empty())
      last = req["messages"].back().value("content", std::string());
  }
  const std::string model = req.is_discarded() ? "fault-model" : req.value("model", "fault-model");
  std::string text = "echo: " + last;
  if (likert) {
    const std::string seed = !req.is_discarded() && req.contains("seed") ? req["seed"].dump() : "";
    text = std::to_string(1 + fnv1a(last + "|" + seed) % 5);
  }
  const json usage = {{"prompt_tokens", 1 + static_cast<int>(last.size() / 4)},
                      {"completion_tokens", 3},
                      {"total_tokens", 4 + static_cast<int>(last.size() / 4)}};
  if (endpoint == "completions")
    return json{
        {"object", "text_completion"},
        {"model", model},
        {"choices", json::array({json{{"index", 0}, {"text", text}, {"finish_reason", "stop"}}})},
        {"usage", usage}}
        .dump();
  return json{{"object", "chat.completion"},
              {"model", model},
              {"choices", json::array({json{{"index", 0},
                                            {"message", {{"role", "assistant"}, {"content", text}}},
                                            {"finish_reason", "stop"}}})},
              {"usage", usage}}
      .dump();
}
}  // namespace

struct FaultServer::Impl {
  httplib::Server server;
  mutable std::mutex mutex;
  std::map<std::string, std::size_t> hits;
  std::map<std::string, std::size_t> flaky_seen;  // (mode + body) -> failures served
  std::map<std::string, bool> switches;           // switch/<name>: on unless set off
  std::mutex stop_mutex;
  // The Batch API emulation.
  struct Batch {
    std::string id, mode, input_file_id, endpoint, window, status = "validating";
    std::string output_file_id, error_file_id;
    std::size_t polls = 0, total = 0, completed = 0, failed = 0;
  };
  std::map<std::string, std::string> files;  // id -> content
  std::map<std::string, Batch> batches;
  std::vector<std::string> batch_order;  // creation order
  std::set<std::string> failed_once;     // batch_errors: custom_ids failed already
  std::size_t next_file = 0, next_batch = 0;
  std::size_t polls_to_finish = 2;
  std::size_t max_batch_requests = 0;

  nlohmann::json batch_json(const Batch& b) const {
    nlohmann::json j = {
        {"id", b.id},
        {"object", "batch"},
        {"endpoint", b.endpoint},
        {"input_file_id", b.input_file_id},
        {"completion_window", b.window},
        {"status", b.status},
        {"created_at", 1},
        {"request_counts", {{"total", b.total}, {"completed", b.completed}, {"failed", b.failed}}}};
    j["output_file_id"] =
        b.output_file_id.empty() ? nlohmann::json() : nlohmann::json(b.output_file_id);
    j["error_file_id"] =
        b.error_file_id.empty() ? nlohmann::json() : nlohmann::json(b.error_file_id);
    return j;
  }

  /// Runs a batch to its end (under mutex): writes its output and error files.
  void finish(Batch& b) {
    const auto mode = split(b.mode);
    const std::string m = mode.empty() ? "ok" : mode[0];
    if (m == "batch_fail") {
      b.status = "failed";
      return;
    }
    const std::size_t k = mode.size() > 1 ? std::stoul(mode[1]) : 0;
    std::string out, err;
    std::size_t index = 0;
    std::istringstream in(files[b.input_file_id]);
    std::string text;
    while (std::getline(in, text)) {
      if (text.empty()) continue;
      ++index;
      const nlohmann::json line = nlohmann::json::parse(text, nullptr, false);
      if (line.is_discarded()) continue;
      const std::string cid = line.value("custom_id", std::string());
      std::string endpoint = line.value("url", std::string("/v1/chat/completions"));
      if (endpoint.rfind("/v1/", 0) == 0) endpoint = endpoint.substr(4);
      const std::string rid = "req_" + b.id + "_" + std::to_string(index);
      if (m == "batch_expire" && index > k) {
        err += nlohmann::json{{"id", rid},
                              {"custom_id", cid},
                              {"response", nullptr},
                              {"error",
                               {{"code", "batch_expired"},
                                {"message", "not executed before the completion window ended"}}}}
                   .dump() +
               "\n";
        ++b.failed;
        continue;
      }
      if (m == "batch_errors" && k && index % k == 0 && failed_once.insert(cid).second) {
        err +=
            nlohmann::json{
                {"id", rid},
                {"custom_id", cid},
                {"response",
                 {{"status_code", 500},
                  {"request_id", rid},
                  {"body", {{"error", {{"message", "injected"}, {"type", "server_error"}}}}}}},
                {"error", nullptr}}
                .dump() +
            "\n";
        ++b.failed;
        continue;
      }
      const std::string body = line.contains("body") ? line["body"].dump() : std::string("{}");
      out +=
          nlohmann::json{
              {"id", rid},
              {"custom_id", cid},
              {"response",
               {{"status_code", 200},
                {"request_id", rid},
                {"body", nlohmann::json::parse(ok_body(endpoint, body, m == "likert"))}}},
              {"error", nullptr}}
              .dump() +
          "\n";
      ++b.completed;
    }
    b.status = m == "batch_expire" ? "expired" : "completed";
    if (!out.empty()) {
      b.output_file_id = "file-out-" + b.id;
      files[b.output_file_id] = out;
    }
    if (!err.empty()) {
      b.error_file_id = "file-err-" + b.id;
      files[b.error_file_id] = err;
    }
  }
};

FaultServer::FaultServer(int threads, int port) : impl_(std::make_unique<Impl>()) {
  auto& srv = impl_->server;
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  srv.set_keep_alive_max_count(1'000'000);
  srv.set_tcp_nodelay(true);  // no Nagle + delayed-ACK stall between headers and body
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    ++total_;
    struct InFlight {  // counts requests being handled, and the peak
      FaultServer* self;
      explicit InFlight(FaultServer* s) : self(s) {
        const std::size_t now = ++self->in_flight_;
        std::size_t peak = self->peak_.load();
        while (now > peak && !self->peak_.compare_exchange_weak(peak, now)) {
        }
      }
      ~InFlight() { --self->in_flight_; }
    } in_flight(this);
    const std::string mode_path = req.matches[1];
    const std::string endpoint = req.matches[2];
    {
      std::lock_guard lock(impl_->mutex);
      ++impl_->hits[mode_path];
    }
    auto mode = split(mode_path);
    if (mode.size() >= 3 && mode[0] == "switch") {
      bool on = true;
      {
        std::lock_guard lock(impl_->mutex);
        auto it = impl_->switches.find(mode[1]);
        on = it == impl_->switches.end() || it->second;
      }
      if (!on) {
        res.status = 503;
        res.set_content(R"({"error":{"message":"switched off","type":"fault"}})",
                        "application/json");
        return;
      }
      mode.erase(mode.begin(), mode.begin() + 2);
    }
    struct StopAfter {  // stop_after(n): stop once the n-th request has been answered
      FaultServer* self;
      ~StopAfter() {
        const std::size_t n = self->stop_after_.load();
        if (n && self->total_.load() >= n) self->impl_->server.stop();
      }
    } stop_after{this};
    const std::string m = mode.empty() ? "ok" : mode[0];
    auto error = [&](int code, const std::string& msg) {
      res.status = code;
      res.set_content(nlohmann::json{{"error", {{"message", msg}, {"type", "fault"}}}}.dump(),
                      "application/json");
    };
    if (m == "ok") {
      res.set_content(ok_body(endpoint, req.body), "application/json");
    } else if (m == "likert") {
      res.set_content(ok_body(endpoint, req.body, true), "application/json");
    } else if (m == "slow" && mode.size() == 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(mode[1])));
      res.set_content(ok_body(endpoint, req.body), "application/json");
    } else if (m == "status" && mode.size() == 2) {
      const int code = std::stoi(mode[1]);
      if (code == 429) res.set_header("Retry-After", "1");
      error(code, "injected HTTP " + mode[1]);
    } else if (m == "retry_after_ms" && mode.size() == 2) {
      res.set_header("Retry-After", "30");
      res.set_header("retry-after-ms", mode[1]);
      error(429, "slow down");
    } else if (m == "retry_after" && mode.size() == 2) {
      res.set_header("Retry-After", mode[1]);
      error(429, "slow down");
    } else if (m == "flaky" && mode.size() == 3) {
      const std::size_t n = std::stoul(mode[1]);
      const int code = std::stoi(mode[2]);
      bool fail;
      {
        std::lock_guard lock(impl_->mutex);
        std::size_t& seen = impl_->flaky_seen[mode_path + '\n' + req.body];
        fail = seen < n;
        if (fail) ++seen;
      }
      if (fail) {
        if (code == 429) res.set_header("Retry-After", "0");
        error(code, "injected flaky HTTP " + mode[2]);
      } else {
        res.set_content(ok_body(endpoint, req.body), "application/json");
      }
    } else if (m == "drop") {
      const std::string full = ok_body(endpoint, req.body);
      res.set_content_provider(full.size(), "application/json",
                               [](size_t, size_t, httplib::DataSink&) { return false; });
    } else if (m == "auth" && mode.size() == 2) {
      if (req.get_header_value("Authorization") == "Bearer " + mode[1])
        res.set_content(ok_body(endpoint, req.body), "application/json");
      else
        error(401, "invalid API key");
    } else if (m == "malformed") {
      res.set_content("<html>this is not JSON</html>", "application/json");
    } else if (m == "truncated") {
      const std::string full = ok_body(endpoint, req.body);
      res.set_content(full.substr(0, full.size() / 2), "application/json");
    } else if (m == "wrong_shape") {
      res.set_content(R"({"object":"chat.completion","result":"no choices here"})",
                      "application/json");
    } else {
      error(400, "unknown fault mode '" + mode_path + "'");
    }
  };
  // The Batch API: files and batches.
  auto json_reply = [](httplib::Response& res, int status, const nlohmann::json& j) {
    res.status = status;
    res.set_content(j.dump(), "application/json");
  };
  srv.Post(
      R"(/(.*)/v1/files)", [this, json_reply](const httplib::Request& req, httplib::Response& res) {
        if (!req.has_file("file") || req.get_file_value("purpose").content != "batch")
          return json_reply(res, 400, {{"error", {{"message", "need file and purpose=batch"}}}});
        const auto& f = req.get_file_value("file");
        std::lock_guard lock(impl_->mutex);
        const std::string id = "file-" + std::to_string(++impl_->next_file);
        impl_->files[id] = f.content;
        ++files_uploaded_;
        json_reply(res, 200,
                   {{"id", id},
                    {"object", "file"},
                    {"bytes", f.content.size()},
                    {"purpose", "batch"},
                    {"filename", f.filename}});
      });
  srv.Get(R"(/(.*)/v1/files/([^/]+)/content)",
          [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(impl_->mutex);
            auto it = impl_->files.find(req.matches[2]);
            if (it == impl_->files.end()) {
              res.status = 404;
              return;
            }
            res.set_content(it->second, "application/jsonl");
          });
  srv.Post(R"(/(.*)/v1/batches)", [this, json_reply](const httplib::Request& req,
                                                     httplib::Response& res) {
    const nlohmann::json j = nlohmann::json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.contains("input_file_id"))
      return json_reply(res, 400, {{"error", {{"message", "need input_file_id"}}}});
    std::lock_guard lock(impl_->mutex);
    const std::string file = j["input_file_id"].get<std::string>();
    auto it = impl_->files.find(file);
    if (it == impl_->files.end())
      return json_reply(res, 404, {{"error", {{"message", "no such file"}}}});
    const auto lines =
        static_cast<std::size_t>(std::count(it->second.begin(), it->second.end(), '\n'));
    if (impl_->max_batch_requests && lines > impl_->max_batch_requests)
      return json_reply(res, 400, {{"error", {{"message", "too many requests in one batch"}}}});
    Impl::Batch b;
    b.id = "batch_" + std::to_string(++impl_->next_batch);
    b.mode = req.matches[1];
    b.input_file_id = file;
    b.endpoint = j.value("endpoint", std::string());
    b.window = j.value("completion_window", std::string());
    b.total = lines;
    impl_->batches[b.id] = b;
    impl_->batch_order.push_back(b.id);
    ++batches_created_;
    json_reply(res, 200, impl_->batch_json(b));
  });
  srv.Get(R"(/(.*)/v1/batches)",
          [this, json_reply](const httplib::Request&, httplib::Response& res) {
            std::lock_guard lock(impl_->mutex);
            nlohmann::json data = nlohmann::json::array();
            for (auto it = impl_->batch_order.rbegin(); it != impl_->batch_order.rend(); ++it)
              data.push_back(impl_->batch_json(impl_->batches[*it]));
            json_reply(res, 200, {{"object", "list"}, {"data", data}, {"has_more", false}});
          });
  srv.Get(R"(/(.*)/v1/batches/([^/]+))",
          [this, json_reply](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lock(impl_->mutex);
            auto it = impl_->batches.find(req.matches[2]);
            if (it == impl_->batches.end())
              return json_reply(res, 404, {{"error", {{"message", "no such batch"}}}});
            Impl::Batch& b = it->second;
            if (b.status == "validating" || b.status == "in_progress") {
              ++b.polls;
              if (b.polls >= impl_->polls_to_finish)
                impl_->finish(b);
              else
                b.status = "in_progress";
            }
            json_reply(res, 200, impl_->batch_json(b));
          });

  const char* pattern = R"(/(.*)/v1/(chat/completions|completions|embeddings|models))";
  srv.Post(pattern, handler);
  srv.Get(pattern, handler);
  if (port == 0) {
    port_ = srv.bind_to_any_port("127.0.0.1");
  } else {
    port_ = srv.bind_to_port("127.0.0.1", port) ? port : -1;
  }
  if (port_ <= 0) throw std::runtime_error("fault server: cannot bind 127.0.0.1");
  thread_ = std::thread([this] { impl_->server.listen_after_bind(); });
  while (!impl_->server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FaultServer::~FaultServer() { stop(); }

void FaultServer::stop() {
  impl_->server.stop();
  wait_stopped();
}

void FaultServer::wait_stopped() {
  std::lock_guard lock(impl_->stop_mutex);
  if (thread_.joinable()) thread_.join();
}

void FaultServer::stop_after(std::size_t n) { stop_after_ = n; }

void FaultServer::set_batch_behaviour(std::size_t polls_to_finish,
                                      std::size_t max_requests_per_batch) {
  std::lock_guard lock(impl_->mutex);
  impl_->polls_to_finish = polls_to_finish;
  impl_->max_batch_requests = max_requests_per_batch;
}

void FaultServer::set_switch(const std::string& name, bool on) {
  std::lock_guard lock(impl_->mutex);
  impl_->switches[name] = on;
}

std::string FaultServer::url(const std::string& mode) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + mode + "/v1";
}

std::size_t FaultServer::hits(const std::string& mode) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->hits.find(mode);
  return it == impl_->hits.end() ? 0 : it->second;
}

void FaultServer::reset_counts() {
  std::lock_guard lock(impl_->mutex);
  impl_->hits.clear();
  impl_->flaky_seen.clear();
  total_ = 0;
  peak_ = 0;
}

}  // namespace popalign::test
