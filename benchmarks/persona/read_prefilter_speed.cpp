// Reading + pre-filter rate on a synthetic Blog Authorship Corpus CSV (issue 11: 681,288 posts
// must be read and pre-filtered in under 60 s end to end, without the LLM).
//
// The corpus is generated (seeded) to look like Kaggle's blogtext.csv: the header
// id,gender,age,topic,sign,date,text; 19,320 authors with heavy-tailed post counts; post lengths
// log-normal (median 110 words, mean ~180, capped at 6,000) so that ~15% are under 30 words like
// the real corpus; words drawn from a Zipf-distributed 20,000-word vocabulary in which the common
// English function words (and first-person pronouns) are the most frequent; the corpus's crawl
// noise (texts padded with runs of spaces, "urlLink" placeholders, &amp; entities, a <br> now and
// then); dates "14,May,2004" with some in German, French and Spanish; quoted fields with commas,
// doubled quotes and line breaks; 1% of the posts repeated exactly and 1% repeated with one word
// changed (near duplicates). It is written once to a temporary file (not timed).
//
// Timed: read_posts(file) (file read, CSV parse, date conversion, UTF-8 check, sort), then
// prefilter(posts) with the defaults (clean, count, first person, exact and MinHash/LSH near
// duplicates). Prints the phase times, the funnel counts and the peak memory.
//
//   popalign_persona_read_speed [--posts N] [--seed S] [--threads T] [--reps R] [--keep FILE]
//                               [--csv FILE (time an existing CSV, e.g. the real blogtext.csv)]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <popalign/core/random.hpp>
#include <popalign/persona/post_readers.hpp>
#include <popalign/persona/prefilter.hpp>

using namespace popalign;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Process CPU time (user + system, all threads): on a shared machine this says what the run
// costs when wall time is inflated by other load.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

long peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6) / 1024;
  return -1;
}

std::vector<std::string> make_vocabulary(Rng& rng, std::size_t n) {
  std::vector<std::string> v{
      "the",   "I",      "to",    "and",  "a",    "of",      "my",     "it",     "in",   "that",
      "is",    "was",    "me",    "for",  "so",   "on",      "but",    "just",   "with", "be",
      "have",  "this",   "not",   "you",  "we",   "at",      "like",   "all",    "are",  "he",
      "she",   "they",   "out",   "what", "up",   "do",      "get",    "about",  "one",  "today",
      "time",  "really", "day",   "know", "go",   "went",    "think",  "people", "now",  "our",
      "us",    "had",    "when",  "some", "can",  "if",      "would",  "there",  "good", "been",
      "going", "love",   "night", "work", "home", "friends", "school", "mom",    "back", "got"};
  static const char* syll[] = {"ba",  "ro", "ti", "ne", "ka",  "lo", "mi", "sa",  "de",  "ver",
                               "str", "an", "en", "or", "ing", "ed", "ly", "pre", "con", "al"};
  while (v.size() < n) {
    std::string w;
    const int k = 2 + static_cast<int>(rng.uniform_int(3));
    for (int i = 0; i < k; ++i) w += syll[rng.uniform_int(20)];
    v.push_back(w);
  }
  return v;
}

// Zipf(1.0) sampler by inverse CDF over a precomputed table.
struct Zipf {
  std::vector<double> cdf;
  explicit Zipf(std::size_t n) : cdf(n) {
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) cdf[i] = (s += 1.0 / static_cast<double>(i + 1));
    for (auto& c : cdf) c /= s;
  }
  std::size_t operator()(Rng& rng) const {
    return static_cast<std::size_t>(std::lower_bound(cdf.begin(), cdf.end(), rng.uniform()) -
                                    cdf.begin());
  }
};

