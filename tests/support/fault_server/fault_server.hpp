#pragma once
// A fault-injecting OpenAI-compatible HTTP server on 127.0.0.1 (cpp-httplib), run in-process
// by the llm tests and benchmarks.
//
// The behaviour is chosen by the path before "/v1", so a test points an OpenAiBackend at
//   http://127.0.0.1:<port>/<mode>/v1
// Modes (segments separated by '/'):
//   ok                     200 with a valid chat/completion/embeddings/models answer; the text
//                          is "echo: <last message or prompt>", usage counts words
//   slow/<ms>              waits <ms> then answers like ok
//   status/<code>          answers <code> with {"error": {"message": ...}}; a 429 carries
//                          "Retry-After: 1"
//   retry_after/<s>        429 with "Retry-After: <s>"
//   retry_after_ms/<ms>    429 with "Retry-After: 30" and "retry-after-ms: <ms>" (OpenAI style)
//   flaky/<n>/<code>       the first <n> requests with a given body fail with <code> (429s
//                          carry Retry-After: 0), later ones answer like ok
//   auth/<key>             like ok when "Authorization: Bearer <key>" is sent, else 401
//   drop                   sends headers announcing a body, then closes the connection
//   malformed              200 with a body that is not JSON
//   truncated              200 with a valid answer cut in half (Content-Length matches)
//   wrong_shape            200 with JSON lacking "choices"
//   likert                 like ok, but the text is one digit 1..5 chosen by a hash of the last
//                          message and the seed (the same on every server: a fleet's answers
//                          equal one server's)
//   switch/<name>/<inner>  answers like the mode <inner> (e.g. switch/a/ok) while the switch
//                          <name> is on (the default), 503 on every endpoint (models too) while
//                          it is off: a server that goes down and comes back (set_switch)
// The Batch API (under any mode prefix, e.g. http://127.0.0.1:<port>/ok/v1):
//   POST /files (multipart: purpose=batch, file)  GET /files/<id>/content
//   POST /batches  GET /batches (newest first)  GET /batches/<id>
// A batch moves validating -> in_progress -> its end on the polls_to_finish-th poll (default 2;
// set_batch_behaviour). Its end depends on the mode of the URL it was created under:
//   ok, likert, ... completed; every line answered as the online mode ok (likert) would
//   batch_fail            failed (no output file)
//   batch_expire/<k>      expired; the first k lines answered, the rest in the error file with
//                         error code batch_expired
//   batch_errors/<k>      completed; every k-th line is an HTTP 500 in the error file, once per
//                         custom_id (asked again, it is answered)
// batches_created() and files_uploaded() count submissions.
// stop() closes the listening socket and every connection (a server that dies: connections are
// refused from then on); stop_after(n) does so once n requests have been answered.
// hits() counts requests per mode string ("flaky/2/503", ...), total() all requests.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace popalign::test {

class FaultServer {
 public:
  /// Starts listening on 127.0.0.1 with `threads` worker threads, at `port` (0 = a free port).
  explicit FaultServer(int threads = 32, int port = 0);
  ~FaultServer();
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  int port() const noexcept { return port_; }
  /// "http://127.0.0.1:<port>/<mode>/v1"
  std::string url(const std::string& mode) const;

  std::size_t hits(const std::string& mode) const;
  std::size_t total() const noexcept { return total_.load(); }
  /// Most requests handled at the same time since the last reset_counts().
  std::size_t peak_in_flight() const noexcept { return peak_.load(); }
  void reset_counts();

  /// Polls until a batch ends, and the most requests a batch may hold (0 = no limit: a larger
  /// batch is refused with HTTP 400).
  void set_batch_behaviour(std::size_t polls_to_finish, std::size_t max_requests_per_batch = 0);
  std::size_t batches_created() const noexcept { return batches_created_.load(); }
  std::size_t files_uploaded() const noexcept { return files_uploaded_.load(); }

  /// Turns the switch `name` of the switch/<name>/<inner> mode on or off.
  void set_switch(const std::string& name, bool on);
  /// Stops the server now (idempotent; the destructor calls it).
  void stop();
  /// Stops the server (from its own thread) right after it answered its n-th request.
  void stop_after(std::size_t n);
  /// Blocks until the server has stopped (after stop() or stop_after()).
  void wait_stopped();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::atomic<std::size_t> total_{0};
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::size_t> peak_{0};
  std::atomic<std::size_t> stop_after_{0};
  std::atomic<std::size_t> batches_created_{0};
  std::atomic<std::size_t> files_uploaded_{0};
  std::thread thread_;
};

}  // namespace popalign::test
