// FleetBackend over real HTTP: three in-process loopback servers (the fault-injecting server),
// one of which dies mid-run; probes back in; routing in proportion to capacity; failover rules;
// the endpoints file reader's errors.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <popalign/llm/cache.hpp>
#include <popalign/llm/fleet.hpp>
#include <popalign/llm/openai_client.hpp>
#include <popalign/llm/retry.hpp>

#include "fault_server.hpp"
#include "llm/test_double_backend.hpp"

namespace popalign::llm {
namespace {

using testing::chat;

FleetOptions fleet_options(const std::vector<std::string>& urls, std::size_t in_flight = 4) {
  FleetOptions o;
  o.model = "role-model";
  o.http.api_key_env = "";
  o.http.connect_timeout = std::chrono::milliseconds(2000);
  o.http.total_timeout = std::chrono::milliseconds(10000);
  o.probe_initial = std::chrono::duration<double>(0.05);
  o.probe_max = std::chrono::duration<double>(0.2);
  for (const auto& u : urls)
    o.endpoints.push_back(
        FleetEndpoint{.url = u, .model = "", .api_key_env = "", .max_in_flight = in_flight});
  return o;
}

std::vector<Request> numbered(std::size_t n) {
  std::vector<Request> batch;
  for (std::size_t i = 0; i < n; ++i) {
    Request r = chat("question " + std::to_string(i));
    r.model = "role-model";
    r.seed = i;
    batch.push_back(std::move(r));
  }
  return batch;
}

RetryOptions fast_retry() {
  RetryOptions r;
  r.max_attempts = 4;
  r.initial_backoff = std::chrono::duration<double>(0.01);
  return r;
}

TEST(FleetTest, OneOfThreeServersDiesMidRunResultsEqualOneServer) {
  test::FaultServer a(16), b(16), dying(16), reference(16);
  const std::vector<Request> batch = numbered(600);

  // Reference: one server, no fleet.
  OpenAiOptions one;
  one.base_url = reference.url("ok");
  one.model = "role-model";
  one.api_key_env = "";
  one.max_in_flight = 8;
  RetryBackend single(std::make_shared<OpenAiBackend>(one), fast_retry());
  const std::vector<Outcome> expected = single.complete(batch);

  // The fleet: the third server stops (connections refused from then on) after 60 requests.
  dying.stop_after(60);
  auto fleet =
      std::make_shared<FleetBackend>(fleet_options({a.url("ok"), b.url("ok"), dying.url("ok")}, 4));
  RetryBackend retry(fleet, fast_retry());
  const std::vector<Outcome> got = retry.complete(batch);
  dying.wait_stopped();

  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].ok()) << i << ": " << got[i].error().message;
    EXPECT_EQ(got[i], expected[i]) << i;
  }
  const auto stats = fleet->stats();
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_FALSE(stats[2].healthy) << "the dead server is taken out";
  EXPECT_GE(stats[2].ejections, 1u);
  EXPECT_GE(stats[2].failed, 1u);
  EXPECT_GE(stats[2].succeeded, 1u) << "it answered before it died";
  EXPECT_LE(stats[2].succeeded, 60u + 4u) << "at most its 4 requests in flight finish after";
  EXPECT_TRUE(stats[0].healthy);
  EXPECT_TRUE(stats[1].healthy);
  // Every failure on the dead server was re-sent elsewhere at once (retries counted).
  EXPECT_EQ(stats[2].rerouted, stats[2].failed);
  EXPECT_EQ(fleet->reroutes(), stats[2].rerouted);
  EXPECT_EQ(stats[0].succeeded + stats[1].succeeded + stats[2].succeeded, batch.size());
  // The survivors took the rest.
  EXPECT_GT(stats[0].succeeded, 100u);
  EXPECT_GT(stats[1].succeeded, 100u);
}

