// Fuzz target: the CSV/TSV reader (io/csv.hpp). The first byte picks the options (delimiter
// sniffed or fixed, header, trim); the rest is the file. A table that parses is also read as
// numbers (numeric_columns + to_numeric_table, with and without missing tokens).
#include <popalign/io/csv.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const auto text = fuzz::as_text(data + 1, size - 1);
  io::CsvOptions o;
  constexpr char delimiters[] = {'\0', ',', '\t', ';'};
  o.delimiter = delimiters[flags & 3];
  o.header = (flags & 4) == 0;
  o.trim = (flags & 8) == 0;
  fuzz::expect_popalign_errors([&] {
    const io::Table t = io::parse_table(text, o, "fuzz.csv");
    for (const bool allow : {false, true}) {
      fuzz::expect_popalign_errors([&] {
        io::NumericTableOptions n;
        n.csv = o;
        n.allow_missing = allow;
        const auto cols = io::numeric_columns(t, {}, allow);
        (void)io::to_numeric_table(t, cols, n);
      });
    }
  });
  fuzz::expect_popalign_errors([&] {
    std::size_t rows = 0;
    io::for_each_row_in(
        text, o, "fuzz.csv", [](const std::vector<std::string>&, char) {},
        [&](const std::vector<std::string>&, std::size_t) { ++rows; });
  });
  return 0;
}
