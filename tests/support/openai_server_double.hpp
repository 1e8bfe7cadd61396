#pragma once
// TEST DOUBLE base: a loopback OpenAI-compatible server (cpp-httplib, real HTTP on 127.0.0.1,
// in-process) whose chat completions come from a callback, after an optional delay per answer.
// It serves GET /v1/models and POST /v1/chat/completions, wraps each answer in the
// chat.completion envelope with usage (prompt tokens = request bytes / 4, completion tokens =
// answer bytes / 4), and counts requests and, per request body, the answers it sent (what a paid
// server would bill), overall and by the kind the callback names, so a test can check that a
// resumed run repeats no paid call. The scripted doubles (tests/persona/scripted_server.hpp,
// tests/pipeline/latent_server.hpp) are this class plus their answers.
// Eigen before httplib.h: <resolv.h> (pulled in by httplib) defines the macro `_res`, which
// Eigen uses as a parameter name.
#include <Eigen/Dense>
// clang-format off
#include <netinet/in.h>
// clang-format on

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <popalign/llm/types.hpp>

namespace popalign::test {

/// One chat completion request as the callback sees it.
struct ChatCall {
  llm::Request request;  ///< messages, seed, max_tokens, temperature
  std::string system;    ///< the system message ("" when none)
  std::string user;      ///< the last message
};

/// The callback's answer: status 200 with the assistant text, or an error status with its body.
struct ChatReply {
  int status = 200;
  std::string text;  ///< the assistant's content (200) or the error body (other status)
  std::string kind;  ///< counted under this name when answered ("" = not counted by kind)
};

class OpenAiServerDouble {
 public:
  using Handler = std::function<ChatReply(const ChatCall&)>;

  OpenAiServerDouble(std::string model_id, Handler handler, int delay_ms = 0, int threads = 16)
      : model_id_(std::move(model_id)), handler_(std::move(handler)), delay_ms_(delay_ms) {
    server_.new_task_queue = [threads] {
      return new httplib::ThreadPool(static_cast<size_t>(threads));
    };
    server_.set_keep_alive_max_count(100000);
    server_.set_tcp_nodelay(true);
    server_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(
          nlohmann::json{{"object", "list"}, {"data", {{{"id", model_id_}, {"object", "model"}}}}}
              .dump(),
          "application/json");
    });
    server_.Post("/v1/chat/completions",
                 [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("server double: cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~OpenAiServerDouble() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  OpenAiServerDouble(const OpenAiServerDouble&) = delete;
  OpenAiServerDouble& operator=(const OpenAiServerDouble&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::size_t requests() const { return requests_.load(); }
  /// Answers sent (status 200), in all and by kind.
  std::size_t answered() const {
    std::lock_guard lock(mutex_);
    return answered_total_;
  }
  std::size_t answered(const std::string& kind) const {
    std::lock_guard lock(mutex_);
    auto it = by_kind_.find(kind);
    return it == by_kind_.end() ? 0 : it->second;
  }
  /// Extra answers to request bodies answered before.
  std::size_t repeated_answers() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& [body, k] : answered_) n += k - 1;
    return n;
  }
  void reset() {
    std::lock_guard lock(mutex_);
    answered_.clear();
    by_kind_.clear();
    answered_total_ = 0;
    requests_ = 0;
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    ++requests_;
    const nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.contains("messages")) {
      res.status = 400;
      res.set_content(R"({"error":{"message":"bad body"}})", "application/json");
      return;
    }
    ChatCall call;
    for (const auto& m : body["messages"]) {
      call.request.messages.push_back({m.value("role", ""), m.value("content", "")});
      if (call.request.messages.back().role == "system")
        call.system = call.request.messages.back().content;
    }
    if (!call.request.messages.empty()) call.user = call.request.messages.back().content;
    if (body.contains("seed")) call.request.seed = body["seed"].get<std::uint64_t>();
    if (body.contains("max_tokens")) call.request.max_tokens = body["max_tokens"].get<int>();
    if (body.contains("temperature")) call.request.temperature = body["temperature"].get<double>();
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    const ChatReply reply = handler_(call);
    if (reply.status != 200) {
      res.status = reply.status;
      res.set_content(reply.text, "application/json");
      return;
    }
    const nlohmann::json answer = {
        {"id", "chatcmpl-double"},
        {"object", "chat.completion"},
        {"model", body.value("model", model_id_)},
        {"choices",
         {{{"index", 0},
           {"message", {{"role", "assistant"}, {"content", reply.text}}},
           {"finish_reason", "stop"}}}},
        {"usage",
         {{"prompt_tokens", req.body.size() / 4},
          {"completion_tokens", reply.text.size() / 4},
          {"total_tokens", req.body.size() / 4 + reply.text.size() / 4}}}};
    {
      std::lock_guard lock(mutex_);
      ++answered_[req.body];
      ++answered_total_;
      if (!reply.kind.empty()) ++by_kind_[reply.kind];
    }
    res.set_content(answer.dump(), "application/json");
  }

  std::string model_id_;
  Handler handler_;
  httplib::Server server_;
  int delay_ms_ = 0;
  int port_ = 0;
  std::thread thread_;
  std::atomic<std::size_t> requests_{0};
  mutable std::mutex mutex_;
  std::map<std::string, std::size_t> answered_;
  std::map<std::string, std::size_t> by_kind_;
  std::size_t answered_total_ = 0;
};

}  // namespace popalign::test