TEST(FleetTest, EndpointTakenOutAndProbedBackIn) {
  test::FaultServer server(16);
  auto fleet = std::make_shared<FleetBackend>(
      fleet_options({server.url("switch/a/ok"), server.url("switch/b/ok")}, 2));
  server.set_switch("a", false);
  const auto first = fleet->complete(numbered(40));
  for (const auto& o : first) ASSERT_TRUE(o.ok()) << o.error().message;
  auto stats = fleet->stats();
  EXPECT_FALSE(stats[0].healthy);
  EXPECT_EQ(stats[0].ejections, 1u);
  EXPECT_EQ(stats[0].failures_by_kind["server"], stats[0].failed);
  EXPECT_GE(stats[0].failed, 3u) << "taken out after eject_after = 3 consecutive 5xx";
  EXPECT_LE(stats[0].failed, 4u) << "(plus at most one more of its 2 slots in flight)";
  EXPECT_EQ(stats[1].succeeded, 40u);

  // Still down: a due probe fails and the wait grows; nothing is sent to it.
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  (void)fleet->complete(numbered(4));
  stats = fleet->stats();
  EXPECT_FALSE(stats[0].healthy);
  EXPECT_GE(stats[0].probe_failures, 1u);
  EXPECT_EQ(stats[0].sent, stats[0].failed) << "nothing sent to it while out";

  // Back up: the next due probe (GET /models) puts it back in and it takes requests again.
  server.set_switch("a", true);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  const auto second = fleet->complete(numbered(40));
  for (const auto& o : second) ASSERT_TRUE(o.ok());
  stats = fleet->stats();
  EXPECT_TRUE(stats[0].healthy);
  EXPECT_GT(stats[0].succeeded, 5u);
  EXPECT_GE(stats[0].probes, 2u);
}

TEST(FleetTest, RoutingIsProportionalToCapacity) {
  // Three servers that answer in 50 ms; capacities 1, 2 and 4: a saturated fleet sends 1/7,
  // 2/7 and 4/7 of the requests to them (tolerances allow for a busy shared machine).
  test::FaultServer server(16);
  FleetOptions o =
      fleet_options({server.url("slow/20"), server.url("slow/20/"), server.url("/slow/20")});
  o.endpoints[0].max_in_flight = 1;
  o.endpoints[1].max_in_flight = 2;
  o.endpoints[2].max_in_flight = 4;
  FleetBackend fleet(o);
  EXPECT_EQ(fleet.capacity(), 7u);
  const auto out = fleet.complete(numbered(210));
  for (const auto& r : out) ASSERT_TRUE(r.ok()) << r.error().message;
  const auto s = fleet.stats();
  const double n = 210;
  EXPECT_LT(s[0].sent, s[1].sent);
  EXPECT_LT(s[1].sent, s[2].sent);
  EXPECT_NEAR(static_cast<double>(s[0].sent) / n, 1.0 / 7, 0.06);
  EXPECT_NEAR(static_cast<double>(s[1].sent) / n, 2.0 / 7, 0.08);
  EXPECT_NEAR(static_cast<double>(s[2].sent) / n, 4.0 / 7, 0.10);
  EXPECT_LE(server.peak_in_flight(), 7u);
}

TEST(FleetTest, SequentialCallsGoToTheLargestCapacityTimesWeight) {
  // Negative control for the rule: with nothing outstanding every call scores 1/(cap * weight),
  // so one-at-a-time calls all go to the endpoint with the largest capacity * weight.
  auto d0 = std::make_shared<testing::TestDoubleBackend>();
  auto d1 = std::make_shared<testing::TestDoubleBackend>();
  auto d2 = std::make_shared<testing::TestDoubleBackend>();
  FleetOptions o = fleet_options({"http://a", "http://b", "http://c"});
  o.endpoints[0].max_in_flight = 8;
  o.endpoints[1].max_in_flight = 4;
  o.endpoints[1].weight = 3.0;  // 12 > 8
  o.endpoints[2].max_in_flight = 2;
  FleetBackend fleet({d0, d1, d2}, o);
  for (const Request& r : numbered(10)) ASSERT_TRUE(complete_one(fleet, r).ok());
  const auto s = fleet.stats();
  EXPECT_EQ(s[0].sent, 0u);
  EXPECT_EQ(s[1].sent, 10u);
  EXPECT_EQ(s[2].sent, 0u);
}

