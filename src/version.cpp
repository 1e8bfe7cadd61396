#include <popalign/version.hpp>

namespace popalign {
/// Version of the compiled library (may differ from the headers' if mixed up at link time).
const char* compiled_version() noexcept { return POPALIGN_VERSION_STRING; }
}  // namespace popalign
