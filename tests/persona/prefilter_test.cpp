#include <popalign/persona/prefilter.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <popalign/core/error.hpp>
#include <popalign/persona/post_readers.hpp>

namespace popalign::persona {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::filesystem::path kData = POPALIGN_PERSONA_TEST_DATA;

Post post(std::string id, std::string text, std::string author = "a") {
  return Post{std::move(author), std::move(id), "", std::move(text), {}};
}

// n words of first-person filler, distinct per seed.
std::string story(int seed, int words) {
  static const std::vector<std::string> vocab{
      "garden",  "river",  "coffee",   "morning", "brother", "school",  "music",
      "window",  "train",  "letter",   "summer",  "kitchen", "friend",  "market",
      "rain",    "book",   "city",     "dog",     "night",   "bread",   "piano",
      "bicycle", "office", "mountain", "beach",   "movie",   "teacher", "lamp"};
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::string s = "I";
  for (int i = 1; i < words; ++i)
    s += " " + vocab[rng() % vocab.size()] + std::to_string(rng() % 50);
  return s;
}

// Independent reference of the shingle Jaccard: shingles as strings in a std::set.
std::set<std::string> reference_shingles(const std::string& text, int k) {
  const auto words = [](const std::string& s) {
    std::vector<std::string> w;
    std::string cur;
    for (char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (std::isalnum(c) || c == '\'' || c >= 0x80) {
        cur.push_back(static_cast<char>(std::tolower(c)));
      } else if (!cur.empty()) {
        w.push_back(cur);
        cur.clear();
      }
    }
    if (!cur.empty()) w.push_back(cur);
    return w;
  };
  const auto shingles = [&](const std::string& s) {
    const auto w = words(s);
    std::set<std::string> out;
    if (w.empty()) return out;
    const std::size_t kk = static_cast<std::size_t>(k);
    const std::size_t n = w.size() >= kk ? w.size() - kk + 1 : 1;
    for (std::size_t i = 0; i < n; ++i) {
      std::string sh;
      for (std::size_t j = i; j < std::min(w.size(), i + kk); ++j) sh += w[j] + "\x1F";
      out.insert(sh);
    }
    return out;
  };
  return shingles(text);
}

double reference_jaccard(const std::set<std::string>& sa, const std::set<std::string>& sb) {
  if (sa.empty() && sb.empty()) return 1.0;
  std::size_t inter = 0;
  for (const auto& s : sa) inter += sb.count(s);
  return static_cast<double>(inter) / static_cast<double>(sa.size() + sb.size() - inter);
}

double reference_jaccard(const std::string& a, const std::string& b, int k) {
  return reference_jaccard(reference_shingles(a, k), reference_shingles(b, k));
}

TEST(CleanPostText, StripsCrawlNoise) {
  EXPECT_EQ(clean_post_text("  urlLink My photos  are up.\n\n\tSee   them!  "),
            "My photos are up. See them!");
  EXPECT_EQ(clean_post_text("urlLinkhttp://x.org was down"), "http://x.org was down");
  EXPECT_EQ(clean_post_text("a<br>b<br/>c</p><a href=\"x\">link</a><!-- hidden -->d"),
            "a b c link d");
  EXPECT_EQ(clean_post_text("Tom &amp; Jerry&nbsp;&#8212;&#x41;&rsquo;s"),
            "Tom & Jerry \xE2\x80\x94"
            "A\xE2\x80\x99s");
  EXPECT_EQ(clean_post_text("&lt;b&gt;bold&lt;/b&gt;"), "bold");  // escaped markup is markup
  // Negative controls: text that looks a bit like noise stays.
  EXPECT_EQ(clean_post_text("a < b and x<3 and 3 > 2"), "a < b and x<3 and 3 > 2");
  EXPECT_EQ(clean_post_text("&foo; & more; myurlLink"), "&foo; & more; myurlLink");
  EXPECT_EQ(clean_post_text("caf\xC3\xA9\x01\x7F!"), "caf\xC3\xA9 !");
  EXPECT_EQ(clean_post_text("<br> urlLink  "), "");
}

TEST(CountTokens, CountsWordsWithALetterOrDigit) {
  EXPECT_EQ(count_tokens("Hello, world ... :) 42 caf\xC3\xA9 - --"), 4u);
  EXPECT_EQ(count_tokens(""), 0u);
  EXPECT_EQ(count_tokens("   \n\t "), 0u);
  EXPECT_EQ(count_tokens("one\ntwo\tthree  four"), 4u);
}

TEST(FirstPerson, FindsThePronounsAndNotLookAlikes) {
  for (const char* s :
       {"i went home", "Yesterday I slept", "I'm tired", "I\xE2\x80\x99ve been there",
        "Give me a break", "MY car", "We won", "they told us", "our house", "it is mine.", "myself",
        "ours", "ourselves", "(I)"})
    EXPECT_TRUE(has_first_person(s)) << s;
  for (const char* s : {"The US economy grew", "i.e. the thing", "He said that", "Iowa is flat",
                        "a mystery in summer", "the usual", "Welcome", "mineral water", "",
                        "Meme culture", "caf\xC3\xA9m\xC3\xA9 my\xC3\xA9"})
    EXPECT_FALSE(has_first_person(s)) << s;
}

TEST(ShingleJaccard, MatchesAnIndependentReference) {
  EXPECT_DOUBLE_EQ(shingle_jaccard("a b c", "b c d", 1), 0.5);
  EXPECT_DOUBLE_EQ(shingle_jaccard("", "", 5), 1.0);
  EXPECT_DOUBLE_EQ(shingle_jaccard("", "word", 5), 0.0);
  EXPECT_DOUBLE_EQ(shingle_jaccard("Short TEXT!", "short text", 5), 1.0);
  for (int s = 0; s < 20; ++s) {
    const std::string a = story(s, 40 + s);
    std::string b = a;
    b.replace(b.size() / 2, 4, "xyz ");
    for (int k : {1, 3, 5})
      EXPECT_NEAR(shingle_jaccard(a, b, k), reference_jaccard(a, b, k), 1e-12) << s << " " << k;
    EXPECT_NEAR(shingle_jaccard(a, story(s + 100, 30), 5),
                reference_jaccard(a, story(s + 100, 30), 5), 1e-12);
  }
}

TEST(PrefilterOptions, ValidateNamesTheBadField) {
  const auto field_of = [](PrefilterOptions o) {
    try {
      o.validate();
    } catch (const InvalidArgument& e) {
      return e.argument();
    }
    return std::string();
  };
  PrefilterOptions o;
  EXPECT_EQ(field_of(o), "");
  o.min_tokens = -1;
  EXPECT_EQ(field_of(o), "min_tokens");
  o = {};
  o.near_duplicate_threshold = 0.0;
  EXPECT_EQ(field_of(o), "near_duplicate_threshold");
  o.near_duplicate_threshold = 1.5;
  EXPECT_EQ(field_of(o), "near_duplicate_threshold");
  o = {};
  o.shingle_words = 0;
  EXPECT_EQ(field_of(o), "shingle_words");
  o = {};
  o.minhash_permutations = 60;
  EXPECT_EQ(field_of(o), "minhash_permutations");
  o = {};
  o.lsh_bands = 0;
  EXPECT_EQ(field_of(o), "lsh_bands");
  o = {};
  o.execution.threads = -1;
  EXPECT_EQ(field_of(o), "threads");
  EXPECT_THROW(prefilter({}, o), InvalidArgument);
}

std::vector<Post> mixed_posts() {
  const std::string base = story(1, 100);
  return {
      post("keep", story(2, 40)),
      post("short", "I had a nice day today."),
      post("third",
           "The committee approved the budget for the new bridge across the river, "
           "which engineers say will carry twenty thousand cars a day once it opens in the "
           "spring of next year after three years of work."),
      post("noise", "<br> urlLink <p></p>"),
      post("base", base),
      post("exact", "  " + base + "\n"),  // white space only differs: an exact duplicate
      post("upper", std::string(base).replace(0, 1, "i")),  // case only differs
      post("near", base + " again"),
      post("far", story(3, 100)),
      post("other-author-near", base + " twice", "b"),
  };
}

TEST(Prefilter, DropsEachReasonWithDetails) {
  const PrefilterResult r = prefilter(mixed_posts());
  std::vector<std::string> kept;
  for (const auto& p : r.kept) kept.push_back(p.id);
  EXPECT_THAT(kept, ElementsAre("keep", "base", "far"));
  ASSERT_EQ(r.dropped.size(), 7u);
  const auto find = [&](const std::string& id) {
    for (const auto& d : r.dropped)
      if (d.post_id == id) return d;
    return DroppedPost{};
  };
  EXPECT_EQ(find("short").reason, "too_short");
  EXPECT_EQ(find("short").detail, "6 tokens < 30");
  EXPECT_EQ(find("third").reason, "no_first_person");
  EXPECT_EQ(find("noise").reason, "empty_after_cleaning");
  EXPECT_EQ(find("exact").reason, "exact_duplicate");
  EXPECT_EQ(find("exact").detail, "of base");
  EXPECT_EQ(find("upper").reason, "exact_duplicate");
  EXPECT_EQ(find("near").reason, "near_duplicate");
  EXPECT_THAT(find("near").detail, HasSubstr("of base, Jaccard 0.99"));
  EXPECT_EQ(find("other-author-near").reason, "near_duplicate");
  EXPECT_EQ(find("other-author-near").author, "b");
  EXPECT_EQ(r.counts.at("in"), 10u);
  EXPECT_EQ(r.counts.at("kept"), 3u);
  EXPECT_EQ(r.counts.at("too_short"), 1u);
  EXPECT_EQ(r.counts.at("no_first_person"), 1u);
  EXPECT_EQ(r.counts.at("empty_after_cleaning"), 1u);
  EXPECT_EQ(r.counts.at("exact_duplicate"), 2u);
  EXPECT_EQ(r.counts.at("near_duplicate"), 2u);
}

TEST(Prefilter, EveryOptionSwitchesItsRuleOff) {
  PrefilterOptions o;
  o.min_tokens = 0;
  o.require_first_person = false;
  o.drop_exact_duplicates = false;
  o.drop_near_duplicates = false;
  PrefilterResult r = prefilter(mixed_posts(), o);
  EXPECT_EQ(r.kept.size(), 9u);  // only the post that cleans to nothing
  EXPECT_EQ(r.counts.at("empty_after_cleaning"), 1u);
  o.strip_noise = false;
  r = prefilter(mixed_posts(), o);
  EXPECT_EQ(r.kept.size(), 10u);
  EXPECT_EQ(r.kept[3].text, "<br> urlLink <p></p>");  // not cleaned
  EXPECT_EQ(r.kept[5].text, "  " + story(1, 100) + "\n");
  // Exact on, near off: the near duplicates stay.
  o = {};
  o.drop_near_duplicates = false;
  r = prefilter(mixed_posts(), o);
  EXPECT_EQ(r.counts.at("near_duplicate"), 0u);
  EXPECT_EQ(r.counts.at("exact_duplicate"), 2u);
  // Near on, exact off: the exact copies are near duplicates (Jaccard 1).
  o = {};
  o.drop_exact_duplicates = false;
  r = prefilter(mixed_posts(), o);
  EXPECT_EQ(r.counts.at("near_duplicate"), 4u);
  // A stricter threshold keeps "near" (Jaccard 96/97), a higher min_tokens drops "keep".
  o = {};
  o.near_duplicate_threshold = 0.995;
  o.min_tokens = 50;
  r = prefilter(mixed_posts(), o);
  EXPECT_EQ(r.counts.at("near_duplicate"), 0u);
  EXPECT_EQ(r.counts.at("too_short"), 3u);  // keep (40), third (36), short (6)
}

TEST(Prefilter, ShingleWordsAndLshParametersAreUsed) {
  // The same words in reverse order: a duplicate for 1-word shingles, not for 5-word ones.
  const std::string a = story(5, 60);
  std::istringstream in(a);
  std::vector<std::string> words{std::istream_iterator<std::string>(in), {}};
  std::string b = "I";
  for (std::size_t i = words.size(); i-- > 1;) b += " " + words[i];
  PrefilterOptions o;
  EXPECT_EQ(prefilter({post("a", a), post("b", b)}, o).kept.size(), 2u);
  o.shingle_words = 1;
  const PrefilterResult r = prefilter({post("a", a), post("b", b)}, o);
  ASSERT_EQ(r.kept.size(), 1u);
  EXPECT_EQ(r.dropped[0].detail, "of a, Jaccard 1.000");
  // Other banding: the same answer for a clear duplicate.
  o = {};
  o.minhash_permutations = 32;
  o.lsh_bands = 8;
  EXPECT_EQ(prefilter({post("a", a), post("b", a + " end")}, o).counts.at("near_duplicate"), 1u);
}

TEST(Prefilter, NearDuplicatesMatchAnAllPairsReference) {
  // 300 posts: 60 originals and variants of them with 1 to 4 words changed, shuffled.
  std::mt19937 rng(11);
  std::vector<Post> posts;
  for (int i = 0; i < 60; ++i)
    posts.push_back(post("o" + std::to_string(i), story(1000 + i, 120 + i % 100)));
  for (int v = 0; v < 240; ++v) {
    std::string text = posts[rng() % 60].text;
    const int changes = 1 + static_cast<int>(rng() % 4);
    std::istringstream in(text);
    std::vector<std::string> words{std::istream_iterator<std::string>(in), {}};
    for (int c = 0; c < changes; ++c)
      words[1 + rng() % (words.size() - 1)] = "edit" + std::to_string(rng() % 1000);
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    posts.push_back(post("v" + std::to_string(v), out));
  }
  std::shuffle(posts.begin(), posts.end(), rng);
  std::vector<std::set<std::string>> sets;
  for (const auto& p : posts) sets.push_back(reference_shingles(p.text, 5));
  const auto jaccard = [&](std::size_t a, std::size_t b) {
    return reference_jaccard(sets[a], sets[b]);
  };
  for (double threshold : {0.9, 0.8}) {
    PrefilterOptions o;
    o.near_duplicate_threshold = threshold;
    o.drop_exact_duplicates = false;
    // The reference: all pairs, in order, against the kept ones.
    std::vector<std::string> expected;
    std::vector<std::size_t> kept_ref;
    for (std::size_t i = 0; i < posts.size(); ++i) {
      bool dup = false;
      for (std::size_t k : kept_ref)
        if (!dup && jaccard(k, i) >= threshold) dup = true;
      if (!dup) {
        kept_ref.push_back(i);
        expected.push_back(posts[i].id);
      }
    }
    const PrefilterResult r = prefilter(posts, o);
    std::vector<std::string> got;
    for (const auto& p : r.kept) got.push_back(p.id);
    EXPECT_EQ(got, expected) << threshold;
    EXPECT_LT(got.size(), posts.size() - 20) << threshold;  // some variants were dropped
    EXPECT_GE(got.size(), 60u) << threshold;
  }
}

TEST(Prefilter, ResultDoesNotDependOnTheThreadCount) {
  std::vector<Post> posts;
  for (int i = 0; i < 1500; ++i) posts.push_back(post(std::to_string(i), story(i, 35 + i % 40)));
  for (int i = 1500; i < 2000; ++i)
    posts.push_back(post(std::to_string(i), posts[i - 1500].text + " extra"));
  PrefilterOptions one, two;
  one.execution.threads = 1;
  two.execution.threads = 2;
  const PrefilterResult a = prefilter(posts, one), b = prefilter(posts, two);
  ASSERT_EQ(a.kept.size(), b.kept.size());
  EXPECT_EQ(a.kept.size(), 1500u);
  for (std::size_t i = 0; i < a.kept.size(); ++i) EXPECT_EQ(a.kept[i].id, b.kept[i].id);
  ASSERT_EQ(a.dropped.size(), b.dropped.size());
  for (std::size_t i = 0; i < a.dropped.size(); ++i)
    EXPECT_EQ(a.dropped[i].detail, b.dropped[i].detail);
}

TEST(Prefilter, OnTheReaderFixtures) {
  // Read then filter: the fixture posts that pass are the long first-person ones.
  const PostCorpus c = read_posts(kData / "posts.jsonl");
  const PrefilterResult r = prefilter(c.posts);
  std::vector<std::string> kept;
  for (const auto& p : r.kept) kept.push_back(p.id);
  EXPECT_THAT(kept, ElementsAre("a1", "a2"));  // 31 and 37 words
  EXPECT_EQ(r.counts.at("too_short"), 5u);     // "5" has 28 words
}

}  // namespace
}  // namespace popalign::persona

namespace popalign::persona {
namespace {

TEST(Prefilter, OnTheShippedCorpus) {
  // data/posts/spc_posts.jsonl: the counts of the rules 2-4 were computed independently (a
  // Python re-implementation of the token, first-person and exact-duplicate rules).
  const PostCorpus c =
      read_posts(std::filesystem::path(POPALIGN_DATA_DIR) / "posts" / "spc_posts.jsonl");
  EXPECT_EQ(c.posts.size(), 3924u);
  EXPECT_EQ(c.authors, 200u);
  EXPECT_TRUE(c.problems.empty());
  EXPECT_EQ(c.posts.front().id, "spcA0001-p000");
  const PrefilterResult r = prefilter(c.posts);
  EXPECT_EQ(r.counts.at("too_short"), 0u);
  EXPECT_EQ(r.counts.at("no_first_person"), 2u);
  EXPECT_EQ(r.counts.at("exact_duplicate"), 0u);
  EXPECT_EQ(r.counts.at("empty_after_cleaning"), 0u);
  std::cout << "spc_posts: " << r.counts.at("near_duplicate") << " near duplicates, "
            << r.kept.size() << " kept\n";
}

}  // namespace
}  // namespace popalign::persona
