#include <popalign/io/output.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

#include <popalign/io/csv.hpp>
#include <popalign/io/json.hpp>

#include "io/temp_dir.hpp"

namespace popalign::io {
namespace {

namespace fs = std::filesystem;
using popalign::testing::TempDir;
using ::testing::HasSubstr;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(OutputFile, RegularFileIsReplacedAtCommitOnly) {
  TempDir dir;
  write_text(dir / "a.txt", "old");
  ::chmod((dir / "a.txt").c_str(), 0640);
  {
    OutputFile f(dir / "a.txt");
    f.write("new ");
    EXPECT_EQ(read_text(dir / "a.txt"), "old");  // not before commit
    EXPECT_EQ(files_in(dir.path()), 2u);         // the temporary file beside it
    f.write("bytes");
    f.commit();
  }
  EXPECT_EQ(read_text(dir / "a.txt"), "new bytes");
  EXPECT_EQ(files_in(dir.path()), 1u);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);  // permissions kept
}

TEST(OutputFile, WithoutCommitTheOldFileStays) {
  TempDir dir;
  write_text(dir / "a.txt", "old");
  {
    OutputFile f(dir / "a.txt");
    f.write("partial");
  }
  EXPECT_EQ(read_text(dir / "a.txt"), "old");
  EXPECT_EQ(files_in(dir.path()), 1u);  // no temporary file left behind
}

TEST(OutputFile, SymlinkIsWrittenThroughAndStaysALink) {
  TempDir dir;
  write_text(dir / "target.txt", "old");
  fs::create_symlink("target.txt", dir / "link.txt");
  write_file_atomically(dir / "link.txt", "through");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir / "link.txt")));
  EXPECT_EQ(read_text(dir / "target.txt"), "through");
  // Two levels and a dangling link (creates the target).
  fs::create_symlink("link.txt", dir / "link2.txt");
  write_file_atomically(dir / "link2.txt", "two");
  EXPECT_EQ(read_text(dir / "target.txt"), "two");
  fs::create_symlink("made.txt", dir / "dangling.txt");
  write_file_atomically(dir / "dangling.txt", "made");
  EXPECT_TRUE(fs::is_symlink(fs::symlink_status(dir / "dangling.txt")));
  EXPECT_EQ(read_text(dir / "made.txt"), "made");
  // A loop is an IoError, not a hang.
  fs::create_symlink("loop_b", dir / "loop_a");
  fs::create_symlink("loop_a", dir / "loop_b");
  EXPECT_THROW(write_file_atomically(dir / "loop_a", "x"), IoError);
}

TEST(OutputFile, FifoIsWrittenDirectlyAndNotReplaced) {
  TempDir dir;
  const fs::path fifo = dir / "out.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] { got = read_text(fifo); });
  {
    CsvWriter w(fifo);
    w.write_row({"id", "x"});
    w.write_row({"a", "1"});
    w.close();
  }
  reader.join();
  EXPECT_EQ(got, "id,x\na,1\n");
  EXPECT_EQ(path_kind(fifo), PathKind::special);
  EXPECT_EQ(files_in(dir.path()), 1u);
}

TEST(OutputFile, CharacterDeviceIsWrittenInPlace) {
  OutputFile f("/dev/null");
  EXPECT_TRUE(f.is_special());
  f.write("discarded");
  f.commit();
  EXPECT_EQ(path_kind("/dev/null"), PathKind::special);
}

TEST(OutputFile, DirectoryIsRefused) {
  TempDir dir;
  try {
    OutputFile f(dir.path());
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("is a directory"));
  }
}

