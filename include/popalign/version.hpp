#pragma once
// The one place that holds popalign's version. CMake reads these three lines.
#define POPALIGN_VERSION_MAJOR 0
#define POPALIGN_VERSION_MINOR 1
#define POPALIGN_VERSION_PATCH 0

#define POPALIGN_STRINGIFY_DETAIL(x) #x
#define POPALIGN_STRINGIFY(x) POPALIGN_STRINGIFY_DETAIL(x)
#define POPALIGN_VERSION_STRING              \
  POPALIGN_STRINGIFY(POPALIGN_VERSION_MAJOR) \
  "." POPALIGN_STRINGIFY(POPALIGN_VERSION_MINOR) "." POPALIGN_STRINGIFY(POPALIGN_VERSION_PATCH)

namespace popalign {
inline constexpr int version_major = POPALIGN_VERSION_MAJOR;
inline constexpr int version_minor = POPALIGN_VERSION_MINOR;
inline constexpr int version_patch = POPALIGN_VERSION_PATCH;
inline constexpr const char* version_string = POPALIGN_VERSION_STRING;
}  // namespace popalign
