// Fuzz target: the run manifest (pipeline/manifest.hpp Manifest::load, <run_dir>/manifest.json,
// which `popalign run` reads to resume). load takes a run directory, so each input is written to
// manifest.json in one temporary directory per process (in TMPDIR) first.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <popalign/pipeline/manifest.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace popalign;
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() /
             ("popalign_fuzz_manifest_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  {
    std::ofstream out(dir / "manifest.json", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  fuzz::expect_popalign_errors([&] {
    const pipeline::Manifest m = pipeline::Manifest::load(dir);
    for (const pipeline::StageEntry& s : m.stages())
      if (s.name.empty() || m.find(s.name) == nullptr) std::abort();
  });
  return 0;
}
