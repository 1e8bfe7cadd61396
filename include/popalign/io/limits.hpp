#pragma once
// The limits of every popalign reader (docs/cli.md, "Limits"): what one hostile input file may
// make a reader hold in memory. Each limit is checked before the memory it bounds is allocated,
// and going past it is a ParseError / IoError naming the file (and the line where there is one).
//
//   kMaxLineBytes     one JSONL line or one CSV/TSV record (a streaming reader would otherwise
//                     grow one std::string without bound on a file without line breaks)
//   kMaxColumns       fields of one CSV/TSV row (each field costs ~32 bytes of bookkeeping, so a
//                     1 GB line of commas would otherwise take 16+ GB)
//   kMaxConfigBytes   small configuration files read whole: the pipeline config, the endpoints
//                     file of a fleet, the run manifest
//   half the physical memory: any other file read whole (io::read_file)
// JSON nesting is bounded separately by io::kMaxJsonDepth (json.hpp).
// Header-only (constants and one sysconf call), so that layers which do not link io (llm) use
// the same numbers.
#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace popalign::io {

inline constexpr std::size_t kMaxLineBytes = std::size_t{16} << 20;   // 16 MiB
inline constexpr std::size_t kMaxColumns = 100'000;                   // fields per row
inline constexpr std::size_t kMaxConfigBytes = std::size_t{4} << 20;  // 4 MiB

/// Physical memory in bytes (0 when unknown).
inline std::uint64_t physical_memory() noexcept {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0
             ? static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page)
             : 0;
}

/// The largest file io::read_file reads whole by default: half the physical memory (no limit
/// when the memory is unknown).
inline std::uint64_t max_file_bytes() noexcept {
  const std::uint64_t m = physical_memory();
  return m == 0 ? UINT64_MAX : m / 2;
}

}  // namespace popalign::io
