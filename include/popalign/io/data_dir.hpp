#pragma once
// Where popalign finds its shipped data (instruments, BIG5 reference, region map).
#include <filesystem>

namespace popalign::io {

/// The data directory: the environment variable POPALIGN_DATA_DIR if set and non-empty, else
/// the `data/` folder of the source tree popalign was built from (when it exists), else
/// `<install prefix>/share/popalign` as configured at build time. Throws IoError when none
/// exists.
std::filesystem::path data_dir();

}  // namespace popalign::io
