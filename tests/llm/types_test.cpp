#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <popalign/llm/types.hpp>

#include "llm/test_double_backend.hpp"

namespace popalign::llm {
namespace {

TEST(Sha256, MatchesFipsVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Request, ValidateNamesTheField) {
  Request r = testing::chat("hi");
  EXPECT_NO_THROW(r.validate());
  auto field_of = [](const Request& bad) {
    try {
      bad.validate();
    } catch (const InvalidArgument& e) {
      return e.argument();
    }
    return std::string("<no throw>");
  };
  Request empty;
  EXPECT_EQ(field_of(empty), "messages");
  Request both = r;
  both.prompt = "x";
  EXPECT_EQ(field_of(both), "prompt");
  Request t = r;
  t.temperature = 2.5;
  EXPECT_EQ(field_of(t), "temperature");
  Request p = r;
  p.top_p = 0.0;
  EXPECT_EQ(field_of(p), "top_p");
  Request m = r;
  m.max_tokens = 0;
  EXPECT_EQ(field_of(m), "max_tokens");
  Request k = r;
  k.top_logprobs = 3;  // without logprobs
  EXPECT_EQ(field_of(k), "top_logprobs");
  Request s = r;
  s.json_schema = "{not json";
  EXPECT_EQ(field_of(s), "json_schema");
}

TEST(CanonicalRequest, StableAndSensitiveToEveryField) {
  const Request base = testing::chat("How are you?", 7);
  const std::string key = request_hash(base);
  EXPECT_EQ(key.size(), 64u);
  EXPECT_EQ(request_hash(testing::chat("How are you?", 7)), key);
  auto differs = [&](auto mutate) {
    Request r = base;
    mutate(r);
    return request_hash(r) != key;
  };
  EXPECT_TRUE(differs([](Request& r) { r.model = "other"; }));
  EXPECT_TRUE(differs([](Request& r) { r.seed = 8; }));
  EXPECT_TRUE(differs([](Request& r) { r.seed.reset(); }));
  EXPECT_TRUE(differs([](Request& r) { r.temperature = 0.0; }));
  EXPECT_TRUE(differs([](Request& r) { r.top_p = 0.9; }));
  EXPECT_TRUE(differs([](Request& r) { r.max_tokens = 9; }));
  EXPECT_TRUE(differs([](Request& r) { r.stop = {"\n"}; }));
  EXPECT_TRUE(differs([](Request& r) { r.messages[1].content += " "; }));
  EXPECT_TRUE(differs([](Request& r) { r.messages[0].role = "user"; }));
  EXPECT_TRUE(differs([](Request& r) { r.logprobs = true; }));
  EXPECT_TRUE(differs([](Request& r) { r.json_schema = R"({"type":"object"})"; }));
  // Schema whitespace and key order do not matter.
  Request a = base, b = base;
  a.json_schema = R"({"type":"object","properties":{"x":{"type":"integer"}}})";
  b.json_schema = "{ \"properties\": {\"x\": {\"type\": \"integer\"}},\n \"type\": \"object\" }";
  EXPECT_EQ(request_hash(a), request_hash(b));
  // temperature 0 and unset are different requests (server default may be 1).
  Request t0 = base;
  t0.temperature = 0.0;
  EXPECT_NE(canonical_request(t0), canonical_request(base));
  EXPECT_EQ(canonical_request(base).find("temperature"), std::string::npos);
}

TEST(CanonicalRequest, InvalidUtf8IsAnArgumentError) {
  for (std::string bad : {std::string("caf\xc3", 4), std::string("\xff"), std::string("\xc0\xaf"),
                          std::string("\xed\xa0\x80")}) {
    Request r = testing::chat(bad);
    EXPECT_THROW(canonical_request(r), InvalidArgument);
  }
}

TEST(CanonicalRequest, IsValidJsonThatRoundTripsEveryField) {
  Request r;
  r.messages = {
      {"system", "quote \" backslash \\ tab \t nl \n ctl \x01 caf\xc3\xa9 \xf0\x9f\x98\x80"},
      {"user", "q"}};
  r.model = "m";
  r.temperature = 0.7;
  r.top_p = 0.1;
  r.max_tokens = 5;
  r.seed = 18446744073709551615ull;
  r.stop = {"\n\n", "END"};
  r.json_schema = R"({"type":"object"})";
  r.logprobs = true;
  r.top_logprobs = 4;
  const auto j = nlohmann::json::parse(canonical_request(r));
  EXPECT_EQ(j["v"], 1);
  EXPECT_EQ(j["model"], "m");
  EXPECT_EQ(j["messages"][0]["content"], r.messages[0].content);
  EXPECT_EQ(j["messages"][1]["role"], "user");
  EXPECT_EQ(j["temperature"].get<double>(), 0.7);
  EXPECT_EQ(j["top_p"].get<double>(), 0.1);
  EXPECT_EQ(j["max_tokens"], 5);
  EXPECT_EQ(j["seed"].get<std::uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(j["stop"][0], "\n\n");
  EXPECT_EQ(j["json_schema"], R"({"type":"object"})");
  EXPECT_EQ(j["top_logprobs"], 4);
  Request p;
  p.prompt = "Once";
  EXPECT_EQ(canonical_request(p), R"({"v":1,"model":"","prompt":"Once"})");
}

TEST(ErrorKind, RetryableAndNames) {
  EXPECT_TRUE(retryable(ErrorKind::transport));
  EXPECT_TRUE(retryable(ErrorKind::timeout));
  EXPECT_TRUE(retryable(ErrorKind::rate_limited));
  EXPECT_TRUE(retryable(ErrorKind::server));
  EXPECT_TRUE(retryable(ErrorKind::invalid_response));
  EXPECT_FALSE(retryable(ErrorKind::bad_request));
  EXPECT_FALSE(retryable(ErrorKind::unauthorized));
  EXPECT_FALSE(retryable(ErrorKind::not_found));
  EXPECT_FALSE(retryable(ErrorKind::cancelled));
  EXPECT_FALSE(retryable(ErrorKind::other));
  for (ErrorKind k :
       {ErrorKind::transport, ErrorKind::timeout, ErrorKind::rate_limited, ErrorKind::server,
        ErrorKind::bad_request, ErrorKind::unauthorized, ErrorKind::not_found,
        ErrorKind::invalid_response, ErrorKind::cancelled, ErrorKind::other})
    EXPECT_EQ(error_kind_from_string(to_string(k)), k);
}

TEST(Outcome, HoldsResponseOrFailure) {
  Outcome ok = Response{"hi", "stop", {}, {1, 2}, "m", false};
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().text, "hi");
  EXPECT_THROW((void)ok.error(), Error);
  Outcome bad = Failure{ErrorKind::server, 503, "down", 2.0};
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().http_status, 503);
  try {
    (void)bad.value();
    FAIL() << "value() of a failure must throw";
  } catch (const LlmError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::server);
    EXPECT_NE(std::string(e.what()).find("503"), std::string::npos);
  }
}

