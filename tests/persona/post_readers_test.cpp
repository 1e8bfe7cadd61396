#include <popalign/persona/post_readers.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include <popalign/core/error.hpp>

#include "io/temp_dir.hpp"

namespace popalign::persona {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::filesystem::path kData = POPALIGN_PERSONA_TEST_DATA;

std::vector<std::string> ids(const PostCorpus& c) {
  std::vector<std::string> out;
  for (const auto& p : c.posts) out.push_back(p.id);
  return out;
}

std::vector<std::size_t> problem_lines(const PostCorpus& c) {
  std::vector<std::size_t> out;
  for (const auto& p : c.problems) out.push_back(p.line);
  return out;
}

const Post& by_id(const PostCorpus& c, const std::string& id) {
  const auto it =
      std::find_if(c.posts.begin(), c.posts.end(), [&](const Post& p) { return p.id == id; });
  if (it == c.posts.end()) throw std::runtime_error("no post " + id);
  return *it;
}

// ---- names, orders, dates, encodings

TEST(PostFormat, NamesRoundTripAndUnknownNamesAreRejected) {
  for (PostFormat f :
       {PostFormat::automatic, PostFormat::jsonl, PostFormat::blog_csv, PostFormat::blog_xml})
    EXPECT_EQ(post_format_from_string(to_string(f)), f);
  EXPECT_EQ(post_format_from_string("blog_csv"), PostFormat::blog_csv);
  EXPECT_EQ(post_format_from_string("auto"), PostFormat::automatic);
  try {
    post_format_from_string("yaml");
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "format");
    EXPECT_THAT(e.what(), HasSubstr("yaml"));
  }
}

TEST(PostReadOptions, ValidateNamesTheBadField) {
  PostReadOptions o;
  o.validate();
  o.text_field = "";
  try {
    o.validate();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "text_field");
  }
  o.text_field = "author";
  try {
    o.validate();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "text_field");
  }
}

TEST(BlogDate, ConvertsTheCorpusDatesInSeveralLanguages) {
  EXPECT_EQ(blog_date_to_iso("14,May,2004"), "2004-05-14");
  EXPECT_EQ(blog_date_to_iso(" 1,January,2002 "), "2002-01-01");
  EXPECT_EQ(blog_date_to_iso("01,Mai,2004"), "2004-05-01");
  EXPECT_EQ(blog_date_to_iso("25,juin,2004"), "2004-06-25");
  EXPECT_EQ(blog_date_to_iso("03,März,2004"), "2004-03-03");
  EXPECT_EQ(blog_date_to_iso("03,MÄRZ,2004"), "2004-03-03");
  EXPECT_EQ(blog_date_to_iso("12,diciembre,2003"), "2003-12-12");
  EXPECT_EQ(blog_date_to_iso("12,augustus,2003"), "2003-08-12");
  // Negative controls.
  EXPECT_EQ(blog_date_to_iso("32,May,2004"), "");
  EXPECT_EQ(blog_date_to_iso("14,Smarch,2004"), "");
  EXPECT_EQ(blog_date_to_iso("14,May,04"), "");
  EXPECT_EQ(blog_date_to_iso("2004-05-14"), "");
  EXPECT_EQ(blog_date_to_iso(""), "");
}

TEST(TimeOrder, NumbersFirstThenTextThenEmptyThenId) {
  const auto post = [](std::string time, std::string id) {
    return Post{"a", std::move(id), std::move(time), "t", {}};
  };
  std::vector<Post> v{post("", "b"),
                      post("2004-05-14", "x"),
                      post("10", "z"),
                      post("9", "y"),
                      post("", "a"),
                      post("2004-05-14", "w"),
                      post("2003-12-31T23:59", "q"),
                      post("9.5", "r"),
                      post("-1", "s")};
  std::sort(v.begin(), v.end(), time_before);
  std::vector<std::string> got;
  for (const auto& p : v) got.push_back(p.id);
  EXPECT_THAT(got, ElementsAre("s", "y", "r", "z", "q", "w", "x", "a", "b"));
  // Strict weak ordering: irreflexive, asymmetric on a shuffled larger set.
  std::mt19937 rng(7);
  std::vector<Post> many;
  for (int i = 0; i < 200; ++i) {
    const int k = static_cast<int>(rng() % 4);
    const std::string t = k == 0   ? std::to_string(rng() % 50)
                          : k == 1 ? "2004-0" + std::to_string(rng() % 9 + 1)
                          : k == 2 ? ""
                                   : "x" + std::to_string(rng() % 5);
    many.push_back(post(t, std::to_string(i)));
  }
  for (const auto& a : many) {
    EXPECT_FALSE(time_before(a, a));
    for (const auto& b : many)
      if (time_before(a, b)) {
        EXPECT_FALSE(time_before(b, a));
      }
  }
}

