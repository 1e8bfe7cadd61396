#pragma once
// TEST DOUBLE: a loopback OpenAI-compatible server (cpp-httplib, in-process) whose chat
// completions are the scripted mining answers of scripted_llm.hpp, after an optional delay. It
// counts requests and, per request body, the answers it sent (what a paid server would bill), so
// a test can check that no paid call is repeated. Used by the `popalign mine` tests and the
// mining benchmark.
// Eigen before httplib.h: <resolv.h> (pulled in by httplib) defines the macro `_res`, which
// Eigen uses as a parameter name.
#include <Eigen/Dense>
// clang-format off
#include <netinet/in.h>
// clang-format on

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "persona/scripted_llm.hpp"

namespace popalign::test {

class ScriptedMiningServerDouble {
 public:
  explicit ScriptedMiningServerDouble(int delay_ms = 0, int threads = 32) : delay_ms_(delay_ms) {
    server_.new_task_queue = [threads] {
      return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    server_.set_keep_alive_max_count(100000);
    server_.set_tcp_nodelay(true);
    server_.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"scripted","object":"model"}]})",
                      "application/json");
    });
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req,
                                                httplib::Response& res) {
      ++requests_;
      const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
      if (body.is_discarded() || !body.contains("messages")) {
        res.status = 400;
        res.set_content(R"({"error":{"message":"bad body"}})", "application/json");
        return;
      }
      llm::Request r;
      for (const auto& m : body["messages"])
        r.messages.push_back({m.value("role", ""), m.value("content", "")});
      if (body.contains("seed")) r.seed = body["seed"].get<std::uint64_t>();
      if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
      bool fail = false;
      const std::string text = scripted_mining_answer(r, &fail);
      if (fail) {
        res.status = 500;
        res.set_content(R"({"error":{"message":"scripted failure"}})", "application/json");
        return;
      }
      const nlohmann::json answer = {{"id", "chatcmpl-double"},
                                     {"object", "chat.completion"},
                                     {"model", body.value("model", "scripted")},
                                     {"choices",
                                      {{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", text}}},
                                        {"finish_reason", "stop"}}}},
                                     {"usage",
                                      {{"prompt_tokens", req.body.size() / 4},
                                       {"completion_tokens", text.size() / 4},
                                       {"total_tokens", req.body.size() / 4 + text.size() / 4}}}};
      {
        std::lock_guard lock(mutex_);
        ++answered_[req.body];
        ++answered_total_;
      }
      res.set_content(answer.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("scripted server double: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~ScriptedMiningServerDouble() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  ScriptedMiningServerDouble(const ScriptedMiningServerDouble&) = delete;
  ScriptedMiningServerDouble& operator=(const ScriptedMiningServerDouble&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::size_t requests() const { return requests_.load(); }
  std::size_t answered() const {
    std::lock_guard lock(mutex_);
    return answered_total_;
  }
  /// Request bodies answered more than once, and how many extra answers they got.
  std::size_t repeated_answers() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& [body, k] : answered_) n += k - 1;
    return n;
  }
  void reset() {
    std::lock_guard lock(mutex_);
    answered_.clear();
    answered_total_ = 0;
    requests_ = 0;
  }

 private:
  httplib::Server server_;
  int delay_ms_ = 0;
  int port_ = 0;
  std::thread thread_;
  std::atomic<std::size_t> requests_{0};
  mutable std::mutex mutex_;
  std::map<std::string, std::size_t> answered_;
  std::size_t answered_total_ = 0;
};

}  // namespace popalign::test