TEST(CsvWriter, ExceptionDiscardsThePartialFile) {
  TempDir dir;
  write_text(dir / "a.csv", "keep\n");
  try {
    CsvWriter w(dir / "a.csv");
    w.write_row({"half"});
    throw std::runtime_error("stage failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read_text(dir / "a.csv"), "keep\n");
  EXPECT_EQ(files_in(dir.path()), 1u);
}

TEST(CheckDistinctFiles, RefusesAnOutputThatIsAnInput) {
  TempDir dir;
  write_text(dir / "in.csv", "x\n");
  fs::create_hard_link(dir / "in.csv", dir / "hard.csv");
  fs::create_symlink("in.csv", dir / "soft.csv");
  const std::vector<NamedPath> in{{"--pool", dir / "in.csv"}};
  for (const fs::path& out :
       {dir / "in.csv", dir / "hard.csv", dir / "soft.csv", dir.path() / "sub" / ".." / "in.csv"}) {
    fs::create_directories(dir / "sub");
    try {
      check_distinct_files(in, {{"--out", out}});
      FAIL() << out;
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(e.argument(), "--out");
      EXPECT_THAT(e.what(), HasSubstr("--pool"));
    }
  }
  // Negative control: another file is fine.
  EXPECT_NO_THROW(check_distinct_files(in, {{"--out", dir / "other.csv"}}));
}

TEST(CheckDistinctFiles, RefusesTwoOutputsNamingOneFile) {
  TempDir dir;
  try {
    check_distinct_files({}, {{"--out", dir / "x"}, {"--report", dir.path() / "." / "x"}});
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "--report");
    EXPECT_THAT(e.what(), HasSubstr("--out"));
  }
  // Special files are not compared; empty paths are skipped.
  EXPECT_NO_THROW(check_distinct_files({}, {{"--out", "/dev/null"}, {"--report", "/dev/null"}}));
  EXPECT_NO_THROW(check_distinct_files({{"--pool", ""}}, {{"--out", ""}, {"--report", ""}}));
  EXPECT_THROW(check_distinct_files({}, {{"--out", dir.path()}}), InvalidArgument);
}

TEST(Readers, DirectoryIsNotAnEmptyFile) {
  TempDir dir;
  try {
    (void)read_table(dir.path());
    FAIL();
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("is a directory"));
  }
}

TEST(Printable, EscapesControlCharactersAndCutsLongText) {
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\0b");
  EXPECT_EQ(printable("t\tn\nr\r\x01"), "t\\tn\\nr\\r\\x01");
  EXPECT_EQ(printable("h\xc3\xa9"), "h\xc3\xa9");  // UTF-8 kept
  EXPECT_EQ(printable(std::string(100, 'x'), 10), std::string(10, 'x') + "...");
}

TEST(NumericTable, UniqueIdsNameBothLines) {
  const Table t = parse_table("id,x\na,1\nb,2\na,3\n", {}, "p.csv");
  NumericTableOptions o;
  o.unique_ids = true;
  try {
    (void)to_numeric_table(t, {"x"}, o);
    FAIL();
  } catch (const CsvError& e) {
    EXPECT_EQ(e.line(), 4u);
    EXPECT_THAT(e.what(), HasSubstr("p.csv:4"));
    EXPECT_THAT(e.what(), HasSubstr("first on line 2"));
  }
  o.unique_ids = false;  // negative control: the default accepts repeats
  EXPECT_EQ(to_numeric_table(t, {"x"}, o).ids.size(), 3u);
}

TEST(Csv, NulByteDoesNotCutTheMessage) {
  try {
    (void)to_numeric_table(parse_table(std::string("x\n\"1\0z\"\n", 9), {}, "n.csv"), {"x"});
    FAIL();
  } catch (const CsvError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("1\\0z' is not a number"));
  }
}

TEST(Csv, DuplicateColumnCheckIsLinear) {
  std::string header = "id";
  // 100,000 fields: the most a row may have (io/limits.hpp).
  for (int j = 0; j < 99998; ++j) header += ",c" + std::to_string(j);
  header += ",c7\n";
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)parse_table(header, {}, "w.csv");
    FAIL();
  } catch (const CsvError& e) {
    EXPECT_THAT(e.what(), HasSubstr("duplicate column name 'c7' (columns 9 and 100000)"));
  }
  // Quadratic would be 5e9 comparisons (seconds to minutes); linear is milliseconds.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10);
}

TEST(JsonDepth, HeaderOnlyScanMatchesTheBound) {
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_EQ(json_depth_exceeded_at(ok), 0u);
  const std::string deep = "[" + ok + "]";
  EXPECT_EQ(json_depth_exceeded_at(deep), kMaxJsonDepth + 1);
  EXPECT_EQ(json_depth_exceeded_at("\"[[[[\"", 2), 0u);      // inside a string
  EXPECT_EQ(json_depth_exceeded_at("[\"\\\"\",[[", 2), 8u);  // an escaped quote
}

}  // namespace
}  // namespace popalign::io
