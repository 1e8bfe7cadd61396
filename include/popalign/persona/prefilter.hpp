#pragma once
// The pre-filter (persona mining, step 2; no LLM): cheap rules that drop posts which cannot
// ground a persona before any paid call is made. In this order, per post:
//   1. clean (strip_noise): clean_post_text removes the crawl's noise; a post left with no text
//      is dropped as "empty_after_cleaning". Kept posts carry the cleaned text.
//   2. "too_short": fewer than min_tokens tokens (count_tokens).
//   3. "no_first_person": no first-person word (has_first_person), when require_first_person.
//   4. "exact_duplicate": the same normalized text (lower-cased ASCII, runs of white space as one
//      space) as an earlier kept post, when drop_exact_duplicates.
//   5. "near_duplicate": Jaccard similarity >= near_duplicate_threshold between the post's set of
//      word 5-shingles and an earlier kept post's, when drop_near_duplicates.
// "Earlier" is input order (the reader's order: author, then time), so the first occurrence is
// kept and the result does not depend on anything but the input. Duplicates are looked for
// across authors (reposts) as well as within one author.
//
// Near duplicates scale as MinHash with LSH banding, not all pairs: a post's words (lower-cased
// runs of letters, digits and apostrophes; bytes >= 0x80 count as letters) form 5-word shingles
// (a post with fewer words is one shingle), each hashed to 64 bits and folded to 32;
// minhash_permutations hash functions (each a bijection of the 32-bit values: x * odd + c, then
// an integer mix; 32-bit lanes so that the loop vectorizes) give the signature, cut into
// lsh_bands bands. Two posts that agree on
// a whole band are candidates, and a candidate counts only when the EXACT Jaccard of the two
// shingle sets, recomputed, reaches the threshold (so there are no false positives; a pair at
// Jaccard J is missed with probability (1 - J^r)^b, r = permutations / bands: with the defaults
// 64 / 16, r = 4, that is 4e-8 at J = 0.9 and 3e-4 at J = 0.8). Cost: linear in the text plus a
// sort of posts x bands keys; hashing is parallel over posts (execution.threads), results do not
// depend on the thread count.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <popalign/core/execution.hpp>
#include <popalign/persona/post.hpp>

namespace popalign::persona {

struct PrefilterOptions {
  /// The method's "posts under 30 tokens" (tokens as count_tokens counts them: words).
  int min_tokens = 30;
  bool require_first_person = true;
  bool strip_noise = true;
  bool drop_exact_duplicates = true;
  bool drop_near_duplicates = true;
  /// Jaccard similarity of the word 5-shingle sets at or above which a post is a near duplicate
  /// of an earlier kept one; in (0, 1].
  double near_duplicate_threshold = 0.9;
  /// Words per shingle (>= 1).
  int shingle_words = 5;
  /// MinHash signature length; a multiple of lsh_bands.
  int minhash_permutations = 64;
  int lsh_bands = 16;
  Execution execution;

  /// InvalidArgument naming the field.
  void validate() const;
};

/// Why a post was dropped.
struct DroppedPost {
  std::string post_id;
  std::string author;
  /// "empty_after_cleaning", "too_short", "no_first_person", "exact_duplicate",
  /// "near_duplicate".
  std::string reason;
  /// For too_short "12 tokens < 30"; for duplicates "of <post id>" (near: "of <id>, Jaccard
  /// 0.93"); else empty.
  std::string detail;
};

struct PrefilterResult {
  /// The posts kept, in input order (cleaned text when strip_noise).
  std::vector<Post> kept;
  /// Every dropped post, in input order.
  std::vector<DroppedPost> dropped;
  /// Dropped posts by reason (every reason above present, possibly 0), plus "in" and "kept".
  std::map<std::string, std::size_t> counts;
};

/// Removes the crawl's noise: HTML/XML tags ("<br>", "<a href=...>", "</p>", comments), the
/// corpus's link placeholder "urlLink" (a word of its own or glued to the next word), HTML
/// entities (&amp; &nbsp; &#39; ...; decoded; an unknown one is kept), control characters; runs
/// of white space become one space; the result is trimmed. UTF-8 is passed through.
std::string clean_post_text(std::string_view text);

/// The token rule of min_tokens: white-space separated words that contain at least one letter
/// or digit (ASCII letters and digits, or any byte >= 0x80, i.e. any non-ASCII character);
/// pieces of punctuation alone ("-", "...", ":)") do not count. Close to a word count, which is
/// about 0.75 of a BPE token count for English, so 30 words is a little stricter than 30 BPE
/// tokens.
std::size_t count_tokens(std::string_view text);

/// True when the text has a first-person word: I, me, my, mine, myself, we, us, our, ours,
/// ourselves, and the contractions I'm, I've, I'd, I'll (straight or curly apostrophe). Case is
/// ignored except for "US" in capitals (the country) and "I"'s contractions, which are words on
/// their own. A word is a maximal run of ASCII letters.
bool has_first_person(std::string_view text);

/// The pre-filter (see the file comment). InvalidArgument from options.validate().
PrefilterResult prefilter(std::vector<Post> posts, const PrefilterOptions& options = {});

/// The exact Jaccard similarity of the shingle sets of two texts (the verification step of the
/// near-duplicate search, exposed for tests): 1 for two texts with no words.
double shingle_jaccard(std::string_view a, std::string_view b, int shingle_words = 5);

}  // namespace popalign::persona
