#include <popalign/persona/privacy.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace popalign::persona {
namespace {

// The single match of `text`, or a failure.
struct One {
  std::string kind, original;
};
std::vector<One> matches(std::string_view text) {
  std::vector<One> out;
  for (const auto& r : find_pii(text)) out.push_back({r.kind, r.original});
  return out;
}

void expect_one(std::string_view text, const std::string& kind, const std::string& original) {
  const auto m = matches(text);
  ASSERT_EQ(m.size(), 1u) << text;
  EXPECT_EQ(m[0].kind, kind) << text;
  EXPECT_EQ(m[0].original, original) << text;
}

TEST(Privacy, Emails) {
  expect_one("Write to jane.doe+blog@mail.example.co.uk today.", "email",
             "jane.doe+blog@mail.example.co.uk");
  expect_one("(me: a_b-c@x-y.org)", "email", "a_b-c@x-y.org");
  expect_one("..bob@host.com.", "email", "bob@host.com");
}

TEST(Privacy, Urls) {
  expect_one("See http://example.com/a?b=c&d=e, it is great.", "url",
             "http://example.com/a?b=c&d=e");
  expect_one("(https://blog.site.net/p/1)", "url", "https://blog.site.net/p/1");
  expect_one("at www.myblog.blogspot.com!", "url", "www.myblog.blogspot.com");
  expect_one("my page is janedoe.blogspot.com/about.", "url", "janedoe.blogspot.com/about");
  expect_one("FTP://files.example.org/x", "url", "FTP://files.example.org/x");
  expect_one("visit example.com.", "url", "example.com");
}

TEST(Privacy, Phones) {
  expect_one("call (555) 123-4567 now", "phone", "(555) 123-4567");
  expect_one("call 555-123-4567.", "phone", "555-123-4567");
  expect_one("call 555.123.4567", "phone", "555.123.4567");
  expect_one("call 555 123 4567", "phone", "555 123 4567");
  expect_one("call 1-800-555-1234", "phone", "1-800-555-1234");
  expect_one("call +1 555 123 4567", "phone", "+1 555 123 4567");
  expect_one("call +44 20 7946 0958 (London)", "phone", "+44 20 7946 0958");
  expect_one("call +49 (0)30 1234567", "phone", "+49 (0)30 1234567");
  expect_one("call +33123456789", "phone", "+33123456789");
}

TEST(Privacy, StreetAddresses) {
  expect_one("I live at 1234 Elm Street.", "street_address", "1234 Elm Street");
  expect_one("at 12B Old Mill Rd. in town", "street_address", "12B Old Mill Rd.");
  expect_one("send it to 221 Baker St, Apt 4B, Springfield, IL 62704 please", "street_address",
             "221 Baker St, Apt 4B, Springfield, IL 62704");
  expect_one("moved to 77 Massachusetts Avenue, Cambridge, MA", "street_address",
             "77 Massachusetts Avenue, Cambridge, MA");
  expect_one("at 350 5th Avenue, New York, NY 10118-0110.", "street_address",
             "350 5th Avenue, New York, NY 10118-0110");
  expect_one("at 9 Park Lane #12, London", "street_address", "9 Park Lane #12");
  expect_one("at 10 Main Street, 90210", "street_address", "10 Main Street, 90210");
}

TEST(Privacy, NegativeControlsAreLeftAlone) {
  for (const char* text :
       {// Emails / URLs
        "me@home is not an email", "@user said hi", "e.g. this, i.e. that", "file.txt and 3.14",
        "Mr.Smith arrived", "the end.Then more", "version 2.0.1", "U.S.A. and a.m.",
        "user@localhost", "Yahoo.Com is capitalised", "www. alone",
        // Phones
        "5551234567 unformatted", "2004-05-14 a date", "14.05.2004 another", "12/05/2004",
        "from 1999 to 2004", "100-2000 people", "$1,234,567.89", "call 555-1234",
        "ISBN 978-3-16-148410-0", "SSN-like 123-45-6789", "3.14159265358", "+5 points",
        "555-123-45678 too long", "v555-123-4567", "score 10 - 20 - 3000",
        // Addresses
        "I walked down Main Street", "I live on Elm Street", "We had 3 cats", "at 5 pm",
        "Route 66 is long", "Dr. Smith and St. Louis", "in 2004 I moved",
        "I ate 2 big macs on the way", "Page 12 Street Fighter", "$5 Main Street",
        "chapter 3. Park Avenue"}) {
    EXPECT_TRUE(find_pii(text).empty())
        << text << " -> " << (find_pii(text).empty() ? "" : find_pii(text)[0].original);
    EXPECT_EQ(redact_pii(text).text, text);
  }
}

TEST(Privacy, KnownOverRedactionIsDocumented) {
  // A number, capitalized words and a street type that is not an address: redacted (the safe side).
  expect_one("We watched 3 Sesame Street episodes", "street_address", "3 Sesame Street");
}

TEST(Privacy, RedactReplacesEveryMatchAndRecordsOffsets) {
  const std::string text =
      "She (jane@x.org, 555-123-4567) lives at 12 Oak Lane and blogs at http://jane.example.com/b.";
  const RedactResult r = redact_pii(text);
  EXPECT_EQ(r.text, "She ([email], [phone]) lives at [address] and blogs at [url].");
  ASSERT_EQ(r.redactions.size(), 4u);
  for (const auto& red : r.redactions)
    EXPECT_EQ(text.substr(red.offset, red.original.size()), red.original);
  EXPECT_EQ(r.redactions[0].kind, "email");
  EXPECT_EQ(r.redactions[0].offset, 5u);
  EXPECT_EQ(r.redactions[1].kind, "phone");
  EXPECT_EQ(r.redactions[2].kind, "street_address");
  EXPECT_EQ(r.redactions[3].kind, "url");
}

TEST(Privacy, OverlapsGoToTheLeftmostLongestMatch) {
  // The email's domain is also a host name; the URL's path holds a phone number.
  expect_one("mail bob@example.com now", "email", "bob@example.com");
  expect_one("see http://x.com/call-555-123-4567 now", "url", "http://x.com/call-555-123-4567");
  EXPECT_EQ(redaction_placeholder("email"), "[email]");
  EXPECT_EQ(redaction_placeholder("street_address"), "[address]");
  EXPECT_EQ(redaction_placeholder("phone"), "[phone]");
  EXPECT_EQ(redaction_placeholder("url"), "[url]");
}

TEST(Privacy, NeverThrowsAndIsDeterministicOnRandomBytes) {
  std::mt19937 rng(5);
  const std::string alphabet = "aZ09 @.-()+/#,:\n\xC3\xA9StreetAve";
  for (int t = 0; t < 2000; ++t) {
    std::string s;
    const int n = static_cast<int>(rng() % 80);
    for (int i = 0; i < n; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    const RedactResult a = redact_pii(s), b = redact_pii(s);
    EXPECT_EQ(a.text, b.text);
    std::size_t last = 0;
    for (const auto& red : a.redactions) {
      EXPECT_GE(red.offset, last);
      EXPECT_EQ(s.substr(red.offset, red.original.size()), red.original);
      last = red.offset + red.original.size();
    }
  }
}

}  // namespace
}  // namespace popalign::persona