TEST(AuthorOrder, NumericIdsCompareAsNumbersAndComeFirst) {
  std::vector<std::string> v{"bob", "10", "9", "ann", "007", "7", "1000331"};
  std::sort(v.begin(), v.end(),
            [](const std::string& a, const std::string& b) { return author_before(a, b); });
  EXPECT_THAT(v, ElementsAre("007", "7", "9", "10", "1000331", "ann", "bob"));
}

TEST(Encoding, Utf8IsKeptLatin1IsTranscodedUtf16IsRefused) {
  std::string out;
  bool t = true;
  ASSERT_TRUE(to_utf8("caf\xC3\xA9", out, &t));
  EXPECT_EQ(out, "caf\xC3\xA9");
  EXPECT_FALSE(t);
  ASSERT_TRUE(to_utf8("caf\xE9 \x93hi\x94 \x80", out, &t));
  EXPECT_EQ(out, "caf\xC3\xA9 \xE2\x80\x9Chi\xE2\x80\x9D \xE2\x82\xAC");  // é “hi” €
  EXPECT_TRUE(t);
  ASSERT_TRUE(to_utf8("\xEF\xBB\xBFhello", out, &t));
  EXPECT_EQ(out, "hello");
  // Overlong and surrogate sequences are not UTF-8: decoded byte by byte.
  ASSERT_TRUE(to_utf8("\xC0\xAF", out, &t));
  EXPECT_TRUE(t);
  EXPECT_EQ(out, "\xC3\x80\xC2\xAF");
  EXPECT_FALSE(to_utf8(std::string_view("\xFF\xFEh\0i\0", 6), out, &t));
  EXPECT_FALSE(to_utf8(std::string_view("a\0b", 3), out, &t));
  EXPECT_TRUE(out.empty());
}

// ---- JSONL

TEST(JsonlReader, ReadsTheFixtureWithEveryKindOfBadLine) {
  std::vector<std::string> logged;
  PostReadOptions o;
  o.log = [&](const std::string& m) { logged.push_back(m); };
  const PostCorpus c = read_posts(kData / "posts.jsonl", o);
  EXPECT_EQ(c.files, 1u);
  EXPECT_THAT(ids(c), ElementsAre("6", "5", "a1", "a2", "a3", "b9", "bob:2"));
  EXPECT_EQ(c.read, 7u);
  EXPECT_EQ(c.empty, 1u);
  EXPECT_EQ(c.transcoded, 1u);
  EXPECT_EQ(c.authors, 3u);
  EXPECT_EQ(c.malformed, 5u);
  EXPECT_THAT(problem_lines(c), ElementsAre(4u, 7u, 8u, 9u, 13u));
  EXPECT_THAT(c.problems[0].message, HasSubstr("malformed JSON"));
  EXPECT_THAT(c.problems[1].message, HasSubstr("no author"));
  EXPECT_THAT(c.problems[2].message, HasSubstr("duplicate post id 'a1'"));
  EXPECT_THAT(c.problems[2].message, HasSubstr("posts.jsonl:2"));
  EXPECT_EQ(c.problems[2].author, "ann");
  EXPECT_THAT(c.problems[3].message, HasSubstr("not a JSON object"));
  EXPECT_THAT(c.problems[4].message, HasSubstr("'time' is not a string or a number"));
  EXPECT_EQ(c.problems[4].author, "bob");
  ASSERT_EQ(logged.size(), 5u);
  EXPECT_THAT(logged[0], HasSubstr("posts.jsonl:4: "));

  const Post& a2 = by_id(c, "a2");
  EXPECT_EQ(a2.author, "ann");
  EXPECT_EQ(a2.time, "2004-05-16");
  EXPECT_EQ(a2.meta.dump(),
            R"({"mood":"happy","source":")" + (kData / "posts.jsonl").string() + R"(","line":1})");
  const Post& p5 = by_id(c, "5");
  EXPECT_EQ(p5.author, "17");
  EXPECT_EQ(p5.time, "1084492800");
  // The line's own "source" wins over the provenance.
  EXPECT_EQ(by_id(c, "6").meta.find("source")->as_string(), "mirror-site");
  EXPECT_EQ(by_id(c, "6").meta.find("line")->as_number(), 6.0);
  // Generated ids count every post of the author in file order (the blank one too).
  EXPECT_EQ(by_id(c, "bob:2").time, "");
  EXPECT_EQ(by_id(c, "b9").text, "I had a caf\xC3\xA9 au lait and I thought about my mother.");
}

