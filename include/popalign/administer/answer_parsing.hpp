#pragma once
// Reading a rating out of what a language model wrote.
//
// Three readers, one per administration mode (see docs/administer.md):
//  - parse_likert_answer: free text from one item ("4", "Moderately accurate.", "I'd say four",
//    "Strongly agree (5)") -> one value on the instrument's scale, or nothing with a reason;
//  - parse_json_answers: the JSON object a batch call returns ({"E1": 4, "A1": "2", ...}),
//    also when it is wrapped in prose or code fences or cut off part-way;
//  - expected_score: the PsyBORGS-style expected rating from the log-probabilities of the option
//    tokens "1".."K" at the answer position, renormalised over the options that are present.
//
// All three work on the *instrument's* scale min..max, whose labels are listed low to high. When
// the scale was presented reversed (the prompt listed max first as "1"), pass
// ParseOptions::reversed = true: presented numbers d are mapped back to min + max - d, while
// labels keep their meaning ("very accurate" is max however it was numbered).
//
// Free-text rules (parse_likert_answer), chosen to be strict: a wrong number is worse for a
// researcher than a missing one, and a missing answer is asked again by the administrator.
//  1. Integers are read from the raw text as maximal digit runs. A run glued to a letter ("E1",
//     "5th") or part of a decimal ("3.5") is not a rating. Mentions of the scale itself are
//     dropped: "1 to 5", "1-5", "1 and 5", "1 through 5" (the pair min..max or max..min),
//     "out of 5" and "/5" (with max).
//  2. Labels are matched case-insensitively on word boundaries after every non-alphanumeric
//     character became a space; a match inside a longer match is dropped ("agree" inside
//     "strongly agree", "agree" and "disagree" inside "neither agree nor disagree"). A label
//     preceded by a negation ("not", "never", "n't") makes the answer ambiguous. Besides the
//     instrument's labels, built-in synonyms are used for 5- and 7-point scales (the
//     agree/disagree and accurate/inaccurate families, "neutral").
//  3. Number words ("one".."ten") count only when neither digits nor labels were found, because
//     "one" is also a pronoun.
//  All candidates found must name the same value; otherwise the answer is ambiguous. Candidates
//  outside min..max make it out_of_range when no candidate is in range.
#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <popalign/psychometrics/instrument.hpp>

namespace popalign::administer {

/// Why a parse gave (or did not give) a value.
enum class ParseStatus {
  ok,            ///< one value
  empty,         ///< the text is empty or only whitespace / punctuation
  no_answer,     ///< nothing that looks like a rating
  ambiguous,     ///< several different ratings, or a negated label
  out_of_range,  ///< only numbers outside the scale
};

/// Which kind of evidence gave the value.
enum class AnswerSource { none, digit, label, number_word, json };

/// "ok", "empty", ... (stable names, written to output files).
std::string_view to_string(ParseStatus status) noexcept;
std::string_view to_string(AnswerSource source) noexcept;

/// One parsed answer; value is on the instrument's scale (reversal already undone).
struct ParsedAnswer {
  std::optional<int> value;
  ParseStatus status = ParseStatus::no_answer;
  AnswerSource source = AnswerSource::none;

  bool ok() const noexcept { return value.has_value(); }
  friend bool operator==(const ParsedAnswer&, const ParsedAnswer&) = default;
};

/// Checks that `scale` can be parsed against: 0 <= min < max, at most 11
/// points, labels empty or one per point. Throws InvalidArgument naming the field.
void check_parse_scale(const psychometrics::Scale& scale);

struct ParseOptions {
  /// The scale was presented reversed (max listed as 1): presented numbers map back.
  bool reversed = false;
  /// Also accept the built-in agree/accurate synonyms on 5- and 7-point scales.
  bool builtin_synonyms = true;
};

/// The built-in label synonyms for a scale with `points` points: a list of (phrase, offset from
/// min). Empty for scales other than 5 and 7 points. Phrases are lower case.
std::vector<std::pair<std::string, int>> builtin_scale_synonyms(int points);

/// Reads one rating from free text. Never throws on any text; throws InvalidArgument only for an
/// invalid scale.
ParsedAnswer parse_likert_answer(std::string_view text, const psychometrics::Scale& scale,
                                 const ParseOptions& options = {});

/// Reads a batch answer: a JSON object mapping item ids to ratings (integers, integer-valued
/// numbers, or strings read with parse_likert_answer), optionally nested under "answers", and
/// optionally surrounded by prose or ``` fences. A truncated object still yields the pairs that
/// were complete. Returns one entry per id in item_ids (missing ids get status no_answer; an id
/// given twice with different values is ambiguous; a number outside the scale is out_of_range).
std::map<std::string, ParsedAnswer> parse_json_answers(std::string_view text,
                                                       std::span<const std::string> item_ids,
                                                       const psychometrics::Scale& scale,
                                                       const ParseOptions& options = {});

/// A token and its natural-log probability (the top alternatives at one position).
struct TokenChoice {
  std::string token;
  double logprob = 0.0;
};

/// The expected rating from option-token probabilities.
struct ExpectedScore {
  std::optional<double> value;  ///< sum_k v_k p_k / sum_k p_k; empty when no option was found
  double option_mass = 0.0;     ///< sum of the option probabilities found (before renormalising)
  /// Renormalised probability of each scale point, instrument order (min first); all zero when
  /// value is empty.
  std::vector<double> probabilities;
  /// The most likely scale point (instrument value), when value is set.
  std::optional<int> mode;
};

/// PsyBORGS-style expected score at one token position: every alternative whose text, with
/// surrounding whitespace removed, is a presented option number (min..max written as one digit;
/// the scale must lie within 0..9, else InvalidArgument) adds its
/// probability to that option (" 4" and "4" both count); the option probabilities are
/// renormalised over the options present, and the expected value taken on the instrument scale
/// (reversed presentation mapped back). Non-finite log-probabilities are ignored.
ExpectedScore expected_score(std::span<const TokenChoice> alternatives,
                             const psychometrics::Scale& scale, const ParseOptions& options = {});

}  // namespace popalign::administer
