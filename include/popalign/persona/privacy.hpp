#pragma once
// Rule-based detection and redaction of obvious PII in persona texts (persona mining, step 6).
// Rules (hand-written scanners, ASCII; byte offsets into the original text):
// - email: local@domain.tld, local = [A-Za-z0-9._%+-]+, domain = labels of [A-Za-z0-9-] joined
//   by '.', the last label 2+ letters. "me@home", "@user" are not emails.
// - url: a scheme ("http://", "https://", "ftp://") or "www." followed by non-space characters;
//   or a bare host name ending in a common top-level domain (com, org, net, edu, gov, io, info,
//   biz, co, uk, us, ca, de, au, fr) optionally followed by "/path". Trailing punctuation
//   ".,;:!?)]'\"" is not part of the URL. "e.g.", "file.txt", "3.14" are not URLs.
// - phone: North American numbers written with separators, "(555) 123-4567", "555-123-4567",
//   "555.123.4567", "555 123 4567", optionally preceded by "+1" or "1-"; and international
//   numbers "+CC ..." with 8 to 15 digits in groups separated by spaces, '-' or '.'. The match
//   must not touch other digits or letters. Unformatted digit runs ("5551234567"), dates
//   ("2004-05-14", "14.05.2004"), years, ranges ("100-2000"), prices and 7-digit local numbers
//   are not phones.
// - street_address: a house number (1 to 6 digits, optionally one letter), 1 to 4 street-name
//   words (capitalized, or ordinals like "5th"), a street-type word (Street, St, Avenue, Ave,
//   Road, Rd, Boulevard, Blvd, Lane, Ln, Drive, Dr, Court, Ct, Place, Pl, Way, Terrace,
//   Circle, Parkway, Highway, Square), then optionally a unit ("Apt 4B", "Suite 200", "#12") and
//   ", City" words, a state (two capitals) and a ZIP code (5 digits, optionally -4). Without a
//   house number it is not an address ("Main Street"). Known over-redaction: a number followed by
//   capitalized words and a street type that is not an address ("3 Sesame Street episodes").
// Overlaps: matches are taken from left to right; at the same offset the longer wins, then the
// kind in the order email, url, phone, street_address. Each match is replaced by "[email]",
// "[url]", "[phone]" or "[address]".
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace popalign::persona {

/// One redacted span.
struct Redaction {
  std::string kind;        ///< "email", "phone", "url", "street_address"
  std::string original;    ///< the text removed
  std::size_t offset = 0;  ///< byte offset in the original text
};

struct RedactResult {
  std::string text;                   ///< the text with every match replaced
  std::vector<Redaction> redactions;  ///< in text order
};

/// Finds and replaces PII (see the file comment). Deterministic; never throws on any input.
RedactResult redact_pii(std::string_view text);

/// The matches only, without replacing (the redactions of redact_pii).
std::vector<Redaction> find_pii(std::string_view text);

/// The replacement of a kind: "[email]", "[phone]", "[url]", "[address]".
std::string_view redaction_placeholder(std::string_view kind);

}  // namespace popalign::persona
