// Writes the BIG5-made million-person data (big5_million.hpp) as CSV files for `popalign align`:
// <out>/pool.csv (id, E, N, A, C, O), <out>/reference.csv and <out>/test.csv (E, N, A, C, O).
// Nothing of this size is committed; regenerate it (seeded, same bytes every time):
//
//   popalign_make_big5_million --out /tmp/big5m [--pool 1000000] [--reference 1000000]
//                              [--test 200000] [--seed 1] [--profile llm] [--data-dir D]
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "big5_million.hpp"

using namespace popalign;

namespace {
void write_csv(const std::filesystem::path& p, const RowMatrix<double>& x,
               const std::vector<std::string>& traits, bool with_id) {
  std::FILE* f = std::fopen(p.c_str(), "wb");
  if (f == nullptr) {
    fmt::print(stderr, "cannot write {}\n", p.string());
    std::exit(1);
  }
  std::string line = with_id ? "id" : "";
  for (std::size_t k = 0; k < traits.size(); ++k) line += (line.empty() ? "" : ",") + traits[k];
  fmt::print(f, "{}\n", line);
  fmt::memory_buffer buf;
  for (Index i = 0; i < x.rows(); ++i) {
    buf.clear();
    if (with_id) fmt::format_to(std::back_inserter(buf), "p{}", i);
    for (Index k = 0; k < x.cols(); ++k)
      fmt::format_to(std::back_inserter(buf), "{}{:.4f}", (with_id || k) ? "," : "", x(i, k));
    buf.push_back('\n');
    std::fwrite(buf.data(), 1, buf.size(), f);
  }
  std::fclose(f);
}
}  // namespace

int main(int argc, char** argv) {
  Index n = 1000000, m = 1000000, t = 200000;
  std::uint64_t seed = 1;
  std::string out, data_dir = POPALIGN_DATA_DIR;
  demo::BiasProfile profile = demo::BiasProfile::llm;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", a);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--out")
      out = next();
    else if (a == "--pool")
      n = std::stol(next());
    else if (a == "--reference")
      m = std::stol(next());
    else if (a == "--test")
      t = std::stol(next());
    else if (a == "--seed")
      seed = std::stoull(next());
    else if (a == "--data-dir")
      data_dir = next();
    else if (a == "--profile") {
      const auto p = demo::parse_bias_profile(next());
      if (!p) {
        fmt::print(stderr, "--profile: llm, squeezed, shifted or mixed\n");
        return 2;
      }
      profile = *p;
    } else {
      fmt::print(stderr,
                 "usage: popalign_make_big5_million --out DIR [--pool P] [--reference M] "
                 "[--test T] [--seed S] [--profile P] [--data-dir D]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (out.empty()) {
    fmt::print(stderr, "--out DIR is required\n");
    return 2;
  }
  std::filesystem::create_directories(out);
  const bench::MillionData d = bench::make_big5_million(data_dir, n, m, t, profile, seed);
  write_csv(std::filesystem::path(out) / "pool.csv", d.pool, d.traits, true);
  write_csv(std::filesystem::path(out) / "reference.csv", d.reference, d.traits, false);
  write_csv(std::filesystem::path(out) / "test.csv", d.test, d.traits, false);
  fmt::print(
      "wrote {}/pool.csv ({} rows, profile {}, acceptance {:.3f}), reference.csv ({}), "
      "test.csv ({}) from {} BIG5 people, seed {}\n",
      out, n, demo::to_string(profile), d.acceptance, m, t, d.population, seed);
  return 0;
}
