// Tests of `popalign administer` (src/cli/cmd_administer.cpp): the real program, talking HTTP
// to a loopback OpenAI-compatible server whose answers come from the GRM test double. Covers
// kill -9 + resume (byte-identical output, no paid call repeated), all three modes through the
// HTTP backend (same bytes as the library with the double called directly), --dry-run and
// malformed persona lines.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

// popalign (Eigen) before httplib: <resolv.h> defines a macro `_res` that breaks Eigen.
#include <popalign/administer/administer.hpp>
#include <popalign/administer/respondent.hpp>
#include <popalign/core/random.hpp>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

namespace adm = popalign::administer;
namespace ps = popalign::psychometrics;
namespace llm = popalign::llm;
using nlohmann::json;

namespace {

const ps::Instrument& mini() {
  static const ps::Instrument inst = ps::instrument_by_name("mini_ipip", POPALIGN_DATA_DIR);
  return inst;
}

struct Panel {
  std::vector<std::string> ids, texts;
  std::vector<std::vector<double>> theta;
};

Panel make_panel(std::size_t n) {
  Panel p;
  popalign::Rng rng(99);
  for (std::size_t i = 0; i < n; ++i) {
    p.ids.push_back("c" + std::to_string(i));
    p.texts.push_back("I am CLI respondent number " + std::to_string(i) + ", a keen sailor.");
    std::vector<double> t;
    for (std::size_t k = 0; k < mini().traits.size(); ++k) t.push_back(rng.normal());
    p.theta.push_back(t);
  }
  return p;
}

std::unique_ptr<adm::GradedResponseRespondent> make_double(const Panel& panel) {
  auto d = std::make_unique<adm::GradedResponseRespondent>(
      mini(), adm::GradedResponseRespondent::random_items(mini(), 4),
      adm::GradedResponseOptions{.seed = 1, .nonsense_rate = 0.15});
  for (std::size_t i = 0; i < panel.ids.size(); ++i)
    d->add_persona(panel.ids[i], panel.texts[i], panel.theta[i]);
  return d;
}

/// An OpenAI-compatible /v1/chat/completions in front of a GradedResponseRespondent.
class GrmServer {
 public:
  explicit GrmServer(adm::GradedResponseRespondent& grm) : grm_(grm) {
    server_.Post("/v1/chat/completions",
                 [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    server_.set_tcp_nodelay(true);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~GrmServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

  /// Kill `pid` with SIGKILL when request number `at` (1-based) arrives, before answering it.
  void kill_at(std::size_t at, pid_t* pid) {
    std::lock_guard lock(mutex_);
    kill_at_ = at;
    victim_ = pid;
  }
  std::vector<std::string> answered() {
    std::lock_guard lock(mutex_);
    return answered_;
  }
  std::vector<std::string> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  void reset() {
    std::lock_guard lock(mutex_);
    answered_.clear();
    received_.clear();
    kill_at_ = 0;
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    {
      std::lock_guard lock(mutex_);
      received_.push_back(req.body);
      if (kill_at_ && received_.size() == kill_at_ && victim_ && *victim_ > 0) {
        ::kill(*victim_, SIGKILL);
        res.status = 503;
        return;
      }
    }
    const json body = json::parse(req.body);
    llm::Request r;
    for (const auto& m : body.at("messages"))
      r.messages.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
    if (body.contains("seed")) r.seed = body.at("seed").get<std::uint64_t>();
    r.logprobs = body.value("logprobs", false);
    r.top_logprobs = body.value("top_logprobs", 0);
    if (body.contains("response_format"))
      r.json_schema = body.at("response_format").at("json_schema").at("schema").dump();
    const llm::Outcome out = llm::complete_one(grm_, r);
    if (!out.ok()) {
      res.status = 400;
      res.set_content(json{{"error", {{"message", out.error().message}}}}.dump(),
                      "application/json");
      return;
    }
    const llm::Response& a = out.value();
    json choice = {{"index", 0},
                   {"message", {{"role", "assistant"}, {"content", a.text}}},
                   {"finish_reason", "stop"}};
    if (r.logprobs) {
      json content = json::array();
      for (const auto& t : a.logprobs) {
        json top = json::array();
        for (const auto& alt : t.top)
          top.push_back({{"token", alt.token}, {"logprob", alt.logprob}});
        content.push_back({{"token", t.token}, {"logprob", t.logprob}, {"top_logprobs", top}});
      }
      choice["logprobs"] = {{"content", content}};
    }
    const json reply = {{"id", "chatcmpl-grm"},
                        {"object", "chat.completion"},
                        {"model", body.value("model", "grm")},
                        {"choices", json::array({choice})},
                        {"usage",
                         {{"prompt_tokens", a.usage.prompt_tokens},
                          {"completion_tokens", a.usage.completion_tokens},
                          {"total_tokens", a.usage.total_tokens()}}}};
    res.set_content(reply.dump(), "application/json");
    std::lock_guard lock(mutex_);
    answered_.push_back(req.body);
  }

  adm::GradedResponseRespondent& grm_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> answered_, received_;
  std::size_t kill_at_ = 0;
  pid_t* victim_ = nullptr;
};

struct RunResult {
  int exit_code = -1;  // -signal when killed
  std::string out, err;
};

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Runs the popalign program; *pid is set while it runs.
RunResult run_cli(const std::vector<std::string>& args, const std::filesystem::path& dir,
                  pid_t* pid = nullptr) {
  const auto out_path = dir / "cli.stdout", err_path = dir / "cli.stderr";
  std::vector<std::string> argv_s = {POPALIGN_CLI};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    const int fo = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int fe = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fo, 1);
    ::dup2(fe, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (pid) *pid = child;
  int status = 0;
  ::waitpid(child, &status, 0);
  if (pid) *pid = -1;
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  r.out = read_text(out_path);
  r.err = read_text(err_path);
  return r;
}

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "popalign_administer_cli_test" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write_personas(const std::filesystem::path& path, const Panel& panel) {
  std::ofstream out(path);
  for (std::size_t i = 0; i < panel.ids.size(); ++i)
    out << json{{"id", panel.ids[i]}, {"persona", panel.texts[i]}, {"group", i % 2}}.dump() << "\n";
}

TEST(AdministerCli, KilledRunResumesToTheSameBytesWithoutRepeatingCalls) {
  const auto dir = fresh_dir("kill");
  const Panel panel = make_panel(6);
  write_personas(dir / "personas.jsonl", panel);
  auto grm = make_double(panel);
  GrmServer server(*grm);
  auto args = [&](const std::string& out, const std::string& cache) {
    return std::vector<std::string>{"administer",
                                    "--personas",
                                    (dir / "personas.jsonl").string(),
                                    "--instrument",
                                    "mini_ipip",
                                    "--base-url",
                                    server.url(),
                                    "--model",
                                    "grm",
                                    "--seed",
                                    "7",
                                    "--cache",
                                    (dir / cache).string(),
                                    "--out",
                                    (dir / out).string(),
                                    "--concurrency",
                                    "1",
                                    "--personas-per-round",
                                    "2",
                                    "--http-attempts",
                                    "1"};
  };

  const RunResult ref = run_cli(args("ref.jsonl", "ref.sqlite"), dir);
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  const std::string ref_bytes = read_text(dir / "ref.jsonl");
  EXPECT_EQ(std::count(ref_bytes.begin(), ref_bytes.end(), '\n'), 6);
  const std::size_t ref_calls = server.received().size();
  ASSERT_GT(ref_calls, 6u * 20u);  // re-asks of nonsense answers come on top
  server.reset();

  pid_t pid = -1;
  server.kill_at(ref_calls / 2, &pid);
  const RunResult killed = run_cli(args("out.jsonl", "cache.sqlite"), dir, &pid);
  EXPECT_EQ(killed.exit_code, -SIGKILL) << killed.err;
  const std::vector<std::string> paid = server.answered();
  EXPECT_EQ(paid.size(), ref_calls / 2 - 1);
  const std::string partial = read_text(dir / "out.jsonl");
  EXPECT_LT(partial.size(), ref_bytes.size());
  EXPECT_EQ(ref_bytes.substr(0, partial.size()), partial);
  server.reset();

  const RunResult resumed = run_cli(args("out.jsonl", "cache.sqlite"), dir);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(read_text(dir / "out.jsonl"), ref_bytes);
  const std::vector<std::string> again = server.received();
  const std::set<std::string> paid_set(paid.begin(), paid.end());
  std::size_t repeated = 0;
  for (const auto& body : again) repeated += paid_set.count(body);
  EXPECT_EQ(repeated, 0u) << "a completed call was sent again";
  EXPECT_EQ(paid.size() + again.size(), ref_calls);
  EXPECT_NE(resumed.err.find("from cache"), std::string::npos) << resumed.err;
  server.reset();

  const RunResult third = run_cli(args("out.jsonl", "cache.sqlite"), dir);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_EQ(server.received().size(), 0u);
  EXPECT_EQ(read_text(dir / "out.jsonl"), ref_bytes);
}

TEST(AdministerCli, EveryModeThroughHttpMatchesTheLibrary) {
  const auto dir = fresh_dir("modes");
  const Panel panel = make_panel(3);
  write_personas(dir / "personas.jsonl", panel);
  for (const std::string mode : {"generate", "logprobs", "batch"}) {
    SCOPED_TRACE(mode);
    auto grm = make_double(panel);
    GrmServer server(*grm);
    const auto out = dir / (mode + ".jsonl");
    const RunResult r =
        run_cli({"administer", "--personas", (dir / "personas.jsonl").string(), "--instrument",
                 "mini_ipip", "--base-url", server.url(), "--model", "grm", "--mode", mode,
                 "--seed", "3", "--reverse-scale", "--concurrency", "4", "--out", out.string()},
                dir);
    ASSERT_EQ(r.exit_code, 0) << r.err;

    auto direct = make_double(panel);
    adm::AdministerOptions o;
    o.mode = adm::administer_mode_from_string(mode);
    o.model = "grm";
    o.seed = 3;
    o.reverse_scale = true;
    adm::AdministerFileOptions fo;
    fo.personas = dir / "personas.jsonl";
    fo.out = dir / (mode + ".direct.jsonl");
    adm::administer_file(*direct, mini(), o, fo);
    EXPECT_EQ(read_text(out), read_text(fo.out));
  }
}

TEST(AdministerCli, DryRunSendsNothing) {
  const auto dir = fresh_dir("dry");
  const Panel panel = make_panel(4);
  write_personas(dir / "personas.jsonl", panel);
  const RunResult r =
      run_cli({"administer", "--personas", (dir / "personas.jsonl").string(), "--instrument",
               "mini_ipip", "--model", "gpt-x", "--dry-run", "--prompt-price", "0.15",
               "--completion-price", "0.6", "--out", (dir / "out.jsonl").string()},
              dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("calls: 80 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("estimated prompt tokens:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("estimated cost:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(panel.texts[0]), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
}

TEST(AdministerCli, BadOptionsNameTheirFlag) {
  const auto dir = fresh_dir("flags");
  const Panel panel = make_panel(1);
  write_personas(dir / "personas.jsonl", panel);
  const RunResult r = run_cli(
      {"administer", "--personas", (dir / "personas.jsonl").string(), "--instrument", "mini_ipip",
       "--model", "m", "--dry-run", "--temperature", "5", "--out", (dir / "out.jsonl").string()},
      dir);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("invalid argument '--temperature': must be in [0, 2]"), std::string::npos)
      << r.err;
}

TEST(AdministerCli, MalformedPersonaLines) {
  const auto dir = fresh_dir("bad");
  const Panel panel = make_panel(2);
  {
    std::ofstream out(dir / "personas.jsonl");
    out << json{{"id", panel.ids[0]}, {"persona", panel.texts[0]}}.dump() << "\n"
        << "{\"id\": \"broken\", \"persona\": \n"
        << json{{"id", panel.ids[1]}, {"persona", panel.texts[1]}}.dump() << "\n";
  }
  auto grm = make_double(panel);
  GrmServer server(*grm);
  std::vector<std::string> args = {"administer",
                                   "--personas",
                                   (dir / "personas.jsonl").string(),
                                   "--instrument",
                                   "mini_ipip",
                                   "--base-url",
                                   server.url(),
                                   "--model",
                                   "grm",
                                   "--out",
                                   (dir / "out.jsonl").string()};
  const RunResult fail = run_cli(args, dir);
  EXPECT_NE(fail.exit_code, 0);
  EXPECT_NE(fail.err.find("personas.jsonl:2"), std::string::npos) << fail.err;
  EXPECT_EQ(server.received().size(), 0u);

  args.insert(args.end(), {"--on-bad-line", "skip"});
  const RunResult skip = run_cli(args, dir);
  ASSERT_EQ(skip.exit_code, 0) << skip.err;
  EXPECT_NE(skip.err.find("personas.jsonl:2"), std::string::npos) << skip.err;
  const std::string out = read_text(dir / "out.jsonl");
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
}

}  // namespace