TEST(JsonlReader, FailModeThrowsParseErrorNamingFileAndLine) {
  PostReadOptions o;
  o.on_bad_line = io::OnBadLine::fail;
  try {
    read_posts(kData / "posts.jsonl", o);
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.line(), 4u);
    EXPECT_THAT(e.file(), HasSubstr("posts.jsonl"));
  }
}

TEST(JsonlReader, CustomFieldNamesAndStreamEntryPoint) {
  PostReadOptions o;
  o.author_field = "user";
  o.text_field = "body";
  o.time_field = "ts";
  o.id_field = "pid";
  std::istringstream in(
      R"({"user":"u1","pid":"p","ts":3,"body":"hello there","author":"kept in meta"})"
      "\n");
  const PostCorpus c = read_posts(in, PostFormat::jsonl, o, "mem");
  ASSERT_EQ(c.posts.size(), 1u);
  EXPECT_EQ(c.posts[0].author, "u1");
  EXPECT_EQ(c.posts[0].id, "p");
  EXPECT_EQ(c.posts[0].time, "3");
  EXPECT_EQ(c.posts[0].meta.dump(), R"({"author":"kept in meta","source":"mem","line":1})");
}

TEST(JsonlReader, UnterminatedLastLineAndUnknownEncodingAreProblems) {
  const std::string data = std::string("{\"author\":\"a\",\"text\":\"x") + '\0' + "y\"}\n" +
                           "{\"author\":\"a\",\"text\":\"ok\"}\n{\"author\":\"a\",\"te";
  const PostCorpus c = parse_posts(data, PostFormat::jsonl);
  EXPECT_THAT(ids(c), ElementsAre("a:1"));  // numbering: the NUL line is not an author's post
  EXPECT_THAT(problem_lines(c), ElementsAre(1u, 3u));
  EXPECT_THAT(c.problems[0].message, HasSubstr("unknown encoding"));
  EXPECT_THAT(c.problems[1].message, HasSubstr("unterminated last line"));
  const PostCorpus bom =
      parse_posts(std::string("\xFF\xFE{\0", 4), PostFormat::jsonl, {}, "u16.jsonl");
  ASSERT_EQ(bom.problems.size(), 1u);
  EXPECT_EQ(bom.problems[0].line, 0u);
  EXPECT_THAT(bom.problems[0].message, HasSubstr("UTF-16"));
}

// ---- Blog CSV

TEST(BlogCsvReader, ReadsTheFixture) {
  const PostCorpus c = read_posts(kData / "blog.csv");
  EXPECT_THAT(ids(c), ElementsAre("1000331:1", "2059027:2", "2059027:1", "3581210:2", "3581210:1",
                                  "3581210:3"));
  EXPECT_EQ(c.read, 6u);
  EXPECT_EQ(c.undated, 1u);
  EXPECT_EQ(c.authors, 3u);
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].line, 9u);
  EXPECT_THAT(c.problems[0].message, HasSubstr("the row has 6 fields, the header 7"));

  const Post& first = by_id(c, "2059027:1");
  EXPECT_EQ(first.time, "2004-05-14");
  EXPECT_EQ(first.text.substr(0, 20), "Info has been found ");
  EXPECT_EQ(first.text.back(), '.');  // trimmed
  EXPECT_EQ(
      first.meta.dump(),
      R"({"gender":"male","age":15,"topic":"Student","sign":"Leo","date":"14,May,2004","source":")" +
          (kData / "blog.csv").string() + R"(","line":2})");
  const Post& multi = by_id(c, "3581210:1");
  EXPECT_EQ(multi.text,
            "I spent the weekend at my parents' house.\nWe talked about \"the old days\" and I "
            "realised\nhow much I miss the farm.");
  EXPECT_EQ(multi.meta.find("line")->as_number(), 4.0);
  EXPECT_EQ(by_id(c, "3581210:2").time, "2004-05-01");
  EXPECT_EQ(by_id(c, "3581210:2").meta.find("line")->as_number(), 7.0);
  EXPECT_EQ(by_id(c, "3581210:3").time, "");
  EXPECT_EQ(by_id(c, "3581210:3").meta.find("date")->as_string(), "32,Smarch,2004");
}

