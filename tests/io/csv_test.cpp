#include <popalign/io/csv.hpp>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>

#include <popalign/core/random.hpp>

#include "io/temp_dir.hpp"

namespace popalign::io {
namespace {

using popalign::testing::TempDir;
using ::testing::HasSubstr;

void write_text(const std::filesystem::path& p, const std::string& s) {
  std::ofstream(p, std::ios::binary) << s;
}

template <class F>
CsvError expect_csv_error(F&& f) {
  try {
    f();
  } catch (const CsvError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a CsvError";
  return CsvError("", 0, 0, "", "");
}

TEST(Csv, ParsesHeaderRowsAndLineNumbers) {
  const Table t = parse_table("a,b,c\n1,2,3\n\n4,5,6\n", {}, "x.csv");
  EXPECT_EQ(t.delimiter, ',');
  EXPECT_EQ(t.columns, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(t.num_rows(), 2u);
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"4", "5", "6"}));
  EXPECT_EQ(t.lines, (std::vector<std::size_t>{2, 4}));  // the blank line 3 is skipped
  EXPECT_EQ(t.find_column("b"), std::optional<std::size_t>(1));
  EXPECT_FALSE(t.find_column("z"));
}

TEST(Csv, SniffsTheDelimiter) {
  EXPECT_EQ(sniff_delimiter("a\tb\tc"), '\t');
  EXPECT_EQ(sniff_delimiter("a;b;c"), ';');
  EXPECT_EQ(sniff_delimiter("a|b"), '|');
  EXPECT_EQ(sniff_delimiter("\"x,y\"\tz"), '\t');  // the comma is inside quotes
  EXPECT_EQ(sniff_delimiter("single"), ',');
  const Table t = parse_table("id\tE\n7\t3.5\n");
  EXPECT_EQ(t.delimiter, '\t');
  EXPECT_EQ(t.rows[0][1], "3.5");
  // A given delimiter wins over sniffing.
  CsvOptions o;
  o.delimiter = ';';
  EXPECT_EQ(parse_table("a,b;c\n1,2;3\n", o).columns, (std::vector<std::string>{"a,b", "c"}));
}

TEST(Csv, QuotedFieldsBomCrlf) {
  const std::string text =
      "\xEF\xBB\xBF"
      "id,text,n\r\n"
      "1,\"hello, world\",2\r\n"
      "2,\"she said \"\"hi\"\"\",3\r\n"
      "3,\"two\nlines\",4\r\n"
      "4, padded ,5\r\n";
  const Table t = parse_table(text, {}, "q.csv");
  EXPECT_EQ(t.columns[0], "id");  // BOM dropped
  ASSERT_EQ(t.num_rows(), 4u);
  EXPECT_EQ(t.rows[0][1], "hello, world");
  EXPECT_EQ(t.rows[1][1], "she said \"hi\"");
  EXPECT_EQ(t.rows[2][1], "two\nlines");
  EXPECT_EQ(t.rows[3][1], "padded");
  EXPECT_EQ(t.lines, (std::vector<std::size_t>{2, 3, 4, 6}));  // row 3 spans lines 4-5
  CsvOptions keep;
  keep.trim = false;
  EXPECT_EQ(parse_table(text, keep).rows[3][1], " padded ");
}

TEST(Csv, EmptyFieldsAndTrailingDelimiter) {
  const Table t = parse_table("a,b,c\n1,,\n,,\n");
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"1", "", ""}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"", "", ""}));
  const Table u = parse_table("a,b\n1,", {});
  EXPECT_EQ(u.rows[0], (std::vector<std::string>{"1", ""}));
}

