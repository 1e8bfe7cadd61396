// The fault-injecting loopback server (see fault_server.hpp).
#include "fault_server.hpp"

#include <httplib.h>

#include <chrono>
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