TEST(BlogCsvReader, BrokenQuotingAndHeadersAreProblems) {
  const std::string head = "id,gender,age,topic,sign,date,text\n";
  const PostCorpus unclosed = parse_posts(
      head + "1,f,20,t,s,\"1,May,2004\",\"fine post\"\n2,m,30,t,s,\"2,May,2004\",\"never closed\n",
      PostFormat::blog_csv);
  EXPECT_THAT(ids(unclosed), ElementsAre("1:1"));
  ASSERT_EQ(unclosed.problems.size(), 1u);
  EXPECT_EQ(unclosed.problems[0].line, 3u);
  EXPECT_THAT(unclosed.problems[0].message, HasSubstr("not closed"));

  const PostCorpus garbage = parse_posts(
      head + "1,f,20,t,s,\"1,May,2004\",\"text\"junk\n1,f,20,t,s,\"2,May,2004\",\"ok\"\n",
      PostFormat::blog_csv);
  EXPECT_THAT(ids(garbage), ElementsAre("1:1"));
  ASSERT_EQ(garbage.problems.size(), 1u);
  EXPECT_THAT(garbage.problems[0].message, HasSubstr("after a closing quote"));

  const PostCorpus no_header = parse_posts("a,b\n1,2\n", PostFormat::blog_csv, {}, "x.csv");
  ASSERT_EQ(no_header.problems.size(), 1u);
  EXPECT_THAT(no_header.problems[0].message, HasSubstr("no 'id' and 'text' columns"));

  // A Latin-1 row is transcoded; empty texts are counted, not posts.
  const PostCorpus latin = parse_posts(
      head + "1,f,20,t,s,\"1,May,2004\",\"na\xEFve\"\n1,f,20,t,s,\"1,May,2004\",\"  \"\n",
      PostFormat::blog_csv);
  ASSERT_EQ(latin.posts.size(), 1u);
  EXPECT_EQ(latin.posts[0].text, "na\xC3\xAFve");
  EXPECT_EQ(latin.transcoded, 1u);
  EXPECT_EQ(latin.empty, 1u);
}

// ---- Blog XML