TEST(Csv, StreamingRowByRow) {
  std::vector<std::string> header;
  char delim = 0;
  std::vector<std::pair<std::string, std::size_t>> seen;
  for_each_row_in(
      "a;b\n1;\"x\ny\"\n\n3;4\n", {}, "s.csv",
      [&](const std::vector<std::string>& cols, char d) {
        header = cols;
        delim = d;
      },
      [&](const std::vector<std::string>& f, std::size_t line) { seen.emplace_back(f[1], line); });
  EXPECT_EQ(header, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(delim, ';');
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::pair<std::string, std::size_t>{"x\ny", 2}));
  EXPECT_EQ(seen[1], (std::pair<std::string, std::size_t>{"4", 5}));
  // The callbacks' exceptions propagate; parse errors stop the stream at the bad line.
  std::size_t rows = 0;
  EXPECT_THROW(
      for_each_row_in(
          "a,b\n1,2\n3\n", {}, "s.csv", [](auto&, char) {}, [&](auto&, std::size_t) { ++rows; }),
      CsvError);
  EXPECT_EQ(rows, 1u);
}

TEST(Csv, NoHeaderNamesColumnsByNumber) {
  CsvOptions o;
  o.header = false;
  const Table t = parse_table("1,2\n3,4\n", o);
  EXPECT_EQ(t.columns, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(t.num_rows(), 2u);
}

TEST(Csv, WrongFieldCountNamesFileAndLine) {
  const auto e = expect_csv_error([] { parse_table("a,b\n1,2\n\n3\n", {}, "bad.csv"); });
  EXPECT_EQ(e.file(), "bad.csv");
  EXPECT_EQ(e.line(), 4u);
  EXPECT_THAT(e.what(), HasSubstr("bad.csv:4:"));
  EXPECT_THAT(e.what(), HasSubstr("expected 2 fields"));
}

TEST(Csv, UnterminatedQuoteReportsWhereItOpened) {
  const auto e = expect_csv_error([] { parse_table("a,b\n1,\"oops\n2,3\n", {}, "u.csv"); });
  EXPECT_EQ(e.line(), 2u);
  EXPECT_EQ(e.column(), 3u);
  EXPECT_EQ(e.column_name(), "b");
  EXPECT_THAT(e.what(), HasSubstr("u.csv:2: column 3: unterminated"));
}

TEST(Csv, GarbageAfterClosingQuoteAndStrayQuote) {
  auto e = expect_csv_error([] { parse_table("a,b\n1,\"x\"y\n", {}, "g.csv"); });
  EXPECT_EQ(e.line(), 2u);
  EXPECT_EQ(e.column(), 6u);
  EXPECT_THAT(e.what(), HasSubstr("after a closing quote"));
  e = expect_csv_error([] { parse_table("a,b\n1,2\nx,ab\"c\n", {}, "s.csv"); });
  EXPECT_EQ(e.line(), 3u);
  EXPECT_EQ(e.column(), 5u);
  EXPECT_EQ(e.column_name(), "b");
}

TEST(Csv, DuplicateHeaderAndEmptyFile) {
  const auto e = expect_csv_error([] { parse_table("a,b,a\n1,2,3\n", {}, "d.csv"); });
  EXPECT_THAT(e.what(), HasSubstr("duplicate column name 'a'"));
  EXPECT_THROW(parse_table("", {}, "empty.csv"), ParseError);
  EXPECT_THROW(parse_table("\n\n", {}, "empty.csv"), ParseError);
}

TEST(Csv, OptionsValidateNameTheField) {
  CsvOptions o;
  o.delimiter = '"';
  try {
    parse_table("a\n", o);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "quote");
  }
  o.delimiter = '\n';
  EXPECT_THROW(o.validate(), InvalidArgument);
}

TEST(Csv, MissingFileIsAnIoError) {
  try {
    read_table("/nonexistent/dir/x.csv");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/dir/x.csv"));
  }
}

TEST(ParseNumber, AcceptsDecimalsRejectsTheRest) {
  EXPECT_EQ(parse_number("3"), 3.0);
  EXPECT_EQ(parse_number(" -2.5e3 "), -2500.0);
  EXPECT_EQ(parse_number("+0.5"), 0.5);
  EXPECT_EQ(parse_number(".25"), 0.25);
  for (const char* bad :
       {"", " ", "abc", "1x", "nan", "NaN", "inf", "-inf", "0x10", "1,5", "1e999"})
    EXPECT_FALSE(parse_number(bad)) << bad;
}