TEST(FleetTest, ClientErrorsAreNotReroutedAndFailuresAre) {
  test::FaultServer server(8);
  {
    FleetOptions o = fleet_options({server.url("status/400"), server.url("ok")});
    o.endpoints[0].max_in_flight = 8;  // the first endpoint wins every sequential call
    FleetBackend fleet(o);
    const Outcome r = complete_one(fleet, chat("x"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::bad_request);
    EXPECT_EQ(fleet.stats()[1].sent, 0u);
    EXPECT_EQ(fleet.reroutes(), 0u);
  }
  {
    FleetOptions o = fleet_options({server.url("status/503"), server.url("ok")});
    o.endpoints[0].max_in_flight = 8;
    FleetBackend fleet(o);
    const Outcome r = complete_one(fleet, chat("x"));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().text, "echo: x");
    EXPECT_EQ(fleet.reroutes(), 1u);
    EXPECT_EQ(fleet.stats()[0].rerouted, 1u);
  }
  {
    // Every endpoint fails: the last failure comes back (an outer RetryBackend backs off).
    FleetBackend fleet(fleet_options({server.url("status/502"), server.url("status/503")}));
    const Outcome r = complete_one(fleet, chat("x"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::server);
    EXPECT_EQ(fleet.stats()[0].sent + fleet.stats()[1].sent, 2u);
  }
}

TEST(FleetTest, CacheKeyIsTheRolesWhateverEndpointAnswers) {
  test::FaultServer server(8);
  FleetOptions o = fleet_options({server.url("ok"), server.url("ok/")});
  o.endpoints[1].model = "local-name";  // the same weights under another name on that server
  o.endpoints[1].max_in_flight = 8;     // sequential calls go to it
  auto fleet = std::make_shared<FleetBackend>(o);
  EXPECT_EQ(fleet->default_model(), "role-model");
  Request r = chat("hello");  // empty model: the role's
  const Outcome out = complete_one(*fleet, r);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out.value().model, "local-name") << "the endpoint's name was sent on the wire";

  OpenAiOptions one;
  one.base_url = server.url("ok");
  one.model = "role-model";
  one.api_key_env = "";
  const auto path = std::filesystem::temp_directory_path() / "popalign_fleet_key.sqlite";
  std::filesystem::remove(path);
  CacheOptions co;
  co.path = path.string();
  CachedBackend via_fleet(fleet, co);
  CachedBackend via_one(std::make_shared<OpenAiBackend>(one), co);
  EXPECT_EQ(via_fleet.key(r), via_one.key(r));
  ASSERT_TRUE(complete_one(via_fleet, r).ok());
  const Outcome hit = complete_one(via_one, r);  // answered by the fleet, found by the single
  ASSERT_TRUE(hit.ok());
  EXPECT_TRUE(hit.value().from_cache);
  std::filesystem::remove(path);
}

TEST(FleetTest, OptionsValidation) {
  FleetOptions o;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o = fleet_options({"http://a"});
  o.endpoints[0].weight = 0;
  try {
    o.validate();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "endpoints[0].weight");
  }
  o = fleet_options({"ftp://a"});
  EXPECT_THROW(o.validate(), InvalidArgument);
  o = fleet_options({"http://a"});
  o.eject_after = 0;
  EXPECT_THROW(o.validate(), InvalidArgument);
}

// ---- Endpoints file ------------------------------------------------------------------------

std::string parse_error(const std::string& text, const std::string& source) {
  try {
    parse_endpoints(text, source);
  } catch (const ParseError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(EndpointsFileTest, JsonAndCsvGiveTheSameEndpoints) {
  const std::string json = R"([
  {"url": "http://10.0.0.1:8000/v1", "model": "qwen", "api_key_env": "K1",
   "max_in_flight": 32, "weight": 2},
  {"url": "http://10.0.0.2:8000"}
])";
  const std::string csv =
      "# two vLLM servers\n"
      "url,model,api_key_env,max_in_flight,weight\n"
      "http://10.0.0.1:8000/v1,qwen,K1,32,2\n"
      "\n"
      "\"http://10.0.0.2:8000\",,OPENAI_API_KEY,,\n";
  const auto a = parse_endpoints(json, "fleet.json");
  const auto b = parse_endpoints(csv, "fleet.csv");
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[0].max_in_flight, 32u);
  EXPECT_EQ(a[0].weight, 2.0);
  EXPECT_EQ(a[1].max_in_flight, 16u);  // the default
  EXPECT_EQ(a[1].api_key_env, "OPENAI_API_KEY");
  // The object form and format sniffing without an extension.
  const auto c = parse_endpoints(R"({"endpoints": [{"url": "http://x"}]})", "endpoints");
  ASSERT_EQ(c.size(), 1u);
  // Defaults come from the caller (the CLI's --concurrency, --api-key-env).
  FleetEndpoint d;
  d.max_in_flight = 5;
  d.api_key_env = "MY_KEY";
  const auto e = parse_endpoints("url\nhttp://y\n", "f.csv", d);
  EXPECT_EQ(e[0].max_in_flight, 5u);
  EXPECT_EQ(e[0].api_key_env, "MY_KEY");
}