TEST(BlogXmlReader, ReadsTheFolderIncludingBrokenFiles) {
  std::vector<std::string> logged;
  PostReadOptions o;
  o.log = [&](const std::string& m) { logged.push_back(m); };
  const PostCorpus c = read_posts(kData / "blogs", o);
  EXPECT_EQ(c.files, 6u);
  EXPECT_THAT(ids(c), ElementsAre("1000331:1", "1000331:2", "2000001:1", "3000003:1"));
  EXPECT_EQ(c.empty, 1u);
  EXPECT_EQ(c.transcoded, 1u);
  EXPECT_EQ(c.authors, 3u);
  ASSERT_EQ(c.problems.size(), 4u);
  // In file-name order.
  EXPECT_EQ(c.problems[0].source, "3000003.female.17.Arts.Libra.xml");
  EXPECT_EQ(c.problems[0].line, 9u);
  EXPECT_EQ(c.problems[0].author, "3000003");
  EXPECT_THAT(c.problems[0].message, HasSubstr("<post> is not closed"));
  EXPECT_EQ(c.problems[1].source, "4000004.male.40.Banking.Virgo.xml");
  EXPECT_THAT(c.problems[1].message, HasSubstr("no <Blog> element"));
  EXPECT_EQ(c.problems[2].source, "5000005.female.25.Arts.Aries.xml");
  EXPECT_THAT(c.problems[2].message, HasSubstr("unknown encoding"));
  EXPECT_EQ(c.problems[3].source, "readme.xml");
  EXPECT_THAT(c.problems[3].message, HasSubstr("ID.gender.age.industry.sign.xml"));
  EXPECT_TRUE(std::any_of(logged.begin(), logged.end(), [](const std::string& m) {
    return m.find("notes.txt") != std::string::npos;
  }));

  const Post& beach = by_id(c, "1000331:1");
  EXPECT_EQ(beach.time, "2004-05-14");
  EXPECT_THAT(beach.text, HasSubstr("brothers & sisters. We built a huge castle & I got"));
  EXPECT_THAT(beach.text, HasSubstr("this day \xE2\x80\x94 it was perfect."));
  EXPECT_EQ(
      beach.meta.dump(),
      R"({"gender":"female","age":37,"industry":"indUnk","sign":"Leo","date":"14,May,2004","source":"1000331.female.37.indUnk.Leo.xml","line":4})");
  EXPECT_THAT(by_id(c, "1000331:2").text, HasSubstr("trip <3 and"));
  const Post& latin = by_id(c, "2000001:1");
  EXPECT_EQ(latin.time, "2004-06-02");
  EXPECT_EQ(latin.text,
            "J'ai mang\xC3\xA9 une cr\xC3\xAApe. I loved it, my friend said it was the best in "
            "town. \xE2\x80\x9CQuoted\xE2\x80\x9D words.");
  EXPECT_EQ(by_id(c, "3000003:1").text, "I finished my exams today and I feel free.");
}

TEST(BlogXmlReader, MaxAuthorsReadsOnlyTheFirstAuthorsFiles) {
  PostReadOptions o;
  o.max_authors = 1;
  const PostCorpus c = read_posts(kData / "blogs", o);
  EXPECT_THAT(ids(c), ElementsAre("1000331:1", "1000331:2"));
  EXPECT_EQ(c.files, 2u);  // the first author's file and the badly named one
  o.format = PostFormat::blog_xml;
  o.max_authors = 2;
  EXPECT_THAT(ids(read_posts(kData / "blogs", o)),
              ElementsAre("1000331:1", "1000331:2", "2000001:1"));
}

TEST(BlogXmlReader, InMemoryEntryPointTakesTheMetadataFromTheName) {
  const std::string xml =
      "<Blog>\n<post>no date &foo; here</post>\n<post>a <post> inside</post>\n</Blog>";
  const PostCorpus c = parse_posts(xml, PostFormat::automatic, {}, "42.male.20.Arts.Leo.xml");
  ASSERT_EQ(c.posts.size(), 2u);
  EXPECT_EQ(c.posts[0].id, "42:1");
  EXPECT_EQ(c.posts[1].id, "42:3");  // the skipped post keeps its number
  EXPECT_EQ(c.posts[1].text, "inside");
  EXPECT_EQ(c.posts[0].text, "no date &foo; here");
  EXPECT_EQ(c.posts[0].time, "");
  EXPECT_EQ(c.undated, 2u);
  // "<post>a <post> inside</post>": the first <post> is not closed before the next one.
  ASSERT_EQ(c.problems.size(), 1u);
  EXPECT_EQ(c.problems[0].line, 3u);
}

// ---- max_authors, directories, errors, determinism

TEST(ReadPosts, MaxAuthorsKeepsTheFirstAuthorsInIdOrder) {
  PostReadOptions o;
  o.max_authors = 2;
  const PostCorpus c = read_posts(kData / "posts.jsonl", o);
  EXPECT_THAT(ids(c), ElementsAre("6", "5", "a1", "a2", "a3"));
  EXPECT_EQ(c.read, 7u);
  EXPECT_EQ(c.authors, 2u);
}

TEST(ReadPosts, MissingPathAndUnreadableFilesAreIoErrors) {
  EXPECT_THROW(read_posts(kData / "no-such-file.jsonl"), IoError);
  popalign::testing::TempDir dir;
  std::ofstream(dir / "a.jsonl") << "{\"author\":\"x\",\"text\":\"hello\"}\n";
  std::filesystem::create_directory(dir / "sub.jsonl");  // not a regular file: ignored
  const PostCorpus c = read_posts(dir.path());
  EXPECT_THAT(ids(c), ElementsAre("x:1"));
}