TEST(ResponseJson, RoundTrips) {
  Response r{"text \"quoted\"\n", "length", {}, {12, 3}, "m1", false};
  r.logprobs.push_back({"a", -0.5, {{"a", -0.5}, {"b", -1.5}}});
  EXPECT_EQ(response_from_json(response_to_json(r)), r);
  Failure f{ErrorKind::rate_limited, 429, "slow", 1.5};
  EXPECT_EQ(failure_from_json(failure_to_json(f)), f);
  EXPECT_THROW(response_from_json("{\"nope\":1}"), Error);
  EXPECT_THROW(response_from_json("{trunc"), Error);
}

// Found by fuzz_llm_response: an http_status beyond int's range was cast from double to int
// (undefined behaviour). It is now refused like any other malformed failure record.
TEST(FailureJson, RefusesHttpStatusOutOfRange) {
  EXPECT_THROW(failure_from_json(R"({"kind":"server","http_status":66666666666666666666214})"),
               Error);
  EXPECT_THROW(failure_from_json(R"({"kind":"server","http_status":1e30})"), Error);
  EXPECT_THROW(failure_from_json(R"({"kind":"server","http_status":500.5})"), Error);
  EXPECT_THROW(failure_from_json(R"({"kind":"server","http_status":"500"})"), Error);
  EXPECT_EQ(failure_from_json(R"({"kind":"server","http_status":500.0})").http_status, 500);
  EXPECT_EQ(failure_from_json(R"({"kind":"server"})").http_status, 0);
}

}  // namespace
}  // namespace popalign::llm
