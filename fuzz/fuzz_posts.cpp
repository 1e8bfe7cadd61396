// Fuzz target: the post readers (persona/post_readers.hpp parse_posts) for every format. The
// first byte picks the format and the bad-line policy; blog XML is read under a file name of the
// Blog Authorship Corpus form, which carries the author's metadata.
#include <popalign/persona/post_readers.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const auto text = fuzz::as_text(data + 1, size - 1);
  constexpr persona::PostFormat formats[] = {
      persona::PostFormat::automatic, persona::PostFormat::jsonl, persona::PostFormat::blog_csv,
      persona::PostFormat::blog_xml};
  const auto format = formats[flags & 3];
  persona::PostReadOptions o;
  o.format = format;
  o.on_bad_line = (flags & 4) ? io::OnBadLine::fail : io::OnBadLine::skip;
  const std::string source = format == persona::PostFormat::jsonl ? "fuzz.jsonl"
                             : format == persona::PostFormat::blog_csv
                                 ? "fuzz.csv"
                                 : "1000331.female.37.indUnk.Leo.xml";
  fuzz::expect_popalign_errors([&] { (void)persona::parse_posts(text, format, o, source); });
  return 0;
}