TEST(ReadPosts, OutputDoesNotDependOnInputOrder) {
  // The same posts in two line orders give the same corpus (ids given).
  std::vector<std::string> lines;
  for (int i = 0; i < 50; ++i)
    lines.push_back("{\"author\":\"a" + std::to_string(i % 7) + "\",\"id\":\"p" +
                    std::to_string(i) + "\",\"time\":\"2004-01-" + std::to_string(10 + i % 13) +
                    "\",\"text\":\"post " + std::to_string(i) + "\"}");
  std::string a, b;
  for (const auto& l : lines) a += l + "\n";
  std::mt19937 rng(3);
  std::shuffle(lines.begin(), lines.end(), rng);
  for (const auto& l : lines) b += l + "\n";
  const PostCorpus ca = parse_posts(a, PostFormat::jsonl), cb = parse_posts(b, PostFormat::jsonl);
  ASSERT_EQ(ca.posts.size(), 50u);
  EXPECT_EQ(ids(ca), ids(cb));
  for (std::size_t i = 1; i < ca.posts.size(); ++i) {
    const Post& x = ca.posts[i - 1];
    const Post& y = ca.posts[i];
    EXPECT_TRUE(author_before(x.author, y.author) || (x.author == y.author && time_before(x, y)));
  }
}

TEST(ReadPosts, FormatOptionSelectsTheDirectorysFiles) {
  PostReadOptions o;
  o.format = PostFormat::blog_csv;
  popalign::testing::TempDir dir;
  std::filesystem::copy_file(kData / "blog.csv", dir / "blog.csv");
  std::filesystem::copy_file(kData / "posts.jsonl", dir / "posts.jsonl");
  const PostCorpus c = read_posts(dir.path(), o);
  EXPECT_EQ(c.files, 1u);
  EXPECT_EQ(c.read, 6u);
  o.format = PostFormat::automatic;
  EXPECT_EQ(read_posts(dir.path(), o).read, 13u);
}

}  // namespace
}  // namespace popalign::persona

namespace popalign::persona {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ReadPosts, MutatedInputsNeverCrashOrThrowUnderSkip) {
  // A poor man's fuzzer over the in-memory entry point (a later issue adds libFuzzer targets):
  // every fixture with random byte flips, insertions and cuts, in every format.
  const std::vector<std::pair<std::string, std::string>> seeds{
      {slurp(kData / "posts.jsonl"), "posts.jsonl"},
      {slurp(kData / "blog.csv"), "blog.csv"},
      {slurp(kData / "blogs" / "1000331.female.37.indUnk.Leo.xml"), "1.f.2.i.L.xml"},
      {slurp(kData / "blogs" / "3000003.female.17.Arts.Libra.xml"), "3.f.1.A.L.xml"}};
  std::mt19937 rng(99);
  const std::string specials("\"<>&,\n\r{}[]:\0\xC3\xFF/", 16);
  std::size_t posts = 0;
  for (int t = 0; t < 1500; ++t) {
    const auto& [seed, name] = seeds[static_cast<std::size_t>(t) % seeds.size()];
    std::string d = seed;
    const int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !d.empty(); ++e) {
      const std::size_t at = rng() % d.size();
      switch (rng() % 3) {
        case 0:
          d[at] = specials[rng() % specials.size()];
          break;
        case 1:
          d.insert(at, 1, specials[rng() % specials.size()]);
          break;
        default:
          d.resize(at);
          break;
      }
    }
    for (PostFormat f :
         {PostFormat::automatic, PostFormat::jsonl, PostFormat::blog_csv, PostFormat::blog_xml}) {
      PostCorpus c;
      ASSERT_NO_THROW(c = parse_posts(d, f, {}, name)) << t;
      EXPECT_EQ(c.malformed, c.problems.size());
      for (const auto& p : c.posts) {
        EXPECT_FALSE(p.author.empty());
        EXPECT_FALSE(p.id.empty());
        std::string utf8;
        bool transcoded = true;
        EXPECT_TRUE(to_utf8(p.text, utf8, &transcoded));
        EXPECT_FALSE(transcoded) << "post text is not UTF-8";
      }
      posts += c.posts.size();
    }
  }
  EXPECT_GT(posts, 1000u);
}

}  // namespace
}  // namespace popalign::persona