TEST(NumericTable, ReadsColumnsWithIds) {
  TempDir dir;
  write_text(dir / "t.tsv", "name\tid\tE\tN\n a \tp1\t3\t2.5\nb\tp2\t-1e-3\t4\n");
  const NumericTable t = read_numeric_table(dir / "t.tsv", {"N", "E"});
  EXPECT_EQ(t.ids, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"N", "E"}));
  EXPECT_EQ(t.values(0, 0), 2.5);
  EXPECT_EQ(t.values(1, 1), -1e-3);
  NumericTableOptions o;
  o.id_column = "name";
  const NumericTable u = read_numeric_table(dir / "t.tsv", {"E"}, o);
  EXPECT_EQ(u.ids, (std::vector<std::string>{"a", "b"}));
  const auto tt = u.to_trait_table();
  EXPECT_NO_THROW(tt.validate());
}

TEST(NumericTable, RowNumbersWhenThereIsNoIdColumn) {
  const NumericTable t = to_numeric_table(parse_table("x,y\n1,2\n3,4\n"), {});
  EXPECT_EQ(t.ids, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(t.columns, (std::vector<std::string>{"x", "y"}));
}

TEST(NumericTable, ErrorsNameFileLineAndColumn) {
  const std::string src = "id,E,N\na,1,2\nb,3,\nc,x,1\nd,nan,1\ne,inf,1\n";
  struct Case {
    std::string text;
    std::size_t line;
    std::string column;
    std::string what;
  };
  const std::vector<Case> cases{
      {"id,E,N\na,1,2\nb,3,\n", 3, "N", "empty cell"},
      {"id,E,N\na,1,2\nb,3,4\nc,x,1\n", 4, "E", "'x' is not a number"},
      {"id,E,N\na,NaN,1\n", 2, "E", "NaN is not allowed"},
      {"id,E,N\na,1,inf\n", 2, "N", "infinite value"},
  };
  for (const auto& c : cases) {
    const auto e = expect_csv_error([&] {
      to_numeric_table(parse_table(c.text, {}, "pool.csv"), {"E", "N"});
    });
    EXPECT_EQ(e.file(), "pool.csv");
    EXPECT_EQ(e.line(), c.line) << c.text;
    EXPECT_EQ(e.column_name(), c.column);
    EXPECT_THAT(e.what(), HasSubstr("column '" + c.column + "'"));
    EXPECT_THAT(e.what(), HasSubstr(c.what));
  }
  const auto e = expect_csv_error([&] {
    to_numeric_table(parse_table("id,E\na,1\n", {}, "pool.csv"), {"E", "Q"});
  });
  EXPECT_THAT(e.what(), HasSubstr("missing column 'Q'"));
  EXPECT_THAT(e.what(), HasSubstr("columns: id, E"));
  EXPECT_EQ(e.column_name(), "Q");
}

TEST(NumericTable, AllowMissingGivesNaN) {
  NumericTableOptions o;
  o.allow_missing = true;
  const NumericTable t = to_numeric_table(parse_table("E,N\n1,\nNA,2\n"), {}, o);
  EXPECT_TRUE(std::isnan(t.values(0, 1)));
  EXPECT_TRUE(std::isnan(t.values(1, 0)));
  EXPECT_EQ(t.values(1, 1), 2.0);
  // Text that is not a missing token is still an error.
  EXPECT_THROW(to_numeric_table(parse_table("E\nabc\n"), {}, o), CsvError);
}

TEST(MissingTokens, OneListForEveryReader) {
  // The documented list, exactly (docs/io.md): a change here is a change of every reader.
  const std::vector<std::string> expected{"", "NA", "na", "N/A", "NaN", "nan", "null", "NULL"};
  EXPECT_EQ(default_missing_tokens(), expected);
  EXPECT_EQ(NumericTableOptions{}.missing_tokens, expected);
  for (const auto& t : expected) EXPECT_TRUE(is_missing_token(t)) << t;
  // Negative control: other spellings, numbers and infinities are not missing tokens.
  for (const char* t : {"n/a", "Na", "NAN", "None", "none", "-", ".", "0", "-nan", "inf", " NA"})
    EXPECT_FALSE(is_missing_token(t)) << t;
}

TEST(NumericTable, EveryMissingTokenGivesNaNWhenAllowed) {
  NumericTableOptions o;
  o.allow_missing = true;
  std::string text = "id,E\n";
  for (std::size_t k = 0; k < std::size(kMissingTokens); ++k)
    text += fmt::format("p{},{}\n", k, kMissingTokens[k]);
  text += "last,2\n";
  const NumericTable t = to_numeric_table(parse_table(text), {"E"}, o);
  ASSERT_EQ(t.values.rows(), static_cast<Index>(std::size(kMissingTokens)) + 1);
  for (Index i = 0; i + 1 < t.values.rows(); ++i) EXPECT_TRUE(std::isnan(t.values(i, 0))) << i;
  EXPECT_EQ(t.values(t.values.rows() - 1, 0), 2.0);
  EXPECT_EQ(numeric_columns(parse_table(text), {"id"}, true), (std::vector<std::string>{"E"}));
  EXPECT_TRUE(numeric_columns(parse_table(text), {"id"}, false).empty());
  // Not allowed: each token is reported as a missing value (or an empty cell) with its line.
  for (const char* tok : {"N/A", "NULL", "na"}) {
    const auto e = expect_csv_error(
        [&] { to_numeric_table(parse_table(fmt::format("E\n1\n{}\n", tok), {}, "p.csv"), {}); });
    EXPECT_EQ(e.line(), 3u);
    EXPECT_THAT(e.what(), HasSubstr(fmt::format("missing value '{}'", tok)));
  }
  // A caller's own list replaces the default one.
  o.missing_tokens = {"-"};
  EXPECT_TRUE(std::isnan(to_numeric_table(parse_table("E\n-\n"), {}, o).values(0, 0)));
  EXPECT_THROW(to_numeric_table(parse_table("E\nNA\n"), {}, o), CsvError);
}

TEST(NumericTable, NumericColumnsDetection) {
  const Table t = parse_table("id,E,country,N\na,1,US,2\nb,2,GB,\n");
  EXPECT_EQ(numeric_columns(t, {"id"}), (std::vector<std::string>{"E"}));
  EXPECT_EQ(numeric_columns(t, {"id"}, true), (std::vector<std::string>{"E", "N"}));
}

TEST(FormatNumber, ShortestRoundTrip) {
  EXPECT_EQ(format_number(3.0), "3");
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(1e-7), "1e-07");
  EXPECT_EQ(format_number(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(format_number(std::numeric_limits<double>::quiet_NaN(), ""), "");
  EXPECT_EQ(format_number(0.1f), "0.1");
  Rng rng(42);
  for (int k = 0; k < 2000; ++k) {
    const double x = (rng.uniform() - 0.5) * std::pow(10.0, rng.uniform_int(30) - 15.0);
    const auto back = parse_number(format_number(x));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, x);
  }
}

TEST(CsvWriter, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(quote_field("plain"), "plain");
  EXPECT_EQ(quote_field("a,b"), "\"a,b\"");
  EXPECT_EQ(quote_field("say \"x\""), "\"say \"\"x\"\"\"");
  EXPECT_EQ(quote_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(quote_field(" lead"), "\" lead\"");
  EXPECT_EQ(quote_field("a,b", '\t'), "a,b");
}

TEST(CsvWriter, TableRoundTrip) {
  TempDir dir;
  Table t;
  t.columns = {"id", "text", "v"};
  t.rows = {{"1", "hello, \"world\"", "2"}, {"2", "multi\nline", ""}, {"3", " pad ", "x"}};
  write_table(dir / "t.csv", t);
  CsvOptions o;
  o.trim = false;
  const Table back = read_table(dir / "t.csv", o);
  EXPECT_EQ(back.columns, t.columns);
  EXPECT_EQ(back.rows, t.rows);
  EXPECT_FALSE(std::filesystem::exists(dir / "t.csv.tmp"));
}

TEST(CsvWriter, NumericRoundTripIsExactAndDeterministic) {
  TempDir dir;
  Rng rng(7);
  RowMatrix<double> v(50, 3);
  for (Index i = 0; i < v.rows(); ++i)
    for (Index j = 0; j < v.cols(); ++j) v(i, j) = rng.normal() * 1e3;
  v(3, 1) = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back("p" + std::to_string(i));
  write_numeric_table(dir / "a.csv", ids, {"E", "N", "O"}, v);
  write_numeric_table(dir / "b.csv", ids, {"E", "N", "O"}, v);
  EXPECT_EQ(read_file(dir / "a.csv"), read_file(dir / "b.csv"));
  NumericTableOptions o;
  o.allow_missing = true;
  const NumericTable back = read_numeric_table(dir / "a.csv", {"E", "N", "O"}, o);
  EXPECT_EQ(back.ids, ids);
  for (Index i = 0; i < v.rows(); ++i)
    for (Index j = 0; j < v.cols(); ++j) {
      if (std::isnan(v(i, j)))
        EXPECT_TRUE(std::isnan(back.values(i, j)));
      else
        EXPECT_EQ(back.values(i, j), v(i, j));
    }
  // Without allow_missing the NaN cell is reported with its line (header = line 1).
  const auto e = expect_csv_error([&] { read_numeric_table(dir / "a.csv", {"N"}); });
  EXPECT_EQ(e.line(), 5u);
  EXPECT_EQ(e.column_name(), "N");
}

TEST(CsvWriter, TraitTableWithWeights) {
  TempDir dir;
  TraitTable<double> t;
  t.ids = {"a", "b"};
  t.traits = {"E"};
  t.values = RowMatrix<double>::Constant(2, 1, 1.5);
  t.weights = Vector<double>::Constant(2, 0.5);
  write_trait_table(dir / "t.csv", t);
  EXPECT_EQ(read_file(dir / "t.csv"), "id,E,weight\na,1.5,0.5\nb,1.5,0.5\n");
  t.weights.resize(0);
  write_trait_table(dir / "u.csv", t);
  EXPECT_EQ(read_file(dir / "u.csv"), "id,E\na,1.5\nb,1.5\n");
}

TEST(CsvWriter, StreamingWriter) {
  TempDir dir;
  {
    CsvWriteOptions o;
    o.delimiter = '\t';
    CsvWriter w(dir / "s.tsv", o);
    w.write_row(std::vector<std::string>{"id", "x"});
    w.write_row("a", std::vector<double>{0.25});
    w.close();
  }
  EXPECT_EQ(read_file(dir / "s.tsv"), "id\tx\na\t0.25\n");
  EXPECT_THROW(CsvWriter(dir / "no" / "such" / "dir.csv"), IoError);
  CsvWriteOptions bad;
  bad.delimiter = '"';
  EXPECT_THROW(CsvWriter(dir / "x.csv", bad), InvalidArgument);
}

TEST(CsvWriter, WriteNumericChecksShapes) {
  TempDir dir;
  RowMatrix<double> v = RowMatrix<double>::Zero(2, 2);
  try {
    write_numeric_table(dir / "x.csv", {"a"}, {"E", "N"}, v);
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(e.argument(), "ids");
  }
  EXPECT_THROW(write_numeric_table(dir / "x.csv", {}, {"E"}, v), InvalidArgument);
}

}  // namespace
}  // namespace popalign::io
