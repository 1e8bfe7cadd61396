#pragma once
// A social-media post: the input of persona mining (persona/mining.hpp). Readers for the post
// formats (generic JSONL, the Blog Authorship Corpus as CSV or as its folder of XML files) live in
// persona/post_readers.hpp and all produce this record.
//
// Author metadata (age, gender, topic, sign, industry, ...) is provenance: it is carried in
// `meta` and written into the mined persona's record as it is, never written into the persona text.
#include <string>

#include <popalign/io/json.hpp>

namespace popalign::persona {

struct Post {
  /// The author's id (posts are grouped by it); non-empty.
  std::string author;
  /// The post's id, unique within a corpus (readers make one from the source when the format has
  /// none: "<author>:<n>").
  std::string id;
  /// When it was written: ISO 8601 ("2004-05-14", "2004-05-14T10:31:00"), so that text order is
  /// time order; empty when unknown (such posts sort after dated ones, then by id).
  std::string time;
  /// The post's text (UTF-8).
  std::string text;
  /// Provenance: the author's metadata and where the post came from ("source": file, "line").
  /// A JSON object or null.
  io::JsonValue meta;
};

}  // namespace popalign::persona