TEST(EndpointsFileTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(parse_error("[\n {\"url\": \"http://a\"},\n {\"url\": \"http://b\", \"wieght\": 1}\n]",
                        "f.json"),
            "f.json:3: endpoint 2: unknown field \"wieght\" (fields: url, model, api_key_env, "
            "max_in_flight, weight)");
  EXPECT_EQ(parse_error("[\n {\"url\": \"http://a\",\n  \"max_in_flight\": 0}\n]", "f.json"),
            "f.json:2: endpoint 1: \"max_in_flight\" must be an integer >= 1 (got 0)");
  EXPECT_EQ(parse_error("[\n {\"url\": \"http://a\"},\n {\"url\": \"http://a\"}\n]", "f.json"),
            "f.json:3: endpoint 2: http://a is listed twice (also endpoint 1)");
  EXPECT_EQ(parse_error("[\n {\"model\": \"m\"}\n]", "f.json"),
            "f.json:2: endpoint 1: \"url\" is required");
  EXPECT_EQ(parse_error("[\n {\"url\": \"ftp://a\"}\n]", "f.json"),
            "f.json:2: endpoint 1: url must start with http:// or https:// (got 'ftp://a')");
  EXPECT_NE(
      parse_error("[\n {\"url\": \"http://a\",}\n]", "f.json").find("f.json:2: not valid JSON"),
      std::string::npos);
  EXPECT_EQ(parse_error("[]", "f.json"), "f.json: no endpoints listed");
  EXPECT_EQ(parse_error("url,weight\nhttp://a,1\nhttp://b,fast\n", "f.csv"),
            "f.csv:3: column 'weight': expected a number, got 'fast'");
  EXPECT_EQ(parse_error("url,weight\nhttp://a,-1\n", "f.csv"),
            "f.csv:2: endpoint 1: weight must be a finite number > 0 (got -1)");
  EXPECT_EQ(parse_error("url,max_in_flight\nhttp://a,2.5\n", "f.csv"),
            "f.csv:2: column 'max_in_flight': expected an integer >= 1, got '2.5'");
  EXPECT_EQ(parse_error("model,weight\nm,1\n", "f.csv"),
            "f.csv:1: the header has no 'url' column (first line: model,weight)");
  EXPECT_EQ(parse_error("url,port\n", "f.csv"),
            "f.csv:1: unknown column 'port' (the header names columns url, model, api_key_env, "
            "max_in_flight, weight)");
  EXPECT_EQ(parse_error("url,model\nhttp://a\n", "f.csv"),
            "f.csv:2: 1 fields but the header has 2");
  EXPECT_EQ(parse_error("url\nhttp://a\n\nhttp://a\n", "f.csv"),
            "f.csv:4: http://a is listed twice (also line 2)");
  EXPECT_EQ(parse_error("", "f.csv"), "f.csv: empty endpoints file (expected a header line)");

  const auto missing = std::filesystem::temp_directory_path() / "popalign_no_such_endpoints.json";
  EXPECT_THROW(read_endpoints_file(missing), IoError);
  const auto file = std::filesystem::temp_directory_path() / "popalign_endpoints_test.csv";
  std::ofstream(file) << "url,max_in_flight\nhttp://a,3\n";
  const auto eps = read_endpoints_file(file);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].max_in_flight, 3u);
  std::filesystem::remove(file);
}

TEST(FleetSummaryTest, TableHasEveryEndpointAndTotal) {
  EndpointStats a;
  a.url = "http://a";
  a.sent = 10;
  a.succeeded = 9;
  a.failed = 1;
  a.prompt_tokens = 1'000'000;
  a.failures_by_kind["server"] = 1;
  EndpointStats b;
  b.url = "http://b";
  b.sent = 5;
  b.succeeded = 5;
  b.completion_tokens = 500'000;
  b.healthy = false;
  b.ejections = 1;
  const std::string s = fleet_summary({a, b}, 2.0, 4.0);
  EXPECT_NE(s.find("http://a"), std::string::npos);
  EXPECT_NE(s.find("server=1"), std::string::npos);
  EXPECT_NE(s.find("out (taken out 1x"), std::string::npos);
  EXPECT_NE(s.find("2.0000"), std::string::npos);  // a: 1e6 prompt tokens x 2 / 1e6
  EXPECT_NE(s.find("4.0000"), std::string::npos);  // total: 2 + 0.5e6 x 4 / 1e6
}

}  // namespace
}  // namespace popalign::llm
