// Location of popalign's shipped data (see include/popalign/io/data_dir.hpp).
#include <cstdlib>
#include <system_error>

#include <popalign/core/error.hpp>
#include <popalign/io/data_dir.hpp>

namespace popalign::io {

std::filesystem::path data_dir() {
  std::error_code ec;
  if (const char* env = std::getenv("POPALIGN_DATA_DIR"); env && *env) {
    std::filesystem::path p(env);
    if (!std::filesystem::is_directory(p, ec))
      throw IoError(p.string(), "POPALIGN_DATA_DIR does not name a directory");
    return p;
  }
#ifdef POPALIGN_DATA_DIR
  if (std::filesystem::is_directory(POPALIGN_DATA_DIR, ec)) return POPALIGN_DATA_DIR;
#endif
#ifdef POPALIGN_INSTALLED_DATA_DIR
  if (std::filesystem::is_directory(POPALIGN_INSTALLED_DATA_DIR, ec))
    return POPALIGN_INSTALLED_DATA_DIR;
#endif
  throw IoError("data", "popalign's data directory was not found; set POPALIGN_DATA_DIR");
}

}  // namespace popalign::io