void append_csv_field(std::string& out, const std::string& s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void generate(const std::filesystem::path& path, std::size_t posts, std::uint64_t seed) {
  Rng rng(seed);
  const auto vocab = make_vocabulary(rng, 20000);
  const Zipf zipf(vocab.size());
  static const char* months[] = {"January",   "February", "March",    "April",
                                 "May",       "June",     "July",     "August",
                                 "September", "October",  "November", "December"};
  static const char* foreign[] = {"Mai", "juin", "mayo", "Juli", "agosto", "Oktober"};
  static const char* topics[] = {"indUnk",   "Student",    "Technology",
                                 "Arts",     "Education",  "Communications-Media",
                                 "Internet", "Non-Profit", "Engineering"};
  static const char* signs[] = {"Aries",       "Taurus",    "Gemini",   "Cancer",
                                "Leo",         "Virgo",     "Libra",    "Scorpio",
                                "Sagittarius", "Capricorn", "Aquarius", "Pisces"};
  std::ofstream out(path, std::ios::binary);
  out << "id,gender,age,topic,sign,date,text\n";
  const std::size_t authors = std::max<std::size_t>(1, posts * 19320 / 681288);
  // Heavy-tailed weights per author (Pareto), turned into post counts summing to `posts`.
  std::vector<double> w(authors);
  double total = 0;
  for (auto& x : w) total += (x = std::pow(rng.uniform_open0(), -0.9));
  std::vector<std::size_t> count(authors);
  std::size_t assigned = 0;
  for (std::size_t a = 0; a < authors; ++a)
    assigned += (count[a] = static_cast<std::size_t>(w[a] / total * static_cast<double>(posts)));
  for (std::size_t a = 0; assigned < posts; a = (a + 1) % authors, ++assigned) ++count[a];
  std::vector<std::string> recent;  // for duplicates
  std::string buf, text;
  std::size_t written = 0;
  for (std::size_t a = 0; a < authors && written < posts; ++a) {
    const std::string id = std::to_string(1000000 + a * 97);
    const bool male = rng.uniform() < 0.5;
    const int age = 13 + static_cast<int>(rng.uniform_int(36));
    const char* topic = topics[rng.uniform_int(9)];
    const char* sign = signs[rng.uniform_int(12)];
    for (std::size_t k = 0; k < count[a] && written < posts; ++k, ++written) {
      const double u = rng.uniform();
      if (u < 0.01 && !recent.empty()) {
        text = recent[rng.uniform_int(recent.size())];  // exact repost
      } else if (u < 0.02 && !recent.empty()) {
        text = recent[rng.uniform_int(recent.size())];  // near repost: one word changed
        const std::size_t at = text.find(' ', text.size() / 2);
        if (at != std::string::npos) text.insert(at, " indeed");
      } else {
        const double words = std::min(6000.0, std::exp(std::log(110.0) + 1.0 * rng.normal()));
        const std::size_t n = std::max<std::size_t>(1, static_cast<std::size_t>(words));
        text.assign(10, ' ');  // the corpus pads texts with spaces
        for (std::size_t i = 0; i < n; ++i) {
          if (i > 0) text += (i % 17 == 0) ? ".  " : " ";
          const double r = rng.uniform();
          if (r < 0.004) {
            text += "urlLink";
          } else if (r < 0.005) {
            text += "&amp;";
          } else if (r < 0.0055) {
            text += "<br>";
          } else if (r < 0.0065) {
            text += "\"quoted,\"";
          } else if (r < 0.007) {
            text += "\n";
          } else {
            text += vocab[zipf(rng)];
          }
        }
        text += ".       ";
        if (recent.size() < 2000)
          recent.push_back(text);
        else
          recent[rng.uniform_int(recent.size())] = text;
      }
      const int day = 1 + static_cast<int>(rng.uniform_int(28));
      const int month = static_cast<int>(rng.uniform_int(12));
      const int year = 2001 + static_cast<int>(rng.uniform_int(4));
      const std::string month_name =
          rng.uniform() < 0.01 ? foreign[rng.uniform_int(6)] : months[month];
      buf.clear();
      buf += id;
      buf += male ? ",male," : ",female,";
      buf += std::to_string(age) + "," + topic + "," + sign + ",";
      append_csv_field(buf, fmt::format("{},{},{}", day, month_name, year));
      buf.push_back(',');
      append_csv_field(buf, text);
      buf.push_back('\n');
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t posts = 681288;
  std::uint64_t seed = 2026;
  int threads = 0, reps = 1;
  std::string keep, csv;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--posts")
      posts = std::stoull(next());
    else if (a == "--seed")
      seed = std::stoull(next());
    else if (a == "--threads")
      threads = std::stoi(next());
    else if (a == "--reps")
      reps = std::stoi(next());
    else if (a == "--keep")
      keep = next();
    else if (a == "--csv")
      csv = next();
    else {
      fmt::print(stderr,
                 "usage: popalign_persona_read_speed [--posts N] [--seed S] [--threads T] "
                 "[--reps R] [--keep FILE] [--csv FILE]\n");
      return 2;
    }
  }
  std::filesystem::path path;
  if (!csv.empty()) {
    path = csv;
  } else {
    path = keep.empty() ? std::filesystem::temp_directory_path() /
                              ("popalign_blog_" + std::to_string(::getpid()) + ".csv")
                        : std::filesystem::path(keep);
    const auto t0 = std::chrono::steady_clock::now();
    generate(path, posts, seed);
    fmt::print("generated {} posts ({:.0f} MB) in {:.1f} s: {}\n", posts,
               static_cast<double>(std::filesystem::file_size(path)) / 1e6, seconds_since(t0),
               path.string());
  }
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    persona::PostCorpus corpus = persona::read_posts(path);
    const double t_read = seconds_since(t0);
    const double c_read = cpu_seconds() - c0;
    const auto t1 = std::chrono::steady_clock::now();
    persona::PrefilterOptions po;
    po.execution.threads = threads;
    const std::size_t in = corpus.posts.size();
    const persona::PrefilterResult res = persona::prefilter(std::move(corpus.posts), po);
    const double t_filter = seconds_since(t1);
    const double total = seconds_since(t0);
    const double c_total = cpu_seconds() - c0;
    best = std::min(best, total);
    fmt::print(
        "rep {}: read {:.1f} s ({} posts, {} authors, {} problems, {} undated), prefilter "
        "{:.1f} s, total {:.1f} s ({:.0f} posts/s); CPU time read {:.1f} s, prefilter {:.1f} s\n",
        r + 1, t_read, in, corpus.authors, corpus.problems.size(), corpus.undated, t_filter, total,
        static_cast<double>(in) / total, c_read, c_total - c_read);
    fmt::print(
        "  funnel: in {} -> kept {} (too_short {}, no_first_person {}, empty {}, exact {}, near "
        "{})\n",
        res.counts.at("in"), res.counts.at("kept"), res.counts.at("too_short"),
        res.counts.at("no_first_person"), res.counts.at("empty_after_cleaning"),
        res.counts.at("exact_duplicate"), res.counts.at("near_duplicate"));
  }
  fmt::print("best total {:.1f} s (target < 60 s); peak memory {} MB\n", best, peak_rss_mb());
  if (csv.empty() && keep.empty()) std::filesystem::remove(path);
  return 0;
}
