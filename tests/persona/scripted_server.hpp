#pragma once
// TEST DOUBLE: a loopback OpenAI-compatible server (tests/support/openai_server_double.hpp, real
// HTTP, in-process) whose chat completions are the scripted mining answers of scripted_llm.hpp,
// after an optional delay. It counts requests and, per request body, the answers it sent (what a
// paid server would bill), so a test can check that no paid call is repeated. Used by the
// `popalign mine` tests and the mining benchmark.
#include <string>

#include "persona/scripted_llm.hpp"
#include "support/openai_server_double.hpp"

namespace popalign::test {

class ScriptedMiningServerDouble {
 public:
  explicit ScriptedMiningServerDouble(int delay_ms = 0, int threads = 32)
      : server_(
            "scripted",
            [](const ChatCall& call) {
              bool fail = false;
              const std::string text = scripted_mining_answer(call.request, &fail);
              if (fail) return ChatReply{500, R"({"error":{"message":"scripted failure"}})", ""};
              return ChatReply{200, text, ""};
            },
            delay_ms, threads) {}

  std::string url() const { return server_.url(); }
  std::size_t requests() const { return server_.requests(); }
  std::size_t answered() const { return server_.answered(); }
  /// Request bodies answered more than once, and how many extra answers they got.
  std::size_t repeated_answers() const { return server_.repeated_answers(); }
  void reset() { server_.reset(); }

 private:
  OpenAiServerDouble server_;
};

}  // namespace popalign::test
